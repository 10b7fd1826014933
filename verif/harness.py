"""Build, run and compare: the one harness every block test and ``make sim`` use.

``simulate(block, sim, inputs, outputs, ...)`` generates the block's Verilog (cached by
the block's configuration), lints it, writes the Verilog testbench top around it
(:func:`testbench_verilog`: sources, sinks, watchdog and a record of every transfer, so
that no Python runs per clock), builds the simulator model (cached by a hash of the
Verilog and the build options, under ``build/sim``), runs the cocotb test
:mod:`verif.tb_stream` through ``cocotb_tools.runner`` and returns a :class:`SimResult`
with the measured cycles. ``simulate_runs`` makes several runs in one simulator start.
A mismatch, a stall or a simulator failure raises :class:`SimulationFailed` with the
testbench's own message.

Two paths, chosen by ``path`` (``simulate``, ``simulate_runs`` and everything built on
them: ``check_block``, ``run_network``): ``"hdl"`` (the default) is the fast path above;
``"axi"`` simulates the block itself as the top and drives it from Python every clock
with cocotbext-axi sources and sinks (:mod:`verif.tb_axi`). Both take the same runs,
check the same beats with the same messages and measure the same cycles.
"""

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rtl_gen.hdl.emit import file_lock, generate_cached
from verif import simulators
from verif.lint import lint

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("STREAMQNN_BUILD", REPO / "build")).resolve()
TB_MODULE = "verif.tb_stream"
PATHS = {"hdl": TB_MODULE, "axi": "verif.tb_axi"}  # path -> cocotb test module
TB_PARAMS = "tb_params.txt"  # file names shared with verif.tb_stream


class SimulationFailed(AssertionError):
    """The block under test produced wrong data, stalled, or the simulator failed."""


def generate(block, check_lint=True):
    """Generate (once per configuration) and lint ``block``; return its GeneratedRTL."""
    check = (lambda rtl: lint(rtl.files, rtl.top)) if check_lint else None
    return generate_cached(block, BUILD / "rtl", check)


def _hash_files(files, extra):
    h = hashlib.sha256(json.dumps(extra, sort_keys=True).encode())
    for f in sorted(files, key=lambda p: Path(p).name):
        h.update(Path(f).name.encode())
        h.update(Path(f).read_bytes())
    return h.hexdigest()[:16]


TB_TOP = "streamqnn_tb"
PUBLIC = "/*verilator public_flat_rw*/"


def _xorshift(v):
    return f"{v} = {v} ^ ({v} << 13); {v} = {v} ^ ({v} >> 17); {v} = {v} ^ ({v} << 5);"


