"""The named network designs (``make sim TOP=<name>``), built as reference-model specs.

Weights are seeded random values of each layer's format. Thresholds are placed from the
accumulator statistics of random inputs (``calibrate``): per channel at the quantiles that
split the observed accumulators into 2^A equally likely codes, so that every activation
code occurs (a network whose codes collapsed to zero would prove nothing). One channel in
eight gets a negative batch-norm scale, so that path is exercised too.

Designs (docs/design.md and the paper, Baskin et al.): ``resnet_block`` (basic block, identity
shortcut), ``resnet_block_down`` (stride-2 block with a 1×1 stride-2 projection),
``tiny_resnet`` (a complete small ResNet for 32×32×3 images), ``resnet18`` (ImageNet
shapes) and ``alexnet`` (ImageNet shapes, grouped convolutions, batch-norm thresholds in
place of local response normalisation). Binary (bipolar) weights and 2-bit activations;
first and last layers at higher precision (int8 weights).
"""

import dataclasses

import numpy as np

from rtl_gen.errors import QNNError
from rtl_gen.model import layers as L
from rtl_gen.model.execute import run_layer
from rtl_gen.model.formats import parse_weight_format
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT, Add, ArgMax, Conv, Dense, GlobalAvgPool, MaxPool, \
    Network, Threshold

ACT_BITS = 2
NEG_EVERY = 8  # one channel in NEG_EVERY has a negative batch-norm scale


def random_weights(rng, shape, fmt):
    """Uniform random weight values of format ``fmt`` (bipolar: ±1)."""
    f = parse_weight_format(fmt)
    if f.name == "bipolar":
        return rng.choice(np.array([-1, 1], dtype=np.int64), size=shape)
    return rng.integers(f.lo, f.hi + 1, size=shape, dtype=np.int64)


def thresholds_from_samples(acc, act_bits, neg):
    """Per-channel thresholds splitting the samples ``acc`` (N, C) into 2^A equally
    likely codes; non-decreasing (non-increasing for ``neg`` channels)."""
    levels = (1 << act_bits) - 1
    qs = np.arange(1, levels + 1) / (levels + 1)
    t = np.ceil(np.quantile(acc.astype(np.float64), qs, axis=0)).T.astype(np.int64)  # (C, L)
    t = np.maximum.accumulate(t, axis=1)
    for c in np.nonzero(neg)[0]:
        # code = #(acc <= T_i) with T non-increasing: mirror the quantiles
        t[c] = np.floor(np.quantile(acc[:, c].astype(np.float64), 1 - qs)).astype(np.int64)
        t[c] = np.minimum.accumulate(t[c])
    return t


def random_input(net, rng):
    """A uniformly random input image: ``input_bits``-bit integers, unsigned or (a signed
    network input) two's complement."""
    shape = tuple(net.input_shape)
    if net.input_signed:
        half = 1 << (net.input_bits - 1)
        return rng.integers(-half, half, size=shape, dtype=np.int64)
    return rng.integers(0, 1 << net.input_bits, size=shape, dtype=np.int64)


def calibrate(net, seed=0, samples=2):
    """Fill every Threshold layer without thresholds from accumulator statistics of
    ``samples`` random inputs, in network order. Returns ``net`` (changed in place)."""
    rng = np.random.default_rng(seed + 7919)
    xs = [random_input(net, rng) for _ in range(samples)]
    outs = [{INPUT: x} for x in xs]
    for lay in net.layers:
        src = net.sources(lay)
        if isinstance(lay, Threshold) and lay.thresholds is None:
            acc = np.concatenate([o[src[0]].reshape(-1, o[src[0]].shape[-1]) for o in outs])
            c = acc.shape[1]
            neg = np.zeros(c, dtype=bool)
            neg[NEG_EVERY - 1::NEG_EVERY] = True
            lay.neg = neg
            lay.thresholds = thresholds_from_samples(acc, lay.act_bits, neg)
        types = infer(_prefix(net, lay))
        for o in outs:
            o[lay.name] = run_layer(lay, [o[s] for s in src], types, src)
    return net


def _prefix(net, last):
    """The network up to and including ``last`` (for type inference while calibrating)."""
    idx = next(i for i, lay in enumerate(net.layers) if lay is last)
    return dataclasses.replace(net, layers=net.layers[:idx + 1])


