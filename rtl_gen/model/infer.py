"""Shape and type inference: the exact value range and bit width of every layer's output.

Codes are unsigned with hi = 2^A - 1 (the network input: 2^input_bits - 1, or the
two's complement range of input_bits bits when the network's input is signed). Accumulators
carry the worst case over ALL weights of the format, not the particular weights: a dot
product of n terms spans n*[min w*x, max w*x] over w in the format and x in the input range.
Every problem in a spec is reported here as a QNNError naming the layer and what is valid.
"""

import re
from dataclasses import dataclass

import numpy as np

from rtl_gen.errors import require
from rtl_gen.model.formats import check_act_bits, check_weights, parse_weight_format, \
    range_bits
from rtl_gen.model.layers import check_multiplier, check_thresholds, check_window, is_int, \
    out_size
from rtl_gen.model.limits import MAX_ARGMAX_INPUTS, MAX_CHANNELS, MAX_DIM, MAX_ELEMENT_BITS
from rtl_gen.model.netgraph import INPUT, LAYER_TYPES, Add, ArgMax, Conv, Dense, Fork, \
    GlobalAvgPool, MaxPool, Network, Threshold

NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class TensorType:
    """Shape (H, W, C) and exact integer range of a stream; bits is its exact width
    (two's complement when signed, i.e. when lo < 0)."""

    shape: tuple
    signed: bool
    lo: int
    hi: int
    bits: int


def tensor_type(shape, lo, hi):
    """The TensorType of a tensor whose values lie in [lo, hi]."""
    signed, bits = range_bits(lo, hi)
    return TensorType(tuple(int(s) for s in shape), signed, int(lo), int(hi), bits)


def code_type(shape, bits):
    """The TensorType of unsigned ``bits``-bit activation codes."""
    return TensorType(tuple(int(s) for s in shape), False, 0, (1 << bits) - 1, bits)


def _positive_int(v, name, what):
    require(is_int(v) and v >= 1, name, f"{what} {v!r} is not a positive integer",
            "an integer >= 1")
    return int(v)


def _dot_range(n, fmt, t):
    corners = [w * x for w in (fmt.lo, fmt.hi) for x in (t.lo, t.hi)]
    return n * min(corners), n * max(corners)


def _weights(lay, want, fmt):
    if lay.weights is None:
        return
    w = np.asarray(lay.weights)
    require(w.shape == want, lay.name, f"weights have shape {w.shape}", f"shape {want}")
    check_weights(w, fmt, lay.name)


