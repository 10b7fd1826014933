"""Base class of every block generator: validated configuration -> one Verilog module.

A ``Block`` is one configured block instance. Subclasses validate their parameters in
``__init__`` (raising :class:`~rtl_gen.errors.QNNError` before any MyHDL runs), list
their stream ports, and build their MyHDL logic in ``hdl()``. ``generate()`` converts it
to ``<name>.v`` (plus any ``.mem`` files), one module per instance.
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

import numpy as np
from myhdl import ResetSignal, Signal

from rtl_gen.errors import QNNError, require
from rtl_gen.myhdl_speedup import install as _speed_up_myhdl
from rtl_gen.stream import Stream
from rtl_gen.timing import streamed

_speed_up_myhdl()

# Verilog-2001/SystemVerilog keywords that cannot name a module or a generator label.
VERILOG_KEYWORDS = frozenset("""
always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config
deassign default defparam design disable edge else end endcase endconfig endfunction
endgenerate endmodule endprimitive endspecify endtable endtask event for force forever
fork function generate genvar highz0 highz1 if ifnone incdir include initial inout input
instance integer join large liblist library localparam macromodule medium module nand
negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos posedge
primitive pull0 pull1 pulldown pullup pulsestyle_onevent pulsestyle_ondetect rcmos real
realtime reg release repeat rnmos rpmos rtran rtranif0 rtranif1 scalared showcancelled
signed small specify specparam strong0 strong1 supply0 supply1 table task time tran
tranif0 tranif1 tri tri0 tri1 triand trior trireg unsigned use uwire vectored wait wand
weak0 weak1 while wire wor xnor xor logic bit byte int shortint longint struct union
enum typedef class interface package program property sequence
""".split())

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_module_name(name):
    """A block instance name must be a plain Verilog identifier and not a keyword."""
    require(isinstance(name, str) and bool(_IDENT.match(name)) and len(name) <= 120, name,
            "is not a usable Verilog module name",
            "letters, digits and '_', starting with a letter or '_', at most 120 characters")
    require(name.lower() not in VERILOG_KEYWORDS, name,
            "is a Verilog keyword and cannot name a module", "any non-keyword identifier")


def check_int(value, layer, what, lo, hi=None):
    """``value`` must be an int in [lo, hi] (hi None: no upper bound)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= lo
    ok = ok and (hi is None or value <= hi)
    valid = f"an integer from {lo} to {hi}" if hi is not None else f"an integer >= {lo}"
    require(ok, layer, f"{what} = {value!r} is out of range", valid)
    return value


@functools.lru_cache(maxsize=1)
def _generator_digest():
    """Digest of every generator module's source (rtl_gen/*.py)."""
    h = hashlib.sha256()
    for src in sorted(Path(__file__).parent.glob("*.py")):
        h.update(src.name.encode())
        h.update(src.read_bytes())
    return h.hexdigest()


@dataclass(frozen=True)
class StreamPort:
    """One AXI4-Stream port of a block: ``lanes`` elements of ``bits`` bits per beat."""

    name: str  # prefix, e.g. "s_axis" or "m_axis"
    direction: str  # "in" or "out"
    lanes: int
    bits: int
    signed: bool = False

    @property
    def width(self):
        return self.lanes * self.bits

    def as_dict(self):
        return {"name": self.name, "direction": self.direction, "lanes": self.lanes,
                "bits": self.bits, "signed": self.signed, "width": self.width}


@dataclass(frozen=True)
class GeneratedRTL:
    """Files of one generated module: ``verilog`` first, then data files (``.mem``)."""

    top: str
    verilog: Path
    data_files: tuple = ()

    @property
    def files(self):
        return (self.verilog,) + tuple(self.data_files)