def testbench_verilog(top, ports, probes=()):
    """The Verilog testbench top around module ``top`` that :mod:`verif.tb_stream` drives.

    ``ports``: (name, direction, width) of every stream port; ``probes``: (prefix, width)
    of internal streams of ``top`` to watch. Streams are numbered inputs (in name order),
    outputs, probes. Per input a source reads ``<tdata hex> <tlast>`` lines from
    ``tb_in<k>.txt`` and holds each beat until it is taken; between beats it idles on the
    cycles its seeded xorshift generator draws below the port's threshold. Per output a
    sink drops ``tready`` the same way. Every transfer is written down: ``<cycle>
    <tlast>`` per port beat to ``tb_c<k>.txt``, ``<tdata hex> <tlast>`` per output beat
    and ``<tdata hex>`` per probed beat to ``tb_d<k>.txt``, each probe's first
    transfer cycle to ``tb_first.txt``, and ``<stream> <cycle>`` to ``tb_contract.txt``
    wherever an output or probed stream breaks the stream contract (``tvalid`` dropped,
    or ``tdata``/``tlast`` changed, before the transfer). The run stops ``drain`` cycles
    after the last expected output beat and the last input beat have moved, or (the
    watchdog, ``tb_stalled``) when no output beat moved for more than ``limit`` cycles
    (1) or, every output beat sent, no input beat was taken for as long (2). ``tb_load``
    (held during reset) reopens the files and reads the run's parameters from
    ``tb_params.txt``.
    """
    ins = sorted((n, w) for n, d, w in ports if d == "in")
    outs = sorted((n, w) for n, d, w in ports if d == "out")
    n_in, n_out = len(ins), len(outs)
    L = ["`timescale 1ns/1ps",
         f"// Testbench top written by verif/harness.py around {top}: sources, sinks, the",
         "// watchdog and a record of every transfer in HDL, so that no Python runs per clock.",
         f"module {TB_TOP} (clk, rst, tb_load, tb_go, tb_stop, tb_stalled, tb_cycle);",
         # Only these are visible to cocotb (Verilator is built without --public-flat-rw:
         # every signal public made the model ~3x slower and its build ~2x longer).
         f"input clk {PUBLIC}; input rst {PUBLIC}; input tb_load {PUBLIC}; "
         f"input tb_go {PUBLIC};",
         "output tb_stop; output [1:0] tb_stalled; output [31:0] tb_cycle;",
         f"reg tb_stop {PUBLIC}; reg [1:0] tb_stalled {PUBLIC}; wire [31:0] tb_cycle {PUBLIC};",
         "initial begin tb_stop = 1'b0; tb_stalled = 2'd0; end",
         "integer par_fd = 0; integer first_fd = 0; integer proto_fd = 0; integer r = 0;",
         "reg [31:0] cyc = 0; reg [31:0] idle = 0; reg [31:0] idle_in = 0; reg [31:0] limit = 0;",
         "reg [31:0] drain = 0; reg [31:0] end_at = 0; reg done = 1'b0; reg any_out = 1'b0;",
         "reg any_in = 1'b0; reg out_all = 1'b0; reg in_all = 1'b0;",
         "assign tb_cycle = cyc;"]
    conns = [".clk(clk)", ".rst(rst)"]
    for i, (n, w) in enumerate(ins):
        L += [f"reg [{w - 1}:0] i{i}_data = 0; reg i{i}_valid = 1'b0; reg i{i}_last = 1'b0; "
              f"wire i{i}_ready; reg [31:0] i{i}_want = 0; reg [31:0] i{i}_got = 0;",
              f"reg [{w - 1}:0] i{i}_next = 0; reg [31:0] i{i}_nlast = 0; integer i{i}_fd = 0; "
              f"integer c{i}_fd = 0;",
              f"reg [31:0] i{i}_rng = 1; reg [31:0] i{i}_thr = 0; reg i{i}_more = 1'b0;"]
        conns += [f".{n}_tdata(i{i}_data)", f".{n}_tvalid(i{i}_valid)",
                  f".{n}_tready(i{i}_ready)", f".{n}_tlast(i{i}_last)"]
    for i, (n, w) in enumerate(outs):
        k = n_in + i
        L += [f"wire [{w - 1}:0] o{i}_data; wire o{i}_valid; wire o{i}_last; "
              f"reg o{i}_ready = 1'b0; integer c{k}_fd = 0; integer d{k}_fd = 0;",
              f"reg [31:0] o{i}_rng = 1; reg [31:0] o{i}_thr = 0; reg [31:0] o{i}_want = 0; "
              f"reg [31:0] o{i}_got = 0;"]
        conns += [f".{n}_tdata(o{i}_data)", f".{n}_tvalid(o{i}_valid)",
                  f".{n}_tready(o{i}_ready)", f".{n}_tlast(o{i}_last)"]
    for j, _ in enumerate(probes):
        k = n_in + n_out + j
        L += [f"integer d{k}_fd = 0; reg p{j}_seen = 1'b0;"]
    # the stream contract on every output and probed stream: once tvalid is high it
    # stays high, with tdata and tlast stable, until the transfer
    watched = [(n_in + i, f"o{i}_valid", f"o{i}_ready", f"o{i}_data", f"o{i}_last", w)
               for i, (_, w) in enumerate(outs)]
    watched += [(n_in + n_out + j, f"dut.{p}_tvalid", f"dut.{p}_tready", f"dut.{p}_tdata",
                 f"dut.{p}_tlast", w) for j, (p, w) in enumerate(probes)]
    for k, _, _, _, _, w in watched:
        L += [f"reg h{k} = 1'b0; reg [{w - 1}:0] h{k}_data = 0; reg h{k}_last = 1'b0;"]
    data_fds = [f"d{n_in + i}_fd" for i in range(n_out + len(probes))]
    cycle_fds = [f"c{k}_fd" for k in range(n_in + n_out)]
    fds = data_fds + cycle_fds + ["first_fd", "proto_fd"]

    def reopen(fd, name, mode):
        return [f"        if ({fd} != 0) $fclose({fd});",
                f'        {fd} = $fopen("{name}", "{mode}");']

    L += [f"{top} dut (", "    " + ",\n    ".join(conns), ");", "",
          "always @(posedge clk) begin",
          "    if (tb_load) begin",
          f'        par_fd = $fopen("{TB_PARAMS}", "r");',
          '        r = $fscanf(par_fd, "%d %d\\n", limit, drain);']
    L += reopen("first_fd", "tb_first.txt", "w")
    L += reopen("proto_fd", "tb_contract.txt", "w")
    L += [f"        h{k} = 1'b0;" for k, *_ in watched]
    for k in range(n_in + n_out):
        L += reopen(f"c{k}_fd", f"tb_c{k}.txt", "w")
    for fd in data_fds:
        L += reopen(fd, f"tb_d{fd[1:-3]}.txt", "w")
    for i, _ in enumerate(ins):
        L += [f'        r = $fscanf(par_fd, "%d %d %d\\n", i{i}_rng, i{i}_thr, i{i}_want);',
              f"        i{i}_got = 0;"]
        L += reopen(f"i{i}_fd", f"tb_in{i}.txt", "r")
        L += [f"        i{i}_more = 1'b1; i{i}_valid <= 1'b0; i{i}_last <= 1'b0;"]
    for i, _ in enumerate(outs):
        L += [f'        r = $fscanf(par_fd, "%d %d %d\\n", o{i}_rng, o{i}_thr, o{i}_want);',
              f"        o{i}_got = 0; o{i}_ready <= 1'b0;"]
    for j, _ in enumerate(probes):
        L += [f"        p{j}_seen = 1'b0;"]
    L += ["        $fclose(par_fd);",
          "        cyc = 0; idle = 0; idle_in = 0; done = 1'b0; tb_stop <= 1'b0; "
          "tb_stalled <= 2'd0;",
          "    end else if (tb_go && !tb_stop) begin",
          "        cyc = cyc + 1;",
          "        any_out = 1'b0; any_in = 1'b0;"]
    for i, _ in enumerate(ins):
        L += [f"        if (i{i}_valid && i{i}_ready) begin",
              f'            $fwrite(c{i}_fd, "%0d %0d\\n", cyc, i{i}_last);',
              f"            i{i}_got = i{i}_got + 1; any_in = 1'b1;",
              "        end"]
    for i, _ in enumerate(outs):
        k = n_in + i
        L += [f"        if (o{i}_valid && o{i}_ready) begin",
              f'            $fwrite(c{k}_fd, "%0d %0d\\n", cyc, o{i}_last);',
              f'            $fwrite(d{k}_fd, "%h %0d\\n", o{i}_data, o{i}_last);',
              f"            o{i}_got = o{i}_got + 1; any_out = 1'b1;",
              "        end"]
    for j, (prefix, _) in enumerate(probes):
        k = n_in + n_out + j
        L += [f"        if (dut.{prefix}_tvalid && dut.{prefix}_tready) begin",
              f'            $fwrite(d{k}_fd, "%h\\n", dut.{prefix}_tdata);',
              f'            if (!p{j}_seen) $fwrite(first_fd, "{k} %0d\\n", cyc);',
              f"            p{j}_seen = 1'b1;",
              "        end"]
    for k, valid, ready, data, last, _ in watched:
        L += [f"        if (h{k} && !({valid} === 1'b1 && {data} === h{k}_data && "
              f"{last} === h{k}_last))",
              f'            $fwrite(proto_fd, "{k} %0d\\n", cyc);',
              f"        h{k} = {valid} === 1'b1 && {ready} !== 1'b1; h{k}_data = {data}; "
              f"h{k}_last = {last};"]
    for i, _ in enumerate(ins):
        L += [f"        if (!i{i}_valid || i{i}_ready) begin",
              f"            if (i{i}_more && !(i{i}_rng < i{i}_thr)) begin",
              f'                r = $fscanf(i{i}_fd, "%h %d\\n", i{i}_next, i{i}_nlast);',
              "                if (r == 2) begin",
              f"                    i{i}_data <= i{i}_next; i{i}_last <= i{i}_nlast[0]; "
              f"i{i}_valid <= 1'b1;",
              "                end else begin",
              f"                    i{i}_more = 1'b0; i{i}_valid <= 1'b0; i{i}_last <= 1'b0;",
              "                end",
              "            end else begin",
              f"                i{i}_valid <= 1'b0; i{i}_last <= 1'b0;",
              "            end",
              "        end",
              "        " + _xorshift(f"i{i}_rng")]
    for i, _ in enumerate(outs):
        L += [f"        o{i}_ready <= !(o{i}_rng < o{i}_thr);",
              "        " + _xorshift(f"o{i}_rng")]
    all_out = " && ".join(f"o{i}_got >= o{i}_want" for i, _ in enumerate(outs)) or "1'b1"
    all_in = " && ".join(f"i{i}_got >= i{i}_want" for i, _ in enumerate(ins)) or "1'b1"
    flush = " ".join(f"$fflush({fd});" for fd in fds)
    # A network may send its last output before it has read all of its input (rows no
    # window or pooling step uses): the rest must still be taken, under the watchdog.
    L += [f"        out_all = {all_out}; in_all = {all_in};",
          "        idle = any_out ? 0 : idle + 1;",
          "        idle_in = (any_in || !out_all) ? 0 : idle_in + 1;",
          "        if (!done && out_all && in_all) begin",
          "            done = 1'b1; end_at = cyc + drain;",
          "        end",
          "        if (done && cyc >= end_at) begin",
          f"            tb_stop <= 1'b1; {flush}",
          "        end else if (!done && !out_all && idle > limit) begin",
          f"            tb_stop <= 1'b1; tb_stalled <= 2'd1; {flush}",
          "        end else if (!done && idle_in > limit) begin",
          f"            tb_stop <= 1'b1; tb_stalled <= 2'd2; {flush}",
          "        end else if (cyc[11:0] == 0) begin",
          f"            {flush}",
          "        end",
          "    end",
          "end",
          "endmodule", ""]
    return "\n".join(L)


