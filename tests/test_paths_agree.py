"""The two testbench paths give the same verdicts (issue 12): the fast path (sources,
sinks and records in a generated Verilog top, ``path="hdl"``, :mod:`verif.tb_stream`) and
the per-beat path (cocotbext-axi from Python every clock, ``path="axi"``,
:mod:`verif.tb_axi`), on both simulators.

- Representative blocks (one and two input streams, one and two outputs) pass
  ``check_block`` on both paths (random gaps and backpressure, cycle model, latency, beat
  timing), and every port moves every beat on the same cycle on both; nightly, the first
  configuration of every block kind.
- Wrong expected beats, a misplaced ``tlast`` and a stall fail both with the same message.
- ``resnet_block`` passes on both with random gaps and backpressure, every layer boundary
  probed; without pauses both measure the cycle model's frame interval and the latency
  model's latency.
- One corrupted weight in the network given to the compiler (the expected beats from the
  model of the correct network) fails both, naming the same layer boundary.
"""

import copy
import re

import numpy as np
import pytest

from rtl_gen.blocks.catalog import catalog, configs
from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.designs.networks import DEFAULT_TARGET, design, random_input
from rtl_gen.model.execute import run
from rtl_gen.model.packing import unpack
from verif.blocktest import check_block
from verif.harness import BUILD, PATHS, SimulationFailed, simulate, simulate_runs
from verif.lint import lint
from verif.model_checks import check_timing
from verif.network_sim import NetworkRTL, probes, vectors

# one and two inputs (add), one and two outputs (fork), a RAM (fifo), a ROM (mvu)
KINDS = ["fifo", "mvu", "fork", "add"]


def tensors(blk, frames):
    """Beats per port (``random_inputs``, ``reference``) as the tensors ``check_block``
    takes: (beats, lanes) per frame."""
    out = {}
    for name, fr in frames.items():
        p = blk.port(name)
        out[name] = [unpack(f, (len(f), p.lanes), p.lanes, p.bits, p.signed) for f in fr]
    return out


def relative_beats(blk, res):
    """Cycle of every transfer on every port, from the first input transfer."""
    first = min(res.ports[p.name]["first"] for p in blk.ports() if p.direction == "in")
    return {p.name: [c - first for c in res.beat_cycles(p.name)] for p in blk.ports()}


@pytest.mark.parametrize("kind", KINDS)
def test_block_passes_on_both_paths_with_the_same_timing(kind, sim):
    blk = configs(kind)[0]
    beats = blk.random_inputs(np.random.default_rng(5), 3)
    ins, outs = tensors(blk, beats), tensors(blk, blk.reference(beats))
    got = {path: relative_beats(blk, check_block(blk, sim, ins, outs, seed=3, path=path))
           for path in PATHS}
    assert got["hdl"] == got["axi"], f"{blk.name}: the paths moved beats on other cycles"


# every block kind check_block takes (the link ends are tested by their own testbench)
ALL_KINDS = sorted({b.kind for b in catalog() if hasattr(b, "latency_cycles")})


@pytest.mark.nightly
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_every_block_kind_on_both_paths_nightly(kind, sim):
    test_block_passes_on_both_paths_with_the_same_timing(kind, sim)


def _verdict(blk, sim, inputs, outputs, path, **kw):
    with pytest.raises(SimulationFailed) as info:
        simulate(blk, sim, inputs, outputs, label=f"verdict-{path}", path=path, **kw)
    return str(info.value).split("\n(run folder:")[0]


def test_block_failures_give_the_same_message(sim):
    """A wrong beat, a tlast where the block sends none, beats beyond the expected ones,
    and a stall (one frame more expected than sent): each fails both paths with the same
    message."""
    blk = configs("fifo")[0]
    rng = np.random.default_rng(2)
    frames = [[int(x) for x in rng.integers(0, 1 << blk.width, n)] for n in (3, 5, 4, 6)]
    wrong = [list(f) for f in frames]
    wrong[2][1] ^= 1
    split = frames[:1] + [frames[1][:1], frames[1][1:]] + frames[2:]
    cases = {
        r"m_axis frame 2 beat 1 of \d+: expected": dict(outputs=wrong, gap=0.3, stall=0.3),
        r"m_axis frame 1 has more than 1 beats, expected 1 \(tlast misplaced\)":
            dict(outputs=split),
        r"m_axis sent 6 beats more than expected": dict(outputs=frames[:-1]),
        r"watchdog: block 'fifo_w8_d2' stalled, no output beat for 300 cycles":
            dict(outputs=frames + [[7]], stall_limit=300),
    }
    for pattern, kw in cases.items():
        outputs = {"m_axis": kw.pop("outputs")}
        said = {path: _verdict(blk, sim, {"s_axis": frames}, outputs, path, **kw)
                for path in PATHS}
        assert re.search(pattern, said["hdl"]), said["hdl"]
        assert said["hdl"] == said["axi"], said


