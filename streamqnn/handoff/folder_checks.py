"""Compile and lint a handoff folder as it is, with nothing else on the path.

Every command runs in the folder and reads the Verilog through ``filelist.f`` only (no
include folders, no other source): ``lint_folder`` (Verilator with the project's lint
bar), ``icarus_folder`` (``iverilog -g2005``, then ``vvp`` from ``rtl/``, where the
``.mem`` files are, so every ``$readmemh`` file must open) and ``verilator_folder``
(``verilator --cc --build``: the C++ model compiled; slow, for the tests; with
``build=False`` only verilated). Each returns
a one-line description of what passed, or raises ``HandoffCheckFailed`` with the tool's
output.
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

from streamqnn.handoff.tcl_check import HandoffCheckFailed
from verif.lint import LINT_FLAGS
from verif.simulators import verilator_binary, verilator_env


def _run(cmd, cwd, what, env=None, timeout=1800):
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env,
                         timeout=timeout)
    text = (res.stdout + res.stderr).strip()
    if res.returncode != 0:
        raise HandoffCheckFailed(f"{what} failed in {cwd}:\n$ {' '.join(cmd)}\n{text[-3000:]}")
    return text


def lint_folder(folder, top):
    folder = Path(folder)
    text = _run([verilator_binary(), *LINT_FLAGS, "--top-module", top, "-f", "filelist.f"],
                folder, "verilator lint", env=verilator_env())
    problems = [ln for ln in text.splitlines() if ln.startswith("%")]
    if problems:
        raise HandoffCheckFailed("verilator lint of the handoff folder:\n" + "\n".join(problems))
    return f"verilator {' '.join(LINT_FLAGS)} -f filelist.f: clean"


def icarus_folder(folder, top):
    folder = Path(folder)
    if shutil.which("iverilog") is None:
        raise FileNotFoundError("iverilog not found")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / f"{top}.vvp")
        text = _run(["iverilog", "-g2005", "-Wall", "-s", top, "-o", out, "-f", "filelist.f"],
                    folder, "iverilog")
        warnings = [ln for ln in text.splitlines() if "warning" in ln.lower()
                    and "timescale" not in ln.lower()]
        if warnings:
            raise HandoffCheckFailed("iverilog warnings on the handoff folder:\n"
                                     + "\n".join(warnings[:20]))
        run = _run(["vvp", "-n", out], folder / "rtl", "vvp (time 0: ROM files load)")
    if "unable to open" in run.lower() or "error" in run.lower():
        raise HandoffCheckFailed(f"vvp reports a problem at time 0:\n{run[-2000:]}")
    return ("iverilog -g2005 -Wall -f filelist.f: compiles; vvp from rtl/: every $readmemh "
            "file loads")


def verilator_folder(folder, top, jobs=2, build=True):
    """Verilator's model of the folder's top: verilated and compiled (``build``), or
    verilated only (the whole design elaborated and translated to C++, without the C++
    compile that dominates the time)."""
    folder = Path(folder)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [verilator_binary(), "--cc", *(["--build", "-j", str(jobs)] if build else []),
               "-Wno-fatal", "--top-module", top, "-Mdir", tmp, "-f", "filelist.f"]
        _run(cmd, folder, "verilator --cc" + (" --build" if build else ""),
             env=verilator_env())
        made = f"V{top}__ALL.a" if build else f"V{top}.cpp"
        built = list(Path(tmp).glob(made))
    if not built:
        raise HandoffCheckFailed(f"verilator --cc{' --build' if build else ''} made no {made}")
    if not build:
        return "verilator --cc -f filelist.f: C++ model generated"
    return "verilator --cc --build -f filelist.f: C++ model compiled"
