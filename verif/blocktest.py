"""The standard checks every block test runs, so block tests only add their vectors.

Tensors in, tensors out: ``check_block`` packs per-frame tensors into beats with each
port's lanes and bits (docs/design.md section 3), simulates with random input gaps and
random backpressure, then once with neither and requires every frame interval to equal
``block.cycles_per_frame()`` and the latency to equal ``block.latency_cycles()``. In that
run and in one more with random input gaps only, the cycle of every output beat must equal
``block.beat_times`` (the beat timing the pipeline latency model is built from) for the
input beats as they were taken. All runs of one check share one simulator start.
"""

import numpy as np

from rtl_gen.model.packing import pack
from verif.harness import simulate_runs

PAUSE_PATTERNS = ((0.3, 0.3), (0.05, 0.8))
TIMING_GAP = 0.4  # input gaps of the beat-timing run (no backpressure)


def pack_frames(port, tensors):
    """Beats of each frame tensor for ``port`` (a StreamPort)."""
    return [pack(np.asarray(t), port.lanes, port.bits, signed=port.signed, name=port.name)
            for t in tensors]


def assert_covers(tensors, lo, hi, what="output"):
    """Every integer in [lo, hi] occurs somewhere in ``tensors`` (a test that cannot be
    passed by a block stuck at one value)."""
    seen = set(np.unique(np.concatenate([np.asarray(t).ravel() for t in tensors])).tolist())
    missing = sorted(set(range(lo, hi + 1)) - seen)
    assert not missing, f"test vectors never produce {what} values {missing[:20]}"


def assert_reaches(tensors, lo, hi, what="accumulator"):
    """The extremes ``lo`` and ``hi`` both occur in ``tensors``."""
    flat = np.concatenate([np.asarray(t).ravel() for t in tensors])
    assert flat.min() == lo and flat.max() == hi, \
        f"test vectors reach {what} range [{flat.min()}, {flat.max()}], not [{lo}, {hi}]"


def assert_beat_times(block, res):
    """Every output beat of ``res`` (recorded with ``record_beats``) left at the cycle
    ``block.beat_times`` predicts from the cycles its input beats were taken."""
    ins = {p.name: np.array(res.beat_cycles(p.name)) for p in block.ports()
           if p.direction == "in" and p.name in res.ports}
    want = block.beat_times(ins)
    for p in block.ports():
        if p.direction != "out" or p.name not in res.ports:
            continue
        got = np.array(res.beat_cycles(p.name))
        exp = want[p.name]
        assert len(got) == len(exp), \
            f"{block.name}: {p.name} moved {len(got)} beats, beat model has {len(exp)}"
        bad = np.flatnonzero(got != exp)
        assert not len(bad), (
            f"{block.name}: {p.name} beat {bad[0]} of {len(got)} left at cycle {got[bad[0]]}, "
            f"beat timing model says {exp[bad[0]]} ({len(bad)} beats differ)")


def check_block(block, sim, inputs, outputs, seed=0, pauses=PAUSE_PATTERNS, timing=True,
                stall_limit=None, path="hdl"):
    """Simulate ``block`` on ``sim``: inputs/outputs map port names to lists of frame
    tensors. Runs each (gap, stall) pattern of ``pauses``, then (``timing``) a run with
    input gaps only and a run with no pauses that must match the cycle model exactly
    (``block.model_frame_cycles``, per frame); in
    both, every output beat must leave when ``block.beat_times`` says. All runs share one
    simulator start (each begins with a reset). ``path``: the harness's testbench path
    (``"hdl"``, or ``"axi"`` for cocotbext-axi every clock). Returns the pause-free run's
    result."""
    ins = {p: pack_frames(block.port(p), ts) for p, ts in inputs.items()}
    outs = {p: pack_frames(block.port(p), ts) for p, ts in outputs.items()}
    runs = [dict(inputs=ins, outputs=outs, gap=gap, stall=stall, seed=seed + i,
                 stall_limit=stall_limit, label=f"pauses{i}")
            for i, (gap, stall) in enumerate(pauses)]
    if timing:
        runs += [dict(inputs=ins, outputs=outs, gap=TIMING_GAP, seed=seed + 7,
                      stall_limit=stall_limit, label="beats", record_beats=True),
                 dict(inputs=ins, outputs=outs, seed=seed, stall_limit=stall_limit,
                      label="timing", record_beats=True)]
    results = simulate_runs(block, sim, runs, label=f"check-{path}", path=path)
    if not timing:
        return None
    gaps, res = results[-2:]
    assert_beat_times(block, gaps)
    assert_beat_times(block, res)
    # Every output port (a fork has two) must keep the cycle model and the latency.
    out_ports = [p.name for p in block.ports() if p.direction == "out" and p.name in outs]
    in_port = next(p.name for p in block.ports() if p.direction == "in")
    want = block.model_frame_cycles(ins)  # per frame (a FIFO's follows the frame length)
    for out_port in out_ports:
        got = res.frame_intervals(out_port)
        where = f" ({out_port})" if len(out_ports) > 1 else ""
        assert got and got == want, \
            f"{block.name}{where}: frame intervals {got} cycles, cycle model says {want}"
        if hasattr(block, "latency_cycles"):
            assert res.latency(in_port, out_port) == block.latency_cycles(), \
                (f"{block.name}{where}: latency {res.latency(in_port, out_port)} cycles, "
                 f"model says {block.latency_cycles()}")
    return res
