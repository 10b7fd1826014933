"""Sliding window unit (SWU): the K x K x C window of every output pixel, padding included.

Computes: for an H x W x C tensor of unsigned ``bits``-bit codes (or, ``signed``, of
two's complement values: the signed network input), every output pixel's
window (row by row, pixel by pixel), each in the order kernel row, kernel column, channel:
exactly ``rtl_gen.model.layers.im2col(x, K, stride, pad)`` flattened. Zero padding (code 0)
of ``pad`` on all four sides is inserted by the block. K 1..11, stride 1..4,
pad 0..K//2, non-square images.

Streams: ``s_axis`` in, ``lanes`` elements of ``bits`` bits per beat (channels innermost,
in groups of ``lanes``); ``m_axis`` out, ``out_lanes`` elements per beat (default
``lanes``); ``m_axis_tlast`` on the last beat of each frame. Input beats per frame
H*W*C/lanes, output beats Ho*Wo*K*K*C/out_lanes. Kernel-column parallel mode
(``lanes = C``, ``out_lanes = m*C`` with m > 1 dividing K): each output beat carries m
consecutive kernel columns kx .. kx+m-1 of one kernel row (same element order), so that a
convolution with few input channels can run at SIMD = m*C (an ImageNet stem, C = 3).

Cycle model (no stalls): ``max(H*W*C/lanes, Ho*Wo*K*K*C/out_lanes)`` cycles per frame,
with no bubbles between rows or frames (the next frame's rows load while the current
frame's last windows are read). Latency: ``min(H, K - pad) * W*C/lanes + 3`` cycles from
the first input beat to the first output beat. Storage: a ring of
``K + S + 1 + max(0, H - Ho*S)`` rows of W*C/lanes words, in out_lanes/lanes banks
(``rtl_gen.blocks.window.line_buffer``, which holds the machinery and its reasoning).
"""

import numpy as np

from rtl_gen.blocks.window.line_buffer import window_core
from rtl_gen.model.layers import im2col
from rtl_gen.blocks.window.window_block import WindowBlock


class SlidingWindow(WindowBlock):
    """``SlidingWindow("l01_swu", in_shape=(H, W, C), kernel=3, stride=1, pad=1, bits=4,
    lanes=C, out_lanes=None, signed=False)``; ``out_lanes`` None means ``lanes``, otherwise
    it must be ``lanes`` or (with ``lanes == C``) m*C for some m > 1 dividing K. ``signed``:
    the elements are two's complement (the generated Verilog is the same; the ports say
    so, and padding, all-zero bits, is the value 0 either way)."""

    kind = "sliding_window"

    def __init__(self, name, in_shape, kernel, stride=1, pad=0, bits=8, lanes=1,
                 out_lanes=None, signed=False):
        super().__init__(name, in_shape, kernel, stride, pad, bits, lanes, out_lanes)
        self.signed = bool(signed)

    @property
    def out_shape(self):
        """Shape of one output frame as a tensor: (Ho, Wo, K, K, C)."""
        g = self.geo
        return (g.out_height, g.out_width, g.kernel, g.kernel, g.channels)

    def model(self, x):
        """The reference output tensor (Ho, Wo, K, K, C) of one input tensor (H, W, C)."""
        g = self.geo
        return np.array(im2col(x, g.kernel, g.stride, g.pad, name=self.name), dtype=np.int64)

    def beat_times(self, arrivals):
        taken, windows = self.geo.window_times(arrivals["s_axis"])
        return {"s_axis": taken, "m_axis": windows}

    def hdl(self, clk, rst, s_axis, m_axis):
        return window_core(clk, rst, s_axis, m_axis, self.geo)


def catalog_configs():
    """SWU configurations tested on both simulators and linted."""
    return [
        # 3x3 s1 p1, non-square, C=6 in two groups of 3 (output-bound, 9x the input).
        SlidingWindow("sliding_window_k3s1p1_5x7c6", (5, 7, 6), 3, 1, 1, bits=4, lanes=3),
        # 3x3 s2 p1, odd H and W, lanes=1.
        SlidingWindow("sliding_window_k3s2p1_7x5c2", (7, 5, 2), 3, 2, 1, bits=3, lanes=1),
        # 2x2 s2 p0: even kernel, input and output balanced, lanes=C.
        SlidingWindow("sliding_window_k2s2p0_6x8c3", (6, 8, 3), 2, 2, 0, bits=2, lanes=3),
        # 11x11 s4 p0 (AlexNet conv1 style) on 23x19x3, lanes=C, unused bottom rows.
        SlidingWindow("sliding_window_k11s4p0_23x19c3", (23, 19, 3), 11, 4, 0, bits=8, lanes=3),
        # 1x1 s2 p0: input-bound, odd sizes skip the last row and column.
        SlidingWindow("sliding_window_k1s2p0_7x6c4", (7, 6, 4), 1, 2, 0, bits=1, lanes=2),
        # Kernel-column parallel (out_lanes = m*C):
        # 11x11 s4 p0 on 23x19x3, a whole kernel row per beat (m = 11), input-bound.
        SlidingWindow("sliding_window_k11s4p0_23x19c3_o33", (23, 19, 3), 11, 4, 0, bits=8,
                      lanes=3, out_lanes=33),
        # 7x7 s2 p3 (ResNet stem) on 13x11x3, m = 7: padding on every side, odd sizes.
        SlidingWindow("sliding_window_k7s2p3_13x11c3_o21", (13, 11, 3), 7, 2, 3, bits=5,
                      lanes=3, out_lanes=21),
        # 3x3 s1 p1 on 6x5x2, m = 3: the rotation changes on every output pixel.
        SlidingWindow("sliding_window_k3s1p1_6x5c2_o6", (6, 5, 2), 3, 1, 1, bits=3,
                      lanes=2, out_lanes=6),
        # 8x8 s3 p4 on 11x13x1 (C = 1), m = 2 < K: four beats per kernel row, stride
        # larger than m and not a multiple of it, even kernel, two banks.
        SlidingWindow("sliding_window_k8s3p4_11x13c1_o2", (11, 13, 1), 8, 3, 4, bits=2,
                      lanes=1, out_lanes=2),
    ]
