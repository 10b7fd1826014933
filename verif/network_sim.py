"""Simulate a compiled network against the reference model, watching every boundary.

``run_network(cn, sim, frames, ...)`` builds golden vectors with ``rtl_gen.model.run``
for random input images, packs the input and the output streams, and gives the
testbench one probe per internal stream (every layer boundary, in pipeline order), so a
mismatch is reported at the first boundary where it occurs, with frame, pixel and
channel. Returns the harness's SimResult plus the model's numbers.
"""

import numpy as np

from rtl_gen.designs.networks import random_input
from rtl_gen.model.execute import run
from rtl_gen.model.layers import im2col
from rtl_gen.model.packing import pack
from verif.harness import simulate
from verif.lint import lint


def golden(cn, images):
    """Model outputs of every layer for each image."""
    return [run(cn.net, x) for x in images]


def _tensor_view(outs, tensor, window):
    t = outs[tensor]
    if window is None:
        return t, ("y", "x", "c")
    k, s, p = window
    return im2col(t, k, s, p), ("y", "x", "ky", "kx", "c")


def probes(cn, outs_per_frame):
    """One probe per link of the pipeline, in pipeline order."""
    found = []
    order = {b.name: i for i, b in enumerate(cn.pipeline.blocks)}
    for ln in sorted(cn.pipeline.links, key=lambda ln: order[ln.src.name]):
        port = ln.src.port(ln.src_port)
        frames, shape, axes = [], None, None
        for outs in outs_per_frame:
            t, axes = _tensor_view(outs, ln.tensor, ln.window)
            shape = t.shape
            # (-1, lanes): a window stream's beat may span kernel columns (out_lanes = m*C)
            frames.append(pack(np.reshape(t, (-1, port.lanes)), port.lanes, port.bits,
                               signed=port.signed))
        label = ln.tensor + (" (windows)" if ln.window else "")
        found.append({"prefix": f"{ln.src.name}_{ln.src_port}", "label": label,
                      "lanes": port.lanes, "bits": port.bits, "signed": port.signed,
                      "shape": list(shape), "axes": list(axes), "frames": frames})
    return found


def vectors(cn, frames, seed, images=None):
    """Packed input and output frames and every layer's outputs: for ``frames`` random
    images (``random_input``: signed for a signed network input), or for ``images``."""
    rng = np.random.default_rng(seed)
    if images is None:
        images = [random_input(cn.net, rng) for _ in range(frames)]
    outs = golden(cn, images)
    pin, pout = cn.port("s_axis"), cn.port("m_axis")
    inputs = {"s_axis": [pack(x, pin.lanes, pin.bits, signed=pin.signed) for x in images]}
    expected = {"m_axis": [pack(o[cn.pipeline.out_tensor], pout.lanes, pout.bits,
                                signed=pout.signed) for o in outs]}
    return inputs, expected, outs


class NetworkRTL:
    """A compiled network's files as the harness takes them (``simulate(..., rtl=)``)."""

    def __init__(self, cn):
        self.top = cn.name
        self.files = tuple(cn.files)
        self.data_files = tuple(cn.data_files)


def lint_network(cn):
    lint(cn.verilog, cn.name)


def run_network(cn, sim, frames=2, seed=1, gap=0.0, stall=0.0, waves=False, watch=True,
                label="net", stall_limit=None, progress=None, images=None, outputs=None,
                path="hdl"):
    """Simulate ``cn`` on ``frames`` random images, or on ``images`` (integer HWC arrays);
    ``outputs``, a list, receives the model's outputs of every layer per frame (which the
    run has checked the hardware against, beat by beat). ``path``: ``"hdl"`` (the fast
    testbench, the default for networks) or ``"axi"`` (cocotbext-axi every clock)."""
    inputs, expected, outs = vectors(cn, frames, seed, images)
    if outputs is not None:
        outputs.extend(outs)
    pr = probes(cn, outs) if watch else ()
    limit = stall_limit or 4 * cn.cycles_per_frame() + 20000
    res = simulate(cn, sim, inputs, expected, gap=gap, stall=stall, seed=seed,
                   stall_limit=limit, waves=waves, rtl=NetworkRTL(cn), label=label, probes=pr,
                   progress=progress, path=path)
    return res
