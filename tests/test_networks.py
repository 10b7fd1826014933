"""Whole networks: generated, linted and simulated bit-exact against the reference model,
every layer boundary watched; frame interval against the cycle model, first-frame latency
and the first beat on every internal stream against the latency model; skip FIFOs."""

import re

import numpy as np
import pytest

from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.compiler.passes.size_skip_fifos import resize_skip_fifo
from rtl_gen.designs.networks import DEFAULT_TARGET, design
from verif.harness import BUILD, SimulationFailed, simulate
from verif.lint import lint
from verif.model_checks import check_timing
from verif.network_sim import NetworkRTL, probes, run_network, vectors


def compiled(name, sub="", planned=None):
    net = design(name)
    planned = planned or plan(net, target_cycles=DEFAULT_TARGET[name])
    cn = compile_network(net, BUILD / "designs" / f"{name}{sub}", plan_=planned,
                         cache=BUILD / "rtl", check=lambda rtl: lint(rtl.files, rtl.top))
    lint(cn.verilog, cn.name)
    return cn


@pytest.mark.parametrize("name", ["resnet_block", "resnet_block_down"])
def test_residual_blocks(name, sim):
    cn = compiled(name)
    res = run_network(cn, sim, frames=2, seed=2, label="timing")
    check_timing(cn, res)


def test_resnet_block_wide_folding_verilator():
    """The same block folded 6x faster (16-lane streams, kernel-column windows where the
    folding picks them): bit-exact, interval and latency as modelled."""
    net = design("resnet_block")
    cn = compiled("resnet_block", "_fast", plan(net, target_cycles=1000))
    res = run_network(cn, "verilator", frames=3, seed=6, label="timing")
    check_timing(cn, res)


def test_tiny_resnet_verilator():
    cn = compiled("tiny_resnet")
    res = run_network(cn, "verilator", frames=2, seed=3, label="timing")
    check_timing(cn, res)


@pytest.mark.nightly
def test_tiny_resnet_icarus(record_run):
    cn = compiled("tiny_resnet")
    res = run_network(cn, "icarus", frames=2, seed=3, label="timing")
    record_run(cn, res, folding="default")
    check_timing(cn, res)


def test_wrong_golden_beat_names_the_boundary(sim):
    """One element of one internal stream's golden beats made wrong (what a wrong weight
    in that layer would do): the run fails naming that layer boundary, the frame, the
    beat and the element's coordinates in the tensor, with both values."""
    cn = compiled("resnet_block")
    inputs, expected, outs = vectors(cn, 1, seed=2)
    pr = probes(cn, outs)
    spec = pr[3]
    beat, lane, bits = 37, spec["lanes"] - 1, spec["bits"]
    good = spec["frames"][0][beat]
    spec["frames"][0][beat] = good ^ (1 << (lane * bits))  # the lane's lowest bit
    value = (good >> (lane * bits)) & ((1 << bits) - 1)
    wrong = value ^ 1
    if spec["signed"]:
        value, wrong = [v - (1 << bits) if v >> (bits - 1) else v for v in (value, wrong)]
    coords = np.unravel_index(beat * spec["lanes"] + lane, spec["shape"])
    where = ", ".join(f"{a}={int(c)}" for a, c in zip(spec["axes"], coords))
    msg = (f"first difference at layer boundary '{spec['label']}' (stream {spec['prefix']}), "
           f"frame 0, beat {beat}: {where}: expected {wrong}, got {value}")
    with pytest.raises(SimulationFailed, match=re.escape(msg)):
        simulate(cn, sim, inputs, expected, probes=pr, rtl=NetworkRTL(cn), label="corrupt",
                 stall_limit=20000)


def test_skip_fifo_depth_by_analysis():
    """The computed depth survives random gaps and backpressure; a FIFO of half a row
    (the main branch must swallow several rows before the add takes a skip beat) deadlocks,
    and the watchdog says so instead of hanging."""
    cn = compiled("resnet_block")
    run_network(cn, "verilator", frames=2, seed=4, gap=0.3, stall=0.3, label="pauses")
    net = design("resnet_block")
    planned = plan(net, target_cycles=DEFAULT_TARGET["resnet_block"])
    (fifo, analysis), = planned[2].skip_fifos.values()
    small = resize_skip_fifo(planned[2], "b1_add", max(2, analysis.row_beats // 2))
    cn_small = compiled("resnet_block", "_small_fifo", planned)
    assert small.depth < analysis.lag_long
    with pytest.raises(SimulationFailed, match=r"watchdog: block 'resnet_block' stalled"):
        run_network(cn_small, "verilator", frames=1, seed=4, label="deadlock",
                    stall_limit=3000)


# Whole ImageNet-scale networks, bit-exact at the output. Internal streams are not probed
# (their records would run to hundreds of millions of beats); the latency model is checked
# at the output, the frame interval where two frames run.
@pytest.mark.nightly
@pytest.mark.parametrize("name, frames, target", [
    ("resnet18", 2, None),        # default folding, two frames: interval and latency
    ("alexnet", 1, None),         # default folding, one frame
    ("resnet18", 1, 1),           # fastest folding (the target is raised to what it reaches)
], ids=["resnet18-default-2frames", "alexnet-default-1frame", "resnet18-fastest-1frame"])
def test_imagenet_networks_nightly(name, frames, target, record_run):
    net = design(name)
    sub = "" if target is None else "_fastest"
    cn = compiled(name, sub, plan(net, target_cycles=target or DEFAULT_TARGET[name]))
    res = run_network(cn, "verilator", frames=frames, seed=8, label="nightly", watch=False)
    record_run(cn, res, folding="default" if target is None else f"target {target}")
    assert res.latency() == cn.latency_cycles(), \
        f"{cn.name}: first-frame latency {res.latency()} cycles, model {cn.latency_cycles()}"
    assert all(i == cn.cycles_per_frame() for i in res.frame_intervals()), \
        f"{cn.name}: frame intervals {res.frame_intervals()}, model {cn.cycles_per_frame()}"


@pytest.mark.nightly
@pytest.mark.parametrize("name", ["resnet_block", "resnet_block_down", "tiny_resnet"])
def test_networks_under_backpressure_nightly(name, record_run):
    cn = compiled(name)
    res = run_network(cn, "verilator", frames=4, seed=5, gap=0.2, stall=0.4, label="nightly")
    record_run(cn, res, gap=0.2, stall=0.4)
