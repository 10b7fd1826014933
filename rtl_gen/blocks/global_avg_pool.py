"""Global average pool as an integer sum: the per-channel sum over all pixels of a frame.

Computes: ``rtl_gen.model.layers.global_avg_pool_sum`` (docs/design.md section 2; the division
by H*W is folded into the next threshold or dense layer): for an H x W x C frame, the C
sums over the H*W pixels.
Streams: ``s_axis`` ``lanes`` x ``bits`` (the H x W x C tensor, channels innermost, C/lanes
beats per pixel); ``m_axis`` ``lanes`` x ``sum_bits``, one frame of C/lanes beats per input
frame, where the sum range is H*W times the input range (``rtl_gen.model.infer``):
unsigned when the input is, two's complement otherwise, exactly as wide as needed.
``m_axis_tlast`` is the ``tlast`` of the input beat that completes the last channel group.
Structure: a partial-sum store of C/lanes words (one per channel group, ``lanes`` sums
each), a delay line that moves one word per input beat with no reset, so that the word
of channel group f comes out exactly when group f comes in again (Vivado maps it to
SRLs). Each beat adds its lanes to the word of its group (the first pixel starts from
0); the newest word is the pipeline register, and during the last pixel it is also the
output beat. The sums of a frame therefore leave while its last pixel streams in, and the
next frame follows with no bubble.
Latency: (H*W - 1) * C/lanes + 2 cycles (first input beat to first sum beat).
Cycle model: H*W*C/lanes cycles per frame (one input beat per clock).
"""

import numpy as np
from myhdl import Signal, always_comb, always_seq, block, intbv

from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.hdl.lanes import join_lanes, lane_signals, split_lanes
from rtl_gen.model.formats import range_bits
from rtl_gen.model.layers import global_avg_pool_sum
from rtl_gen.model.limits import MAX_BEAT_BITS, MAX_ELEMENT_BITS
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.hdl.registers import enabled_reg, nested_counter
from rtl_gen.hdl.stream import Stream, skid_buffer
from rtl_gen.hdl.timing import frames_of, streamed

MAX_SUM_BITS = 63    # the model's packing limit per element


class GlobalAvgPoolUnit(Block):
    """``GlobalAvgPoolUnit("l20_gap", in_shape=(7, 7, 64), bits=2, lanes=4)``."""

    kind = "global_avg_pool"
    stalls_whole = True   # every stage advances on the output skid buffer's ready

    def __init__(self, name, in_shape, bits, lanes, signed=False):
        super().__init__(name)
        ok = isinstance(in_shape, (list, tuple)) and len(in_shape) == 3
        require(ok, name, f"in_shape {in_shape!r} is not an (H, W, C) triple",
                "(H, W, C), three positive integers")
        h, w, c = in_shape
        self.height = check_int(h, name, "input height H", 1)
        self.width = check_int(w, name, "input width W", 1)
        self.channels = check_int(c, name, "channels C", 1)
        self.lanes = check_int(lanes, name, "lanes per beat", 1, self.channels)
        require(self.channels % self.lanes == 0, name,
                f"lanes = {lanes} does not divide channels = {c}", f"a divisor of {c}")
        self.bits = check_int(bits, name, "input element bits", 1, MAX_ELEMENT_BITS)
        self.signed = bool(signed)
        lo, hi = value_range(self.bits, self.signed)
        n = self.pixels
        self.sum_lo, self.sum_hi = n * lo, n * hi
        self.sum_signed, self.sum_bits = range_bits(self.sum_lo, self.sum_hi)
        require(self.sum_bits <= MAX_SUM_BITS, name,
                f"sums over {n} pixels need {self.sum_bits} bits",
                f"fewer pixels or narrower inputs (sums of at most {MAX_SUM_BITS} bits)")
        check_int(self.lanes * self.sum_bits, name, "output beat width (lanes * sum bits)",
                  1, MAX_BEAT_BITS)

    @property
    def in_shape(self):
        return (self.height, self.width, self.channels)

    @property
    def pixels(self):
        return self.height * self.width

    @property
    def folds(self):
        return self.channels // self.lanes

    def ports(self):
        return [StreamPort("s_axis", "in", self.lanes, self.bits, self.signed),
                StreamPort("m_axis", "out", self.lanes, self.sum_bits, self.sum_signed)]

    def params(self):
        return {"in_shape": list(self.in_shape), "bits": self.bits, "lanes": self.lanes,
                "signed": self.signed}

    def cycles_per_frame(self):
        return self.pixels * self.folds

    def latency_cycles(self):
        """All pixels but the last, then the store register and the skid buffer."""
        return (self.pixels - 1) * self.folds + 2

    def beat_times(self, arrivals):
        """Sum beat g of a frame leaves 2 cycles after the last pixel's group g came in."""
        taken = np.asarray(arrivals["s_axis"], dtype=np.int64)
        beats = self.pixels * self.folds
        frames = frames_of(taken, beats, self.name)
        need = np.arange(frames)[:, None] * beats + (self.pixels - 1) * self.folds \
            + np.arange(self.folds)
        return {"s_axis": taken, "m_axis": streamed(taken, 2, need.ravel())}

    def reference(self, inputs):
        out = []
        for frame in inputs["s_axis"]:
            x = unpack(frame, self.in_shape, self.lanes, self.bits, self.signed, self.name)
            out.append(pack(global_avg_pool_sum(x, self.name), self.lanes, self.sum_bits,
                            self.sum_signed, self.name))
        return {"m_axis": out}

    def random_inputs(self, rng, frames):
        lo, hi = value_range(self.bits, self.signed)
        return {"s_axis": [pack(rng.integers(lo, hi, self.in_shape, endpoint=True,
                                             dtype=np.int64),
                                self.lanes, self.bits, self.signed, self.name)
                           for _ in range(frames)]}

    def hdl(self, clk, rst, s_axis, m_axis):
        return axis_channel_sum(clk, rst, s_axis, m_axis, self.lanes, self.bits, self.signed,
                                self.sum_bits, self.sum_signed, self.folds, self.pixels)


