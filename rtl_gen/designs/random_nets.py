"""Random network specs, seeded: the same seed always gives the same network.

``random_network(seed)`` draws a small network of every layer kind in varied orders, to
find what no hand-written test names: image sizes from 1 to 16 (odd and non-square
included), channel counts that are not powers of two, 8-bit or narrower inputs, kernels
1..7, strides 1..3, padding 0..K/2, grouped convolutions, weights bipolar,
ternary or int2..int8, activations of 1..4 bits, max pooling on codes or on raw
accumulators (before the threshold), residual blocks with identity or projection
shortcuts and the add's inputs written either way (with per-tensor or per-channel
multipliers), global pooling over the whole map, dense layers and arg-max.
Thresholds are placed from accumulator statistics (``calibrate``), so every code occurs.

Most draws are valid; some are not (a window larger than its padded input, say): those
must be refused by ``infer`` with a QNNError naming the layer, which is what the property
tests check. ``random_folding(net, seed)`` draws a valid user folding for some layers.
"""

import numpy as np

from rtl_gen.compiler.layer_kinds import kind_of
from rtl_gen.designs.networks import _Builder, calibrate
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT

FORMATS = ("bipolar", "bipolar", "ternary", "int2", "int3", "int4", "int8")


def _common_divisors(a, b):
    return [d for d in range(1, min(a, b) + 1) if a % d == 0 and b % d == 0]


class _RandomBuilder(_Builder):
    def __init__(self, seed):
        rng = np.random.default_rng(seed)
        h = int(rng.integers(1, 17))
        w = int(rng.choice([h, int(rng.integers(1, 17))]))
        c = int(rng.integers(1, 6))
        super().__init__(f"rand{seed}", (h, w, c), int(rng.choice([8, 8, 1, 2, 3, 5])), seed)
        self.r = rng
        self.hw = {INPUT: (h, w)}
        self.n = 0

    def name(self, kind):
        self.n += 1
        return f"{kind}{self.n}"

    def _geometry(self, src, max_k=7):
        h, w = self.hw[src]
        k = int(self.r.integers(1, max_k + 1))
        stride = int(self.r.integers(1, 4))
        pad = int(self.r.integers(0, k // 2 + 1))
        if self.r.random() < 0.9:           # mostly windows that fit
            k = min(k, min(h, w) + 2 * pad)
            pad = min(pad, k // 2)
        return k, stride, pad

    def _track(self, name, src, k, stride, pad):
        h, w = self.hw[src]
        self.hw[name] = (max(1, (h + 2 * pad - k) // stride + 1),
                         max(1, (w + 2 * pad - k) // stride + 1))
        return name

    def random_conv(self, src, out=None, geometry=None, fmt=None):
        k, stride, pad = geometry or self._geometry(src)
        cin = self.channels[src]
        out = out or int(self.r.integers(1, 9))
        groups = int(self.r.choice(_common_divisors(cin, out))) if self.r.random() < 0.3 else 1
        name = self.conv(self.name("conv"), src, out, k, stride, pad, groups,
                         fmt or str(self.r.choice(FORMATS)))
        return self._track(name, src, k, stride, pad)

    def random_pool(self, src):
        k, stride, pad = self._geometry(src, max_k=3)
        name = self.maxpool(self.name("pool"), src, k, stride, pad)
        return self._track(name, src, k, stride, pad)

    def act(self, src):
        name = self.thresh(self.name("act"), src, int(self.r.integers(1, 5)))
        self.hw[name] = self.hw[src]
        return name

    def conv_stage(self, src):
        """conv [-> max pool on accumulators] -> threshold [-> max pool on codes]."""
        x = self.random_conv(src)
        if self.r.random() < 0.25:
            x = self.random_pool(x)
        x = self.act(x)
        if self.r.random() < 0.2:
            x = self.random_pool(x)
        return x

    def residual(self, src):
        """A basic block: conv-act-conv on the main branch, identity or a 1x1 projection
        (stride 1 or 2) on the skip branch, the add's inputs in a random order."""
        cin = self.channels[src]
        stride = int(self.r.choice([1, 1, 2]))
        out = cin if stride == 1 and self.r.random() < 0.6 else int(self.r.integers(1, 9))
        k = int(self.r.choice([1, 3, 3, 5]))
        c1 = self.random_conv(src, out, (k, stride, k // 2))
        t1 = self.act(c1)
        c2 = self.random_conv(t1, out, (k, 1, k // 2))
        skip = src
        if stride != 1 or out != cin:
            skip = self.random_conv(src, out, (1, stride, 0))
        a, b = (skip, c2) if self.r.random() < 0.5 else (c2, skip)
        name = self.add(self.name("add"), a, b)
        if self.r.random() < 0.3:   # multipliers: one per tensor, or one per channel
            self.net.layers[-1].mul = tuple(
                int(self.r.integers(1, 4)) if self.r.random() < 0.5 else
                tuple(int(m) for m in self.r.integers(1, 4, size=out)) for _ in "ab")
        self.hw[name] = self.hw[c2]
        return self.act(name)

    def head(self, src):
        """Global pool (or the whole map) -> dense [-> threshold -> dense] [-> arg-max]."""
        x = src
        if self.r.random() < 0.6:
            x = self.gap(self.name("gap"), x)
            self.hw[x] = (1, 1)
        h, w = self.hw[x]
        n_in = h * w * self.channels[x]
        fmt = str(self.r.choice(FORMATS))
        x = self.dense(self.name("fc"), x, int(self.r.integers(2, 11)), n_in, fmt)
        self.hw[x] = (1, 1)
        if self.r.random() < 0.5:
            x = self.argmax(self.name("argmax"), x)
        return x


def random_network(seed):
    """A random network spec (see the module docstring), thresholds calibrated."""
    b = _RandomBuilder(seed)
    x = INPUT
    for _ in range(int(b.r.integers(1, 4))):
        step = b.r.choice(["conv", "conv", "residual", "pool"])
        if step == "pool" and x != INPUT:
            x = b.random_pool(x)
        elif step == "residual" and x != INPUT:
            x = b.residual(x)
        else:
            x = b.conv_stage(x)
    if b.r.random() < 0.7:
        b.head(x)
    net = calibrate(b.net, seed)
    # The frame interval the tests fold it for (and `streamqnn sim random:N` by default),
    # so a failure replays with the same folding.
    net.metadata["target_cycles"] = int(np.random.default_rng(seed).choice([300, 3000]))
    return net


def random_folding(net, seed, share=0.3):
    """A valid user folding of about ``share`` of the layers (the others left to the
    compiler): {layer: {"simd": s, "pe": p} or {"lanes": l}}."""
    rng = np.random.default_rng(seed + 104729)
    types = infer(net)
    folding = {}
    for lay in net.layers:
        if rng.random() >= share:
            continue
        kind = kind_of(lay)
        tin, tout = types[net.sources(lay)[0]], types[lay.name]
        options = kind.options(lay, tin, tout)
        simd, pe = options[int(rng.integers(len(options)))]
        folding[lay.name] = {"simd": simd, "pe": pe} if "simd" in kind.fold_keys else \
            {"lanes": simd}
    return folding
