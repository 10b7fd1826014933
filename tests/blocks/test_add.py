"""Add: bit-exact against the model's ``add`` on both simulators (unit, per-channel and
power-of-two multipliers; lanes=1 and lanes=C; channel counts that are not powers of two),
lock step under independent input starvation and output stalls, exact output width,
cycle model and latency, clear errors."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.add import AddUnit
from rtl_gen.blocks.catalog import configs
from rtl_gen.model.formats import range_bits
from rtl_gen.model.layers import add as model_add
from rtl_gen.model.packing import value_range
from verif.blocktest import assert_covers, assert_reaches, check_block, pack_frames
from verif.harness import simulate

ADDS = configs("add")


def input_tensors(blk, seed, frames=3):
    """Frames (pixels, C) of a and b: whole pixels at the corners of the input ranges, so
    that every channel reaches both ends of its output range, then random pairs; with unit
    multipliers, pairs giving every sum in the output range (more frames if needed)."""
    rng = np.random.default_rng(seed)
    (alo, ahi), (blo, bhi) = (value_range(blk.a_bits, blk.a_signed),
                              value_range(blk.b_bits, blk.b_signed))
    c = blk.channels
    pairs = [(va, vb) for va, vb in [(alo, blo), (ahi, bhi), (alo, bhi), (ahi, blo)]
             for _ in range(c)]
    if all(m == 1 for m in blk.mul_a + blk.mul_b):
        sums = rng.permutation(np.arange(alo + blo, ahi + bhi + 1))
        firsts = [int(rng.integers(max(alo, s - bhi), min(ahi, s - blo), endpoint=True))
                  for s in sums]
        pairs += [(x, int(s) - x) for x, s in zip(firsts, sums)]
    per_frame = blk.pixels * c
    frames = max(frames, -(-len(pairs) // per_frame))
    a = rng.integers(alo, ahi, frames * per_frame, endpoint=True)
    b = rng.integers(blo, bhi, frames * per_frame, endpoint=True)
    a[:len(pairs)], b[:len(pairs)] = zip(*pairs)
    shape = (frames, blk.pixels, c)
    return list(a.reshape(shape)), list(b.reshape(shape))


def model_range(blk):
    """Output range of the model's add over the input corners (independent of AddUnit)."""
    (alo, ahi), (blo, bhi) = (value_range(blk.a_bits, blk.a_signed),
                              value_range(blk.b_bits, blk.b_signed))
    one = np.ones((1, blk.channels), dtype=np.int64)
    mul = dict(mul_a=blk.params()["mul_a"], mul_b=blk.params()["mul_b"])
    lo = model_add(alo * one, blo * one, **mul).min()
    hi = model_add(ahi * one, bhi * one, **mul).max()
    return int(lo), int(hi)


@pytest.mark.parametrize("blk", ADDS, ids=lambda b: b.name)
def test_add_bit_exact_and_timing(blk, sim):
    a, b = input_tensors(blk, seed=blk.channels)
    mul = dict(mul_a=blk.params()["mul_a"], mul_b=blk.params()["mul_b"])
    out = [model_add(x, y, **mul) for x, y in zip(a, b)]
    lo, hi = model_range(blk)
    port = blk.port("m_axis")
    assert (port.signed, port.bits) == range_bits(lo, hi), "output width is not exact"
    assert_reaches(out, lo, hi, what="sum")
    if all(m == 1 for m in blk.mul_a + blk.mul_b):
        assert_covers(out, lo, hi, what="sum")
    check_block(blk, sim, {"s_axis_a": a, "s_axis_b": b}, {"m_axis": out})


@pytest.mark.parametrize("gap", [{"s_axis_a": 0.85, "s_axis_b": 0.0},
                                 {"s_axis_a": 0.0, "s_axis_b": 0.85},
                                 {"s_axis_a": 0.5, "s_axis_b": 0.5}],
                         ids=["a-starves", "b-starves", "both"])
@pytest.mark.parametrize("name", ["add_perch_l2", "add_codes_acc_l3"])
def test_add_lock_step(name, gap, sim):
    """Either input starving (or both, independently) with output stalls: each output
    element still pairs the right a with the right b."""
    blk = next(b for b in ADDS if b.name == name)
    a, b = input_tensors(blk, seed=3, frames=4)
    out = [model_add(x, y, blk.params()["mul_a"], blk.params()["mul_b"]) for x, y in zip(a, b)]
    ins = {"s_axis_a": pack_frames(blk.port("s_axis_a"), a),
           "s_axis_b": pack_frames(blk.port("s_axis_b"), b)}
    simulate(blk, sim, ins, {"m_axis": pack_frames(blk.port("m_axis"), out)}, gap=gap,
             stall=0.3, seed=9, label="lockstep")


def test_add_structure():
    """Products are registered only where a real multiply is needed; the reference is the
    model's add."""
    by = {b.name: b for b in ADDS}
    assert by["add_codes_acc_l3"].latency_cycles() == 2
    assert by["add_shift_l7"].latency_cycles() == 2
    assert by["add_perch_l1"].latency_cycles() == 3
    assert by["add_perch_l2"].latency_cycles() == 3
    blk = by["add_perch_l2"]
    assert blk.lane_multipliers(blk.mul_b, 0) == [1, 5, 6]      # a table over folds
    assert blk.lane_multipliers(blk.mul_a, 1) == [2, 2, 2]      # a constant lane
    ins = blk.random_inputs(np.random.default_rng(0), 2)
    ref = blk.reference(ins)
    assert len(ref["m_axis"]) == 2 and len(ref["m_axis"][0]) == blk.cycles_per_frame()


BASE = dict(name="ad", lanes=2, a_bits=2, a_signed=False, b_bits=8, b_signed=True,
            channels=6, pixels=4)


@pytest.mark.parametrize("change,match", [
    (dict(lanes=4), r"layer 'ad': lanes = 4 does not divide channels = 6.*a divisor of 6"),
    (dict(lanes=0), r"lanes per beat.*from 1 to 6"),
    (dict(a_bits=0), r"input a element bits = 0.*from 1 to 32"),
    (dict(b_bits=33), r"input b element bits = 33.*from 1 to 32"),
    (dict(pixels=0), r"pixels per frame.*>= 1"),
    (dict(mul_a=0), r"multiplier a 0 is not valid for 6 channels.*positive integer"),
    (dict(mul_b=[1, 2, 3]), r"multiplier b .* is not valid for 6 channels.*6 positive"),
    (dict(mul_a=1.5), r"multiplier a"),
    (dict(mul_b=[1, 1, 1, 1, 1, -2]), r"multiplier b"),
    (dict(a_bits=32, b_bits=32, mul_a=1 << 40), r"needs 7[0-9] bits.*fits 63 bits"),
    (dict(name="module"), r"Verilog keyword"),
])
def test_add_bad_parameters(change, match, tmp_path):
    with pytest.raises(QNNError, match=match):
        AddUnit(**dict(BASE, **change)).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))
