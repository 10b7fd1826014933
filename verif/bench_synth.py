"""``make bench`` section ``synth``: Yosys per layer against the analytic estimate, and the
MVUs' LUTs per multiply-accumulate per cycle next to FINN's estimator.

Designs: ``resnet_block`` and ``tiny_resnet`` at their default folding targets, every
block synthesized; ``resnet18`` at its fastest folding (the reachable interval), one
synthesis per distinct block configuration (same structure, other ROM contents; each
result counted for every block like it). Yosys ``synth_xilinx -family xcup``
(UltraScale+, the family of the handoff's default part), one block module at a time, in
parallel and cached by module hash (``verif.estimate.network_estimate``).

Area efficiency: an MVU's LUTs (logic and LUTs used as memory, everything in the block:
datapath, weight ROM when it is in LUTs, input buffer, output register) over its SIMD x PE
multiply-accumulates per cycle. FINN's LUT estimate of its MVAU
(``MatrixVectorActivation.lut_estimation``, the FINN-R paper's model) is computed for the
same W, A, SIMD, PE and MW: ``300 + 1.1 * PE * (mult + adder_tree + acc)`` with
``mult = SIMD*(2*ceil((W+A)/6) - 1)*(W+A)``, ``adder_tree = (W+A)*(2*SIMD - 1)``,
``acc = W + A + ceil(log2(MW))``, without thresholds (ours are a separate block) and with
its weights out of LUTs (c2 = 0). For W1A2 that is ~9.9 LUT per MAC per cycle plus the
constant.
"""

import math
import os
import time

from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.compiler.folding import reachable_interval
from rtl_gen.compiler.passes.without_forks import without_forks
from rtl_gen.designs.networks import DEFAULT_TARGET, design
from verif.estimate import lut_equivalent, layer_table, network_estimate
from verif.harness import BUILD

FAMILY = "xcup"
DESIGNS = (("resnet_block", "default", False), ("tiny_resnet", "default", False),
           ("resnet18", "fastest", True))


def finn_mvau_luts(w_bits, a_bits, simd, pe, mw):
    """FINN's MVAU LUT estimate (no thresholds, weights not in LUTs)."""
    wa = w_bits + a_bits
    mult = simd * (2 * math.ceil(wa / 6) - 1) * wa
    adder = wa * (2 * simd - 1)
    acc = wa + math.ceil(math.log2(mw))
    return 300 + 1.1 * pe * (mult + adder + acc)


def _compile(name, folding):
    net = design(name)
    target = DEFAULT_TARGET[name] if folding == "default" else \
        reachable_interval(without_forks(net))
    planned = plan(net, target_cycles=target)
    cn = compile_network(net, BUILD / "bench_synth" / name, plan_=planned,
                         cache=BUILD / "rtl")
    return cn


def _mvu_rows(name, ne):
    """Per distinct MVU configuration: count, format, SIMD x PE, LUT, LUT/MAC, FINN's."""
    rows, seen = [], {}
    for r in ne.blocks:
        if r.block.kind == "mvu":
            seen.setdefault(r.synthesized_as, []).append(r)
    for rep, rs in seen.items():
        b, est = rs[0].block, rs[0].yosys
        macs = b.simd * b.pe
        lut = lut_equivalent(est)
        finn = finn_mvau_luts(b.fmt.bits, b.in_bits, b.simd, b.pe, b.mw)
        rows.append((name, b, len(rs), macs, lut, finn))
    return rows


def _mvu_table(rows):
    out = ["| design | MVU (first of its configuration) | blocks | weights × inputs | datapath | "
           "SIMD×PE | MAC/cycle | LUT (Yosys) | LUT per MAC/cycle | FINN estimate | FINN per "
           "MAC/cycle |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, b, n, macs, lut, finn in rows:
        out.append(f"| `{name}` | `{b.name}` | {n} | {b.fmt.name} × {b.in_bits}-bit | "
                   f"{b.datapath} | {b.simd}×{b.pe} | {macs:,} | {lut:,} | {lut / macs:.1f} | "
                   f"{finn:,.0f} | {finn / macs:.1f} |")
    return out


def _w1a2_line(label, rows):
    """One line: LUT per MAC per cycle of the W1A2 MVUs in ``rows``, ours and FINN's."""
    w1a2 = [(n, macs, lut, finn) for _, b, n, macs, lut, finn in rows
            if b.fmt.bits == 1 and b.in_bits == 2]
    if not w1a2:
        return []
    macs = sum(n * m for n, m, _, _ in w1a2)
    lut = sum(n * lu for n, _, lu, _ in w1a2)
    finn = sum(n * f for n, _, _, f in w1a2)
    per = sorted(lu / m for _, m, lu, _ in w1a2)
    return [f"- {label}: {len(w1a2)} configurations, {sum(n for n, *_ in w1a2)} blocks, "
            f"{lut:,} LUT for {macs:,} MAC per cycle: **{lut / macs:.1f} LUT per MAC per "
            f"cycle** (per configuration {per[0]:.1f} to {per[-1]:.1f}); FINN's estimator "
            f"for the same MVUs: {finn / macs:.1f}"]


def _w1a2_summary(rows):
    lines = ["W1A2 MVUs (bipolar weights, 2-bit activations), all of each block counted:", ""]
    for name, _, _ in DESIGNS:
        lines += _w1a2_line(f"`{name}`", [r for r in rows if r[0] == name])
    lines += _w1a2_line("all three", rows)
    return lines + ["", "FINN's model is about 10 per W1A2 MAC (1.1 × (3 + 6)) plus 300 per "
                        "MVU, so it is near 10 for large MVUs and far above for small ones.",
                    ""]


def synth_section(workers=None):
    workers = workers or os.cpu_count()
    out = [
        "## Synthesis per layer (Yosys) against the analytic estimate",
        "",
        f"Yosys `synth_xilinx -family {FAMILY}` (UltraScale+ cells; the handoff's default part "
        "is a ZU9EG), one block module at a time (the top only wires them), in parallel and "
        "cached by module hash (`verif/estimate.py`, `make estimate`). Per layer: the sum "
        "over its blocks; LUT includes the LUTs used as memory (LUT RAM, shift registers), "
        "also shown on their own; LUT levels = the most LUTs on one register-to-register "
        "path (the stand-in for timing). Error = (analytic − Yosys) / Yosys.",
        "",
    ]
    mvu_rows = []
    for name, folding, distinct in DESIGNS:
        t0 = time.time()
        print(f"[synth] {name}: generating ({folding} folding) ...", flush=True)
        cn = _compile(name, folding)
        ne = network_estimate(cn, BUILD / "yosys", FAMILY, workers,
                              progress=lambda m: print(f"[synth] {name}: {m}", flush=True),
                              distinct=distinct)
        n_syn = len({r.synthesized_as for r in ne.blocks})
        how = (f"{n_syn} distinct configurations synthesized for {len(ne.blocks)} blocks"
               if distinct else f"all {len(ne.blocks)} blocks synthesized")
        out += [f"### `{name}`: {cn.cycles_per_frame():,} cycles per frame "
                f"({folding} folding), {how}, {time.time() - t0:.0f} s", "",
                *layer_table(ne), ""]
        mvu_rows += _mvu_rows(name, ne)
    out += ["### MVU area: LUTs per multiply-accumulate per cycle", "",
            "Every distinct MVU configuration above. LUT = all of the MVU block "
            "(see the module docstring of `verif/bench_synth.py` for FINN's formula).", "",
            *_mvu_table(mvu_rows), "", *_w1a2_summary(mvu_rows)]
    return out
