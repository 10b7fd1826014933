"""The one step from a block's MyHDL to its Verilog module, and the RTL cache around it.

``emit(block, folder)`` converts ``block.hdl(...)`` to ``<name>.v`` (plus the block's
``.mem`` files and a ``<name>.json`` description) in a private temporary folder and moves
the results in, so that parallel workers never see a half-written file. On the way it
makes the Verilog stable and fast to simulate:

- MyHDL's header (temporary path, date) is replaced by a fixed one, so that the same
  configuration always gives byte-identical Verilog (simulator builds are cached on it);
- every process label that declares nothing local is removed (``always @(posedge clk)
  begin: <label>`` becomes ``always @(posedge clk) begin``). Icarus runs each *named* block
  as a thread of its own; on ``resnet_block`` the labels cost 10x in simulation speed. A
  label stays where the process declares local variables (``reg``/``integer`` right after
  it), since Verilog-2001 only allows declarations in a named block. Signal names, which
  are what a waveform shows, are untouched;
- the clocked processes of a module that make only non-blocking assignments (every
  unlabelled ``always @(posedge clk)`` process MyHDL writes) become one ``always
  @(posedge clk)`` process, each former process a ``begin ... end`` of it in the same
  order. The same hardware (non-blocking assignments to distinct registers on the same
  edge), but Icarus wakes one process per clock instead of hundreds: on ``resnet_block``
  (an MVU alone had 308) it ran 3,458 -> 4,796 cycles per CPU second.

A conversion warning (an undriven or unread signal) is an error: the generator built
something it did not intend.

``generate_cached(block, root)`` generates once per configuration and generator source
(``Block.fingerprint``, which covers every file of the ``rtl_gen`` package:
``source_digest``).
"""

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import myhdl
from myhdl import ResetSignal, Signal, ToVerilogWarning, intbv
from myhdl import _block as myhdl_block

from rtl_gen.hdl.stream import Stream

PACKAGE_ROOT = Path(__file__).resolve().parents[1]   # the rtl_gen package

_LABEL = re.compile(r"^(\s*(?:always\b.*|initial)\s+begin): \w+\s*$")
_LOCAL = re.compile(r"^\s*(reg|integer|real|time)\b")


@dataclass(frozen=True)
class GeneratedRTL:
    """Files of one generated module: ``verilog`` first, then data files (``.mem``)."""

    top: str
    verilog: Path
    data_files: tuple = ()

    @property
    def files(self):
        return (self.verilog,) + tuple(self.data_files)


