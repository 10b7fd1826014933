"""Max pool: the per-channel maximum over each K x K window of unsigned codes.

Computes: ``rtl_gen.model.layers.maxpool(x, K, stride, pad)`` on an H x W x C tensor of
unsigned ``bits``-bit codes; padding inserts code 0 (the smallest code, so it never wins
over a real element). K 1..11, stride 1..4, pad 0..K//2, non-square images.

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
from myhdl import Signal, always, always_comb, block, intbv

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

    def __init__(self, name, in_shape, kernel, stride, pad=0, bits=8, lanes=1):
        super().__init__(name, in_shape, kernel, stride, pad, bits, lanes)

    @property
    def out_shape(self):
        g = self.geo
        return (g.out_height, g.out_width, g.channels)

    def model(self, x):
        """The reference output tensor (Ho, Wo, C) of one input tensor (H, W, C)."""
        g = self.geo
        return maxpool(x, g.kernel, g.stride, g.pad, name=self.name)

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
        return maxpool_unit(clk, rst, s_axis, m_axis, self.geo)


@block
def maxpool_unit(clk, rst, s_axis, m_axis, geo):
    """Window core, then the reducer: one module with both inside."""
    windows = Stream(geo.lanes * geo.bits)
    core = window_core(clk, rst, s_axis, windows, geo)
    reduce = max_reducer(clk, rst, windows, m_axis, geo.lanes, geo.bits, geo.groups,
                         geo.kernel * geo.kernel)
    return core, reduce


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
    ]