def _conv(lay, t, src):
    n = lay.name
    require(not t.signed or src == INPUT, n, f"Conv input '{src}' is a signed "
            f"accumulator [{t.lo}, {t.hi}]",
            "unsigned activation codes or the (signed) network input (put a Threshold "
            "before the Conv)")
    h, w, c_in = t.shape
    c_out = _positive_int(lay.out_channels, n, "out_channels")
    check_window(lay.kernel, lay.stride, lay.pad, h, w, n)
    g = lay.groups
    require(is_int(g) and g >= 1 and c_in % g == 0 and c_out % g == 0, n,
            f"groups={g!r} does not divide C_in={c_in} and C_out={c_out}",
            "a positive common divisor of C_in and C_out")
    k, fmt = lay.kernel, parse_weight_format(lay.weight_format, n)
    _weights(lay, (c_out, k, k, c_in // g), fmt)
    lo, hi = _dot_range(k * k * (c_in // g), fmt, t)
    shape = (out_size(h, k, lay.stride, lay.pad), out_size(w, k, lay.stride, lay.pad), c_out)
    return tensor_type(shape, lo, hi)


def _dense(lay, t, src):
    m = _positive_int(lay.out_features, lay.name, "out_features")
    fmt = parse_weight_format(lay.weight_format, lay.name)
    n_in = int(np.prod(t.shape))
    _weights(lay, (m, n_in), fmt)
    return tensor_type((1, 1, m), *_dot_range(n_in, fmt, t))


def _threshold(lay, t, src):
    bits = check_act_bits(lay.act_bits, lay.name)
    c = t.shape[-1]
    if lay.thresholds is not None:
        check_thresholds(lay.thresholds, lay.neg, c, lay.name, bits)
    elif lay.neg is not None:
        neg = np.asarray(lay.neg)
        require(neg.shape == (c,), lay.name, f"neg flags have shape {neg.shape}",
                f"{c} booleans, one per channel")
    return code_type(t.shape, bits)


def _maxpool(lay, t, src):
    h, w, c = t.shape
    check_window(lay.kernel, lay.stride, lay.pad, h, w, lay.name)
    shape = (out_size(h, lay.kernel, lay.stride, lay.pad),
             out_size(w, lay.kernel, lay.stride, lay.pad), c)
    return TensorType(shape, t.signed, t.lo, t.hi, t.bits)


def _gap(lay, t, src):
    n = t.shape[0] * t.shape[1]
    return tensor_type((1, 1, t.shape[2]), n * t.lo, n * t.hi)


def _add(lay, ta, tb, sa, sb):
    n = lay.name
    require(ta.shape[:2] == tb.shape[:2], n,
            f"inputs '{sa}' {ta.shape} and '{sb}' {tb.shape} have different shapes",
            "two inputs with the same (H, W, C)")
    require(ta.shape[2] == tb.shape[2], n,
            f"channel mismatch: '{sa}' has {ta.shape[2]} channels, '{sb}' has {tb.shape[2]}",
            "two inputs with the same number of channels")
    mul = lay.mul
    require(isinstance(mul, (list, tuple)) and len(mul) == 2, n,
            f"mul {mul!r} is not a pair", "(mul_a, mul_b), each an int or per-channel list")
    c = ta.shape[2]
    ma = np.broadcast_to(check_multiplier(mul[0], c, n, "a"), (c,))
    mb = np.broadcast_to(check_multiplier(mul[1], c, n, "b"), (c,))
    lo = min(ta.lo * int(a) + tb.lo * int(b) for a, b in zip(ma, mb))
    hi = max(ta.hi * int(a) + tb.hi * int(b) for a, b in zip(ma, mb))
    return tensor_type(ta.shape, lo, hi)


def _argmax(lay, t, src):
    n = int(np.prod(t.shape))
    require(n <= MAX_ARGMAX_INPUTS, lay.name, f"arg-max over {n:,} values",
            f"at most {MAX_ARGMAX_INPUTS:,} values per frame")
    return tensor_type((1, 1, 1), 0, int(np.prod(t.shape)) - 1)


def _one_input(rule):
    return lambda lay, ts, srcs: rule(lay, ts[0], srcs[0])


# The type rule of each layer kind: (layer, input types, input names) -> output type.
RULES = {Conv: _one_input(_conv), Dense: _one_input(_dense),
         Threshold: _one_input(_threshold), MaxPool: _one_input(_maxpool),
         GlobalAvgPool: _one_input(_gap), Fork: lambda lay, ts, srcs: ts[0],
         Add: lambda lay, ts, srcs: _add(lay, ts[0], ts[1], *srcs),
         ArgMax: _one_input(_argmax)}


def _check_network(net):
    require(isinstance(net, Network), None, f"{type(net).__name__} is not a Network",
            "a rtl_gen.model.spec.Network")
    shape = net.input_shape
    ok = isinstance(shape, (list, tuple)) and len(shape) == 3
    require(ok and all(is_int(s) and s >= 1 for s in shape), INPUT,
            f"input_shape {shape!r} is not valid", "(H, W, C) positive integers")
    bits = check_act_bits(net.input_bits, INPUT)
    signed = net.input_signed
    require(isinstance(signed, (bool, np.bool_)), INPUT,
            f"input_signed {signed!r} is not a boolean", "true or false")
    require(isinstance(net.metadata, dict), INPUT,
            f"metadata {net.metadata!r} is not a mapping", "a mapping (or nothing)")
    require(isinstance(net.layers, list) and len(net.layers) > 0, None,
            f"network {net.name!r} has no layers", "at least one layer")
    if signed:
        half = 1 << (bits - 1)
        return _within_limits(INPUT, tensor_type(shape, -half, half - 1))
    return _within_limits(INPUT, code_type(shape, bits))


def _within_limits(name, t):
    """``t`` (the output type of layer ``name``) within what the hardware builds
    (``rtl_gen.model.limits``)."""
    h, w, c = t.shape
    require(h <= MAX_DIM and w <= MAX_DIM, name, f"output of {h}x{w} pixels",
            f"height and width at most {MAX_DIM}")
    require(c <= MAX_CHANNELS, name, f"output of {c:,} channels",
            f"at most {MAX_CHANNELS:,} channels")
    require(t.bits <= MAX_ELEMENT_BITS, name,
            f"its output values span [{t.lo:,}, {t.hi:,}], {t.bits} bits per element",
            f"at most {MAX_ELEMENT_BITS} bits per element (fewer inputs per output, narrower "
            "weights or activations, or smaller residual multipliers)")
    return t


def _check_layer(net, i, lay, types):
    require(type(lay) in RULES, None,
            f"item {i} of the layer list is a {type(lay).__name__}",
            ", ".join(LAYER_TYPES))
    name = lay.name
    require(isinstance(name, str) and NAME_RE.fullmatch(name) is not None, name,
            f"layer {i} has an invalid name {name!r}",
            "an identifier: letters, digits and _, not starting with a digit")
    require(name != INPUT and name not in types, name,
            f"duplicate layer name '{name}'", "unique names, 'input' is reserved")
    if isinstance(lay, Add):
        ins = lay.inputs
        require(isinstance(ins, (list, tuple)) and len(ins) == 2 and lay.input is None, name,
                f"Add needs inputs=(a, b), got inputs={ins!r}, input={lay.input!r}",
                "inputs=(name_a, name_b) and no input")
    for src in net.sources(lay):
        require(isinstance(src, str), name, f"input {src!r} is not a layer name",
                "the name of an earlier layer, or 'input'")
        require(src in types, name, f"unknown input '{src}'",
                "a layer defined before this one: " + ", ".join(types))


def infer(net):
    """TensorType of the input and of every layer's output: dict name -> TensorType."""
    types = {INPUT: _check_network(net)}
    for i, lay in enumerate(net.layers):
        _check_layer(net, i, lay, types)
        srcs = net.sources(lay)
        types[lay.name] = _within_limits(lay.name,
                                         RULES[type(lay)](lay, [types[s] for s in srcs], srcs))
    return types