def _runner(sim):
    """cocotb's runner for ``sim``; Verilator's builds without ``--public-flat-rw`` (the
    testbench top marks the few signals cocotb touches public itself)."""
    from cocotb_tools.runner import Verilator, get_runner

    if sim != "verilator":
        return get_runner(sim)

    class _Verilator(Verilator):
        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"]
            return cmds

    return _Verilator()


def build(sim, files, top, waves=False, testbench=None, public_depth=None):
    """Compile ``files`` for ``sim`` once per (Verilog, options); return the build folder.

    ``testbench`` (the Verilog of a module named ``TB_TOP`` around ``top``, see
    :func:`testbench_verilog`) is compiled with them and is the simulated top; Verilator
    then builds without ``--public-flat-rw``, as that top marks what cocotb touches.
    Without it ``top`` itself is the simulated top, every signal visible (for
    testbenches of their own, e.g. :mod:`verif.link_sim`), or, with ``public_depth``,
    Verilator's signals down to that module depth only (``--public-depth``: what the
    per-beat path touches, the top's ports and wires; a shorter build than with every
    signal visible).
    """
    from cocotb_tools.runner import get_runner

    simulators.activate(sim, objcache=BUILD / "sim" / "verilator-runtime")
    verilog = [Path(f) for f in files if str(f).endswith(".v")]
    extra = simulators.verilator_build_args() if sim == "verilator" else []
    options = {"sim": sim, "top": top, "waves": bool(waves), "tb": 1}
    if extra:
        options["args"] = extra
    if testbench is not None:
        options.update(tb=testbench, opt=simulators.opt_fast() if sim == "verilator" else "O1")
    elif public_depth is not None and sim == "verilator":
        options.update(public_depth=public_depth)
    key = _hash_files(files, options)
    build_dir = BUILD / "sim" / sim / f"{top}-{key}"
    stamp = build_dir / ".built"
    with file_lock(build_dir.with_suffix(".lock")):
        if not stamp.exists():
            # No stamp: nothing here is trusted (a build cut short, e.g. by a killed job,
            # can leave an empty model that make would take as up to date).
            shutil.rmtree(build_dir, ignore_errors=True)
            # .mem files are read relative to the simulator's working folder: keep copies
            # beside the model (the test folder gets its own copies too).
            build_dir.mkdir(parents=True, exist_ok=True)
            for f in files:
                if not str(f).endswith(".v"):
                    (build_dir / Path(f).name).write_bytes(Path(f).read_bytes())
            sources, hdl_top, runner = verilog, top, get_runner(sim)
            if testbench is not None:
                tb_file = build_dir / f"{TB_TOP}.v"
                tb_file.write_text(testbench)
                sources, hdl_top, runner = verilog + [tb_file], TB_TOP, _runner(sim)
            args = ["-Wno-fatal"] + extra if sim == "verilator" else []
            if "public_depth" in options:
                runner = _runner(sim)
                args += ["--public-depth", str(public_depth)]
            runner.build(sources=sources, hdl_toplevel=hdl_top, build_dir=build_dir,
                         always=True, waves=waves, timescale=("1ns", "1ps"), build_args=args,
                         log_file=build_dir / "build.log")
            stamp.write_text(json.dumps([str(v) for v in verilog]))
    return build_dir


