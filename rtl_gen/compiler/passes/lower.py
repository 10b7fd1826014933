"""Pass: layers to blocks. Each layer's kind (``rtl_gen.compiler.layer_kinds``) adds its
blocks and connects them to the producers of the tensors it reads.

After this pass a tensor read by several layers has one link per reader from the same
producer port, the pipeline input's readers have links with ``src`` None, and lanes may
differ across a link: ``insert_forks`` and ``insert_width_converters`` make the streams
legal.
"""

from rtl_gen.compiler.ir import Link, Pipeline, StreamEnd
from rtl_gen.compiler.layer_kinds import kind_of
from rtl_gen.errors import require
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT, consumers


class Lowering:
    """What a layer kind's ``lower`` uses to build its part of the pipeline."""

    def __init__(self, pipeline):
        self.p = pipeline
        self.types = pipeline.types
        self.ends = {INPUT: StreamEnd(None, None, INPUT)}   # tensor -> its producer's end

    def tin(self, lay):
        """The type of the layer's first input."""
        return self.types[self.p.net.sources(lay)[0]]

    def source(self, lay, i):
        """The producer's end of the layer's input ``i``."""
        return self.ends[self.p.net.sources(lay)[i]]

    def fmt(self, end):
        """(lanes, bits, signed) of a stream end (lanes None for the pipeline input)."""
        return self.p.stream_format(end)

    def modname(self, lay, role):
        return self.p.modname(lay.name, role)

    def add(self, blk, lay):
        return self.p.add_block(blk, lay.name)

    @staticmethod
    def end(blk, port, tensor, window=None):
        return StreamEnd(blk, port, tensor, window)

    def connect(self, end, blk, port):
        """A link from ``end`` to ``blk.port``."""
        self.p.links.append(Link(end.block, end.port, blk, port, end.tensor, end.window))

    def produce(self, lay, blk, port):
        """``blk.port`` carries the layer's output tensor."""
        self.ends[lay.name] = StreamEnd(blk, port, lay.name)


def lower(net, folds):
    """A new pipeline with every layer of ``net`` (no Fork layers) lowered at ``folds``."""
    p = Pipeline(net.name, net, folds, infer(net))
    lw = Lowering(p)
    for lay in net.layers:
        kind_of(lay).lower(lw, lay, folds[lay.name])
    for lay in net.layers:
        if not consumers(net, lay.name):    # read by nobody: the pipeline output
            end = lw.ends[lay.name]
            p.out, p.out_tensor = (end.block, end.port), lay.name
    require(p.out is not None, net.name, "the network has no output layer",
            "a last layer that no other layer reads")
    return p
