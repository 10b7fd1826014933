"""The numpy reference model: StreamQNN's executable specification (docs/design.md section 2).

Integer-exact layer semantics, number formats, batch-norm folding, the network spec with
shape/range inference, stream packing and golden vectors.
"""

from rtl_gen.model.batchnorm import float_reference, fold_batchnorm
from rtl_gen.model.formats import WEIGHT_FORMATS, WeightFormat, check_act_bits, \
    check_weights, decode_weights, encode_weights, parse_weight_format, signed_bits, \
    unsigned_bits
from rtl_gen.model.golden import export_golden, golden_vectors
from rtl_gen.model.layers import add, argmax, conv2d, dense, fork, global_avg_pool_sum, \
    im2col, maxpool, threshold
from rtl_gen.model.packing import pack, unpack
from rtl_gen.model.spec import INPUT, Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, Layer, \
    MaxPool, Network, TensorType, Threshold, consumers, infer, load, run, save

__all__ = [
    "float_reference", "fold_batchnorm",
    "WEIGHT_FORMATS", "WeightFormat", "check_act_bits", "check_weights", "decode_weights",
    "encode_weights", "parse_weight_format", "signed_bits", "unsigned_bits",
    "export_golden", "golden_vectors",
    "add", "argmax", "conv2d", "dense", "fork", "global_avg_pool_sum", "im2col", "maxpool",
    "threshold",
    "pack", "unpack",
    "INPUT", "Add", "ArgMax", "Conv", "Dense", "Fork", "GlobalAvgPool", "Layer", "MaxPool",
    "Network", "TensorType", "Threshold", "consumers", "infer", "load", "run", "save",
]
