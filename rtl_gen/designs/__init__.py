"""The named network designs (``make sim TOP=<name>``): see ``rtl_gen.designs.networks``."""

from rtl_gen.designs.networks import DEFAULT_TARGET, DESIGNS, calibrate, design, \
    random_input, random_weights, thresholds_from_samples

__all__ = ["DEFAULT_TARGET", "DESIGNS", "calibrate", "design", "random_input",
           "random_weights", "thresholds_from_samples"]