def _follow(log, stop, progress):
    """Hand ``progress`` the testbench's progress lines while the simulator runs."""
    pos = 0
    while True:
        done = stop.wait(0.5)
        if log.exists():
            with open(log) as fh:
                fh.seek(pos)
                chunk = fh.read()
                pos = fh.tell()
            for line in chunk.splitlines():
                if "progress:" in line:
                    progress(line.split("progress:", 1)[1].strip())
        if done:
            return


@dataclass
class SimResult:
    """What one simulation measured (cycles are clock cycles after reset)."""

    block: str
    sim: str
    cycles: int
    ports: dict
    run_dir: Path
    waves: Path = None
    sim_seconds: float = None   # wall time of the run, reset to last check (simulator
    #                             start and model build excluded)
    build_seconds: float = 0.0  # 0 when the model came from the cache
    probe_first: dict = None    # probe prefix -> cycle of its stream's first transfer
    cpu_seconds: float = None   # CPU time of the simulator process during the run

    @property
    def cycles_per_second(self):
        return self.cycles / self.sim_seconds if self.sim_seconds else None

    @property
    def cycles_per_cpu_second(self):
        """Simulator speed per second of CPU time (less sensitive to other jobs on the
        machine than ``cycles_per_second``)."""
        return self.cycles / self.cpu_seconds if self.cpu_seconds else None

    def frame_ends(self, port="m_axis"):
        return self.ports[port]["lasts"]

    def frame_interval(self, port="m_axis"):
        """Mean cycles between consecutive frame ends on ``port`` (needs >= 2 frames)."""
        ends = self.frame_ends(port)
        if len(ends) < 2:
            raise ValueError("frame interval needs at least two frames")
        return (ends[-1] - ends[0]) / (len(ends) - 1)

    def frame_intervals(self, port="m_axis"):
        ends = self.frame_ends(port)
        return [b - a for a, b in zip(ends, ends[1:])]

    def beat_cycles(self, port):
        """Cycle of every transfer on ``port`` (runs with ``record_beats`` only)."""
        return self.ports[port]["cycles"]

    def latency(self, in_port="s_axis", out_port="m_axis"):
        """Cycles from the first input transfer to the first output transfer."""
        return self.ports[out_port]["first"] - self.ports[in_port]["first"]


