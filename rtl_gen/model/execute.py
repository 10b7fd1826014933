"""Running a network spec on an input image: every layer's output, integer-exact."""

import numpy as np

from rtl_gen.errors import require
from rtl_gen.model import layers as L
from rtl_gen.model.formats import int_array
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT, Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, \
    MaxPool, Threshold


def _need(value, lay, what, valid):
    require(value is not None, lay.name, f"has no {what}; running the network needs them",
            valid)
    return value


def _layer(lay, xs, types, src):
    x = xs[0]
    if isinstance(lay, Conv):
        w = _need(lay.weights, lay, "weights", "an integer array (C_out, K, K, C_in/groups)")
        return L.conv2d(x, w, lay.stride, lay.pad, lay.groups, lay.name)
    if isinstance(lay, Dense):
        w = _need(lay.weights, lay, "weights", "an integer array (out_features, H*W*C)")
        return L.dense(x, w, lay.name)
    if isinstance(lay, Threshold):
        t = _need(lay.thresholds, lay, "thresholds", "an integer array (C, 2^act_bits - 1)")
        return L.threshold(x, t, lay.neg, lay.name)
    if isinstance(lay, MaxPool):   # padding inserts the range minimum (code 0 for codes)
        return L.maxpool(x, lay.kernel, lay.stride, lay.pad, lay.name, types[src[0]].lo)
    if isinstance(lay, GlobalAvgPool):
        return L.global_avg_pool_sum(x, lay.name)
    if isinstance(lay, Fork):
        return L.fork(x)[0]
    if isinstance(lay, Add):
        return L.add(xs[0], xs[1], lay.mul[0], lay.mul[1], lay.name)
    if isinstance(lay, ArgMax):
        return np.full((1, 1, 1), L.argmax(x), dtype=np.int64)
    raise AssertionError(type(lay))


def run(net, x):
    """Outputs of every layer for input x (H, W, C): dict name -> ndarray, "input" first."""
    types = infer(net)
    t = types[INPUT]
    x = int_array(x, INPUT, "network input")
    require(x.shape == t.shape, INPUT, f"input has shape {x.shape}", f"shape {t.shape}")
    bad = (x < t.lo) | (x > t.hi)
    require(not bad.any(), INPUT,
            f"input value {int(x[bad][0]) if bad.any() else 0} out of range",
            f"integers in {t.lo}..{t.hi} ({t.bits}-bit unsigned)")
    outs = {INPUT: x}
    for lay in net.layers:
        src = net.sources(lay)
        outs[lay.name] = _layer(lay, [outs[s] for s in src], types, src)
    return outs
