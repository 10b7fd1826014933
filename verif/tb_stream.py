"""Generic cocotb testbench for any stream block: drive, watch, compare, time.

Configured by the JSON file named in ``STREAMQNN_TB_CONFIG`` (written by
:mod:`verif.harness`): the block's name, its input ports with the frames to send and
the probability of an idle cycle (input gaps), its output ports with the expected frames
and the probability of a stalled cycle (backpressure), a stall limit for the watchdog
and the path of a JSON report.

Stimulus and checking use cocotbext-axi sources and sinks (``byte_size`` = the whole
``tdata`` so that one list element is one beat). One monitor records, per port, the
clock cycle of every first beat and every ``tlast`` transfer (with ``record_beats``, of
every transfer); the harness derives frame interval and latency from it. Each probe
records the cycle of its stream's first transfer. The watchdog fails the test, naming the block and
what was still missing, when no beat moves on any output for ``stall_limit`` cycles.
"""

import json
import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

CLOCK_NS = 10


def _pauses(prob, rng):
    while True:
        yield rng.random() < prob


def _is_high(handle):
    try:
        return int(handle.value) == 1
    except ValueError:  # X or Z before reset
        return False


def _lane_diff(exp, got, port):
    """Describe which lanes of a beat differ."""
    lanes, bits = port.get("lanes", 1), port.get("bits", port["width"])
    mask = (1 << bits) - 1
    out = []
    for i in range(lanes):
        e, g = (exp >> (i * bits)) & mask, (got >> (i * bits)) & mask
        if e != g:
            if port.get("signed"):
                e = e - (1 << bits) if e >> (bits - 1) else e
                g = g - (1 << bits) if g >> (bits - 1) else g
            out.append(f"lane {i}: expected {e}, got {g}")
    return "; ".join(out[:8]) + (" ..." if len(out) > 8 else "")


class Monitor:
    """Per-port transfer counts and the cycles of first beats and tlasts."""

    def __init__(self, dut, names, record_beats=False):
        self.record_beats = record_beats
        self.cycle = 0
        self.last_output_cycle = 0
        self.ports = {}
        for name, direction in names:
            self.ports[name] = {
                "direction": direction,
                "valid": getattr(dut, f"{name}_tvalid"),
                "ready": getattr(dut, f"{name}_tready"),
                "last": getattr(dut, f"{name}_tlast"),
                "beats": 0, "first": None, "lasts": [], "cycles": [],
            }

    async def run(self, clk):
        while True:
            await RisingEdge(clk)
            self.cycle += 1
            for p in self.ports.values():
                if _is_high(p["valid"]) and _is_high(p["ready"]):
                    if p["first"] is None:
                        p["first"] = self.cycle
                    p["beats"] += 1
                    if self.record_beats:
                        p["cycles"].append(self.cycle)
                    if _is_high(p["last"]):
                        p["lasts"].append(self.cycle)
                    if p["direction"] == "out":
                        self.last_output_cycle = self.cycle

    def summary(self):
        keys = ("direction", "beats", "first", "lasts") + (("cycles",) if self.record_beats
                                                           else ())
        return {n: {k: p[k] for k in keys} for n, p in self.ports.items()}


