"""Write one handoff folder for one compiled top (``write_handoff``).

A partitioned design calls it once per FPGA (``streamqnn.handoff.partitioned``: each
partition top seen through ``PartTop``, whose ``lane_ends`` add the Aurora lane
constraints; ``partition`` is recorded in the manifest); a single-FPGA design calls it
once. The folder is assembled in a staging folder beside the destination, checked there
(Verilator lint and Icarus from the folder, the Vivado script under tclsh), and only then
moved into place: a failed check leaves the previous handoff, if any, untouched. ``check_destination`` refuses to replace a folder that is not
a StreamQNN handoff.
"""

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

from rtl_gen.errors import QNNError
from streamqnn.handoff.folder_checks import icarus_folder, lint_folder
from streamqnn.handoff.fusesoc_core import core_name, core_text
from streamqnn.handoff.manifest import manifest, sha256, version
from streamqnn.handoff.ports import top_ports
from streamqnn.handoff.readme import readme_text
from streamqnn.handoff.tcl_check import HandoffCheckFailed, check_build_tcl, tclsh
from streamqnn.handoff.vivado_tcl import build_tcl, fusesoc_ooc_tcl
from streamqnn.handoff.xdc import render_constraints

MARK = "vivado_run"   # a key only a handoff manifest has


def check_destination(folder):
    """Raise a QNNError unless ``folder`` is absent, empty or an earlier handoff."""
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise QNNError(None, f"output '{folder}' exists and is not a folder",
                       "a new folder or an earlier handoff folder")
    if not any(folder.iterdir()):
        return
    try:
        earlier = MARK in json.loads((folder / "manifest.json").read_text())
    except (OSError, ValueError):
        earlier = False
    if not earlier:
        raise QNNError(None, f"output folder '{folder}' exists and is not a StreamQNN handoff",
                       "a new folder, or remove it first")


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _assemble(cn, stage, target):
    """Every file but manifest.json and README.md; returns (rtl files, other files)."""
    rtl = []
    for f in cn.files:
        dst = stage / "rtl" / f.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dst)
        if sha256(dst) != sha256(f):
            raise HandoffCheckFailed(f"copy of {f} differs from its source")
        rtl.append(dst)
    rel = lambda p: p.relative_to(stage).as_posix()  # noqa: E731
    verilog = [rel(p) for p in rtl if p.suffix == ".v"]
    mems = [rel(p) for p in rtl if p.suffix != ".v"]
    ports = top_ports(stage / "rtl" / f"{cn.name}.v", cn.name)
    xdcs = [rel(p) for p in render_constraints(ports, cn.name, target, stage / "constraints",
                                               link_ends=getattr(cn, "lane_ends", ()))]
    other = [
        _write(stage / "filelist.f", "\n".join(verilog) + "\n"),
        _write(stage / "vivado" / "build.tcl",
               build_tcl(cn.name, target.part, target.clock_mhz, verilog, mems, xdcs)),
        _write(stage / "vivado" / "fusesoc_ooc.tcl", fusesoc_ooc_tcl()),
        _write(stage / f"{cn.name}.core",
               core_text(cn.name, target.part, version(), verilog, mems, xdcs,
                         "vivado/fusesoc_ooc.tcl")),
    ]
    return rtl, [stage / x for x in xdcs] + other


def run_checks(folder, top, part, progress=None):
    """The checks of a finished folder that need no Vivado: a list of what passed."""
    say = progress or (lambda _m: None)
    done = []
    say("checking the handoff folder: verilator lint, icarus, vivado/build.tcl under tclsh ...")
    done.append(lint_folder(folder, top))
    done.append(icarus_folder(folder, top))
    if tclsh() is None:
        done.append("vivado/build.tcl under tclsh: not run (tclsh not found)")
    else:
        rec = check_build_tcl(folder, top, part)
        if rec.problems:
            raise HandoffCheckFailed("vivado/build.tcl under tclsh with recorders:\n"
                                     + "\n".join(rec.problems))
        done.append(f"vivado/build.tcl under tclsh with recorders: {rec.summary()}; every "
                    "file read exists, every constraint names a port or clock of the top, "
                    "legal order")
    return done


@contextlib.contextmanager
def staged(folder):
    """A private folder beside ``folder`` to assemble a handoff in; when the block ends
    without an error it replaces ``folder``, else it is removed: a half-written or failed
    handoff never takes the place of a good one."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield stage
        if folder.exists():
            shutil.rmtree(folder)
        stage.rename(folder)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)


def write_handoff(cn, folder, target, yosys=None, yosys_note=None, partition=None,
                  regenerate=None, progress=None):
    """Write the handoff of the compiled top ``cn`` (a ``CompiledNetwork``) into
    ``folder`` for ``target`` (a ``parts.Target``); return the manifest dict.
    ``yosys``: a ``verif.estimate.NetworkEstimate`` of ``cn`` (or None and
    ``yosys_note``); ``regenerate``: the command that regenerates the same RTL."""
    folder = Path(folder)
    check_destination(folder)
    with staged(folder) as stage:
        rtl, other = _assemble(cn, stage, target)
        checks = run_checks(stage, cn.name, target.part, progress)
        man = manifest(cn, target, rtl, other, stage, yosys, yosys_note, partition)
        man["fusesoc_core"] = core_name(cn.name, version())
        man["regenerate"] = regenerate
        man["checks"] = checks
        _write(stage / "manifest.json", json.dumps(man, indent=1, default=str) + "\n")
        _write(stage / "README.md", readme_text(man, f"{cn.name}.core"))
    return man
