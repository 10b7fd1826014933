"""Build, run and compare: the one harness every block test and ``make sim`` use.

``simulate(block, sim, inputs, outputs, ...)`` generates the block's Verilog (cached by
the block's configuration), lints it, builds the simulator model (cached by a hash of
the Verilog and the build options, under ``build/sim``), runs the generic testbench
:mod:`verif.tb_stream` through ``cocotb_tools.runner`` and returns a :class:`SimResult`
with the measured cycles. A mismatch, a stall or a simulator failure raises
:class:`SimulationFailed` with the testbench's own message.
"""

import hashlib
import json
import os
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


def build(sim, files, top, waves=False):
    """Compile ``files`` for ``sim`` once per (Verilog, options); return the build folder."""
    from cocotb_tools.runner import get_runner

    simulators.activate(sim)
    verilog = [Path(f) for f in files if str(f).endswith(".v")]
    options = {"sim": sim, "top": top, "waves": bool(waves), "tb": 1}
    key = _hash_files(files, options)
    build_dir = BUILD / "sim" / sim / f"{top}-{key}"
    stamp = build_dir / ".built"
    with file_lock(build_dir.with_suffix(".lock")):
        if not stamp.exists():
            # .mem files are read relative to the simulator's working folder: keep copies
            # beside the model (the test folder gets its own copies too).
            build_dir.mkdir(parents=True, exist_ok=True)
            for f in files:
                if not str(f).endswith(".v"):
                    (build_dir / Path(f).name).write_bytes(Path(f).read_bytes())
            runner = get_runner(sim)
            args = ["-Wno-fatal"] if sim == "verilator" else []
            runner.build(sources=verilog, hdl_toplevel=top, build_dir=build_dir, always=True,
                         waves=waves, timescale=("1ns", "1ps"), build_args=args,
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
    sim_seconds: float = None   # wall time of the simulation itself (build excluded)
    build_seconds: float = 0.0  # 0 when the model came from the cache
    probe_first: dict = None    # probe prefix -> cycle of its stream's first transfer

    @property
    def cycles_per_second(self):
        return self.cycles / self.sim_seconds if self.sim_seconds else None

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


def simulate(block, sim, inputs, outputs, gap=0.0, stall=0.0, seed=0, stall_limit=None,
             waves=False, rtl=None, label="run", probes=(), progress=None, record_beats=False):
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
    """
    from cocotb_tools.runner import get_runner

    rtl = rtl or generate(block)
    t_build = time.time()
    build_dir = build(sim, rtl.files, rtl.top, waves=waves)
    build_seconds = time.time() - t_build
    runs = BUILD / "runs" / sim / rtl.top
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=runs))
    for f in rtl.data_files:
        (run_dir / Path(f).name).write_bytes(Path(f).read_bytes())

    def per_port(value, name):
        return value.get(name, 0.0) if isinstance(value, dict) else value

    total_beats = sum(len(fr) for frames in outputs.values() for fr in frames)
    cfg = {
        "block": block.name,
        "seed": seed,
        "stall_limit": stall_limit or max(2000, 4 * total_beats),
        "report": str(run_dir / "report.json"),
        "inputs": {n: dict(block.port(n).as_dict(), frames=[[int(b) for b in fr] for fr in frames],
                           gap=per_port(gap, n)) for n, frames in inputs.items()},
        "outputs": {n: dict(block.port(n).as_dict(), frames=[[int(b) for b in fr] for fr in frames],
                            stall=per_port(stall, n)) for n, frames in outputs.items()},
        "record_beats": bool(record_beats),
        "probes": [dict(p, frames=[[int(b) for b in fr] for fr in p["frames"]]) for p in probes],
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
        runner.test(test_module=TB_MODULE, hdl_toplevel=rtl.top, build_dir=build_dir,
                    hdl_toplevel_lang="verilog",
                    test_dir=run_dir, results_xml=str(run_dir / "results.xml"),
                    extra_env={"STREAMQNN_TB_CONFIG": str(cfg_path)}, waves=waves,
                    log_file=run_dir / "sim.log", seed=seed)
    except (SystemExit, RuntimeError) as exc:
        failure = exc
    finally:
        stop.set()
        if watcher is not None:
            watcher.join()
    report_path = run_dir / "report.json"
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    if report is None or not report.get("ok"):
        msg = report["message"] if report and report.get("message") else None
        if msg is None:
            log = (run_dir / "sim.log")
            tail = log.read_text()[-3000:] if log.exists() else "(no log)"
            msg = f"simulation of '{block.name}' on {sim} failed ({failure!r}); log tail:\n{tail}"
        raise SimulationFailed(f"[{sim}] {msg}\n(run folder: {run_dir})")
    wave = None
    if waves:
        cands = sorted(run_dir.glob("*.vcd")) + sorted(run_dir.glob("*.fst")) + \
            sorted(build_dir.glob("*.fst"))
        wave = cands[0] if cands else None
    return SimResult(block.name, sim, report["cycles"], report["ports"], run_dir, wave,
                     _test_seconds(run_dir / "results.xml"), build_seconds,
                     report.get("probes", {}))


def _test_seconds(results_xml):
    """The testcase's wall time as cocotb recorded it in results.xml."""
    import xml.etree.ElementTree as ET

    try:
        case = ET.parse(results_xml).getroot().find(".//testcase")
        return float(case.get("time"))
    except (OSError, ET.ParseError, TypeError, ValueError, AttributeError):
        return None
