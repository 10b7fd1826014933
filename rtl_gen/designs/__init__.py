"""The named network designs (``make sim TOP=<name>``): see ``rtl_gen.designs.networks``
(seeded random weights) and ``rtl_gen.designs.trained`` (networks imported from a trained
QONNX model shipped in ``examples/``, with their test images)."""

from rtl_gen.designs import trained as _trained
from rtl_gen.designs.networks import DEFAULT_TARGET, DESIGNS, calibrate, design, \
    random_input, random_weights, thresholds_from_samples
from rtl_gen.designs.trained import TRAINED, held_out_images

DESIGNS.update(_trained.DESIGNS)
DEFAULT_TARGET.update(_trained.DEFAULT_TARGET)

__all__ = ["DEFAULT_TARGET", "DESIGNS", "TRAINED", "calibrate", "design", "random_input",
           "held_out_images", "random_weights", "thresholds_from_samples"]
