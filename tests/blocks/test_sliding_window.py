"""SWU: bit-exact against the model's im2col on both simulators, with gaps, backpressure
and the exact cycle model (plain and kernel-column parallel, ``out_lanes = m*C``); a
MyHDL-level sweep over shapes no catalog entry names; the ring's row bookkeeping; clear
errors.

``stream_run`` (MyHDL's own simulator on a block's ``hdl``, no Verilog) is also used by
``test_maxpool.py``: it lets the timing and data checks cover many shapes in seconds.
"""

import random

import numpy as np
import pytest
from myhdl import ResetSignal, Signal, Simulation, StopSimulation, block, delay, instance

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.blocks.window.line_buffer import WindowGeometry, valid_out_lanes
from rtl_gen.model.layers import im2col
from rtl_gen.model.packing import pack, unpack
from rtl_gen.blocks.window.sliding_window import SlidingWindow
from rtl_gen.hdl.stream import Stream
from verif.blocktest import assert_covers, check_block

SWUS = configs("sliding_window")


# --- vectors ---------------------------------------------------------------------------
def used_positions(geo):
    """Flat indices (into H*W*C) of the input elements that appear in some window."""
    idx = np.arange(1, geo.height * geo.width * geo.channels + 1).reshape(
        geo.height, geo.width, geo.channels)
    cols = np.asarray(im2col(idx, geo.kernel, geo.stride, geo.pad))
    return np.unique(cols[cols > 0]) - 1


def window_frames(geo, seed, count=3):
    """``count`` input tensors: the first puts every code on elements that some window
    reads, then random ones, the last all at the top code (an extreme next to padding)."""
    rng = np.random.default_rng(seed)
    top = (1 << geo.bits) - 1
    shape = (geo.height, geo.width, geo.channels)
    frames = [rng.integers(0, top + 1, shape) for _ in range(count - 1)]
    used = rng.permutation(used_positions(geo))
    codes = np.arange(top + 1)
    n = min(len(used), len(codes))
    frames[0].reshape(-1)[used[:n]] = codes[:n]
    frames.append(np.full(shape, top))
    return frames


def windows(geo, x):
    """The model's windows of ``x`` as (Ho, Wo, K, K*C): the im2col order, with a last
    axis that any valid ``out_lanes`` (a multiple of C dividing K*C) divides."""
    cols = np.asarray(im2col(x, geo.kernel, geo.stride, geo.pad))
    return cols.reshape(geo.out_height, geo.out_width, geo.kernel, geo.kernel * geo.channels)


