"""Base class of every block generator: validated configuration -> one Verilog module.

A ``Block`` is one configured block instance. Subclasses validate their parameters in
``__init__`` (raising :class:`~rtl_gen.errors.QNNError` before any MyHDL runs), list
their stream ports, and build their MyHDL logic in ``hdl()``. ``generate()`` converts it
to ``<name>.v`` (plus any ``.mem`` files), one module per instance.
"""

import hashlib
import json
import re
from dataclasses import dataclass

import numpy as np

from rtl_gen.errors import QNNError, require
from rtl_gen.hdl.emit import GeneratedRTL, copy_rtl, emit, generate_cached, package_digest
from rtl_gen.hdl.myhdl_patch import install as _speed_up_myhdl
from rtl_gen.hdl.timing import frozen_times, streamed

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
class SignalPort:
    """A plain port that is not an AXI4-Stream (a lane, a status counter): ``width`` bits
    (1: a single wire), ``direction`` "in" or "out"."""

    name: str
    direction: str
    width: int = 1

    def as_dict(self):
        return {"name": self.name, "direction": self.direction, "width": self.width}


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

    def extra_ports(self):
        """List of :class:`SignalPort`: the block's ports besides its streams (none for a
        stream block). ``hdl`` receives each as a keyword argument, a MyHDL ``Signal``."""
        return []

    def hdl(self, clk, rst, **streams):
        """The MyHDL block instance; ``streams`` maps port names to :class:`Stream` (and
        the names of ``extra_ports`` to their signals)."""
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
        """Cycle of every beat on every port (``rtl_gen.hdl.timing``) when input beats are
        offered at ``arrivals`` ({input port: cycles}) and no output stalls. The default
        is a block that passes each input beat to each output (one beat per clock, taken as
        soon as offered) ``latency_cycles()`` later; blocks with another schedule override
        it."""
        (port,) = [p.name for p in self.ports() if p.direction == "in"]
        taken = np.asarray(arrivals[port], dtype=np.int64)
        sent = streamed(taken, self.latency_cycles())
        return {port: taken, **{p.name: sent for p in self.ports() if p.direction == "out"}}

    #: True for a block whose every register advances on its output skid buffers'
    #: registered ready and which takes input only then: a slow consumer freezes it,
    #: bubbles and all (``rtl_gen.hdl.timing.frozen_times``). False for a block with
    #: storage that keeps taking input while its output waits (FIFO, window units, width
    #: converters): its output beats are taken when the consumer can.
    stalls_whole = False

    def stalled_beat_times(self, arrivals, accepted, state=None):
        """``beat_times`` when the consumers took the output beats at ``accepted``
        ({output port: cycles}, from the model's previous round): a block that
        ``stalls_whole`` loses the cycles it spent frozen. ``state``: a dict the caller
        keeps for this block between calls (``frozen_times``)."""
        if not self.stalls_whole or not accepted:
            return self.beat_times(arrivals)
        outs = [p.name for p in self.ports() if p.direction == "out"]
        return frozen_times(self.beat_times, arrivals, accepted, outs, state)

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
        out = {"kind": self.kind, "name": self.name, "params": self.params(),
               "ports": [p.as_dict() for p in self.ports()]}
        extra = self.extra_ports()
        if extra:
            out["extra_ports"] = [p.as_dict() for p in extra]
        return out

    def fingerprint(self):
        """Hash of the configuration and of the generator sources (so that a cached
        module is never reused after a generator changed)."""
        text = json.dumps(self.describe(), sort_keys=True, default=str)
        return hashlib.sha256((text + package_digest()).encode()).hexdigest()[:16]

    def generate(self, folder):
        """Write ``<name>.v`` (and data files) into ``folder``; return :class:`GeneratedRTL`
        (``rtl_gen.hdl.emit``)."""
        return emit(self, folder)


__all__ = ["Block", "StreamPort", "SignalPort", "GeneratedRTL", "QNNError", "check_module_name",
           "check_int", "copy_rtl", "generate_cached"]