class Probe:
    """Watches one internal stream (a layer boundary) and compares it with its golden
    beats; remembers the first difference, described by coordinates in the tensor."""

    def __init__(self, dut, spec):
        self.spec = spec
        self.valid = _handle(dut, spec["prefix"] + "_tvalid")
        self.ready = _handle(dut, spec["prefix"] + "_tready")
        self.data = _handle(dut, spec["prefix"] + "_tdata")
        self.expected = [b for fr in spec["frames"] for b in fr]
        self.frame_len = len(spec["frames"][0]) if spec["frames"] else 0
        self.count = 0
        self.first_error = None
        self.first_cycle = None

    def sample(self, cycle):
        if self.count >= len(self.expected) or self.first_error is not None:
            return
        if _is_high(self.valid) and _is_high(self.ready):
            if self.first_cycle is None:
                self.first_cycle = cycle
            try:
                got = int(self.data.value)
            except ValueError:
                got = -1
            exp = self.expected[self.count]
            if got != exp:
                self.first_error = self.describe(self.count, exp, got)
            self.count += 1

    def describe(self, index, exp, got):
        spec = self.spec
        frame, beat = divmod(index, self.frame_len)
        lanes, bits = spec["lanes"], spec["bits"]
        mask = (1 << bits) - 1
        parts = []
        for lane in range(lanes):
            e = (exp >> (lane * bits)) & mask
            g = ((got >> (lane * bits)) & mask) if got >= 0 else -1
            if e != g:
                if spec.get("signed") and g >= 0:
                    e = e - (1 << bits) if e >> (bits - 1) else e
                    g = g - (1 << bits) if g >> (bits - 1) else g
                elem = beat * lanes + lane
                coords, rem = [], elem
                for size in reversed(spec["shape"]):
                    coords.append(rem % size)
                    rem //= size
                where = ", ".join(f"{a}={c}" for a, c in zip(spec["axes"], reversed(coords)))
                parts.append(f"{where}: expected {e}, got {g}")
                break
        return (f"first difference at layer boundary '{spec['label']}' (stream {spec['prefix']}), "
                f"frame {frame}, beat {beat}: " + ("; ".join(parts) or f"0x{exp:x} vs 0x{got:x}"))


def _handle(dut, name):
    """The signal ``name`` of the top, or of a sub-instance (``u_part1.<wire>``)."""
    *path, name = name.split(".")
    for inst in path:
        dut = getattr(dut, inst)
    try:
        return getattr(dut, name)
    except AttributeError:
        return dut._id(name, extended=False)


async def _check_output(sink, name, port, frames, block, progress, errors):
    """Receive and compare every frame of one output port. A difference is stored in
    ``errors`` (not raised: an exception in a background task would end the test before
    the report is written)."""
    for f, expected in enumerate(frames):
        frame = await sink.recv()
        got = [int(x) for x in frame.tdata]
        for b, (e, g) in enumerate(zip(expected, got)):
            if e != g:
                errors.append(
                    f"block '{block}': {name} frame {f} beat {b} of {len(expected)}: expected "
                    f"0x{e:x}, got 0x{g:x} ({_lane_diff(e, g, port)})")
                return
        if len(got) != len(expected):
            errors.append(
                f"block '{block}': {name} frame {f} has {len(got)} beats, expected "
                f"{len(expected)} (tlast misplaced)")
            return
        progress[name] = f + 1
        sink.log.warning("progress: %s frame %d of %d passed", name, f + 1, len(frames))


