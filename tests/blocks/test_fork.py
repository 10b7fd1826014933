"""Fork: both outputs bit-exact copies of the input (model ``fork``) on both simulators,
with gaps, backpressure, and each output stalling on its own; the cycle model and latency
on both outputs; clear errors."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.blocks.fork import ForkUnit
from rtl_gen.model.layers import fork as model_fork
from rtl_gen.model.packing import value_range
from verif.blocktest import assert_covers, assert_reaches, check_block, pack_frames
from verif.harness import simulate

FORKS = configs("fork")


def input_tensors(blk, seed, min_frames=3):
    """Frames (frame_beats, lanes) holding every element code for narrow elements (both
    extremes and random values for wide ones), in random order."""
    rng = np.random.default_rng(seed)
    lo, hi = value_range(blk.bits, blk.signed)
    per_frame = blk.frame_beats * blk.lanes
    if blk.bits <= 10:
        values = np.arange(lo, hi + 1)
    else:
        values = np.concatenate([[lo, hi], rng.integers(lo, hi, 3 * per_frame, endpoint=True)])
    frames = max(min_frames, -(-len(values) // per_frame))
    pool = np.resize(rng.permutation(values), frames * per_frame)
    pool[:len(values)] = rng.permutation(values)
    return list(pool.reshape(frames, blk.frame_beats, blk.lanes))


@pytest.mark.parametrize("blk", FORKS, ids=lambda b: b.name)
def test_fork_bit_exact_and_timing(blk, sim):
    xs = input_tensors(blk, seed=blk.frame_beats)
    copies = [model_fork(x) for x in xs]
    outs = {"m_axis_a": [c[0] for c in copies], "m_axis_b": [c[1] for c in copies]}
    lo, hi = value_range(blk.bits, blk.signed)
    for port, ts in outs.items():
        if blk.bits <= 10:
            assert_covers(ts, lo, hi, what=port)
        assert_reaches(ts, lo, hi, what=port)
    res = check_block(blk, sim, {"s_axis": xs}, outs)
    total = len(xs) * blk.frame_beats
    assert res.ports["s_axis"]["lasts"][-1] - res.ports["s_axis"]["first"] + 1 == total, \
        "input side did not take one beat per clock"


@pytest.mark.parametrize("stall", [{"m_axis_a": 0.97, "m_axis_b": 0.0},
                                   {"m_axis_a": 0.0, "m_axis_b": 0.97},
                                   {"m_axis_a": 0.6, "m_axis_b": 0.9}],
                         ids=["a-blocked", "b-blocked", "both"])
def test_fork_outputs_stall_independently(sim, stall):
    """One output held off for long stretches (or both, unevenly): nothing lost on
    either side, nothing duplicated."""
    blk = next(b for b in FORKS if b.lanes == 4)
    xs = input_tensors(blk, seed=11, min_frames=6)
    ins = {"s_axis": pack_frames(blk.port("s_axis"), xs)}
    outs = {p: pack_frames(blk.port(p), xs) for p in ("m_axis_a", "m_axis_b")}
    simulate(blk, sim, ins, outs, gap=0.2, stall=stall, seed=5, stall_limit=4000,
             label="independent")


def test_fork_reference_matches_model():
    blk = FORKS[1]
    ins = blk.random_inputs(np.random.default_rng(1), 3)
    ref = blk.reference(ins)
    assert ref["m_axis_a"] == ins["s_axis"] and ref["m_axis_b"] == ins["s_axis"]
    assert all(len(f) == blk.frame_beats for f in ins["s_axis"])


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="f", lanes=0, bits=2, frame_beats=4),
     r"layer 'f': lanes.*valid: an integer from 1"),
    (dict(name="f", lanes=2, bits=0, frame_beats=4), r"element bits = 0.*from 1 to 63"),
    (dict(name="f", lanes=2, bits=64, frame_beats=4), r"element bits = 64.*from 1 to 63"),
    (dict(name="f", lanes=40000, bits=63, frame_beats=4), r"beat width.*from 1 to 2097152"),
    (dict(name="f", lanes=2, bits=2, frame_beats=0), r"beats per frame.*>= 1"),
    (dict(name="f", lanes=2.0, bits=2, frame_beats=4), r"lanes per beat"),
    (dict(name="wire", lanes=2, bits=2, frame_beats=4), r"Verilog keyword"),
])
def test_fork_bad_parameters(kwargs, match, tmp_path):
    with pytest.raises(QNNError, match=match):
        ForkUnit(**kwargs).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))