def source_digest(root=PACKAGE_ROOT):
    """SHA-256 over every ``.py`` file below ``root`` (relative path and contents): what
    generated Verilog can depend on (generators, plumbing, and the model that builds ROM
    contents)."""
    root = Path(root)
    h = hashlib.sha256()
    for src in sorted(root.rglob("*.py")):
        if "__pycache__" in src.parts:
            continue
        h.update(src.relative_to(root).as_posix().encode() + b"\0")
        h.update(src.read_bytes() + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def package_digest():
    """``source_digest`` of the installed ``rtl_gen`` package, computed once."""
    return source_digest(PACKAGE_ROOT)


def drop_unused_labels(text):
    """Remove the label of every process whose block declares nothing local."""
    lines = text.splitlines(keepends=True)
    out = []
    for i, line in enumerate(lines):
        m = _LABEL.match(line)
        if m:
            nxt = next((ln for ln in lines[i + 1:] if ln.strip()), "")
            if not _LOCAL.match(nxt):
                line = m.group(1) + "\n"
        out.append(line)
    return "".join(out)


_CLOCKED = "always @(posedge clk) begin\n"
_BLOCKING = re.compile(r"(?<![<>=!])=(?!=)")   # '=' that is not part of <=, ==, !=, >=


def _process_end(lines, i):
    """Index of the ``end`` closing the top-level process that starts at ``lines[i]``."""
    j = i + 1
    while lines[j] != "end\n":
        j += 1
    return j


def merge_clocked_processes(text):
    """One ``always @(posedge clk)`` per module for its processes of non-blocking
    assignments only (see the module docstring); anything else is left as it is."""
    modules = text.split("endmodule")
    for k, mod in enumerate(modules):
        lines = mod.splitlines(keepends=True)
        out, bodies, first, i = [], [], None, 0
        while i < len(lines):
            if lines[i] == _CLOCKED:
                j = _process_end(lines, i)
                body = lines[i + 1:j]
                if not any(_BLOCKING.search(ln) for ln in body):
                    if first is None:
                        first = len(out)
                        out.append("")
                    bodies.append(body)
                    i = j + 1
                    while i < len(lines) and not lines[i].strip():
                        i += 1    # the blank lines MyHDL puts after each process
                    continue
            out.append(lines[i])
            i += 1
        if len(bodies) > 1:
            out[first] = (_CLOCKED + "".join("    begin\n" + "".join("    " + ln if ln.strip()
                                                                     else ln for ln in b)
                                             + "    end\n" for b in bodies) + "end\n\n\n")
            modules[k] = "".join(out)
    return "endmodule".join(modules)


def _stabilise(path, blk):
    """Replace MyHDL's header by a stable one and drop the unneeded process labels."""
    lines = path.read_text().splitlines(keepends=True)
    body = [ln for ln in lines if not (ln.startswith("// File:") or ln.startswith("// Date:")
                                       or ln.startswith("// Generated by MyHDL"))]
    while body and not body[0].strip():
        body.pop(0)
    head = (f"// {blk.name}: StreamQNN {blk.kind} block, generated with MyHDL; do not edit.\n"
            f"// Configuration: {json.dumps(blk.params(), sort_keys=True, default=str)[:400]}\n\n")
    path.write_text(head + merge_clocked_processes(drop_unused_labels("".join(body))))


def _fresh_myhdl_names():
    """Forget the instance names MyHDL has handed out in this process, so that a block's
    Verilog depends on its configuration only, not on what was generated before it
    (MyHDL keeps global name sets and appends ``_0``, ``_1`` to names already used)."""
    myhdl_block._name_set.clear()
    myhdl_block._inst_name_set.clear()
    for b in myhdl._simulator._blocks:
        b.calls = 0


def emit(blk, folder):
    """Write ``<name>.v``, its data files and ``<name>.json`` into ``folder``."""
    _fresh_myhdl_names()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".gen-") as tmp:
        clk = Signal(bool(0))
        rst = ResetSignal(0, active=1, isasync=False)
        streams = {p.name: Stream(p.width) for p in blk.ports()}
        # Ports that are not streams (Block.extra_ports): one plain signal each.
        plain = {p.name: Signal(bool(0)) if p.width == 1 else Signal(intbv(0)[p.width:])
                 for p in blk.extra_ports()}
        with warnings.catch_warnings():
            warnings.simplefilter("error", ToVerilogWarning)
            inst = blk.hdl(clk, rst, **streams, **plain)
            inst.convert(hdl="Verilog", path=tmp, name=blk.name, testbench=False)
        _stabilise(Path(tmp) / f"{blk.name}.v", blk)
        data = [Path(p) for p in blk.write_data_files(Path(tmp))]
        finals = []
        for src in [Path(tmp) / f"{blk.name}.v"] + data:
            dst = folder / src.name
            os.replace(src, dst)
            finals.append(dst)
        (folder / f"{blk.name}.json").write_text(
            json.dumps(blk.describe(), indent=1, sort_keys=True, default=str))
    return GeneratedRTL(blk.name, finals[0], tuple(finals[1:]))


@contextlib.contextmanager
def file_lock(path):
    """Exclusive lock on ``path`` (parallel test workers share generated files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def generate_cached(block, cache_root, check=None):
    """``block.generate`` once per configuration under ``cache_root/<name>-<fingerprint>``;
    ``check(rtl)`` (e.g. lint) runs once, after a fresh generation."""
    folder = Path(cache_root) / f"{block.name}-{block.fingerprint()}"
    stamp = folder / ".done"
    with file_lock(folder.with_suffix(".lock")):
        if stamp.exists():
            files = [Path(f) for f in json.loads(stamp.read_text())]
            if all(f.exists() for f in files):
                return GeneratedRTL(block.name, files[0], tuple(files[1:]))
        rtl = block.generate(folder)
        if check is not None:
            check(rtl)
        stamp.write_text(json.dumps([str(f) for f in rtl.files]))
        return rtl


def copy_rtl(rtl, folder):
    """Copy a generated module's files into ``folder`` (a handoff or build folder)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = [Path(shutil.copy2(f, folder / f.name)) for f in rtl.files]
    return GeneratedRTL(rtl.top, out[0], tuple(out[1:]))
