"""The network spec: one import for the layer dataclasses, Network, inference, run and files.

    net = Network("tiny", input_shape=(8, 8, 3), layers=[
        Conv("c1", 16, 3, pad=1, weight_format="bipolar", weights=w1),
        Threshold("t1", 2, thresholds=T1),
        MaxPool("p1", 2, 2), ...])
    types = infer(net); outs = run(net, x); save(net, "tiny.yaml"); load("tiny.yaml")
"""

from rtl_gen.model.execute import run
from rtl_gen.model.infer import TensorType, code_type, infer, tensor_type
from rtl_gen.model.netgraph import INPUT, LAYER_TYPES, Add, ArgMax, Conv, Dense, Fork, \
    GlobalAvgPool, Layer, MaxPool, Network, Threshold, consumers
from rtl_gen.model.serialize import from_dict, load, save, to_dict

__all__ = ["Add", "ArgMax", "Conv", "Dense", "Fork", "GlobalAvgPool", "INPUT", "LAYER_TYPES",
           "Layer", "MaxPool", "Network", "TensorType", "Threshold", "code_type", "consumers",
           "from_dict", "infer", "load", "run", "save", "tensor_type", "to_dict"]
