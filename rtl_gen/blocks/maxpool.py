"""Max pool: the per-channel maximum over each K x K window of codes or accumulators.

Computes: ``rtl_gen.model.layers.maxpool(x, K, stride, pad)`` on an H x W x C tensor of
unsigned ``bits``-bit codes, or (``signed``) of two's complement accumulators, as in a
convolution -> max pool -> threshold order; padding inserts the smallest value (code 0,
or -2^(bits-1)), so it never wins over a real element (every window holds one).
K 1..11, stride 1..4, pad 0..K//2, non-square images.

Signed values are pooled in offset binary: the sign bit of every lane is inverted on the
way in and back on the way out (combinational, no latency). That maps two's complement
order onto unsigned order and -2^(bits-1) onto 0, so the window core's zero padding is
the minimum and the reducer's unsigned comparison is the signed one.

Streams: ``s_axis`` in, ``m_axis`` out, both ``lanes`` elements of ``bits`` bits per beat
(channels innermost, in groups of ``lanes``). Output: one beat per (output pixel, channel
group), Ho*Wo*C/lanes beats per frame, ``m_axis_tlast`` on the last.

Structure: the sliding-window core (``rtl_gen.blocks.window.line_buffer.window_core``) emits each
window as K*K*C/lanes beats (kernel row, kernel column, channel group); a reducer keeps a
partial maximum per channel group (C/lanes words of distributed RAM with an asynchronous
read) and, on the window's last tap, passes the maximum to an output skid buffer.

Cycle model (no stalls): the window core's rate, ``max(H*W*C/lanes, Ho*Wo*K*K*C/lanes)``
cycles per frame. Latency: the core's ``min(H, K - pad) * W*C/lanes + 3`` cycles plus
``(K*K - 1) * C/lanes + 1`` (the first channel group's last tap, then the output register).
"""

import numpy as np
from myhdl import Signal, always, always_comb, block, concat, intbv

from rtl_gen.hdl.lanes import join_lanes, lane_signals, split_lanes
from rtl_gen.blocks.window.line_buffer import window_core
from rtl_gen.model.layers import maxpool
from rtl_gen.hdl.registers import nested_counter
from rtl_gen.hdl.stream import Stream, skid_buffer
from rtl_gen.hdl.timing import streamed
from rtl_gen.blocks.window.window_block import WindowBlock


