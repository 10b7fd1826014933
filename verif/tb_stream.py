"""Generic cocotb testbench for any stream block: drive, watch, compare, time.

Configured by the JSON file named in ``STREAMQNN_TB_CONFIG`` and the beat files beside
it, all written by :mod:`verif.harness`: the block's name and ports, and a list of runs,
each with its input beats and the probability of an idle cycle per input (gaps), its
expected output beats and the probability of a stalled cycle per output (backpressure),
the internal streams to probe with their golden beats, a stall limit for the watchdog and
the path of a JSON report. The runs share one simulator start; each begins with a reset.

No Python runs per clock. The simulated top is the testbench module that
:func:`verif.harness.testbench_verilog` writes around the block: per input a source that
reads its beats from a file and holds each beat until it is taken (an idle cycle, drawn
from the port's seeded generator, only between beats), per output a sink whose
``tready`` drops on the port's stall cycles, and a record of every transfer on every
port and probed stream (``tdata``, ``tlast``, cycle) and of every break of the stream
contract on an output or probed stream (``tvalid`` dropped, or ``tdata``/``tlast``
changed, before the transfer). The same module counts beats and stops the run a few
cycles after the last expected output beat and the last input beat have moved (so that
an extra output beat is still seen; a network may send its last output before it has
read all of its input), and is the watchdog: it stops the run when no output beat has
moved for ``stall_limit`` cycles, or when, every output sent, no input beat has been
taken for as long. Python sleeps meanwhile and wakes every few thousand cycles to check
what was recorded so far (so a mismatch ends the run early and progress is reported).
Every beat and every ``tlast`` of every output is compared with the expected frames,
every beat of every probed stream with its golden beats (the first difference is
described by its coordinates in the tensor); per port the cycle of the first beat and of
every ``tlast`` transfer (with ``record_beats``, of every transfer) is kept, from which
the harness derives frame interval and latency, and per probe the cycle of its stream's
first transfer. The checking (``Run``, ``checked_run``) also serves the per-beat path,
:mod:`verif.tb_axi`, which writes the same records from Python.
"""

import bisect
import json
import logging
import os
import time

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, First, RisingEdge, Timer

CLOCK_NS = 10
POLL_CYCLES = 8192  # Python looks at the records this often while a run goes on
PARAMS_FILE = "tb_params.txt"  # file names agreed with verif.harness.testbench_verilog

log = logging.getLogger("cocotb.streamqnn")


def _threshold(prob):
    """A pause probability as the 32-bit threshold of the testbench's generators."""
    return max(0, min(0xFFFFFFFF, round(float(prob) * 2 ** 32)))


def _seed(value):
    """A non-zero 32-bit xorshift state from any integer."""
    x = (int(value) * 0x9E3779B1 + 0x7F4A7C15) & 0xFFFFFFFF
    return x or 1


def _int(text):
    try:
        return int(text, 16)
    except ValueError:  # X or Z
        return -1


def _got_text(got):
    return f"0x{got:x}" if got >= 0 else "X"


def _lane_diff(exp, got, port):
    """Describe which lanes of a beat differ."""
    if got < 0:
        return "X or Z in tdata"
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


class Lines:
    """Reads the complete lines a file has gained since the last call."""

    def __init__(self, path):
        self.path, self.pos, self.rest = path, 0, ""

    def new(self):
        try:
            with open(self.path) as fh:
                fh.seek(self.pos)
                chunk = fh.read()
                self.pos = fh.tell()
        except FileNotFoundError:
            return []
        text = self.rest + chunk
        cut = text.rfind("\n") + 1
        self.rest = text[cut:]
        return text[:cut].splitlines()


class Port:
    """Transfers on one port: count, first cycle, tlast cycles (every cycle with
    ``record``), from the testbench's ``<cycle> <tlast>`` lines."""

    def __init__(self, name, direction, k, record, records=Lines):
        self.name, self.direction, self.record = name, direction, record
        self.cycles_file = records(f"tb_c{k}.txt")
        self.beats, self.first, self.lasts, self.cycles = 0, None, [], []

    def read(self):
        lines = self.cycles_file.new()
        if not lines:
            return
        if self.first is None:
            self.first = int(lines[0].split(" ", 1)[0])
        self.beats += len(lines)
        self.lasts += [int(ln[:-2]) for ln in lines if ln.endswith(" 1")]
        if self.record:
            self.cycles += [int(ln.split(" ", 1)[0]) for ln in lines]

    def summary(self):
        out = {"direction": self.direction, "beats": self.beats, "first": self.first,
               "lasts": self.lasts}
        if self.record:
            out["cycles"] = self.cycles
        return out