class Block:
    """A configured block instance; subclasses define ``kind``, ``ports`` and ``hdl``."""

    kind = "block"

    def __init__(self, name):
        check_module_name(name)
        self.name = name

    # --- to be provided by subclasses -------------------------------------------------
    def ports(self):
        """List of :class:`StreamPort` (inputs named ``s_axis*``, outputs ``m_axis*``)."""
        raise NotImplementedError

    def hdl(self, clk, rst, **streams):
        """The MyHDL block instance; ``streams`` maps port names to :class:`Stream`."""
        raise NotImplementedError

    def params(self):
        """JSON-able configuration (what makes two instances generate different RTL)."""
        raise NotImplementedError

    def reference(self, inputs):
        """Expected output frames {port: [frames]} for input frames {port: [frames]},
        computed with the numpy reference model."""
        raise NotImplementedError

    def random_inputs(self, rng, frames):
        """Random input frames {port: [frames]} for a demonstration run."""
        raise NotImplementedError

    def cycles_per_frame(self):
        """Cycle model: cycles between frame ends when no side stalls."""
        raise NotImplementedError

    def model_frame_cycles(self, inputs):
        """Cycle model for each frame of ``inputs`` after the first (blocks whose frame
        length depends on the data, like the FIFO, override this)."""
        frames = len(next(iter(inputs.values())))
        return [self.cycles_per_frame()] * (frames - 1)

    def beat_times(self, arrivals):
        """Cycle of every beat on every port (``rtl_gen.timing``) when input beats are
        offered at ``arrivals`` ({input port: cycles}) and no output stalls. The default
        is a block that passes each input beat to each output (one beat per clock, taken as
        soon as offered) ``latency_cycles()`` later; blocks with another schedule override
        it."""
        (port,) = [p.name for p in self.ports() if p.direction == "in"]
        taken = np.asarray(arrivals[port], dtype=np.int64)
        sent = streamed(taken, self.latency_cycles())
        return {port: taken, **{p.name: sent for p in self.ports() if p.direction == "out"}}

    def write_data_files(self, folder):
        """Write ``.mem`` files this module reads with ``$readmemh``; return their paths."""
        return ()

    # --- common -----------------------------------------------------------------------
    def port(self, name):
        for p in self.ports():
            if p.name == name:
                return p
        raise KeyError(name)

    def describe(self):
        return {"kind": self.kind, "name": self.name, "params": self.params(),
                "ports": [p.as_dict() for p in self.ports()]}

    def fingerprint(self):
        """Hash of the configuration and of the generator sources (so that a cached
        module is never reused after a generator changed)."""
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256((text + _generator_digest()).encode()).hexdigest()[:16]

    def generate(self, folder):
        """Write ``<name>.v`` (and data files) into ``folder``; return :class:`GeneratedRTL`.

        Conversion runs in a private temporary folder and the results are moved in, so
        that parallel test workers never see a half-written file.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        from myhdl import ToVerilogWarning

        with tempfile.TemporaryDirectory(dir=folder, prefix=".gen-") as tmp:
            clk = Signal(bool(0))
            rst = ResetSignal(0, active=1, isasync=False)
            streams = {p.name: Stream(p.width) for p in self.ports()}
            with warnings.catch_warnings():
                # A conversion warning means the generator built something it did not
                # intend (an undriven or unread signal): refuse it.
                warnings.simplefilter("error", ToVerilogWarning)
                inst = self.hdl(clk, rst, **streams)
                inst.convert(hdl="Verilog", path=tmp, name=self.name, testbench=False)
            _stabilise_header(Path(tmp) / f"{self.name}.v", self)
            data = [Path(p) for p in self.write_data_files(Path(tmp))]
            produced = [Path(tmp) / f"{self.name}.v"] + data
            finals = []
            for src in produced:
                dst = folder / src.name
                os.replace(src, dst)
                finals.append(dst)
            (folder / f"{self.name}.json").write_text(
                json.dumps(self.describe(), indent=1, sort_keys=True, default=str))
        return GeneratedRTL(self.name, finals[0], tuple(finals[1:]))


def _stabilise_header(path, blk):
    """Replace MyHDL's header (temporary path, date) by a stable one, so that the same
    configuration always gives byte-identical Verilog (simulator builds are cached on it)."""
    lines = path.read_text().splitlines(keepends=True)
    body = [ln for ln in lines if not (ln.startswith("// File:") or ln.startswith("// Date:")
                                       or ln.startswith("// Generated by MyHDL"))]
    while body and not body[0].strip():
        body.pop(0)
    head = (f"// {blk.name}: StreamQNN {blk.kind} block, generated with MyHDL; do not edit.\n"
            f"// Configuration: {json.dumps(blk.params(), sort_keys=True, default=str)[:400]}\n\n")
    path.write_text(head + "".join(body))


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


__all__ = ["Block", "StreamPort", "GeneratedRTL", "QNNError", "check_module_name",
           "check_int", "copy_rtl"]
