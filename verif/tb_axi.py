"""The per-beat cocotb testbench: cocotbext-axi drives and takes every beat from Python.

The second path of :mod:`verif.harness` (``path="axi"``); the default, fast path is
:mod:`verif.tb_stream`, whose generated Verilog top does the same work in HDL. Here the
simulated top is the block or network itself, and Python runs on every clock:

- per input an ``AxiStreamSource`` (``byte_size`` = the whole ``tdata``, so one list
  element is one beat) with a seeded pause generator: a random idle cycle between beats
  with the port's ``gap`` probability;
- per output an ``AxiStreamSink`` with a seeded pause generator: ``tready`` low with the
  port's ``stall`` probability (backpressure);
- a monitor that samples every port and every probed internal stream on each rising edge
  and writes down every transfer, and every break of the stream contract on an output or
  probed stream, as lines in the format of the fast path's records (kept in memory);
- the watchdog and the end of a run as in the fast path: a run ends ``drain_cycles``
  after the last expected output beat and the last input beat have moved, and fails when
  no output beat moved for ``stall_limit`` cycles, or, every output sent, no input beat
  was taken for as long.

Checking, mismatch messages (frame, beat, lanes; layer boundary and tensor coordinates on
a probed stream), the cycles from which frame interval and latency are derived, and the
report are those of :mod:`verif.tb_stream` (``Run``, ``checked_run``): the two paths
differ only in who drives the streams and writes the transfers down. At the end of each
run the frames every sink assembled must also equal the expected frames. The same JSON
configuration and beat files as the fast path (written by :mod:`verif.harness`).

Cost: ~20-50 µs of Python per clock (docs/tool-notes.md): fine for block tests and for
cross-checking the fast path on small networks; long network runs use the fast path.
"""

import json
import logging
import os
import random
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

from verif.tb_stream import CLOCK_NS, checked_run

READ_EVERY = 256  # cycles between checks of what the monitor wrote down


class Feed:
    """One record, in memory: lines written by the monitor, read like ``tb_stream.Lines``."""

    def __init__(self):
        self.lines = []

    def new(self):
        lines, self.lines = self.lines, []
        return lines


class Records:
    """The records of one run by file name (``Run(..., records=Records())``)."""

    def __init__(self):
        self.feeds = {}

    def __call__(self, name):
        return self.feeds.setdefault(name, Feed())


def _pauses(prob, rng):
    while True:
        yield rng.random() < prob


def _high(handle):
    try:
        return int(handle.value) == 1
    except ValueError:  # X or Z
        return False


def _hex(handle, digits):
    """``tdata`` as the fast path's testbench writes it (``%h``: zero-padded; X or Z
    makes the text unreadable as hex, which the checks report as X)."""
    try:
        return format(int(handle.value), f"0{digits}x")
    except ValueError:
        return "x" * digits


def _handle(dut, name):
    """The signal ``name`` of the top, or of a sub-instance (``u_part1.<wire>``)."""
    *path, name = name.split(".")
    for inst in path:
        dut = getattr(dut, inst)
    try:
        return getattr(dut, name)
    except AttributeError:
        return dut._id(name, extended=False)


def _frames(path):
    """Frames of ints from a beat file of the harness (``<tdata hex> <tlast>`` lines)."""
    frames, cur = [], []
    with open(path) as fh:
        for line in fh:
            data, last = line.split()
            cur.append(int(data, 16))
            if last == "1":
                frames.append(cur)
                cur = []
    return frames + ([cur] if cur else [])


class Stream:
    """One stream's handles and what the monitor keeps for it."""

    def __init__(self, dut, prefix, k, width, probe=False):
        self.k, self.digits, self.probe = k, (width + 3) // 4, probe
        self.valid = _handle(dut, prefix + "_tvalid")
        self.ready = _handle(dut, prefix + "_tready")
        self.data = _handle(dut, prefix + "_tdata")
        self.last = _handle(dut, prefix + "_tlast")
        self.held = None  # (data, last) of a beat offered and not yet taken
        self.moved = 0


class Monitor:
    """Samples every port and probed stream each clock; writes the transfers down."""

    def __init__(self, dut, cfg, run, records):
        ins, outs = sorted(cfg["inputs"]), sorted(cfg["outputs"])
        self.ins = [Stream(dut, n, k, cfg["inputs"][n]["width"]) for k, n in enumerate(ins)]
        self.outs = [Stream(dut, n, k, cfg["outputs"][n]["width"])
                     for k, n in enumerate(outs, len(ins))]
        k0 = len(ins) + len(outs)
        self.probes = [Stream(dut, p["prefix"], k, p["lanes"] * p["bits"], probe=True)
                       for k, p in enumerate(run.run.get("probes", []), k0)]
        self.records = records
        self.want_in = [run.run["inputs"][n]["beats"] for n in ins]
        self.want_out = [run.outputs[n].expected_beats for n in outs]
        self.cycle = 0

    def sample(self):
        """One rising edge (values as they were before it): record every transfer."""
        cyc, rec = self.cycle, self.records
        any_in = any_out = False
        for s in self.ins:
            if _high(s.valid) and _high(s.ready):
                rec(f"tb_c{s.k}.txt").lines.append(f"{cyc} {int(_high(s.last))}")
                s.moved += 1
                any_in = True
        for s in self.outs + self.probes:
            valid = _high(s.valid)
            ready = valid and _high(s.ready)
            beat = (_hex(s.data, s.digits), int(_high(s.last))) if valid else None
            if s.held is not None and beat != s.held:
                rec("tb_contract.txt").lines.append(f"{s.k} {cyc}")
            s.held = beat if valid and not ready else None
            if not ready:
                continue
            if s.probe:
                rec(f"tb_d{s.k}.txt").lines.append(beat[0])
                if not s.moved:
                    rec("tb_first.txt").lines.append(f"{s.k} {cyc}")
            else:
                rec(f"tb_c{s.k}.txt").lines.append(f"{cyc} {beat[1]}")
                rec(f"tb_d{s.k}.txt").lines.append(f"{beat[0]} {beat[1]}")
                any_out = True
            s.moved += 1
        return any_in, any_out

    def all_out(self):
        return all(s.moved >= w for s, w in zip(self.outs, self.want_out))

    def all_in(self):
        return all(s.moved >= w for s, w in zip(self.ins, self.want_in))