class Checked:
    """A stream whose beats (``<tdata hex>[ <tlast>]`` lines of ``tb_d<k>.txt``) must
    equal the expected lines of ``r<run>_x<k>.txt``, compared a whole batch at a time."""

    def __init__(self, k, run_index, frame_beats, records=Lines):
        self.data_file = records(f"tb_d{k}.txt")
        with open(f"r{run_index}_x{k}.txt") as fh:
            self.expected = fh.read().splitlines()
        self.ends = []  # index of the last beat of each frame
        pos = 0
        for n in frame_beats:
            pos += n
            self.ends.append(pos - 1)
        self.count = 0  # beats received
        self.error = None

    def frame_of(self, index):
        f = bisect.bisect_left(self.ends, index)
        start = self.ends[f - 1] + 1 if f else 0
        return f, index - start, self.ends[f] - start + 1 if f < len(self.ends) else 0

    def check(self):
        """Compare the new beats; on the first difference set ``error`` (via ``differ``)."""
        got = self.data_file.new()
        if not got or self.error is not None:
            self.count += len(got)
            return
        n = self.count
        self.count += len(got)
        want = self.expected[n:n + len(got)]
        if got[:len(want)] == want:
            return
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                self.error = self.differ(n + i, w, g)
                if self.error:
                    return


class Output(Checked):
    """An output port: every beat and every ``tlast`` against the expected frames."""

    def __init__(self, block, name, port, k, run_index, frame_beats, record, records=Lines):
        super().__init__(k, run_index, frame_beats, records)
        self.block, self.name, self.port = block, name, port
        self.port_record = Port(name, "out", k, record, records)
        self.frames = len(frame_beats)
        self.done_frames = 0

    @property
    def expected_beats(self):
        return len(self.expected)

    def differ(self, index, want, got):
        frame, beat, length = self.frame_of(index)
        w_data, w_last = want.split(" ")
        g_data, g_last = got.split(" ")
        if w_data != g_data:
            exp, val = int(w_data, 16), _int(g_data)
            if exp != val:
                return (f"block '{self.block}': {self.name} frame {frame} beat {beat} of "
                        f"{length}: expected 0x{exp:x}, got {_got_text(val)} "
                        f"({_lane_diff(exp, val, self.port)})")
        if w_last != g_last:
            has = f"more than {length}" if w_last == "1" else str(beat + 1)
            return (f"block '{self.block}': {self.name} frame {frame} has {has} beats, "
                    f"expected {length} (tlast misplaced)")
        return None

    def check(self):
        super().check()
        self.port_record.read()
        good = min(self.count, len(self.expected))
        if self.error is not None:
            return
        done = bisect.bisect_left(self.ends, good)  # frames whose last beat has passed
        for f in range(self.done_frames, done):
            log.warning("progress: %s frame %d of %d passed", self.name, f + 1, self.frames)
        self.done_frames = done


class Probe(Checked):
    """Watches one internal stream (a layer boundary) and compares it with its golden
    beats; remembers the first difference, described by coordinates in the tensor."""

    def __init__(self, spec, k, run_index, records=Lines):
        super().__init__(k, run_index, spec["frame_beats"], records)
        self.spec = spec
        self.first_cycle = None

    @property
    def first_error(self):
        return self.error

    def differ(self, index, want, got):
        exp, val = int(want, 16), _int(got)
        if exp == val:
            return None
        spec = self.spec
        frame, beat, _ = self.frame_of(index)
        lanes, bits = spec["lanes"], spec["bits"]
        mask = (1 << bits) - 1
        parts = []
        for lane in range(lanes):
            e = (exp >> (lane * bits)) & mask
            g = ((val >> (lane * bits)) & mask) if val >= 0 else -1
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
                parts.append(f"{where}: expected {e}, got {g if g >= 0 else 'X'}")
                break
        return (f"first difference at layer boundary '{spec['label']}' (stream {spec['prefix']}), "
                f"frame {frame}, beat {beat}: "
                + ("; ".join(parts) or f"0x{exp:x} vs {_got_text(val)}"))


