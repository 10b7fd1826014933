"""AXI4-Stream FIFO: an elastic buffer of ``depth`` RAM words plus one output register.

Computes: nothing; beats (``tdata`` and ``tlast``) leave in the order they came in.
Streams: ``s_axis`` in and ``m_axis`` out, both ``width`` bits plus ``tlast``.
Capacity: ``depth + 1`` beats (the RAM and the registered read port). ``s_axis_tready``
is a flip-flop (high while the RAM has room), ``m_axis`` comes straight from the RAM's
read register, so no combinational path crosses the block.
Throughput: one beat per clock in and out when not stalled (``depth >= 2``).
Latency: 2 cycles from an input transfer to the earliest output transfer.
Storage: ``reg [width:0] mem[0:depth-1]`` written without reset and read through a
register, so Vivado and Yosys infer distributed RAM for shallow FIFOs and block RAM for
deep ones.
"""

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, concat, intbv

from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.hdl.timing import after_taken, chain, offered_after
from rtl_gen.model.limits import MAX_BEAT_BITS

MAX_DEPTH = 1 << 26     # a skip FIFO of a large map at one lane per beat may be deep


class Fifo(Block):
    """A FIFO block instance: ``Fifo("l03_skip_fifo", width=32, depth=512)``."""

    kind = "fifo"
    latency = 2

    def __init__(self, name, width, depth, lanes=1, signed=False):
        super().__init__(name)
        self.width = check_int(width, name, "FIFO width (bits)", 1, MAX_BEAT_BITS)
        self.depth = check_int(depth, name, "FIFO depth (RAM words; 2 or more for one beat "
                               "per clock)", 2, MAX_DEPTH)
        # lanes/signed only describe the elements (for checking and messages)
        self.lanes = check_int(lanes, name, "lanes", 1, self.width)
        require(self.width % self.lanes == 0, name,
                f"{self.lanes} lanes do not divide the {self.width}-bit width",
                "lanes dividing the width")
        self.signed = bool(signed)

    @property
    def capacity(self):
        return self.depth + 1

    def ports(self):
        bits = self.width // self.lanes
        return [StreamPort("s_axis", "in", self.lanes, bits, self.signed),
                StreamPort("m_axis", "out", self.lanes, bits, self.signed)]

    def params(self):
        return {"width": self.width, "depth": self.depth}

    def cycles_per_frame(self, beats):
        """Cycle model: a frame of ``beats`` beats passes in ``beats`` cycles."""
        return beats

    def latency_cycles(self):
        """The RAM write, then its registered read port."""
        return self.latency

    def stalled_beat_times(self, arrivals, accepted, state=None):
        """With the consumer taking beat k at ``accepted[k]``: the output register takes
        beat k from the RAM when beat k-1 leaves, and input beat i is written only once
        the RAM has room (``s_axis_tready`` is a registered ``count < depth``), i.e. once
        beat i-depth-1 has left."""
        acc = (accepted or {}).get("m_axis")
        if acc is None:
            return self.beat_times(arrivals)
        offered = np.asarray(arrivals["s_axis"], dtype=np.int64)
        i = np.arange(len(offered), dtype=np.int64)
        taken = chain(np.maximum(offered, after_taken(acc, i - self.depth - 1)))
        return {"s_axis": taken, "m_axis": offered_after(taken + self.latency, acc)}

    def model_frame_cycles(self, inputs):
        return [self.cycles_per_frame(len(f)) for f in inputs["s_axis"][1:]]

    def reference(self, inputs):
        return {"m_axis": [list(f) for f in inputs["s_axis"]]}

    def random_inputs(self, rng, frames):
        beats = [int(rng.integers(1, 4 * self.depth + 2)) for _ in range(frames)]
        return {"s_axis": [[int(x) for x in rng.integers(0, 1 << min(self.width, 62), n)]
                           for n in beats]}

    def hdl(self, clk, rst, s_axis, m_axis):
        return axis_fifo(clk, rst, s_axis, m_axis, self.depth)


@block
def axis_fifo(clk, rst, s_axis, m_axis, depth):
    width = len(s_axis.tdata)
    mem = [Signal(intbv(0)[width + 1:]) for _ in range(depth)]
    wr_ptr = Signal(intbv(0, min=0, max=depth))
    rd_ptr = Signal(intbv(0, min=0, max=depth))
    count = Signal(intbv(0, min=0, max=depth + 1))
    in_ready = Signal(bool(0))
    out_valid = Signal(bool(0))
    out_word = Signal(intbv(0)[width + 1:])
    wr_en = Signal(bool(0))
    rd_en = Signal(bool(0))

    @always_comb
    def handshake():
        wr_en.next = s_axis.tvalid and in_ready
        rd_en.next = count != 0 and (m_axis.tready or not out_valid)

    @always_comb
    def drive():
        s_axis.tready.next = in_ready
        m_axis.tvalid.next = out_valid
        m_axis.tdata.next = out_word[width:]
        m_axis.tlast.next = out_word[width]

    @always(clk.posedge)
    def ram_write():
        if wr_en:
            mem[wr_ptr].next = concat(s_axis.tlast, s_axis.tdata)

    @always(clk.posedge)
    def ram_read():
        if rd_en:
            out_word.next = mem[rd_ptr]

    @always_seq(clk.posedge, reset=rst)
    def control():
        if wr_en:
            if wr_ptr == depth - 1:
                wr_ptr.next = 0
            else:
                wr_ptr.next = wr_ptr + 1
        if rd_en:
            if rd_ptr == depth - 1:
                rd_ptr.next = 0
            else:
                rd_ptr.next = rd_ptr + 1
            out_valid.next = True
        elif m_axis.tready:
            out_valid.next = False
        if wr_en and not rd_en:
            count.next = count + 1
            in_ready.next = count + 1 < depth
        elif rd_en and not wr_en:
            count.next = count - 1
            in_ready.next = True
        else:
            in_ready.next = count < depth

    return handshake, drive, ram_write, ram_read, control


def catalog_configs():
    """FIFO configurations tested on both simulators and linted."""
    return [
        Fifo("fifo_w8_d2", width=8, depth=2),
        Fifo("fifo_w13_d5", width=13, depth=5),
        Fifo("fifo_w72_d16", width=72, depth=16),
        Fifo("fifo_w32_d1024", width=32, depth=1024),
    ]


def bench_configs():
    """The deep FIFO: shows block RAM inference."""
    return [f for f in catalog_configs() if f.depth >= 1024]
