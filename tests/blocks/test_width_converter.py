"""Width converter: element order, values and tlast kept for up-, down- and non-integer
ratios on both simulators; one beat per clock on the busier side; the gearbox capacity
formula checked over many ratios; clear errors."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.model.packing import value_range
from rtl_gen.blocks.width_converter import WidthConverter, gearbox_capacity
from verif.blocktest import assert_covers, assert_reaches, check_block

CONVERTERS = configs("width_converter")


def element_frames(blk, seed, min_frames=3):
    """Frames of elements (flat, frame_elems long) holding every element code for narrow
    elements, both extremes and random values for wide ones."""
    rng = np.random.default_rng(seed)
    lo, hi = value_range(blk.bits, blk.signed)
    if blk.bits <= 10:
        values = np.arange(lo, hi + 1)
    else:
        values = np.concatenate([[lo, hi], rng.integers(lo, hi, 3 * blk.frame_elems,
                                                        endpoint=True)])
    frames = max(min_frames, -(-len(values) // blk.frame_elems))
    pool = rng.integers(lo, hi, frames * blk.frame_elems, endpoint=True)
    pool[:len(values)] = rng.permutation(values)
    return list(pool.reshape(frames, blk.frame_elems))


@pytest.mark.parametrize("blk", CONVERTERS, ids=lambda b: b.name)
def test_width_converter_bit_exact_and_timing(blk, sim):
    elems = element_frames(blk, seed=blk.frame_elems)
    # The model's view: the same element sequence, grouped by in_lanes and by out_lanes.
    ins = [e.reshape(-1, blk.in_lanes) for e in elems]
    outs = [e.reshape(-1, blk.out_lanes) for e in elems]
    lo, hi = value_range(blk.bits, blk.signed)
    if blk.bits <= 10:
        assert_covers(outs, lo, hi, what="element")
    assert_reaches(outs, lo, hi, what="element")
    res = check_block(blk, sim, {"s_axis": ins}, {"m_axis": outs})
    busier = "s_axis" if blk.in_lanes <= blk.out_lanes else "m_axis"
    beats = sum(len(f) for f in (ins if busier == "s_axis" else outs))
    assert res.ports[busier]["lasts"][-1] - res.ports[busier]["first"] + 1 == beats, \
        f"{busier} (the busier side) did not move one beat per clock"


def test_width_converter_reference():
    blk = next(b for b in CONVERTERS if b.in_lanes == 4 and b.out_lanes == 6)
    ins = blk.random_inputs(np.random.default_rng(2), 3)
    ref = blk.reference(ins)["m_axis"]
    assert [len(f) for f in ref] == [blk.frame_elems // 6] * 3
    # element k of the frame is lane k % lanes of beat k // lanes on both sides
    for fin, fout in zip(ins["s_axis"], ref):
        e_in = [(b >> (2 * i)) & 3 for b in fin for i in range(4)]
        e_out = [(b >> (2 * i)) & 3 for b in fout for i in range(6)]
        assert e_in == e_out


def _gearbox_rate(i, o, cap, cycles=400):
    """Cycle-level model of the gearbox control with both sides never pausing: the
    number of input and output beats moved over ``cycles`` cycles."""
    count, ins, outs, in_ready, out_valid = 0, 0, 0, True, False
    for _ in range(cycles):
        rd, wr = out_valid, in_ready
        count = count - o * rd + i * wr
        ins, outs = ins + wr, outs + rd
        out_valid, in_ready = count >= o, count <= cap - i
        assert 0 <= count <= cap
    return ins, outs


@pytest.mark.parametrize("i", range(1, 13))
def test_gearbox_capacity_is_enough_and_tight(i):
    """With the formula's capacity the busier side moves every cycle (after the first
    output); one slot less (in units of the gcd) loses throughput."""
    from math import gcd
    for o in range(1, 13):
        cap = gearbox_capacity(i, o)
        n = 400
        ins, outs = _gearbox_rate(i, o, cap, n)
        lat = -(-o // i)
        if i <= o:
            assert ins == n, (i, o)
        else:
            assert outs == n - lat, (i, o)
        ins2, outs2 = _gearbox_rate(i, o, cap - gcd(i, o), n)
        assert (ins2 < n) if i <= o else (outs2 < n - lat), (i, o)


@pytest.mark.parametrize("kwargs,match", [
    (dict(in_lanes=4, out_lanes=6, bits=2, frame_elems=30),
     r"layer 'wc': frame_elems = 30 is not a multiple of lcm\(in_lanes=4, out_lanes=6\) = 12"
     r".*valid: a positive multiple of 12"),
    (dict(in_lanes=0, out_lanes=6, bits=2, frame_elems=24), r"input lanes per beat = 0"),
    (dict(in_lanes=4, out_lanes=0, bits=2, frame_elems=24), r"output lanes per beat = 0"),
    (dict(in_lanes=4, out_lanes=4, bits=0, frame_elems=24), r"element bits = 0.*1 to 63"),
    (dict(in_lanes=4, out_lanes=4, bits=64, frame_elems=24), r"element bits = 64"),
    (dict(in_lanes=4, out_lanes=300000, bits=8, frame_elems=1200000),
     r"output lanes per beat = 300000.*from 1 to 262144"),
    (dict(in_lanes=4, out_lanes=4, bits=8, frame_elems=0), r"elements per frame = 0"),
])
def test_width_converter_bad_parameters(kwargs, match, tmp_path):
    with pytest.raises(QNNError, match=match):
        WidthConverter("wc", **kwargs).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))