# --- MyHDL-level stream simulation -------------------------------------------------------
def stream_run(blk, inputs, outputs, gap=0.0, stall=0.0, seed=0, max_cycles=None):
    """Simulate ``blk.hdl`` with MyHDL: ``inputs``/``outputs`` are frames of beats for
    ``s_axis``/``m_axis``. Checks every beat and tlast (AssertionError on a mismatch or a
    stall) and returns the cycles of the first input beat, first output beat, every
    output tlast and every input and output transfer."""
    src = [(b, i == len(f) - 1) for f in inputs for i, b in enumerate(f)]
    want = [(b, i == len(f) - 1) for f in outputs for i, b in enumerate(f)]
    cycles = len(inputs) * blk.cycles_per_frame() + blk.latency_cycles()
    limit = max_cycles or cycles * (10 if gap or stall else 1) + 500
    clk = Signal(bool(0))
    rst = ResetSignal(1, active=1, isasync=False)
    s = Stream(blk.port("s_axis").width)
    m = Stream(blk.port("m_axis").width)
    rng = random.Random(seed)
    res = {"first_in": None, "first_out": None, "lasts": [], "error": None, "ins": [],
           "outs": []}

    @block
    def bench():
        @instance
        def clock():
            while True:
                yield delay(5)
                clk.next = not clk

        @instance
        def drive():
            cycle, taken, seen, holding = 0, 0, 0, False
            yield clk.posedge
            rst.next = 0
            yield clk.posedge
            while True:
                if not holding:
                    if taken < len(src) and rng.random() >= gap:
                        s.tdata.next, s.tlast.next = src[taken]
                        s.tvalid.next = holding = True
                    else:
                        s.tvalid.next = False
                m.tready.next = rng.random() >= stall
                yield clk.posedge  # signals read below are the values sampled at this edge
                cycle += 1
                if s.tvalid and s.tready:
                    res["first_in"] = res["first_in"] or cycle
                    res["ins"].append(cycle)
                    taken += 1
                    holding = False
                if m.tvalid and m.tready:
                    res["first_out"] = res["first_out"] or cycle
                    res["outs"].append(cycle)
                    got = (int(m.tdata), bool(m.tlast))
                    if seen >= len(want) or got != want[seen]:
                        res["error"] = (f"{blk.name}: beat {seen}: got {got}, expected "
                                        f"{want[seen] if seen < len(want) else 'nothing'}")
                        raise StopSimulation
                    if got[1]:
                        res["lasts"].append(cycle)
                    seen += 1
                if seen == len(want) and taken == len(src):
                    raise StopSimulation
                if cycle > limit:
                    res["error"] = (f"{blk.name}: stalled at output beat {seen} of {len(want)}, "
                                    f"input beat {taken} of {len(src)}")
                    raise StopSimulation
        return clock, drive

    dut = blk.hdl(clk, rst, s_axis=s, m_axis=m)
    Simulation(dut, bench()).run(quiet=1)
    assert res["error"] is None, res["error"]
    return res


def check_beat_times(blk, res):
    """Every output beat of a ``stream_run`` without backpressure left when the block's
    beat timing (``beat_times``) says, for the input beats as they were taken."""
    want = blk.beat_times({"s_axis": np.array(res["ins"])})["m_axis"]
    got = np.array(res["outs"])
    bad = np.flatnonzero(got != want)
    assert not len(bad), (f"{blk.name}: output beat {bad[0]} of {len(got)} at cycle "
                          f"{got[bad[0]]}, beat timing says {want[bad[0]]}")


def check_stream_timing(blk, res):
    """Frame intervals and latency of a pause-free ``stream_run`` against the block's
    model, and every beat against its beat timing."""
    check_beat_times(blk, res)
    ends = res["lasts"]
    got = [b - a for a, b in zip(ends, ends[1:])]
    assert got and all(g == blk.cycles_per_frame() for g in got), \
        f"{blk.name}: frame intervals {got}, cycle model {blk.cycles_per_frame()}"
    assert res["first_out"] - res["first_in"] == blk.latency_cycles(), \
        f"{blk.name}: latency {res['first_out'] - res['first_in']}, model {blk.latency_cycles()}"


