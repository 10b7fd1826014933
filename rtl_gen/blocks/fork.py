"""Fork: duplicate one stream into two (the branch point of a residual block).

Computes: ``m_axis_a`` and ``m_axis_b`` each carry a copy of every ``s_axis`` beat and
its ``tlast`` (``rtl_gen.model.layers.fork``).
Streams: ``s_axis``, ``m_axis_a`` and ``m_axis_b``, all ``lanes`` x ``bits`` bits (element
i in bits [(i+1)*bits-1 : i*bits]) plus ``tlast``.
Structure: one ``skid_buffer`` per output. An input beat is taken only on a cycle where
both skid buffers can take it (``s_axis_tready`` is the AND of their registered readies),
so each output may stall for any time without losing or duplicating a beat; the other
output keeps running until its own skid buffer is full. No combinational path runs from
either ``m_axis_*_tready`` to ``s_axis_tready``.
Latency: 1 cycle (input transfer to the earliest output transfer on either output).
Cycle model: ``frame_beats`` cycles per frame (one beat per clock when not stalled).
"""

import numpy as np
from myhdl import always_comb, block

from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.model.layers import fork as model_fork
from rtl_gen.model.limits import MAX_BEAT_BITS
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.hdl.stream import Stream, skid_buffer

MAX_BITS = 63        # the model's packing limit per element


class ForkUnit(Block):
    """``ForkUnit("l05_fork", lanes=4, bits=2, frame_beats=64)``: one stream in, two copies out."""

    kind = "fork"
    stalls_whole = True   # every stage advances on the output skid buffer's ready

    def __init__(self, name, lanes, bits, frame_beats, signed=False):
        super().__init__(name)
        self.lanes = check_int(lanes, name, "lanes per beat", 1, MAX_BEAT_BITS)
        self.bits = check_int(bits, name, "element bits", 1, MAX_BITS)
        check_int(lanes * bits, name, "beat width lanes*bits", 1, MAX_BEAT_BITS)
        self.frame_beats = check_int(frame_beats, name, "beats per frame", 1)
        self.signed = bool(signed)

    def ports(self):
        return [StreamPort("s_axis", "in", self.lanes, self.bits, self.signed),
                StreamPort("m_axis_a", "out", self.lanes, self.bits, self.signed),
                StreamPort("m_axis_b", "out", self.lanes, self.bits, self.signed)]

    def params(self):
        return {"lanes": self.lanes, "bits": self.bits, "signed": self.signed,
                "frame_beats": self.frame_beats}

    def cycles_per_frame(self):
        """One beat per clock: a frame takes ``frame_beats`` cycles."""
        return self.frame_beats

    def latency_cycles(self):
        """The skid buffers' one register."""
        return 1

    def _tensor(self, beats):
        return unpack(beats, (len(beats), self.lanes), self.lanes, self.bits, self.signed,
                      self.name)

    def reference(self, inputs):
        outs = {"m_axis_a": [], "m_axis_b": []}
        for frame in inputs["s_axis"]:
            a, b = model_fork(self._tensor(frame))
            outs["m_axis_a"].append(pack(a, self.lanes, self.bits, self.signed, self.name))
            outs["m_axis_b"].append(pack(b, self.lanes, self.bits, self.signed, self.name))
        return outs

    def random_inputs(self, rng, frames):
        lo, hi = value_range(self.bits, self.signed)
        shape = (self.frame_beats, self.lanes)
        return {"s_axis": [pack(rng.integers(lo, hi, shape, endpoint=True, dtype=np.int64),
                                self.lanes, self.bits, self.signed, self.name)
                           for _ in range(frames)]}

    def hdl(self, clk, rst, s_axis, m_axis_a, m_axis_b):
        return axis_fork(clk, rst, s_axis, m_axis_a, m_axis_b)


@block
def axis_fork(clk, rst, s_axis, m_axis_a, m_axis_b):
    """Broadcast ``s_axis`` into two skid buffers; take a beat when both have room."""
    width = len(s_axis.tdata)
    to_a = Stream(width)
    to_b = Stream(width)

    @always_comb
    def broadcast():
        to_a.tdata.next = s_axis.tdata
        to_a.tlast.next = s_axis.tlast
        to_a.tvalid.next = s_axis.tvalid and to_b.tready
        to_b.tdata.next = s_axis.tdata
        to_b.tlast.next = s_axis.tlast
        to_b.tvalid.next = s_axis.tvalid and to_a.tready
        s_axis.tready.next = to_a.tready and to_b.tready

    out_a = skid_buffer(clk, rst, to_a, m_axis_a)
    out_b = skid_buffer(clk, rst, to_b, m_axis_b)
    return broadcast, out_a, out_b


def catalog_configs():
    """Fork configurations tested on both simulators and linted."""
    return [
        ForkUnit("fork_l1_b1", lanes=1, bits=1, frame_beats=7),
        ForkUnit("fork_l4_b2", lanes=4, bits=2, frame_beats=12),
        ForkUnit("fork_l3_b8s", lanes=3, bits=8, frame_beats=30, signed=True),
        ForkUnit("fork_l16_b20s", lanes=16, bits=20, frame_beats=5, signed=True),
    ]
