"""The one exception type StreamQNN raises for bad user input.

Every error names the layer (or block instance) it is about and what would have been
valid, so that a user never has to read a traceback from inside MyHDL or numpy.
"""


class QNNError(ValueError):
    """A network spec, layer or block configuration that StreamQNN cannot accept.

    ``layer`` is the name of the offending layer or block instance (or None for
    network-wide problems); ``valid`` describes what would have been accepted.
    """

    def __init__(self, layer, problem, valid=None):
        self.layer = layer
        self.problem = problem
        self.valid = valid
        where = f"layer '{layer}': " if layer is not None else ""
        hint = f" (valid: {valid})" if valid else ""
        super().__init__(f"{where}{problem}{hint}")


def require(cond, layer, problem, valid=None):
    """Raise QNNError(layer, problem, valid) unless ``cond`` holds."""
    if not cond:
        raise QNNError(layer, problem, valid)