def _write_beats(path, frames, width, last):
    """Beats as the testbench reads and writes them: ``<tdata hex> <tlast>`` per line
    (``last``) or ``<tdata hex>``, hex zero-padded to the stream's width like ``%h``."""
    fmt = f"0{(width + 3) // 4}x"
    with open(path, "w") as fh:
        for fr in frames:
            if not len(fr):
                continue
            beats = [format(int(b), fmt) for b in fr]
            if last:
                fh.write(" 0\n".join(beats) + " 1\n")
            else:
                fh.write("\n".join(beats) + "\n")


def simulate(block, sim, inputs, outputs, gap=0.0, stall=0.0, seed=0, stall_limit=None,
             waves=False, rtl=None, label="run", probes=(), progress=None, record_beats=False,
             path="hdl"):
    """Run ``block`` on ``sim`` with frames ``inputs`` and check against ``outputs``.

    ``inputs``/``outputs`` map port names to lists of frames (lists of int beats).
    ``gap`` is the probability that a source idles on a cycle, ``stall`` that a sink
    is not ready (either may be a dict per port). ``stall_limit`` is the watchdog: the
    test fails if no output beat moves for that many cycles. ``probes`` (internal streams
    of a pipeline top, in pipeline order) are dicts with ``prefix`` (wire name without
    ``_tdata``), ``label``, ``lanes``, ``bits``, ``signed``, ``shape``, ``axes`` and
    ``frames`` (golden beats): the first difference on any of them is reported with its
    coordinates. ``progress`` (a callable) receives a line each time a frame passes.
    ``record_beats`` keeps the cycle of every port transfer (``SimResult.beat_cycles``).
    ``path``: ``"hdl"`` (sources, sinks and records in a generated Verilog top) or
    ``"axi"`` (cocotbext-axi every clock, :mod:`verif.tb_axi`).
    """
    run = dict(inputs=inputs, outputs=outputs, gap=gap, stall=stall, seed=seed,
               stall_limit=stall_limit, label=label, probes=probes, record_beats=record_beats)
    return simulate_runs(block, sim, [run], waves=waves, rtl=rtl, label=label,
                         progress=progress, path=path)[0]