@block
def axis_channel_sum(clk, rst, s_axis, m_axis, lanes, bits, signed, sum_bits, sum_signed,
                     folds, pixels):
    """Per-channel sums over ``pixels`` pixels of ``folds`` beats (see module docstring)."""
    word = lanes * sum_bits
    to_out = Stream(word)
    advance = to_out.tready
    take = Signal(bool(0))
    fold = Signal(intbv(0, min=0, max=max(2, folds)))
    pixel = Signal(intbv(0, min=0, max=max(2, pixels)))
    first = Signal(bool(0))
    last_pixel = Signal(bool(0))
    out_valid = Signal(bool(0))
    out_last = Signal(bool(0))

    x = lane_signals(lanes, bits, signed)
    old = lane_signals(lanes, sum_bits, sum_signed)     # the group's partial sums
    new = lane_signals(lanes, sum_bits, sum_signed)
    new_word = Signal(intbv(0)[word:])
    store = [Signal(intbv(0)[word:]) for _ in range(folds)]   # store[0]: newest word
    insts = [split_lanes(s_axis.tdata, x), split_lanes(store[-1], old),
             join_lanes(new, new_word), skid_buffer(clk, rst, to_out, m_axis)]
    for lane in range(lanes):
        insts.append(_accumulate(first, x[lane], old[lane], new[lane]))
    insts.append(enabled_reg(clk, take, new_word, store[0]))
    for i in range(1, folds):
        insts.append(enabled_reg(clk, take, store[i - 1], store[i]))
    out_word = store[0]

    @always_comb
    def handshake():
        take.next = s_axis.tvalid and advance
        s_axis.tready.next = advance
        first.next = pixel == 0
        last_pixel.next = pixel == pixels - 1
        to_out.tdata.next = out_word
        to_out.tvalid.next = out_valid
        to_out.tlast.next = out_last

    @always_seq(clk.posedge, reset=rst)
    def control():
        if advance:
            out_valid.next = take and last_pixel
            out_last.next = s_axis.tlast

    insts += [handshake, control, nested_counter(clk, rst, take, fold, folds, pixel, pixels)]
    return insts


@block
def _accumulate(first, x, old, new):
    """``new`` = ``x`` on a frame's first pixel, else ``old + x``."""
    @always_comb
    def add_lane():
        if first:
            new.next = x
        else:
            new.next = old + x
    return add_lane


def catalog_configs():
    """Global average pool configurations tested on both simulators and linted."""
    return [
        GlobalAvgPoolUnit("global_avg_pool_4x4x8_l2", in_shape=(4, 4, 8), bits=2, lanes=2),
        GlobalAvgPoolUnit("global_avg_pool_7x5x6_l3", in_shape=(7, 5, 6), bits=3, lanes=3,
                      signed=True),
        GlobalAvgPoolUnit("global_avg_pool_3x3x16_l16", in_shape=(3, 3, 16), bits=4, lanes=16),
        GlobalAvgPoolUnit("global_avg_pool_2x3x5_l1", in_shape=(2, 3, 5), bits=1, lanes=1),
        GlobalAvgPoolUnit("global_avg_pool_1x1x4_l2", in_shape=(1, 1, 4), bits=8, lanes=2,
                      signed=True),
    ]
