"""Lint sweep: random configurations of every block, beyond the simulated catalog, must
generate and pass ``verilator --lint-only -Wall -Wno-WIDTHEXPAND`` (truncations and
unused signals hide in corners no hand-picked configuration reaches)."""

import numpy as np
import pytest

from rtl_gen.blocks.add import AddUnit
from rtl_gen.blocks.argmax import ArgMaxUnit
from rtl_gen.blocks.fifo import Fifo
from rtl_gen.blocks.fork import ForkUnit
from rtl_gen.blocks.global_avg_pool import GlobalAvgPoolUnit
from rtl_gen.blocks.maxpool import MaxPoolUnit
from rtl_gen.model.layers import out_size
from rtl_gen.blocks.mvu.mvu import MVU
from rtl_gen.blocks.window.sliding_window import SlidingWindow
from rtl_gen.blocks.thresholding import Thresholding
from rtl_gen.blocks.width_converter import WidthConverter
from verif import nightly
from verif.lint import lint

N = 8  # random configurations per block kind in the fast suite (60 in the nightly run)


def _divisor(rng, n):
    ds = [d for d in range(1, n + 1) if n % d == 0]
    return int(rng.choice(ds))


def _window(rng):
    while True:
        k = int(rng.integers(1, 8))
        s = int(rng.integers(1, 5))
        p = int(rng.integers(0, k // 2 + 1))
        h, w = int(rng.integers(k, 24)), int(rng.integers(k, 24))
        if out_size(h, k, s, p) >= 1 and out_size(w, k, s, p) >= 1:
            c = int(rng.integers(1, 17))
            return (h, w, c), k, s, p


def swu(rng, i):
    shape, k, s, p = _window(rng)
    return SlidingWindow(f"sweep_swu{i}", shape, k, s, p, int(rng.integers(1, 9)),
                         _divisor(rng, shape[2]))


def swu_wide(rng, i):
    """Kernel-column parallel windows: lanes = C, out_lanes = m*C for m > 1 dividing K."""
    while True:
        shape, k, s, p = _window(rng)
        if k > 1:
            break
    m = _divisor(rng, k)
    m = m if m > 1 else k
    return SlidingWindow(f"sweep_swuw{i}", shape, k, s, p, int(rng.integers(1, 9)),
                         shape[2], out_lanes=m * shape[2])


def maxpool(rng, i):
    shape, k, s, p = _window(rng)
    return MaxPoolUnit(f"sweep_pool{i}", shape, k, s, p, int(rng.integers(1, 9)),
                   _divisor(rng, shape[2]))


def maxpool_acc(rng, i):
    """Max pool on signed accumulators, 2..32 bits (beats of 31 bits or more: a sign-bit
    mask >= 2**30 is one of MyHDL's oversized constants)."""
    shape, k, s, p = _window(rng)
    return MaxPoolUnit(f"sweep_pool_acc{i}", shape, k, s, p, int(rng.integers(2, 33)),
                       _divisor(rng, shape[2]), signed=True)


def mvu(rng, i):
    k = int(rng.choice([1, 3, 5]))
    groups = int(rng.choice([1, 1, 2]))
    cin = groups * int(rng.integers(1, 6))
    cout = groups * int(rng.integers(1, 6))
    fmt = str(rng.choice(["bipolar", "ternary", "int2", "int4", "int8"]))
    lo, hi = {"bipolar": (-1, 1), "ternary": (-1, 1), "int2": (-2, 1), "int4": (-8, 7),
              "int8": (-128, 127)}[fmt]
    w = rng.integers(lo, hi + 1, size=(cout, k, k, cin // groups))
    if fmt == "bipolar":
        w = np.where(w >= 0, 1, -1)
    mw = k * k * cin
    return MVU(f"sweep_mvu{i}", w, fmt, int(rng.integers(1, 9)), _divisor(rng, mw),
               _divisor(rng, cout), pixels=int(rng.integers(1, 20)), groups=groups)


def thresholding(rng, i):
    c = int(rng.integers(1, 13))
    a = int(rng.integers(1, 5))
    bits = int(rng.integers(4, 20))
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    t = np.sort(rng.integers(lo - 1, hi + 2, size=(c, (1 << a) - 1)), axis=1)
    neg = rng.random(c) < 0.3
    t[neg] = t[neg][:, ::-1]
    return Thresholding(f"sweep_thr{i}", t, neg, in_bits=bits, in_signed=True,
                        pe=_divisor(rng, c), pixels=int(rng.integers(1, 10)))


def add(rng, i):
    c = int(rng.integers(1, 13))
    lanes = _divisor(rng, c)
    mul = [int(m) for m in rng.integers(1, 7, size=c)] if rng.random() < 0.5 else \
        int(rng.choice([1, 2, 3, 4]))
    return AddUnit(f"sweep_add{i}", lanes, int(rng.integers(1, 9)), bool(rng.random() < 0.5),
               int(rng.integers(2, 16)), True, c, int(rng.integers(1, 9)), mul_a=mul)


def width_converter(rng, i):
    a, b = int(rng.integers(1, 13)), int(rng.integers(1, 13))
    lcm = a * b // np.gcd(a, b)
    return WidthConverter(f"sweep_wc{i}", a, b, int(rng.integers(1, 12)),
                          int(lcm * rng.integers(1, 4)), bool(rng.random() < 0.5))


def gap(rng, i):
    c = int(rng.integers(1, 13))
    return GlobalAvgPoolUnit(f"sweep_gap{i}", (int(rng.integers(1, 9)), int(rng.integers(1, 9)), c),
                         int(rng.integers(1, 9)), _divisor(rng, c), bool(rng.random() < 0.3))


def argmax(rng, i):
    lanes = int(rng.integers(1, 9))
    return ArgMaxUnit(f"sweep_argmax{i}", lanes * int(rng.integers(1, 40)) + lanes * (lanes == 1),
                  int(rng.integers(2, 24)), lanes, bool(rng.random() < 0.7))


def fork(rng, i):
    lanes = int(rng.integers(1, 9))
    return ForkUnit(f"sweep_fork{i}", lanes, int(rng.integers(1, 12)), int(rng.integers(1, 50)),
                bool(rng.random() < 0.5))


def fifo(rng, i):
    return Fifo(f"sweep_fifo{i}", int(rng.integers(1, 80)), int(rng.integers(2, 3000)))


MAKERS = [swu, swu_wide, maxpool, maxpool_acc, mvu, thresholding, add, width_converter, gap,
          argmax, fork, fifo]


@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
def test_random_configs_lint_clean(make, tmp_path):
    rng = np.random.default_rng(sum(map(ord, make.__name__)))
    for i in range(N):
        blk = make(rng, i)
        rtl = blk.generate(tmp_path / blk.name)
        lint(rtl.files, rtl.top)


def test_projection_window_lints(tmp_path):
    """A 1x1 stride-2 window on 16x16x16 with 8 lanes (ResNet's projection shortcut)."""
    blk = SlidingWindow("proj_swu", (16, 16, 16), 1, 2, 0, 2, 8)
    rtl = blk.generate(tmp_path)
    lint(rtl.files, rtl.top)


@pytest.mark.nightly
@pytest.mark.parametrize("make", MAKERS, ids=lambda m: m.__name__)
def test_many_random_configs_lint_clean(make, tmp_path, record_property):
    """A fresh draw every night (verif.nightly.seed; STREAMQNN_NIGHTLY_SEED replays)."""
    seed = nightly.draw(sum(map(ord, make.__name__)))
    record_property("seed", seed)
    rng = np.random.default_rng(seed)
    for i in range(60):
        blk = make(rng, i)
        rtl = blk.generate(tmp_path / blk.name)
        lint(rtl.files, rtl.top)