class Run:
    """One run: puts its files in place, then reads and checks what the testbench wrote.

    ``records`` makes the reader of each record (``Lines``: the testbench's files; the
    per-beat path of :mod:`verif.tb_axi` hands in readers of what its Python monitor
    wrote down in the same format)."""

    def __init__(self, cfg, index, records=Lines):
        run = cfg["runs"][index]
        self.index, self.block, self.run = index, cfg["block"], run
        self.record = bool(run.get("record_beats"))
        ins, outs = sorted(cfg["inputs"]), sorted(cfg["outputs"])
        self.inputs = {n: Port(n, "in", k, self.record, records) for k, n in enumerate(ins)}
        self.outputs = {n: Output(self.block, n, cfg["outputs"][n], k, index,
                                  run["outputs"][n]["frame_beats"], self.record, records)
                        for k, n in enumerate(outs, len(ins))}
        k0 = len(ins) + len(outs)
        self.probes = [Probe(p, k, index, records)
                       for k, p in enumerate(run.get("probes", []), k0)]
        self.first_file = records("tb_first.txt")
        self.contract_file = records("tb_contract.txt")
        self.contract_error = None
        self.cycles = 0
        self.parse_seconds = 0.0
        self.profile = {}

    def write_files(self):
        run = self.run
        seed = int(run.get("seed", 0))
        lines = [f"{int(run['stall_limit'])} {int(run.get('drain_cycles', 32))}"]
        for k, name in enumerate(self.inputs):
            os.replace(f"r{self.index}_in{k}.txt", f"tb_in{k}.txt")
            lines.append(f"{_seed(seed * 1000 + k)} {_threshold(run['inputs'][name]['gap'])} "
                         f"{run['inputs'][name]['beats']}")
        for i, (name, out) in enumerate(self.outputs.items()):
            lines.append(f"{_seed(seed * 1000 + 500 + i)} "
                         f"{_threshold(run['outputs'][name]['stall'])} {out.expected_beats}")
        with open(PARAMS_FILE, "w") as fh:
            fh.write("\n".join(lines) + "\n")

    def read(self):
        """Check everything recorded since the last call."""
        t0 = time.perf_counter()
        for port in self.inputs.values():
            port.read()
        for out in self.outputs.values():
            out.check()
        for p in self.probes:
            p.check()
        k0 = len(self.inputs) + len(self.outputs)
        for line in self.first_file.new():
            k, cyc = line.split(" ")
            self.probes[int(k) - k0].first_cycle = int(cyc)
        for line in self.contract_file.new():
            if self.contract_error is None:
                k, cyc = (int(x) for x in line.split(" "))
                outs = list(self.outputs)
                where = (outs[k - len(self.inputs)] if k < k0 else
                         "internal stream {prefix} (layer boundary '{label}')".format(
                             **self.probes[k - k0].spec))
                self.contract_error = (
                    f"block '{self.block}': {where} broke the stream contract at cycle "
                    f"{cyc}: tvalid dropped, or tdata or tlast changed, before the transfer")
        self.parse_seconds += time.perf_counter() - t0

    def error(self):
        if self.contract_error:
            return self.contract_error
        for out in self.outputs.values():
            if out.error:
                return out.error
        return None

    def first_probe_error(self):
        for p in self.probes:  # listed in pipeline order: the earliest boundary first
            if p.first_error:
                return p.first_error
        return None

    def watchdog_message(self, cycle, kind=1):
        limit = int(self.run["stall_limit"])
        if kind == 2:  # every output sent, the rest of the input not taken
            fed = ", ".join(f"{n}: {s.beats} of {self.run['inputs'][n]['beats']}"
                            for n, s in self.inputs.items())
            return (f"watchdog: block '{self.block}' sent every output but stopped taking "
                    f"input for {limit} cycles (at cycle {cycle}); inputs {fed} beats "
                    "accepted")
        missing = ", ".join(
            f"{n}: {o.done_frames} of {o.frames} frames done, {o.count} beats"
            for n, o in self.outputs.items())
        fed = ", ".join(f"{n}: {s.beats} of {self.run['inputs'][n]['beats']} beats accepted"
                        for n, s in self.inputs.items())
        return (f"watchdog: block '{self.block}' stalled, no output beat for {limit} cycles "
                f"(at cycle {cycle}); outputs {missing}; inputs {fed}")

    def final_checks(self):
        for name, out in self.outputs.items():
            extra = out.count - out.expected_beats
            assert extra <= 0, f"block '{self.block}': {name} sent {extra} beats more than expected"
            assert extra == 0, (f"block '{self.block}': {name} sent {out.count} of "
                                f"{out.expected_beats} expected beats")
        for name, s in self.inputs.items():
            want = self.run["inputs"][name]["beats"]
            assert s.beats == want, f"block '{self.block}': {name} accepted {s.beats} of {want} input beats"
        probe_error = self.first_probe_error()
        assert probe_error is None, f"block '{self.block}': {probe_error}"

    def report(self, ok, message, seconds, cpu_seconds):
        ports = {n: s.summary() for n, s in self.inputs.items()}
        ports.update({n: o.port_record.summary() for n, o in self.outputs.items()})
        return {"block": self.block, "label": self.run.get("label", ""), "ok": ok,
                "message": message, "ports": ports,
                "probes": {p.spec["prefix"]: p.first_cycle for p in self.probes},
                "cycles": self.cycles, "seconds": seconds, "cpu_seconds": cpu_seconds,
                "profile": self.profile}