@cocotb.test()
async def stream_test(dut):
    cfg_path = os.environ["STREAMQNN_TB_CONFIG"]
    with open(cfg_path) as fh:
        cfg = json.load(fh)
    block = cfg["block"]
    seed = int(cfg.get("seed", 0))
    report = {"block": block, "ok": False, "message": ""}
    monitor = Monitor(dut, [(n, "in") for n in cfg["inputs"]] +
                      [(n, "out") for n in cfg["outputs"]], bool(cfg.get("record_beats")))

    dut.rst.value = 1
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    sources, checkers, progress, errors = {}, [], {}, []
    for i, (name, port) in enumerate(sorted(cfg["inputs"].items())):
        src = AxiStreamSource(AxiStreamBus.from_prefix(dut, name), dut.clk, dut.rst,
                              byte_size=port["width"])
        src.log.setLevel(logging.WARNING)
        if port.get("gap", 0) > 0:
            src.set_pause_generator(_pauses(port["gap"], random.Random(seed * 1000 + i)))
        sources[name] = src
    sinks = {}
    for i, (name, port) in enumerate(sorted(cfg["outputs"].items())):
        sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, name), dut.clk, dut.rst,
                             byte_size=port["width"])
        sink.log.setLevel(logging.WARNING)
        if port.get("stall", 0) > 0:
            sink.set_pause_generator(_pauses(port["stall"], random.Random(seed * 1000 + 500 + i)))
        sinks[name] = sink
        progress[name] = 0

    probes = [Probe(dut, p) for p in cfg.get("probes", [])]

    async def watch_probes():
        while True:
            await RisingEdge(dut.clk)
            for p in probes:
                p.sample(monitor.cycle)

    def first_probe_error():
        for p in probes:  # listed in pipeline order: the earliest boundary first
            if p.first_error:
                return p.first_error
        return None

    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    cocotb.start_soon(monitor.run(dut.clk))
    if probes:
        cocotb.start_soon(watch_probes())
    for name, src in sources.items():
        for frame in cfg["inputs"][name]["frames"]:
            src.send_nowait(AxiStreamFrame(frame))
    for name, sink in sinks.items():
        port = cfg["outputs"][name]
        checkers.append(cocotb.start_soon(
            _check_output(sink, name, port, port["frames"], block, progress, errors)))

    stall_limit = int(cfg.get("stall_limit", 2000))
    try:
        while not all(t.done() for t in checkers):
            await ClockCycles(dut.clk, 16)
            if errors:
                raise AssertionError(errors[0])
            if monitor.cycle - max(monitor.last_output_cycle, 0) > stall_limit:
                missing = ", ".join(
                    f"{n}: {progress[n]} of {len(cfg['outputs'][n]['frames'])} frames done, "
                    f"{monitor.ports[n]['beats']} beats" for n in sinks)
                fed = ", ".join(f"{n}: {monitor.ports[n]['beats']} of "
                                f"{sum(len(f) for f in cfg['inputs'][n]['frames'])} beats accepted"
                                for n in sources)
                raise AssertionError(
                    f"watchdog: block '{block}' stalled, no output beat for {stall_limit} "
                    f"cycles (at cycle {monitor.cycle}); outputs {missing}; inputs {fed}")
        if errors:
            raise AssertionError(errors[0])
        # A network may finish its output before it has read all of its input (rows no
        # window or pooling step uses): the rest must still be taken, not block the input.
        want_in = {n: sum(len(f) for f in cfg["inputs"][n]["frames"]) for n in sources}
        taken, since = None, monitor.cycle
        while any(monitor.ports[n]["beats"] < want_in[n] for n in sources):
            await ClockCycles(dut.clk, 16)
            now = tuple(monitor.ports[n]["beats"] for n in sources)
            if now != taken:
                taken, since = now, monitor.cycle
            elif monitor.cycle - since > stall_limit:
                fed = ", ".join(f"{n}: {monitor.ports[n]['beats']} of {want_in[n]}"
                                for n in sources)
                raise AssertionError(
                    f"watchdog: block '{block}' sent every output but stopped taking input "
                    f"for {stall_limit} cycles (at cycle {monitor.cycle}); inputs {fed} "
                    "beats accepted")
        # Nothing more may come out, and every input beat must have been taken.
        await ClockCycles(dut.clk, int(cfg.get("drain_cycles", 32)))
        for name in sinks:
            extra = monitor.ports[name]["beats"] - sum(len(f) for f in cfg["outputs"][name]["frames"])
            assert extra == 0, f"block '{block}': {name} sent {extra} beats more than expected"
        for name in sources:
            want = sum(len(f) for f in cfg["inputs"][name]["frames"])
            took = monitor.ports[name]["beats"]
            assert took == want, f"block '{block}': {name} accepted {took} of {want} input beats"
        probe_error = first_probe_error()
        assert probe_error is None, f"block '{block}': {probe_error}"
        report["ok"] = True
    except AssertionError as exc:
        probe_error = first_probe_error()
        report["message"] = str(exc) if not probe_error or probe_error in str(exc) else \
            f"block '{block}': {probe_error}\n(then: {exc})"
        raise
    finally:
        report["ports"] = monitor.summary()
        report["probes"] = {p.spec["prefix"]: p.first_cycle for p in probes}
        report["cycles"] = monitor.cycle
        with open(cfg["report"], "w") as fh:
            json.dump(report, fh)
