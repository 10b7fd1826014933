"""Width converter: repack a stream of elements from ``in_lanes`` to ``out_lanes`` per beat.

Computes: nothing; the element sequence is unchanged (element order, values), only the
number of elements per beat changes, in either direction and for any ratio (4 -> 6,
6 -> 4, 3 -> 7 ...). The output beat holding a frame's last element carries ``tlast``;
a frame is ``frame_elems`` elements, a multiple of lcm(in_lanes, out_lanes), so a
frame ends on a whole beat on both sides.
Streams: ``s_axis`` ``in_lanes`` x ``bits``, ``m_axis`` ``out_lanes`` x ``bits`` (element
i of a beat in bits [(i+1)*bits-1 : i*bits]), both with ``tlast``.
Structure: a gearbox register of ``CAP`` element slots, the oldest element in slot 0,
with a count of the elements held. The output beat is slots 0 .. out_lanes-1 (so
``m_axis_tdata``/``tlast`` come straight from flip-flops, ``m_axis_tvalid`` is a
registered ``count >= out_lanes``); a transfer shifts the register down by out_lanes
slots. An input beat is written, through a shifter, at the first free slot (after this
cycle's output shift). ``s_axis_tready`` is a registered ``count <= CAP - in_lanes``, so no
combinational path runs from ``m_axis_tready`` to ``s_axis_tready``; it ignores an output
transfer in the same cycle, and
``CAP = in_lanes + out_lanes + min(in_lanes, out_lanes) - gcd(in_lanes, out_lanes)``
is the smallest capacity with which that costs no throughput (upsizing: the count peaks
at out_lanes - gcd + in_lanes just before an output beat, and must still leave room for
an input beat; downsizing: a refused input beat must leave out_lanes elements after the
next output beat). A ``tlast`` flag travels with each slot.
Latency: ceil(out_lanes / in_lanes) cycles (input beats needed for the first output beat).
Cycle model: ``frame_elems / min(in_lanes, out_lanes)`` cycles per frame, i.e.
max(input beats, output beats): one beat per clock on the busier side.
"""

from math import gcd

import numpy as np
from myhdl import Signal, always_comb, always_seq, block, intbv

from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.hdl.timing import after_taken, chain, frames_of, offered_after, streamed
from rtl_gen.model.limits import MAX_BEAT_BITS

MAX_BITS = 63        # the model's packing limit per element


def lcm(a, b):
    return a * b // gcd(a, b)


def gearbox_capacity(in_lanes, out_lanes):
    """Slots needed for one beat per clock on the busier side with a registered
    ``s_axis_tready`` (see the module docstring)."""
    return in_lanes + out_lanes + min(in_lanes, out_lanes) - gcd(in_lanes, out_lanes)