class MaxPoolUnit(WindowBlock):
    """``MaxPoolUnit("l04_pool", in_shape=(H, W, C), kernel=3, stride=2, pad=1, bits=2,
    lanes=C)``."""

    kind = "maxpool"

    def __init__(self, name, in_shape, kernel, stride, pad=0, bits=8, lanes=1, signed=False):
        super().__init__(name, in_shape, kernel, stride, pad, bits, lanes)
        self.signed = bool(signed)

    @property
    def out_shape(self):
        g = self.geo
        return (g.out_height, g.out_width, g.channels)

    def model(self, x):
        """The reference output tensor (Ho, Wo, C) of one input tensor (H, W, C)."""
        g = self.geo
        low = -(1 << (g.bits - 1)) if self.signed else 0   # never above a real element
        return maxpool(x, g.kernel, g.stride, g.pad, name=self.name, pad_value=low)

    def latency_cycles(self):
        g = self.geo
        return super().latency_cycles() + (g.kernel * g.kernel - 1) * g.groups + 1

    def beat_times(self, arrivals):
        """Window beats from the core; the maximum of (pixel, group g) leaves one cycle
        after the window's last tap of group g."""
        g = self.geo
        taken, windows = g.window_times(arrivals["s_axis"])
        last_taps = np.arange(len(windows) // g.window_beats)[:, None] * g.window_beats \
            + (g.kernel * g.kernel - 1) * g.groups + np.arange(g.groups)
        return {"s_axis": taken, "m_axis": streamed(windows, 1, last_taps.ravel())}

    def hdl(self, clk, rst, s_axis, m_axis):
        return maxpool_unit(clk, rst, s_axis, m_axis, self.geo, self.signed)


@block
def maxpool_unit(clk, rst, s_axis, m_axis, geo, signed):
    """Window core, then the reducer: one module with both inside (signed: between
    offset-binary conversions)."""
    width = geo.lanes * geo.bits
    if not signed:
        windows = Stream(width)
        core = window_core(clk, rst, s_axis, windows, geo)
        reduce = max_reducer(clk, rst, windows, m_axis, geo.lanes, geo.bits, geo.groups,
                             geo.kernel * geo.kernel)
        return core, reduce
    offset_in, windows, offset_out = Stream(width), Stream(width), Stream(width)
    to_offset = flip_sign_bits(s_axis, offset_in, geo.lanes, geo.bits)
    core = window_core(clk, rst, offset_in, windows, geo)
    reduce = max_reducer(clk, rst, windows, offset_out, geo.lanes, geo.bits, geo.groups,
                         geo.kernel * geo.kernel)
    from_offset = flip_sign_bits(offset_out, m_axis, geo.lanes, geo.bits)
    return to_offset, core, reduce, from_offset


@block
def flip_sign_bits(s, m, lanes, bits):
    """``m`` is ``s`` with the top bit of every lane inverted in ``tdata`` (a wire stage).
    Lane by lane, with no mask constant: MyHDL writes an int >= 2**30 one bit wider than
    it is, so ``tdata ^ mask`` on a beat of 31 bits or more was a WIDTHTRUNC lint warning
    (docs/tool-notes.md)."""
    ins, outs = lane_signals(lanes, bits), lane_signals(lanes, bits)
    hw = [split_lanes(s.tdata, ins), join_lanes(outs, m.tdata)]
    hw += [flip_top_bit(a, o) for a, o in zip(ins, outs)]

    @always_comb
    def pass_control():
        m.tvalid.next = s.tvalid
        m.tlast.next = s.tlast
        s.tready.next = m.tready
    return hw, pass_control


@block
def flip_top_bit(a, out):
    """``out`` is ``a`` with its top bit inverted (one unsigned lane)."""
    top = len(a) - 1
    if top == 0:
        @always_comb
        def flip_only():
            out.next = not a
        return flip_only

    @always_comb
    def flip_top():
        out.next = concat(not a[top], a[top:])
    return flip_top


@block
def lane_max(a, b, out):
    """``out = max(a, b)`` for one unsigned lane."""
    @always_comb
    def pick():
        if a > b:
            out.next = a
        else:
            out.next = b
    return pick


@block
def max_reducer(clk, rst, s, m, lanes, bits, groups, taps):
    """Beats ``tap 0 group 0 .. group G-1, tap 1 ...`` of each window on ``s`` to one beat
    per group on ``m``: the lane-wise maximum over the ``taps`` beats of that group.
    One input beat per clock; the output goes through a skid buffer (latency 1)."""
    width = lanes * bits
    # Partial maxima, one word per channel group (at least two words, so that the group
    # counter is never a zero-width index).
    store = [Signal(intbv(0)[width:]) for _ in range(max(2, groups))]
    partial = Signal(intbv(0)[width:])
    best = Signal(intbv(0)[width:])
    group = Signal(intbv(0, min=0, max=max(2, groups)))
    tap = Signal(intbv(0, min=0, max=max(2, taps)))
    take = Signal(bool(0))
    result = Stream(width)

    ins, olds, maxes = (lane_signals(lanes, bits) for _ in range(3))
    lanes_hw = [split_lanes(s.tdata, ins), split_lanes(partial, olds), join_lanes(maxes, best)]
    lanes_hw += [lane_max(a, b, o) for a, b, o in zip(ins, olds, maxes)]

    @always_comb
    def read_store():
        partial.next = store[group]

    @always_comb
    def reduce_beat():
        if tap == 0:
            result.tdata.next = s.tdata
        else:
            result.tdata.next = best
        result.tvalid.next = s.tvalid and tap == taps - 1
        result.tlast.next = s.tlast
        s.tready.next = result.tready
        take.next = s.tvalid and result.tready

    @always(clk.posedge)
    def write_store():
        if take:
            if tap == 0:
                store[group].next = s.tdata
            else:
                store[group].next = best

    count = nested_counter(clk, rst, take, group, groups, tap, taps)
    out = skid_buffer(clk, rst, result, m)
    return lanes_hw, read_store, reduce_beat, write_store, count, out


def catalog_configs():
    """Max pool configurations tested on both simulators and linted."""
    return [
        # 2x2 s2 (ResNet/VGG style), non-square, C=6 in groups of 3.
        MaxPoolUnit("maxpool_k2s2_6x10c6", (6, 10, 6), 2, 2, 0, bits=3, lanes=3),
        # 3x3 s2 p1 (ResNet stem), odd sizes, C=5, lanes=1.
        MaxPoolUnit("maxpool_k3s2p1_7x9c5", (7, 9, 5), 3, 2, 1, bits=2, lanes=1),
        # 3x3 s2 p0 (AlexNet), non-square, C=3, lanes=C.
        MaxPoolUnit("maxpool_k3s2p0_9x7c3", (9, 7, 3), 3, 2, 0, bits=4, lanes=3),
        # on signed accumulators (conv -> max pool -> threshold), 3x3 s2 p1, C=4 in pairs
        MaxPoolUnit("maxpool_acc_k3s2p1_7x6c4", (7, 6, 4), 3, 2, 1, bits=7, lanes=2,
                    signed=True),
        # wide accumulators, 2x2 s1, one lane
        MaxPoolUnit("maxpool_acc_k2s1_5x5c3", (5, 5, 3), 2, 1, 0, bits=13, lanes=1,
                    signed=True),
        # signed beats of 31 bits or more (a sign-bit mask >= 2**30 once failed lint), a
        # 1x1 window on a one-row map (found by random network seed 933849169)
        MaxPoolUnit("maxpool_acc_k1s1_1x5c6", (1, 5, 6), 1, 1, 0, bits=13, lanes=3,
                    signed=True),
    ]
