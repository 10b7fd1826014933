"""Arg-max: bit-exact against rtl_gen.model.layers.argmax on both simulators, with ties
inside a beat and across beats, negative values, both range ends, the maximum at the first
and the last index and at every lane; cycle model and latency; clear errors."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.argmax import ArgMaxUnit
from rtl_gen.blocks.catalog import configs
from rtl_gen.model.layers import argmax
from rtl_gen.model.packing import pack
from verif.blocktest import assert_covers, assert_reaches, check_block

BLOCKS = configs("argmax")
FULL_COVERAGE_N = 64        # up to this n, every index is the answer of some frame


def unique_max_at(rng, blk, k):
    """Random values below a maximum placed at index k alone."""
    top = int(rng.integers(blk.lo + 1, blk.hi + 1))
    v = rng.integers(blk.lo, top, blk.n)
    v[k] = top
    return v


def tie_frames(rng, blk):
    """Frames whose maximum occurs more than once (the lowest index must win)."""
    n, lanes, lo, hi = blk.n, blk.lanes, blk.lo, blk.hi
    out = [np.full(n, lo), np.full(n, hi)]                         # all equal
    pairs = [(0, n - 1), (n - 2, n - 1)]                           # first/last, last two
    if lanes > 1:
        pairs += [(0, lanes - 1), (1, lanes - 1), (lanes - 2, lanes - 1)]   # in one beat
    if blk.beats > 1:
        b = blk.beats - 1
        pairs += [(lanes - 1, lanes),                               # across adjacent beats
                  (lanes - 1, b * lanes),                           # later beat, lower lane
                  (lanes // 2, b * lanes + lanes // 2),             # same lane, far beats
                  (b * lanes - 1, n - 1)]
    for i, j in pairs:
        top = int(rng.integers(lo + 1, hi + 1))
        v = rng.integers(lo, top, n)
        v[i] = v[j] = top
        out.append(v)
    v = np.full(n, hi)                                             # three-way tie late
    v[: n // 2] = lo
    out.append(v)
    return out


def frames_for(blk, seed):
    """Value frames: the maximum at every index (small n) or at every lane of the first,
    second, middle and last beat (large n), ties, negative-only frames, range ends,
    monotone frames and random ones."""
    rng = np.random.default_rng(seed)
    n, lanes, lo, hi = blk.n, blk.lanes, blk.lo, blk.hi
    if n <= FULL_COVERAGE_N:
        positions = list(range(n))
    else:
        beats = sorted({0, 1, blk.beats // 2, blk.beats - 1})
        positions = [b * lanes + j for b in beats for j in range(lanes)]
    frames = [unique_max_at(rng, blk, k) for k in rng.permutation(positions)]
    frames += tie_frames(rng, blk)
    ramp = np.linspace(lo, hi, n).round().astype(np.int64)        # increasing to hi
    frames += [ramp, ramp[::-1].copy()]
    v = np.full(n, lo)
    v[n - 1] = hi                                                  # both extremes
    frames.append(v)
    if lo < 0:
        neg = rng.integers(lo, 0, n)                               # negative only
        neg[n // 3] = -1
        frames += [neg, rng.integers(lo, 0, n)]
    frames += [rng.integers(lo, hi + 1, n) for _ in range(3)]
    return frames


@pytest.mark.parametrize("blk", BLOCKS, ids=lambda b: b.name)
def test_argmax_bit_exact(blk, sim):
    frames = frames_for(blk, seed=blk.n + blk.lanes)
    idx = [np.array([argmax(v)]) for v in frames]
    assert_reaches(frames, blk.lo, blk.hi, "value")
    got = np.array([int(i[0]) for i in idx])
    if blk.n <= FULL_COVERAGE_N:
        assert_covers(idx, 0, blk.n - 1, "index")
    else:
        assert_covers([got % blk.lanes], 0, blk.lanes - 1, "lane of the index")
        assert {0, blk.n - 1} <= set(got.tolist())
    # ties really tie, and the lowest index wins in the model
    assert sum(int((v == v.max()).sum()) > 1 for v in frames) >= 6
    check_block(blk, sim, {"s_axis": [v.reshape(1, 1, -1) for v in frames]},
                {"m_axis": idx})


@pytest.mark.parametrize("blk", BLOCKS, ids=lambda b: b.name)
def test_reference_cycle_model(blk):
    frames = frames_for(blk, seed=1)
    ins = [pack(v, blk.lanes, blk.in_bits, blk.in_signed) for v in frames]
    assert blk.reference({"s_axis": ins}) == {"m_axis": [[int(np.argmax(v))] for v in frames]}
    assert blk.cycles_per_frame() == blk.n // blk.lanes
    assert blk.port("m_axis").bits == max(1, (blk.n - 1).bit_length())


@pytest.mark.parametrize("kwargs,match", [
    (dict(n=1, in_bits=8), r"layer 'am': n \(values per frame\) = 1 is out of range.*"
                           r"valid: an integer from 2"),
    (dict(n=10.0, in_bits=8), r"layer 'am': n \(values per frame\) = 10.0 is out of range"),
    (dict(n=10, in_bits=0), r"layer 'am': input value bits = 0 .*from 1 to 63"),
    (dict(n=10, in_bits=64), r"input value bits = 64 .*from 1 to 63"),
    (dict(n=10, in_bits=8, lanes=4),
     r"layer 'am': lanes = 4 does not divide the 10 values of a frame.*"
     r"valid: a divisor of n: 1, 2, 5, 10"),
    (dict(n=10, in_bits=8, lanes=0), r"lanes \(values per beat\) = 0 .*from 1 to 10"),
    (dict(n=10, in_bits=8, lanes=20), r"lanes \(values per beat\) = 20 .*from 1 to 10"),
    (dict(n=10, in_bits=8, in_signed=1), r"layer 'am': in_signed = 1 is not a boolean"),
    (dict(name="module", n=10, in_bits=8), r"Verilog keyword"),
])
def test_argmax_bad_parameters(kwargs, match, tmp_path):
    kwargs = dict({"name": "am"}, **kwargs)
    with pytest.raises(QNNError, match=match):
        ArgMaxUnit(**kwargs).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))
