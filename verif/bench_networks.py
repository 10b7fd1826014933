"""Network benchmarks for ``make bench``: the named designs and ResNet-18's folding.

Per design: the cycle model's frame interval and the latency model's first-frame latency
against those measured with no gaps or backpressure (Verilator and Icarus, for the
designs small enough to simulate), generation time (MyHDL, all modules) and simulator
speed; for ResNet-18 and AlexNet the generation, lint and the models only. Then ResNet-18
folded automatically for three targets (the paper's ~1.85 M cycles per frame, 400 k,
100 k) and ResNet-18 and AlexNet folded for device budgets: the folding chosen, the
interval from the cycle model and the analytic resource estimate.
"""

import shutil
import time

from rtl_gen.compiler.budget import fold_for_budget, parse_budget
from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.compiler.folding import auto_fold, frame_interval
from rtl_gen.compiler.latency import pipeline_timing
from rtl_gen.compiler.compile import build_pipeline, without_forks
from rtl_gen.compiler.resources import pipeline_estimate
from rtl_gen.designs.networks import DEFAULT_TARGET, design
from rtl_gen.errors import QNNError
from verif.harness import BUILD
from verif.lint import lint
from verif.network_sim import run_network

SIMULATED = {"resnet_block": ("verilator", "icarus"), "resnet_block_down": ("verilator", "icarus"),
             "tiny_resnet": ("verilator", "icarus")}
GENERATED_ONLY = ("resnet18", "alexnet")
FRAMES = 2


def _compile(name):
    net = design(name)
    planned = plan(net, target_cycles=DEFAULT_TARGET[name])
    folder = BUILD / "bench" / name
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.time()
    cn = compile_network(net, folder, plan_=planned)  # no cache: generation time is measured
    gen = time.time() - t0
    t1 = time.time()
    lint(cn.verilog, cn.name)
    return cn, gen, time.time() - t1


def networks_section():
    rows = []
    for name in list(SIMULATED) + list(GENERATED_ONLY):
        print(f"[networks] {name}: generating ...", flush=True)
        cn, gen, lint_s = _compile(name)
        model, latency = cn.cycles_per_frame(), cn.latency_cycles()
        cells = [f"`{name}`", f"{model:,}", f"{latency:,}", f"{len(cn.pipeline.blocks)}",
                 f"{gen:.1f} s", f"clean ({lint_s:.1f} s)"]
        for sim in ("verilator", "icarus"):
            if sim not in SIMULATED.get(name, ()):
                cells += ["-", "-", "-"]
                continue
            print(f"[networks] {name}: simulating {FRAMES} frames on {sim} ...", flush=True)
            res = run_network(cn, sim, frames=FRAMES, seed=7, label="bench", watch=False)
            iv = res.frame_intervals()
            off = max(abs(i - model) for i in iv) / model * 100
            cells += [f"{'/'.join(map(str, iv))} ({off:.2f} %)", f"{res.latency():,}",
                      f"{res.cycles_per_second:,.0f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return [
        "## Networks",
        "",
        "Default folding targets (`rtl_gen/designs/networks.py`). Measured: frame intervals between "
        f"output frames ({FRAMES} frames, no gaps or backpressure) and the deviation from the "
        "model; latency from the first input beat to the first output beat (the latency "
        "model's prediction in its own column); simulator speed "
        "in clock cycles per second of simulation (model build excluded). Generation: all "
        "modules with MyHDL, no cache.",
        "",
        "| design | model cycles/frame | model latency | blocks | generation | lint | "
        "Verilator cycles/frame | latency | Verilator cycles/s | Icarus cycles/frame | "
        "latency | Icarus cycles/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


def _fold_summary(net, folds):
    parts = []
    for lay in net.layers:
        f = folds[lay.name]
        if f.kind in ("conv", "dense"):
            parts.append(f"{lay.name} {f.simd}×{f.pe}")
    return ", ".join(parts)


def folding_section():
    net = without_forks(design("resnet18"))
    rows = []
    for target in (1_850_000, 400_000, 100_000):
        print(f"[folding] resnet18 at {target:,} cycles per frame ...", flush=True)
        folds, interval = auto_fold(net, target)
        pipe = build_pipeline(net, folds)
        total, _ = pipeline_estimate(pipe)
        met = "met" if interval <= target else "not reachable"
        latency = pipeline_timing(pipe).latency
        rows.append(f"| {target:,} | {interval:,} ({met}) | {latency:,} | {total.lut:,.0f} "
                    f"| {total.ff:,.0f} "
                    f"| {total.bram36:,.1f} | {_fold_summary(net, folds)} |")
    return [
        "## ResNet-18: automatic folding",
        "",
        "Per target: the frame interval of the chosen folding (cycle model), the compiler's "
        "analytic LUT/FF/BRAM estimate (`rtl_gen/compiler/resources.py`), and SIMD×PE per "
        "convolution and dense layer.",
        "",
        "| target cycles/frame | interval (model) | first-frame latency (model) | LUT | FF | "
        "BRAM36 | folding (SIMD×PE) |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]


BUDGETS = ("xcvu9p", "xczu9eg", "xc7z045")  # largest first: each no larger than the one before


def budget_section():
    rows = []
    for name in GENERATED_ONLY:
        net = design(name)
        misses = None
        for device in BUDGETS:
            budget = parse_budget(device)
            if misses:
                rows.append(f"| `{name}` | {budget.describe()} | does not fit ({misses} does "
                            "not, and this device is smaller) | | | | - |")
                continue
            print(f"[budget] {name} within {device} ...", flush=True)
            t0 = time.time()
            try:
                (_, folds, _), est, _ = fold_for_budget(net, budget)
                interval = f"{frame_interval(folds):,}"
            except QNNError:
                # no folding fits: show what the slowest folding needs
                (_, folds, pipe) = plan(net)
                est, _ = pipeline_estimate(pipe)
                interval = "does not fit with any folding (slowest one shown)"
                misses = device
            secs = time.time() - t0
            rows.append(f"| `{name}` | {budget.describe()} | {interval} | {est.lut:,.0f} | "
                        f"{est.ff:,.0f} | {est.bram36:,.1f} | {secs:.0f} s |")
    return [
        "## Automatic folding for a resource budget",
        "",
        "`fold_for_budget` (`rtl_gen/compiler/budget.py`, `--budget` on the command line): the "
        "fastest frame interval whose analytic estimate fits the device's LUT, FF and RAMB36 "
        "totals (data-sheet numbers, 100 % of them; real designs want headroom: "
        "`--budget-fraction`). Search time includes planning every tried folding. Where "
        "no folding fits, the fully folded pipeline's estimate is shown (the network "
        "would have to be split across FPGAs).",
        "",
        "| network | budget | interval (model) | LUT | FF | BRAM36 | search |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
    ]