def simulate_runs(block, sim, runs, waves=False, rtl=None, label="run", progress=None,
                  path="hdl"):
    """Several runs of ``block`` in one simulator start (each begins with a reset).

    ``runs``: dicts with the arguments of :func:`simulate` (``inputs``, ``outputs``,
    ``gap``, ``stall``, ``seed``, ``stall_limit``, ``label``, ``probes``,
    ``record_beats``); every run must probe the same streams. Returns one
    :class:`SimResult` per run; the first run that fails raises :class:`SimulationFailed`
    (the runs after it are not made). ``path`` as in :func:`simulate`.
    """
    from cocotb_tools.runner import get_runner

    if path not in PATHS:
        raise ValueError(f"path {path!r}: one of {', '.join(PATHS)}")
    rtl = rtl or generate(block)
    probe_streams = [(p["prefix"], p["lanes"] * p["bits"]) for p in runs[0].get("probes", ())]
    for r in runs[1:]:
        assert [p["prefix"] for p in r.get("probes", ())] == [p for p, _ in probe_streams], \
            "all runs of one simulation must probe the same streams"
    ports = [(p.name, p.direction, p.width) for p in block.ports()]
    t_build = time.time()
    if path == "hdl":
        hdl_top = TB_TOP
        build_dir = build(sim, rtl.files, rtl.top, waves=waves,
                          testbench=testbench_verilog(rtl.top, ports, probe_streams))
    else:  # the top's ports and wires, and those of partitions (u_part1.<wire>)
        hdl_top = rtl.top
        depth = 1 + max([p.count(".") for p, _ in probe_streams], default=0)
        build_dir = build(sim, rtl.files, rtl.top, waves=waves, public_depth=depth)
    build_seconds = time.time() - t_build
    base = BUILD / "runs" / sim / rtl.top
    base.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=base))
    for f in rtl.data_files:
        (run_dir / Path(f).name).write_bytes(Path(f).read_bytes())

    def per_port(value, name):
        return value.get(name, 0.0) if isinstance(value, dict) else value

    names = {d: sorted(p.name for p in block.ports() if p.direction == d) for d in ("in", "out")}
    port = {n: block.port(n) for n in names["in"] + names["out"]}
    specs = []
    for i, r in enumerate(runs):
        ins, outs = r["inputs"], r["outputs"]
        assert sorted(ins) == names["in"] and sorted(outs) == names["out"], \
            f"{block.name}: a run must give frames for every port ({names})"
        # the testbench's stream numbering: inputs, outputs, probes
        for k, n in enumerate(names["in"]):
            _write_beats(run_dir / f"r{i}_in{k}.txt", ins[n], port[n].width, last=True)
        for k, n in enumerate(names["out"], len(names["in"])):
            _write_beats(run_dir / f"r{i}_x{k}.txt", outs[n], port[n].width, last=True)
        k0 = len(names["in"]) + len(names["out"])
        for k, pr in enumerate(r.get("probes", ()), k0):
            _write_beats(run_dir / f"r{i}_x{k}.txt", pr["frames"], pr["lanes"] * pr["bits"],
                         last=False)
        total_out = sum(len(fr) for frames in outs.values() for fr in frames)
        specs.append({
            "label": r.get("label", f"run{i}"),
            "seed": int(r.get("seed", 0)),
            "stall_limit": r.get("stall_limit") or max(2000, 4 * total_out),
            "report": str(run_dir / f"report{i}.json"),
            "inputs": {n: {"beats": sum(len(fr) for fr in ins[n]),
                           "gap": per_port(r.get("gap", 0.0), n)} for n in names["in"]},
            "outputs": {n: {"frame_beats": [len(fr) for fr in outs[n]],
                            "stall": per_port(r.get("stall", 0.0), n)} for n in names["out"]},
            "record_beats": bool(r.get("record_beats")),
            "probes": [{k: v for k, v in pr.items() if k != "frames"} |
                       {"frame_beats": [len(fr) for fr in pr["frames"]]}
                       for pr in r.get("probes", ())],
        })
    cfg = {
        "block": block.name,
        "inputs": {n: port[n].as_dict() for n in names["in"]},
        "outputs": {n: port[n].as_dict() for n in names["out"]},
        "runs": specs,
    }
    cfg_path = run_dir / "tb_config.json"
    cfg_path.write_text(json.dumps(cfg))
    runner = get_runner(sim)
    failure = None
    stop = threading.Event()
    watcher = None
    if progress is not None:
        watcher = threading.Thread(target=_follow, args=(run_dir / "sim.log", stop, progress),
                                   daemon=True)
        watcher.start()
    try:
        runner.test(test_module=PATHS[path], hdl_toplevel=hdl_top, build_dir=build_dir,
                    hdl_toplevel_lang="verilog",
                    test_dir=run_dir, results_xml=str(run_dir / "results.xml"),
                    extra_env={"STREAMQNN_TB_CONFIG": str(cfg_path),
                               # no pytest assertion rewriting: its set-up loads every
                               # pytest plugin, 0.3-0.5 s of each simulator start
                               "COCOTB_REWRITE_ASSERTION_FILES": ""}, waves=waves,
                    log_file=run_dir / "sim.log", seed=specs[0]["seed"])
    except (SystemExit, RuntimeError) as exc:
        failure = exc
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    wave = None
    if waves:
        cands = sorted(run_dir.glob("*.vcd")) + sorted(run_dir.glob("*.fst")) + \
            sorted(build_dir.glob("*.fst"))
        wave = cands[0] if cands else None
    results = []
    for spec in specs:
        report_path = Path(spec["report"])
        report = json.loads(report_path.read_text()) if report_path.exists() else None
        if report is None or not report.get("ok"):
            msg = report["message"] if report and report.get("message") else None
            if msg is None:
                log = (run_dir / "sim.log")
                tail = log.read_text()[-3000:] if log.exists() else "(no log)"
                msg = (f"simulation of '{block.name}' on {sim} failed ({failure!r}); "
                       f"log tail:\n{tail}")
            where = f", run '{spec['label']}'" if len(specs) > 1 else ""
            raise SimulationFailed(f"[{sim}] {msg}\n(run folder: {run_dir}{where})")
        results.append(SimResult(block.name, sim, report["cycles"], report["ports"], run_dir,
                                 wave, report.get("seconds"), build_seconds,
                                 report.get("probes", {}), report.get("cpu_seconds")))
    return results