def random_shapes(make, seed, count, max_cycles):
    """``count`` random valid configurations (K 1..11, stride 1..4, any padding, odd and
    non-square images, 1..3 lanes and channel groups) built by ``make(**kw)``, each
    at most ``max_cycles`` per frame."""
    rnd = random.Random(seed)
    found = []
    while len(found) < count:
        k = rnd.randint(1, 11)
        s = rnd.randint(1, 4)
        p = rnd.randint(0, k // 2)
        lo = max(1, k - 2 * p)
        h = rnd.randint(lo, rnd.choice([k + 3 * s + 3, 40]))
        w = rnd.randint(lo, k + 2 * s + 3)
        lanes = rnd.randint(1, 3)
        c = lanes * rnd.choice([1, 1, 2, 3])
        blk = make(name=f"rand{len(found)}_k{k}s{s}p{p}_{h}x{w}c{c}l{lanes}",
                   in_shape=(h, w, c), kernel=k, stride=s, pad=p, bits=rnd.randint(1, 3),
                   lanes=lanes)
        if blk.cycles_per_frame() <= max_cycles:
            found.append(blk)
    return found


def random_wide_shapes(seed, count, max_cycles):
    """``count`` random kernel-column parallel SWUs (K 2..11, m > 1 dividing K, stride
    1..4, any padding, C 1..3 = lanes, out_lanes = m*C), each at most ``max_cycles`` per
    frame."""
    rnd = random.Random(seed)
    found = []
    while len(found) < count:
        k = rnd.randint(2, 11)
        m = rnd.choice([d for d in range(2, k + 1) if k % d == 0])
        s = rnd.randint(1, 4)
        p = rnd.randint(0, k // 2)
        lo = max(1, k - 2 * p)
        h = rnd.randint(lo, rnd.choice([k + 3 * s + 3, 30]))
        w = rnd.randint(lo, k + 3 * s + 4)
        c = rnd.randint(1, 3)
        blk = SlidingWindow(f"wide{len(found)}_k{k}s{s}p{p}_{h}x{w}c{c}m{m}", (h, w, c), k,
                            s, p, bits=rnd.randint(1, 3), lanes=c, out_lanes=m * c)
        if blk.cycles_per_frame() <= max_cycles:
            found.append(blk)
    return found


def model_frames(blk, xs):
    """Beats of each input tensor and of the model's output for it."""
    port_in, port_out = blk.port("s_axis"), blk.port("m_axis")
    ins = [pack(x, port_in.lanes, port_in.bits) for x in xs]
    outs = [pack(np.reshape(blk.model(x), (-1, port_out.lanes)), port_out.lanes,
                 port_out.bits) for x in xs]
    return ins, outs


def sweep(blks, seed):
    """Each block: a pause-free run against the cycle model, then one with random gaps and
    backpressure, both bit-exact against the model."""
    for i, blk in enumerate(blks):
        xs = window_frames(blk.geo, seed + i)
        ins, outs = model_frames(blk, xs)
        check_stream_timing(blk, stream_run(blk, ins, outs))
        gap, stall = [(0.3, 0.3), (0.05, 0.8), (0.7, 0.0)][i % 3]
        res = stream_run(blk, ins, outs, gap=gap, stall=stall, seed=seed + i)
        if not stall:
            check_beat_times(blk, res)


# --- Verilog on both simulators ----------------------------------------------------------
@pytest.mark.parametrize("swu", SWUS, ids=lambda b: b.name)
def test_swu_bit_exact_and_cycle_model(swu, sim):
    xs = window_frames(swu.geo, seed=len(swu.name))
    g = swu.geo
    ys = [windows(g, x) for x in xs]
    assert_covers(ys, 0, (1 << g.bits) - 1, "window element")
    check_block(swu, sim, {"s_axis": xs}, {"m_axis": ys})


def test_catalog_has_the_awkward_cases():
    geos = [b.geo for b in SWUS]
    assert any(g.lanes == 1 for g in geos) and any(g.lanes == g.channels > 1 for g in geos)
    assert any(g.height != g.width for g in geos)
    assert any(g.stride == 2 and g.pad > 0 and g.height % 2 for g in geos)
    assert any(g.kernel % 2 == 0 for g in geos)
    assert any(g.kernel == 11 and g.stride == 4 for g in geos)
    assert any(g.input_beats > g.output_beats for g in geos)          # input-bound
    assert any(g.input_beats == g.output_beats for g in geos)         # balanced
    assert any(g.channels & (g.channels - 1) for g in geos)           # C not a power of 2
    # Kernel-column parallel mode: a whole kernel row per beat with padding, with a
    # rotation that changes per output pixel, m < K with stride > m, C = 1.
    wide = [g for g in geos if g.out_lanes > g.lanes]
    assert any(g.beat_words == g.kernel == 11 and g.stride == 4 for g in wide)
    assert any(g.beat_words == g.kernel and g.pad > 0 and g.stride == 2 for g in wide)
    assert any(g.stride % g.beat_words for g in wide)
    assert any(g.beat_words < g.kernel and g.stride > g.beat_words for g in wide)
    assert any(g.channels == 1 for g in wide) and any(g.channels > 1 for g in wide)
    assert any(g.input_beats > g.output_beats for g in wide)
    assert any(g.input_beats < g.output_beats for g in wide)


def test_reference_matches_model():
    swu = SWUS[0]
    g = swu.geo
    inputs = swu.random_inputs(np.random.default_rng(5), 2)
    for beats, out in zip(inputs["s_axis"], swu.reference(inputs)["m_axis"]):
        x = unpack(beats, swu.in_shape, g.lanes, g.bits)
        assert out == pack(np.asarray(im2col(x, g.kernel, g.stride, g.pad)), g.lanes, g.bits)
        assert len(out) == g.output_beats and len(beats) == g.input_beats


def test_wide_mode_beats_and_model():
    """out_lanes = m*C: each beat is m kernel columns of one kernel row (the im2col order,
    m*C elements per beat); cycle model and latency formulas."""
    swu = SlidingWindow("wide", (9, 8, 3), 3, 2, 1, bits=4, lanes=3, out_lanes=9)
    g = swu.geo
    x = np.random.default_rng(1).integers(0, 16, (9, 8, 3))
    out = swu.reference({"s_axis": [pack(x, 3, 4)]})["m_axis"][0]
    cols = np.asarray(im2col(x, 3, 2, 1))
    assert out == pack(cols.reshape(-1, 9), 9, 4) and len(out) == 5 * 4 * 3
    assert unpack([out[4]], (9,), 9, 4).tolist() == cols[0, 1, 1].reshape(-1).tolist()
    assert swu.port("m_axis").lanes == 9 and swu.port("s_axis").lanes == 3
    assert swu.cycles_per_frame() == max(9 * 8, 5 * 4 * 3 * 3 * 3 // 9)
    assert swu.latency_cycles() == 2 * 8 + 3
    assert g.beat_words == 3 and g.row_beats == 1
    assert valid_out_lanes(3, 9, 3) == [3, 9, 27] and valid_out_lanes(6, 9, 3) == [3]
    # out_lanes = lanes is the plain mode, whatever the spelling.
    plain = SlidingWindow("plain", (9, 8, 3), 3, 2, 1, bits=4, lanes=3)
    assert plain.params() == SlidingWindow("plain", (9, 8, 3), 3, 2, 1, bits=4, lanes=3,
                                           out_lanes=3).params()
    assert "out_lanes" not in plain.params() and swu.params()["out_lanes"] == 9


# --- MyHDL-level sweep -----------------------------------------------------------------
def test_swu_shape_sweep():
    """Shapes no catalog entry names: exact cycle model, latency, data with pauses."""
    sweep(random_shapes(SlidingWindow, seed=1, count=8, max_cycles=700), seed=100)


def test_swu_wide_shape_sweep():
    """Kernel-column parallel shapes no catalog entry names: exact cycle model, latency,
    data with pauses."""
    sweep(random_wide_shapes(seed=5, count=8, max_cycles=600), seed=300)


@pytest.mark.nightly
def test_swu_shape_sweep_long():
    sweep(random_shapes(SlidingWindow, seed=2, count=120, max_cycles=3000), seed=1000)


@pytest.mark.nightly
def test_swu_wide_shape_sweep_long():
    sweep(random_wide_shapes(seed=6, count=80, max_cycles=3000), seed=3000)


# --- ring bookkeeping ----------------------------------------------------------------------
@pytest.mark.parametrize("shape,k,s,p", [((23, 19, 3), 11, 4, 0), ((227, 227, 3), 11, 4, 0),
                                         ((7, 5, 2), 3, 2, 1), ((4, 9, 1), 7, 2, 3),
                                         ((224, 224, 64), 3, 1, 1), ((6, 8, 3), 2, 2, 1)])
def test_ring_rows_cover_every_row_and_frame_boundary(shape, k, s, p):
    g = WindowGeometry.checked("ring", shape, k, s, p, 2, 1)
    ho = g.out_height
    # Each output row's needs and releases agree with the model's windows.
    for oy in range(ho):
        rows = [y for y in range(oy * s - p, oy * s - p + k) if 0 <= y < g.height]
        assert g.row_first(oy) == rows[0] and g.row_need(oy) == len(rows)
    assert sum(g.row_release(oy) for oy in range(ho)) == g.height  # a frame frees H rows
    # The ring holds, plus one row of slack: an output row's rows up to the next output
    # row's last; at a frame boundary, the last output row's rows, the frame's tail and
    # the next frame's first rows.
    for oy in range(ho - 1):
        span = g.row_first(oy + 1) + g.row_need(oy + 1) - g.row_first(oy)
        assert g.ring_rows >= span + 1
    assert g.ring_rows >= g.height - g.row_first(ho - 1) + g.first_rows() + 1


# --- errors ------------------------------------------------------------------------------
BAD_WINDOWS = [
    (dict(kernel=3, stride=1, pad=2), r"padding 2 out of range.*valid: an integer in 0\.\.1"),
    (dict(kernel=3, stride=0, pad=1), r"stride 0 out of range.*valid: an integer in 1\.\.4"),
    (dict(kernel=3, stride=5, pad=1), r"stride 5 out of range"),
    (dict(kernel=12, stride=1, pad=0), r"kernel 12 out of range.*valid: an integer in 1\.\.11"),
    (dict(kernel=0, stride=1, pad=0), r"kernel 0 out of range"),
    (dict(in_shape=(4, 9, 6), kernel=7, stride=1, pad=1),
     r"kernel 7 larger than the padded input 6x11"),
    (dict(lanes=4), r"6 channels cannot be sent in groups of 4 lanes.*valid: lanes dividing"),
    (dict(lanes=0), r"lanes \(elements per beat\) = 0 is out of range"),
    (dict(bits=0), r"element bits = 0 is out of range.*valid: an integer from 1 to 32"),
    (dict(bits=33), r"element bits = 33 is out of range"),
    (dict(in_shape=(8, 8)), r"input shape \(8, 8\) is not \(H, W, C\)"),
    (dict(in_shape=(8, 0, 6)), r"input width W = 0 is out of range"),
    (dict(name="wire"), r"Verilog keyword"),
]


def make_bad(cls, tmp_path, change, match):
    """Build ``cls`` with one bad parameter: QNNError naming the layer, nothing written."""
    kw = dict(name="bad_window", in_shape=(8, 9, 6), kernel=3, stride=2, pad=1, bits=2,
              lanes=3)
    kw.update(change)
    with pytest.raises(QNNError, match=match) as err:
        cls(**kw).generate(tmp_path)
    if kw["name"] == "bad_window":
        assert err.value.layer == "bad_window" and str(err.value).startswith(
            "layer 'bad_window': ")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("change,match", BAD_WINDOWS, ids=lambda v: str(v)[:40])
def test_swu_bad_parameters(change, match, tmp_path):
    make_bad(SlidingWindow, tmp_path, change, match)


BAD_OUT_LANES = [
    # Wide mode needs one pixel per input beat (lanes = C).
    (dict(lanes=3, out_lanes=18),
     r"out_lanes = 18 is not possible with lanes = 3, C = 6, K = 3 \(valid: one of 3 "),
    # m must divide K.
    (dict(lanes=6, out_lanes=12), r"out_lanes = 12 is not possible.*valid: one of 6, 18 "),
    (dict(in_shape=(8, 9, 3), kernel=7, pad=3, lanes=3, out_lanes=9),
     r"out_lanes = 9 .*K = 7 \(valid: one of 3, 21 \(out_lanes = lanes, or m\*C"),
    (dict(lanes=6, out_lanes=0), r"out_lanes \(window elements per beat\) = 0 is out of range"),
    (dict(lanes=6, out_lanes=6.0), r"out_lanes \(window elements per beat\) = 6\.0 is out"),
]


@pytest.mark.parametrize("change,match", BAD_OUT_LANES, ids=lambda v: str(v)[:40])
def test_swu_bad_out_lanes(change, match, tmp_path):
    make_bad(SlidingWindow, tmp_path, change, match)