def _compiled(net, sub):
    planned = plan(net, target_cycles=DEFAULT_TARGET["resnet_block"])
    return compile_network(net, BUILD / "designs" / f"resnet_block_{sub}", plan_=planned,
                           cache=BUILD / "rtl", check=lambda rtl: lint(rtl.files, rtl.top))


def test_resnet_block_passes_on_both_paths_as_modelled(sim):
    """One frame with random gaps and backpressure, then (on Verilator) two without
    pauses, in one simulator start per path, every layer boundary probed: both pass, both
    measure the modelled frame interval, latency and first beat on every internal
    stream. Icarus runs the pause-free frames on the fast path only, in test_networks:
    here they would add ~10 s per path (2,000 and 1,200 cycles per CPU second)."""
    cn = _compiled(design("resnet_block"), "paths")
    timing = {}
    plan_ = [(1, 0.2, 4)] + ([(2, 0.0, 2)] if sim == "verilator" else [])
    for path in PATHS:
        runs = []
        for frames, pause, seed in plan_:
            inputs, expected, outs = vectors(cn, frames, seed)
            runs.append(dict(inputs=inputs, outputs=expected, gap=pause, stall=pause,
                             seed=seed, probes=probes(cn, outs), label=f"{path}-{pause}",
                             stall_limit=4 * cn.cycles_per_frame() + 20000))
        *_, res = simulate_runs(cn, sim, runs, rtl=NetworkRTL(cn), label=f"paths-{path}",
                                path=path)
        if len(runs) == 1:
            continue
        check_timing(cn, res)
        first = res.ports["s_axis"]["first"]
        timing[path] = (res.frame_intervals(), res.latency(),
                        {k: v - first for k, v in res.probe_first.items()})
    assert timing.get("hdl") == timing.get("axi"), timing


def corrupted_resnet_block(seed):
    """resnet_block with one weight of ``b1_conv2`` negated, the first (in index order)
    that changes the network's output for the image of ``vectors(cn, 1, seed)``."""
    net = design("resnet_block")
    image = random_input(net, np.random.default_rng(seed))
    good = run(net, image)[net.layers[-1].name]
    bad = copy.deepcopy(net)
    layer = next(ly for ly in bad.layers if ly.name == "b1_conv2")
    right = layer.weights
    assert set(np.unique(right)) == {-1, 1}, "bipolar weights expected"
    for idx in np.ndindex(right.shape):
        layer.weights = right.copy()
        layer.weights[idx] = -right[idx]
        if not np.array_equal(run(bad, image)[net.layers[-1].name], good):
            return net, bad, idx
    raise AssertionError("no single weight of b1_conv2 changes the output")


def test_corrupted_weight_is_caught_by_both_paths(sim):
    """One weight of b1_conv2 negated in the network given to the compiler, the expected
    beats from the correct network's model: both paths fail, naming b1_conv2's output
    as the first layer boundary that differs (the per-beat path probes it too)."""
    net, bad, idx = corrupted_resnet_block(seed=2)
    good_cn, bad_cn = _compiled(net, "paths"), _compiled(bad, "badweight")
    inputs, expected, outs = vectors(good_cn, 1, seed=2)
    said = {}
    for path in PATHS:
        with pytest.raises(SimulationFailed) as info:
            simulate(bad_cn, sim, inputs, expected, probes=probes(good_cn, outs),
                     rtl=NetworkRTL(bad_cn), label=f"badweight-{path}", path=path,
                     stall_limit=20000)
        said[path] = str(info.value).split("\n(run folder:")[0]
        assert "first difference at layer boundary 'b1_conv2'" in said[path], \
            f"weight {idx}: {said[path]}"
    assert said["hdl"] == said["axi"]