class Bench:
    """The cocotbext-axi sources and sinks of the top, made once per simulator start."""

    def __init__(self, dut, cfg):
        self.dut, self.cfg = dut, cfg

        def bus(name, port, kind):
            end = kind(AxiStreamBus.from_prefix(dut, name), dut.clk, dut.rst,
                       byte_size=port["width"])
            end.log.setLevel(logging.WARNING)  # it logs every frame at INFO, whole
            return end

        self.sources = {n: bus(n, p, AxiStreamSource) for n, p in sorted(cfg["inputs"].items())}
        self.sinks = {n: bus(n, p, AxiStreamSink) for n, p in sorted(cfg["outputs"].items())}

    def pauses(self, run, seed):
        """Seeded pause generators of one run (input gaps, output backpressure)."""
        ends = [(s, run["inputs"][n]["gap"], k) for k, (n, s) in enumerate(self.sources.items())]
        ends += [(s, run["outputs"][n]["stall"], 500 + i)
                 for i, (n, s) in enumerate(self.sinks.items())]
        for end, prob, k in ends:
            if prob > 0:
                end.set_pause_generator(_pauses(prob, random.Random(seed * 1000 + k)))
            else:
                end.clear_pause_generator()
                end.pause = False

    async def drive(self, index, run):
        """One run (the ``drive`` of ``checked_run``): reset, send every frame, sample
        every clock until the run ends or the watchdog fires."""
        dut, spec = self.dut, run.run
        t0 = time.perf_counter()
        self.pauses(spec, int(spec.get("seed", 0)))
        dut.rst.value = 1
        await ClockCycles(dut.clk, 4)
        dut.rst.value = 0
        await ClockCycles(dut.clk, 2)
        t1 = time.perf_counter()
        for k, (name, src) in enumerate(self.sources.items()):
            for frame in _frames(f"r{index}_in{k}.txt"):
                src.send_nowait(AxiStreamFrame(frame))
        mon = Monitor(dut, self.cfg, run, self.records)
        limit, drain = int(spec["stall_limit"]), int(spec.get("drain_cycles", 32))
        idle = idle_in = 0
        done, end_at, stalled = False, 0, 0
        edge = RisingEdge(dut.clk)
        while True:
            await edge
            mon.cycle += 1
            any_in, any_out = mon.sample()
            out_all = mon.all_out()
            idle = 0 if any_out else idle + 1
            idle_in = 0 if (any_in or not out_all) else idle_in + 1
            if not done and out_all and mon.all_in():
                done, end_at = True, mon.cycle + drain
            if done and mon.cycle >= end_at:
                break
            if not done and not out_all and idle > limit:
                stalled = 1
            elif not done and idle_in > limit:
                stalled = 2
            if stalled:
                break
            if mon.cycle % READ_EVERY == 0:
                run.read()
                if run.error():
                    raise AssertionError(run.error())
        run.cycles = mon.cycle
        run.read()
        if run.error():
            raise AssertionError(run.error())
        run.profile = {"setup": t1 - t0, "run": time.perf_counter() - t1,
                       "checks": run.parse_seconds}
        if not stalled and mon.all_out() and not any(
                s.moved > w for s, w in zip(mon.outs, mon.want_out)):
            self.sink_frames(index, run)  # (beats missing or extra: the final checks say)
        return stalled

    def sink_frames(self, index, run):
        """cocotbext-axi's own view: the frames each sink assembled are the expected ones."""
        for k, (name, sink) in enumerate(self.sinks.items(), len(self.sources)):
            got = []
            while not sink.empty():
                got.append([int(b) for b in sink.recv_nowait().tdata])
            want = _frames(f"r{index}_x{k}.txt")
            assert got == want, (f"block '{run.block}': {name}: the frames AxiStreamSink "
                                 f"assembled differ from the expected ones ({len(got)} "
                                 f"frames, {len(want)} expected)")


@cocotb.test()
async def stream_test(dut):
    with open(os.environ["STREAMQNN_TB_CONFIG"]) as fh:
        cfg = json.load(fh)
    dut.rst.value = 1
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    # the sources and sinks start at once: let the reset define tready first (X on Icarus)
    await ClockCycles(dut.clk, 2)
    bench = Bench(dut, cfg)
    for index in range(len(cfg["runs"])):
        bench.records = Records()
        await checked_run(cfg, index, lambda run: bench.drive(index, run), bench.records)
