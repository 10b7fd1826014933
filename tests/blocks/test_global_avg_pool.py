"""Global average pool (integer sum): bit-exact against the model's
``global_avg_pool_sum`` on both simulators with every sum value reached, exact sum width,
no bubble between frames (the cycle model), the latency, clear errors."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.blocks.global_avg_pool import GlobalAvgPoolUnit
from rtl_gen.model.formats import range_bits
from rtl_gen.model.layers import global_avg_pool_sum
from rtl_gen.model.packing import value_range
from verif.blocktest import assert_covers, assert_reaches, check_block

POOLS = configs("global_avg_pool")


def pixels_summing_to(total, n, lo, hi, rng):
    """``n`` values in [lo, hi] (shuffled) whose sum is ``total``."""
    q, r = divmod(total - n * lo, hi - lo) if hi > lo else (0, 0)
    vals = [hi] * q + ([lo + r] if q < n else []) + [lo] * max(0, n - q - 1)
    return rng.permutation(np.array(vals[:n]))


def input_tensors(blk, seed, min_frames=3):
    """Frames (H, W, C) whose channel sums, over all frames, take every value of the sum
    range (both extremes included), each channel's target placed in random order."""
    rng = np.random.default_rng(seed)
    lo, hi = value_range(blk.bits, blk.signed)
    n, c = blk.pixels, blk.channels
    targets = list(rng.permutation(np.arange(n * lo, n * hi + 1)))
    frames = max(min_frames, -(-len(targets) // c))
    targets += list(rng.integers(n * lo, n * hi, frames * c - len(targets), endpoint=True))
    out = []
    for f in range(frames):
        cols = [pixels_summing_to(int(t), n, lo, hi, rng) for t in targets[f * c:(f + 1) * c]]
        out.append(np.stack(cols, axis=-1).reshape(blk.in_shape))
    return out


@pytest.mark.parametrize("blk", POOLS, ids=lambda b: b.name)
def test_global_avg_pool_bit_exact_and_timing(blk, sim):
    xs = input_tensors(blk, seed=blk.channels)
    sums = [global_avg_pool_sum(x) for x in xs]
    lo, hi = value_range(blk.bits, blk.signed)
    n = blk.pixels
    port = blk.port("m_axis")
    assert (port.signed, port.bits) == range_bits(n * lo, n * hi), "sum width is not exact"
    assert_covers(sums, n * lo, n * hi, what="channel sum")
    assert_reaches(sums, n * lo, n * hi, what="channel sum")
    res = check_block(blk, sim, {"s_axis": xs}, {"m_axis": sums})
    # No bubble between frames: the input took one beat per clock from first to last.
    beats = len(xs) * blk.cycles_per_frame()
    assert res.ports["s_axis"]["lasts"][-1] - res.ports["s_axis"]["first"] + 1 == beats, \
        "input stream paused while sums were being emitted"


def test_global_avg_pool_reference_and_model():
    blk = next(b for b in POOLS if b.in_shape == (7, 5, 6))
    assert blk.cycles_per_frame() == 7 * 5 * 2
    assert blk.latency_cycles() == (7 * 5 - 1) * 2 + 2
    ins = blk.random_inputs(np.random.default_rng(4), 2)
    ref = blk.reference(ins)["m_axis"]
    assert [len(f) for f in ref] == [2, 2]


BASE = dict(name="gap", in_shape=(4, 4, 8), bits=2, lanes=2)


@pytest.mark.parametrize("change,match", [
    (dict(lanes=3), r"layer 'gap': lanes = 3 does not divide channels = 8.*a divisor of 8"),
    (dict(lanes=16), r"lanes per beat = 16.*from 1 to 8"),
    (dict(bits=0), r"input element bits = 0.*from 1 to 32"),
    (dict(bits=33), r"input element bits = 33"),
    (dict(in_shape=(4, 4)), r"in_shape \(4, 4\) is not an \(H, W, C\) triple"),
    (dict(in_shape=(0, 4, 8)), r"input height H = 0"),
    (dict(in_shape=(4, 2.5, 8)), r"input width W = 2.5"),
    (dict(in_shape=(1 << 20, 1 << 20, 8), bits=32),
     r"sums over 1099511627776 pixels need 72 bits.*at most 63 bits"),
    (dict(name="reg"), r"Verilog keyword"),
])
def test_global_avg_pool_bad_parameters(change, match, tmp_path):
    with pytest.raises(QNNError, match=match):
        GlobalAvgPoolUnit(**dict(BASE, **change)).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))