class _Builder:
    """Appends layers with random weights of the right shapes, tracking channel counts."""

    def __init__(self, name, input_shape, input_bits, seed):
        self.net = Network(name, tuple(input_shape), input_bits, [])
        self.rng = np.random.default_rng(seed)
        self.channels = {INPUT: input_shape[2]}
        self.last = INPUT

    def _add(self, lay, channels):
        self.net.layers.append(lay)
        self.channels[lay.name] = channels
        self.last = lay.name
        return lay.name

    def conv(self, name, src, out, k, stride=1, pad=None, groups=1, fmt="bipolar"):
        pad = k // 2 if pad is None else pad
        cin = self.channels[src]
        w = random_weights(self.rng, (out, k, k, cin // groups), fmt)
        return self._add(Conv(name, out, k, stride, pad, groups, fmt, w, input=src), out)

    def thresh(self, name, src, bits=ACT_BITS):
        return self._add(Threshold(name, bits, input=src), self.channels[src])

    def maxpool(self, name, src, k, stride, pad=0):
        return self._add(MaxPool(name, k, stride, pad, input=src), self.channels[src])

    def add(self, name, a, b):
        return self._add(Add(name, inputs=(a, b), mul=(1, 1)), self.channels[b])

    def gap(self, name, src):
        return self._add(GlobalAvgPool(name, input=src), self.channels[src])

    def dense(self, name, src, out, n_in, fmt="bipolar"):
        w = random_weights(self.rng, (out, n_in), fmt)
        return self._add(Dense(name, out, fmt, w, input=src), out)

    def argmax(self, name, src):
        return self._add(ArgMax(name, input=src), 1)

    def basic_block(self, prefix, src, out, stride=1):
        """ResNet basic block: the block's input codes (or a 1×1 stride-2 projection's
        accumulators) added to the second convolution's accumulators, then thresholded."""
        c1 = self.conv(f"{prefix}_conv1", src, out, 3, stride)
        t1 = self.thresh(f"{prefix}_act1", c1)
        c2 = self.conv(f"{prefix}_conv2", t1, out, 3, 1)
        skip = src
        if stride != 1 or self.channels[src] != out:
            skip = self.conv(f"{prefix}_proj", src, out, 1, stride, 0)
        s = self.add(f"{prefix}_add", skip, c2)
        return self.thresh(f"{prefix}_act2", s)


def _single_block(name, seed, size, channels, stride):
    """One basic block on a size x size x channels input (stride 2: twice the channels)."""
    b = _Builder(name, (size, size, channels), ACT_BITS, seed)
    b.basic_block("b1", INPUT, stride * channels, stride=stride)
    return calibrate(b.net, seed)


def resnet_block(seed=0, size=16, channels=16):
    return _single_block("resnet_block", seed, size, channels, 1)


def resnet_block_down(seed=0, size=16, channels=16):
    return _single_block("resnet_block_down", seed, size, channels, 2)


def _classifier(b, src, classes):
    g = b.gap("gap", src)
    d = b.dense("fc", g, classes, b.channels[src], fmt="int8")
    b.argmax("argmax", d)


def tiny_resnet(seed=0, size=32, classes=10):
    b = _Builder("tiny_resnet", (size, size, 3), 8, seed)
    x = b.conv("stem_conv", INPUT, 16, 3, 1, fmt="int8")
    x = b.thresh("stem_act", x)
    x = b.basic_block("s1b1", x, 16)
    x = b.basic_block("s2b1", x, 32, stride=2)
    x = b.basic_block("s3b1", x, 64, stride=2)
    _classifier(b, x, classes)
    return calibrate(b.net, seed, samples=2)


def resnet18(seed=0, size=224, classes=1000):
    b = _Builder("resnet18", (size, size, 3), 8, seed)
    x = b.conv("stem_conv", INPUT, 64, 7, 2, 3, fmt="int8")
    x = b.thresh("stem_act", x)
    x = b.maxpool("stem_pool", x, 3, 2, 1)
    for stage, out in enumerate((64, 128, 256, 512), 1):
        for blk in (1, 2):
            stride = 2 if (stage > 1 and blk == 1) else 1
            x = b.basic_block(f"s{stage}b{blk}", x, out, stride)
    _classifier(b, x, classes)
    return calibrate(b.net, seed, samples=1)


def alexnet(seed=0, size=227, classes=1000):
    b = _Builder("alexnet", (size, size, 3), 8, seed)
    x = b.conv("conv1", INPUT, 96, 11, 4, 0, fmt="int8")
    x = b.thresh("act1", x)
    x = b.maxpool("pool1", x, 3, 2)
    x = b.conv("conv2", x, 256, 5, 1, 2, groups=2)
    x = b.thresh("act2", x)
    x = b.maxpool("pool2", x, 3, 2)
    x = b.conv("conv3", x, 384, 3, 1, 1)
    x = b.thresh("act3", x)
    x = b.conv("conv4", x, 384, 3, 1, 1, groups=2)
    x = b.thresh("act4", x)
    x = b.conv("conv5", x, 256, 3, 1, 1, groups=2)
    x = b.thresh("act5", x)
    x = b.maxpool("pool5", x, 3, 2)
    n = 6 * 6 * 256 if size == 227 else None
    if n is None:
        t = infer(b.net)[x].shape
        n = t[0] * t[1] * t[2]
    x = b.dense("fc6", x, 4096, n)
    x = b.thresh("act6", x)
    x = b.dense("fc7", x, 4096, 4096)
    x = b.thresh("act7", x)
    x = b.dense("fc8", x, classes, 4096, fmt="int8")
    b.argmax("argmax", x)
    return calibrate(b.net, seed, samples=1)


# Default frame-interval targets (cycles per frame) for the automatic folding: small
# enough that the simulations stay short, large enough that builds stay quick; the
# ImageNet networks at the paper's ~1.85 M cycles per frame.
DEFAULT_TARGET = {
    "resnet_block": 4608,
    "resnet_block_down": 4608,
    "tiny_resnet": 36864,
    "resnet18": 1_850_000,
    "alexnet": 1_850_000,
}

DESIGNS = {
    "resnet_block": resnet_block,
    "resnet_block_down": resnet_block_down,
    "tiny_resnet": tiny_resnet,
    "resnet18": resnet18,
    "alexnet": alexnet,
}


def design(name, seed=0):
    """The named design's network spec (weights and thresholds from ``seed``)."""
    if name not in DESIGNS:
        raise QNNError(None, f"unknown network design '{name}'", ", ".join(DESIGNS))
    return DESIGNS[name](seed=seed)


__all__ = ["DESIGNS", "design", "calibrate", "random_weights", "thresholds_from_samples", "L"]
