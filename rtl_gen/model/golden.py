"""Golden vectors: every layer boundary's tensor for given inputs, and their files.

``export_golden`` writes, per boundary (the input and every layer), ``<name>.hex`` with one
beat per line (lowercase hex, zero-padded to the beat width, frames back to back) and one
``index.json`` describing each file: shape, lanes, bits, signed, lo, hi, beats per frame.
"""

import json
import os

import numpy as np

from rtl_gen.model.execute import run
from rtl_gen.model.infer import infer
from rtl_gen.model.packing import beats_per_frame, pack


def golden_vectors(net, x):
    """Ordered dict layer name -> output tensor ("input" first, then layers in order)."""
    return run(net, x)


def _lanes(lanes_of, name, ttype):
    if lanes_of is None:
        return 1
    if callable(lanes_of):
        return int(lanes_of(name, ttype))
    return int(lanes_of.get(name, 1))


def export_golden(net, frames, folder, lanes_of=None):
    """Write golden .hex files and index.json for ``frames`` (one (H,W,C) image or a list /
    (N,H,W,C) array). ``lanes_of``: dict name -> lanes (default 1) or callable
    (name, TensorType) -> lanes. Returns the index dict."""
    types = infer(net)
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    per_frame = [golden_vectors(net, f) for f in frames]
    os.makedirs(folder, exist_ok=True)
    index = {"network": net.name, "frames": len(per_frame), "boundaries": {}}
    for name, t in types.items():
        lanes = _lanes(lanes_of, name, t)
        digits = max(1, -(-lanes * t.bits // 4))
        fname = f"{name}.hex"
        with open(os.path.join(folder, fname), "w") as f:
            for outs in per_frame:
                for beat in pack(outs[name], lanes, t.bits, t.signed, name):
                    f.write(f"{beat:0{digits}x}\n")
        index["boundaries"][name] = {
            "file": fname, "shape": list(t.shape), "lanes": lanes, "bits": t.bits,
            "signed": t.signed, "lo": t.lo, "hi": t.hi,
            "beats_per_frame": beats_per_frame(t.shape, lanes)}
    with open(os.path.join(folder, "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    return index
