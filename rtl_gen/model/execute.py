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


def _conv(lay, xs, types, src):
    w = _need(lay.weights, lay, "weights", "an integer array (C_out, K, K, C_in/groups)")
    return L.conv2d(xs[0], w, lay.stride, lay.pad, lay.groups, lay.name)


def _dense(lay, xs, types, src):
    w = _need(lay.weights, lay, "weights", "an integer array (out_features, H*W*C)")
    return L.dense(xs[0], w, lay.name)


def _threshold(lay, xs, types, src):
    t = _need(lay.thresholds, lay, "thresholds", "an integer array (C, 2^act_bits - 1)")
    return L.threshold(xs[0], t, lay.neg, lay.name)


def _maxpool(lay, xs, types, src):   # padding inserts the range minimum (code 0 for codes)
    return L.maxpool(xs[0], lay.kernel, lay.stride, lay.pad, lay.name, types[src[0]].lo)


# How each layer kind computes its output from its inputs ``xs`` (the model's registry of
# layer semantics; the type rules are in ``infer``).
RUN = {
    Conv: _conv,
    Dense: _dense,
    Threshold: _threshold,
    MaxPool: _maxpool,
    GlobalAvgPool: lambda lay, xs, types, src: L.global_avg_pool_sum(xs[0], lay.name),
    Fork: lambda lay, xs, types, src: L.fork(xs[0])[0],
    Add: lambda lay, xs, types, src: L.add(xs[0], xs[1], lay.mul[0], lay.mul[1], lay.name),
    ArgMax: lambda lay, xs, types, src: np.full((1, 1, 1), L.argmax(xs[0]), dtype=np.int64),
}


def run_layer(lay, xs, types, src):
    """The output of ``lay`` for its input tensors ``xs`` (``types``: the network's
    inferred types; ``src``: the names of its inputs)."""
    return RUN[type(lay)](lay, xs, types, src)


def run(net, x):
    """Outputs of every layer for input x (H, W, C): dict name -> ndarray, "input" first."""
    types = infer(net)
    t = types[INPUT]
    x = int_array(x, INPUT, "network input")
    require(x.shape == t.shape, INPUT, f"input has shape {x.shape}", f"shape {t.shape}")
    bad = (x < t.lo) | (x > t.hi)
    require(not bad.any(), INPUT,
            f"input value {int(x[bad][0]) if bad.any() else 0} out of range",
            f"integers in {t.lo}..{t.hi} ({t.bits}-bit "
            f"{'signed' if t.signed else 'unsigned'})")
    outs = {INPUT: x}
    for lay in net.layers:
        src = net.sources(lay)
        outs[lay.name] = run_layer(lay, [outs[s] for s in src], types, src)
    return outs
