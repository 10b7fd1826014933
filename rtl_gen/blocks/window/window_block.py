"""Base class of the blocks built on the sliding-window core (``rtl_gen.blocks.window.line_buffer``).

The sliding window unit and max pool both take an H x W x C stream of unsigned
``bits``-bit codes (the sliding window unit also a signed network input, ``signed``: the
core moves bits and pads with all-zero elements, which is 0 in two's complement too),
``lanes`` per beat, and are configured by one
:class:`~rtl_gen.blocks.window.line_buffer.WindowGeometry` (``self.geo``). This class carries what
they share: validation, ports, parameters, the reference over frames, random inputs and
the core's cycle model. A subclass gives ``model`` (the reference tensor of one frame),
``out_shape``, ``beat_times`` and ``hdl``, and adds its own latency to the core's.
"""

import numpy as np

from rtl_gen.hdl.block import Block, StreamPort
from rtl_gen.blocks.window.line_buffer import WindowGeometry
from rtl_gen.model.packing import pack, unpack


class WindowBlock(Block):
    """A block on the window core: ``s_axis`` ``lanes`` x ``bits`` in, ``m_axis``
    ``out_lanes`` x ``bits`` out (``out_lanes`` None means ``lanes``)."""

    signed = False

    def __init__(self, name, in_shape, kernel, stride=1, pad=0, bits=8, lanes=1,
                 out_lanes=None):
        super().__init__(name)
        self.geo = WindowGeometry.checked(name, in_shape, kernel, stride, pad, bits, lanes,
                                          out_lanes)

    @property
    def in_shape(self):
        g = self.geo
        return (g.height, g.width, g.channels)

    def ports(self):
        g = self.geo
        return [StreamPort("s_axis", "in", g.lanes, g.bits, self.signed),
                StreamPort("m_axis", "out", g.out_lanes, g.bits, self.signed)]

    def params(self):
        d = self.geo.as_dict()
        if self.signed:
            d["signed"] = True
        return d

    def model(self, x):
        """The reference output tensor of one input tensor (H, W, C)."""
        raise NotImplementedError

    def reference(self, inputs):
        g = self.geo
        frames = []
        for beats in inputs["s_axis"]:
            x = unpack(beats, self.in_shape, g.lanes, g.bits, signed=self.signed,
                       name=self.name)
            out = np.asarray(self.model(x)).reshape(-1, g.out_lanes)  # out_lanes may exceed C
            frames.append(pack(out, g.out_lanes, g.bits, signed=self.signed, name=self.name))
        return {"m_axis": frames}

    def random_inputs(self, rng, frames):
        g = self.geo
        lo = -(1 << (g.bits - 1)) if self.signed else 0
        return {"s_axis": [pack(rng.integers(lo, lo + (1 << g.bits), self.in_shape), g.lanes,
                                g.bits, signed=self.signed) for _ in range(frames)]}

    def cycles_per_frame(self):
        return self.geo.cycles_per_frame()

    def latency_cycles(self):
        """The window core's latency (first input beat to first window beat)."""
        return self.geo.latency_cycles()
