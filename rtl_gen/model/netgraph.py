"""The network spec as data: layer dataclasses and the graph of named layers.

Each layer has a ``name`` and an ``input`` (keyword only): the name of the producing layer,
by default the previous layer in the list ("input", the network input, for the first).
``Add`` has ``inputs=(a, b)`` instead. Nothing is validated here beyond light normalisation
(lists to arrays and tuples); ``infer`` checks everything and names the layer at fault.
Layers and networks compare equal when their serialised forms are equal.
"""

from dataclasses import dataclass, field, fields
from typing import Any, Optional

import numpy as np

from rtl_gen.errors import QNNError

INPUT = "input"


def _array(v, layer, what):
    """``v`` as an array (None stays None); a ragged or non-numeric nesting is a QNNError."""
    if v is None:
        return None
    try:
        return np.asarray(v)
    except (ValueError, TypeError):
        raise QNNError(layer, f"{what} are a ragged nested list (rows of different lengths)",
                       "a nested list of integers whose rows all have the same length") \
            from None


def _plain(v):
    """Numpy values and tuples -> plain Python (ints, floats, bools, lists) for YAML/JSON."""
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (list, tuple)):
        return [_plain(e) for e in v]
    return v


def _plain_tree(v):
    """``_plain`` through nested dicts too."""
    if isinstance(v, dict):
        return {str(k): _plain_tree(e) for k, e in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain_tree(e) for e in v]
    return _plain(v)


class _Eq:
    """Equality through the plain dict form (arrays compared by value)."""

    def to_dict(self):
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    __hash__ = None


@dataclass(eq=False)
class Layer(_Eq):
    name: str
    input: Optional[str] = field(default=None, kw_only=True)

    def to_dict(self):
        d = {"type": type(self).__name__}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "input" and v is None:
                continue
            d[f.name] = _plain(v)
        return d


@dataclass(eq=False)
class Conv(Layer):
    out_channels: int
    kernel: int
    stride: int = 1
    pad: int = 0
    groups: int = 1
    weight_format: str = "bipolar"
    weights: Any = None            # ndarray (C_out, K, K, C_in // groups) of weight values

    def __post_init__(self):
        self.weights = _array(self.weights, self.name, "weights")


@dataclass(eq=False)
class Dense(Layer):
    out_features: int
    weight_format: str = "bipolar"
    weights: Any = None            # ndarray (out_features, H*W*C), input flattened HWC

    def __post_init__(self):
        self.weights = _array(self.weights, self.name, "weights")


@dataclass(eq=False)
class Threshold(Layer):
    act_bits: int
    thresholds: Any = None         # ndarray (C, 2^act_bits - 1)
    neg: Any = None                # bool ndarray (C,): negative-scale channels

    def __post_init__(self):
        self.thresholds = _array(self.thresholds, self.name, "thresholds")
        self.neg = _array(self.neg, self.name, "neg flags")


@dataclass(eq=False)
class MaxPool(Layer):
    kernel: int
    stride: int
    pad: int = 0


@dataclass(eq=False)
class GlobalAvgPool(Layer):
    pass


@dataclass(eq=False)
class Fork(Layer):
    pass


@dataclass(eq=False)
class Add(Layer):
    inputs: Any = None             # (name_a, name_b)
    mul: Any = (1, 1)              # each an int or a per-channel sequence of ints

    def __post_init__(self):
        if isinstance(self.inputs, list):
            self.inputs = tuple(self.inputs)
        if isinstance(self.mul, (list, tuple)):
            self.mul = tuple(tuple(m) if isinstance(m, (list, tuple, np.ndarray)) else m
                             for m in self.mul)


@dataclass(eq=False)
class ArgMax(Layer):
    pass


LAYER_TYPES = {c.__name__: c for c in
               (Conv, Dense, Threshold, MaxPool, GlobalAvgPool, Fork, Add, ArgMax)}


@dataclass(eq=False)
class Network(_Eq):
    """A network: its input (shape (H, W, C), ``input_bits``-bit integers, unsigned by
    default, two's complement when ``input_signed``), its layers, and free-form
    ``metadata`` (plain data: e.g. the real scale of the output, recorded by the QONNX
    importer). ``input_signed`` and ``metadata`` appear in the dict form only when set."""

    name: str
    input_shape: tuple
    input_bits: int = 8
    layers: list = field(default_factory=list)
    input_signed: bool = False
    metadata: dict = field(default_factory=dict)

    def __post_init__(self):
        if isinstance(self.input_shape, list):
            self.input_shape = tuple(self.input_shape)
        self.layers = list(self.layers)

    def layer(self, name):
        """The layer called ``name``."""
        for lay in self.layers:
            if lay.name == name:
                return lay
        raise QNNError(name, "no such layer in network "
                       f"'{self.name}'", ", ".join(lay.name for lay in self.layers))

    def sources(self, layer):
        """Names of the layers feeding ``layer`` (a Layer or a name), defaults resolved."""
        if isinstance(layer, str):
            layer = self.layer(layer)
        if isinstance(layer, Add):
            return list(layer.inputs) if isinstance(layer.inputs, (list, tuple)) else []
        if layer.input is not None:
            return [layer.input]
        idx = next((i for i, lay in enumerate(self.layers) if lay is layer), None)
        if idx is None:
            raise QNNError(layer.name, f"layer is not part of network '{self.name}'",
                           ", ".join(lay.name for lay in self.layers))
        return [self.layers[idx - 1].name if idx else INPUT]

    def to_dict(self):
        d = {"name": self.name, "input_shape": _plain(self.input_shape),
             "input_bits": _plain(self.input_bits),
             "layers": [lay.to_dict() for lay in self.layers]}
        if self.input_signed is not False:
            d["input_signed"] = _plain(self.input_signed)
        if self.metadata:
            d["metadata"] = _plain_tree(self.metadata)
        return d


def consumers(net, name):
    """Names of the layers that read the output of ``name`` (each listed once, in order)."""
    return [lay.name for lay in net.layers if name in net.sources(lay)]