async def checked_run(cfg, index, drive, records=Lines):
    """Run ``index`` of ``cfg``: ``await drive(run)`` simulates it (it calls ``run.read()``
    as records come in, raises AssertionError on ``run.error()``, sets ``run.cycles`` and
    returns the watchdog's verdict: 0, or the kind of stall); then the final checks, and
    the report the harness reads, written whatever happened. Shared by this fast path
    and the per-beat path (:mod:`verif.tb_axi`)."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    run = Run(cfg, index, records)
    ok, message = False, ""
    try:
        stalled = await drive(run)
        if stalled:
            raise AssertionError(run.watchdog_message(run.cycles, stalled))
        run.final_checks()
        ok = True
    except AssertionError as exc:
        probe_error = run.first_probe_error()
        message = str(exc) if not probe_error or probe_error in str(exc) else \
            f"block '{run.block}': {probe_error}\n(then: {exc})"
        raise
    finally:
        with open(cfg["runs"][index]["report"], "w") as fh:
            json.dump(run.report(ok, message, time.perf_counter() - t0,
                                 time.process_time() - cpu0), fh)


async def _drive(dut, run):
    """One run through the testbench top: reset, go, sleep and check until it stops."""
    t0 = time.perf_counter()
    run.write_files()
    try:
        # reset for 4 cycles (the testbench reopens its files meanwhile), 2 more, then go
        dut.rst.value = 1
        dut.tb_go.value = 0
        dut.tb_load.value = 1
        await ClockCycles(dut.clk, 4)
        dut.rst.value = 0
        dut.tb_load.value = 0
        await ClockCycles(dut.clk, 2)
        t1 = time.perf_counter()
        dut.tb_go.value = 1
        stop = RisingEdge(dut.tb_stop)
        poll = Timer(POLL_CYCLES * CLOCK_NS, unit="ns")
        while True:
            fired = await First(stop, poll)
            run.read()
            if run.error():
                raise AssertionError(run.error())
            if fired is stop:
                break
        await FallingEdge(dut.clk)  # tb_stalled and tb_stop change on the same edge
        run.profile = {"setup": t1 - t0, "run": time.perf_counter() - t1,
                       "checks": run.parse_seconds}
        run.cycles = int(dut.tb_cycle.value)
        return int(dut.tb_stalled.value)
    finally:
        dut.tb_go.value = 0
        run.cycles = run.cycles or int(dut.tb_cycle.value)


@cocotb.test()
async def stream_test(dut):
    with open(os.environ["STREAMQNN_TB_CONFIG"]) as fh:
        cfg = json.load(fh)
    dut.rst.value = 1
    dut.tb_go.value = 0
    dut.tb_load.value = 0
    Clock(dut.clk, CLOCK_NS, unit="ns", impl="gpi").start()
    for index in range(len(cfg["runs"])):
        await checked_run(cfg, index, lambda run: _drive(dut, run))