class WidthConverter(Block):
    """``WidthConverter("l04_wc", in_lanes=4, out_lanes=6, bits=2, frame_elems=72)``."""

    kind = "width_converter"

    def __init__(self, name, in_lanes, out_lanes, bits, frame_elems, signed=False):
        super().__init__(name)
        self.bits = check_int(bits, name, "element bits", 1, MAX_BITS)
        self.in_lanes = check_int(in_lanes, name, "input lanes per beat", 1,
                                  MAX_BEAT_BITS // self.bits)
        self.out_lanes = check_int(out_lanes, name, "output lanes per beat", 1,
                                   MAX_BEAT_BITS // self.bits)
        self.frame_elems = check_int(frame_elems, name, "elements per frame", 1)
        step = lcm(self.in_lanes, self.out_lanes)
        require(self.frame_elems % step == 0, name,
                f"frame_elems = {frame_elems} is not a multiple of lcm(in_lanes={in_lanes}, "
                f"out_lanes={out_lanes}) = {step}, so a frame would end inside a beat",
                f"a positive multiple of {step}")
        self.signed = bool(signed)

    @property
    def capacity(self):
        return gearbox_capacity(self.in_lanes, self.out_lanes)

    def ports(self):
        return [StreamPort("s_axis", "in", self.in_lanes, self.bits, self.signed),
                StreamPort("m_axis", "out", self.out_lanes, self.bits, self.signed)]

    def params(self):
        return {"in_lanes": self.in_lanes, "out_lanes": self.out_lanes, "bits": self.bits,
                "signed": self.signed, "frame_elems": self.frame_elems}

    def cycles_per_frame(self):
        """max(input beats, output beats) per frame."""
        return self.frame_elems // min(self.in_lanes, self.out_lanes)

    def latency_cycles(self):
        """Input beats needed before the first output beat is complete."""
        return -(-self.out_lanes // self.in_lanes)

    def beat_times(self, arrivals):
        """Output beat j leaves one cycle after the input beat holding its last element."""
        taken = np.asarray(arrivals["s_axis"], dtype=np.int64)
        frames = frames_of(taken, self.frame_elems // self.in_lanes, self.name)
        j = np.arange(frames * self.frame_elems // self.out_lanes, dtype=np.int64)
        need = ((j + 1) * self.out_lanes - 1) // self.in_lanes
        return {"s_axis": taken, "m_axis": streamed(taken, 1, need)}

    def stalled_beat_times(self, arrivals, accepted, state=None):
        """With the consumer taking beat j at ``accepted[j]``: beat j is offered once its
        elements are in and beat j-1 has left; input beat i is taken only while the
        count (elements in minus elements out, before this cycle) leaves room for it,
        ``s_axis_tready`` being a registered ``count <= CAP - in_lanes``."""
        acc = (accepted or {}).get("m_axis")
        if acc is None:
            return self.beat_times(arrivals)
        offered = np.asarray(arrivals["s_axis"], dtype=np.int64)
        i = np.arange(len(offered), dtype=np.int64)
        # beats out before the cycle input beat i is taken: ceil(((i+1)*in - CAP) / out)
        out_before = -(-((i + 1) * self.in_lanes - self.capacity) // self.out_lanes)
        taken = chain(np.maximum(offered, after_taken(acc, out_before - 1)))
        sent = self.beat_times({"s_axis": taken})["m_axis"]
        return {"s_axis": taken, "m_axis": offered_after(sent, acc)}

    def reference(self, inputs):
        out = []
        for frame in inputs["s_axis"]:
            elems = unpack(frame, (self.frame_elems // self.in_lanes, self.in_lanes),
                           self.in_lanes, self.bits, self.signed, self.name)
            out.append(pack(elems.reshape(-1, self.out_lanes), self.out_lanes, self.bits,
                            self.signed, self.name))
        return {"m_axis": out}

    def random_inputs(self, rng, frames):
        lo, hi = value_range(self.bits, self.signed)
        shape = (self.frame_elems // self.in_lanes, self.in_lanes)
        return {"s_axis": [pack(rng.integers(lo, hi, shape, endpoint=True, dtype=np.int64),
                                self.in_lanes, self.bits, self.signed, self.name)
                           for _ in range(frames)]}

    def hdl(self, clk, rst, s_axis, m_axis):
        return axis_gearbox(clk, rst, s_axis, m_axis, self.in_lanes, self.out_lanes,
                            self.bits, self.capacity)


@block
def axis_gearbox(clk, rst, s_axis, m_axis, in_lanes, out_lanes, bits, cap):
    """Shift-register gearbox of ``cap`` element slots (see the module docstring)."""
    out_w = out_lanes * bits
    last_lane = in_lanes - 1
    data = Signal(intbv(0)[cap * bits:])         # slot i in bits [(i+1)*bits-1 : i*bits]
    lasts = Signal(intbv(0)[cap:])               # tlast flag of each slot
    count = Signal(intbv(0, min=0, max=cap + 1))
    out_valid = Signal(bool(0))
    in_ready = Signal(bool(0))
    rd = Signal(bool(0))
    wr = Signal(bool(0))
    pos = Signal(intbv(0, min=0, max=cap + 1))   # first free slot after this cycle's read
    kept = Signal(intbv(0)[cap * bits:])         # data after this cycle's read
    kept_lasts = Signal(intbv(0)[cap:])
    shamt = Signal(intbv(0, min=0, max=cap * bits + 1))
    last_shamt = Signal(intbv(0, min=0, max=cap + in_lanes))
    wide_in = Signal(intbv(0)[cap * bits:])      # the input beat, zero-extended
    placed = Signal(intbv(0)[cap * bits:])       # the input beat moved to slot ``pos``
    placed_last = Signal(intbv(0)[cap:])
    count_next = Signal(intbv(0, min=0, max=cap + 1))

    @always_comb
    def drive():
        m_axis.tdata.next = data[out_w:]
        m_axis.tlast.next = lasts[out_lanes - 1]
        m_axis.tvalid.next = out_valid
        s_axis.tready.next = in_ready

    @always_comb
    def handshake():
        rd.next = out_valid and m_axis.tready
        wr.next = s_axis.tvalid and in_ready

    @always_comb
    def read_side():
        if rd:
            kept.next = data >> out_w
            kept_lasts.next = lasts >> out_lanes
            pos.next = count - out_lanes
        else:
            kept.next = data
            kept_lasts.next = lasts
            pos.next = count

    @always_comb
    def write_side():
        wide_in.next = s_axis.tdata
        shamt.next = pos * bits
        last_shamt.next = pos + last_lane

    @always_comb
    def place():
        placed.next = wide_in << shamt
        if s_axis.tlast:
            placed_last.next = 1 << last_shamt
        else:
            placed_last.next = 0
        if wr:
            count_next.next = pos + in_lanes
        else:
            count_next.next = pos

    @always_seq(clk.posedge, reset=rst)
    def regs():
        if wr:
            data.next = kept | placed
            lasts.next = kept_lasts | placed_last
        else:
            data.next = kept
            lasts.next = kept_lasts
        count.next = count_next
        out_valid.next = count_next >= out_lanes
        in_ready.next = count_next <= cap - in_lanes

    return drive, handshake, read_side, write_side, place, regs


def catalog_configs():
    """Width converter configurations tested on both simulators and linted."""
    return [
        WidthConverter("width_converter_4to6", in_lanes=4, out_lanes=6, bits=2,
                       frame_elems=36),
        WidthConverter("width_converter_6to4", in_lanes=6, out_lanes=4, bits=3,
                       frame_elems=24, signed=True),
        WidthConverter("width_converter_1to8", in_lanes=1, out_lanes=8, bits=4,
                       frame_elems=16),
        WidthConverter("width_converter_9to1", in_lanes=9, out_lanes=1, bits=8,
                       frame_elems=27),
        WidthConverter("width_converter_3to7", in_lanes=3, out_lanes=7, bits=5,
                       frame_elems=42, signed=True),
        WidthConverter("width_converter_5to5", in_lanes=5, out_lanes=5, bits=1,
                       frame_elems=10),
    ]
