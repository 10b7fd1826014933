"""Streams as beats (docs/design.md section 3): tensors to lists of Python-int beats and back.

A tensor (H, W, C) (or any shape, flattened with the last axis innermost) is sent pixel by
pixel, its C channels in groups of ``lanes`` per beat; element i of a beat sits in bits
[(i+1)*bits-1 : i*bits], signed values as ``bits``-bit two's complement. Beats are Python
ints (they may be wider than 64 bits). Work is vectorised per group of lanes that fits in
63 bits; Python ints only join the groups.
"""

import numpy as np

from rtl_gen.errors import require
from rtl_gen.model.formats import int_array
from rtl_gen.model.layers import is_int

MAX_ELEMENT_BITS = 63


def _check(lanes, bits, channels, name):
    require(is_int(lanes) and lanes >= 1, name, f"lanes {lanes!r} is not valid",
            "a positive integer")
    require(is_int(bits) and 1 <= bits <= MAX_ELEMENT_BITS, name,
            f"element bits {bits!r} out of range", f"an integer in 1..{MAX_ELEMENT_BITS}")
    require(channels % lanes == 0, name,
            f"{channels} channels cannot be sent in groups of {lanes} lanes",
            f"lanes dividing the channel count {channels}")
    return int(lanes), int(bits), max(1, MAX_ELEMENT_BITS // bits)


def value_range(bits, signed):
    """[lo, hi] of a bits-wide element."""
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


def beats_per_frame(shape, lanes):
    """Number of beats carrying one tensor of ``shape``."""
    return int(np.prod(shape)) // lanes


def pack(t, lanes, bits, signed=False, name="stream"):
    """Tensor -> list of beats (Python ints)."""
    arr = int_array(t, name, "tensor")
    arr = arr.reshape(1) if arr.ndim == 0 else arr
    lanes, bits, per = _check(lanes, bits, arr.shape[-1], name)
    lo, hi = value_range(bits, signed)
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
        kind = "signed" if signed else "unsigned"
        require(False, name, f"value {int(arr[idx])} at {idx} does not fit {bits} bits "
                f"{kind}", f"integers in {lo}..{hi}")
    u = arr.reshape(-1, lanes) & ((1 << bits) - 1)
    chunks = []
    for j in range(0, lanes, per):
        c = np.zeros(u.shape[0], dtype=np.int64)
        for i in range(j, min(j + per, lanes)):
            c |= u[:, i] << ((i - j) * bits)
        chunks.append(c)
    if len(chunks) == 1:
        return chunks[0].tolist()
    out = chunks[0].astype(object)
    for j, c in enumerate(chunks[1:], 1):
        out |= c.astype(object) << (j * per * bits)
    return out.tolist()


def unpack(beats, shape, lanes, bits, signed=False, name="stream"):
    """List of beats -> int64 tensor of ``shape``; inverse of pack."""
    shape = tuple(int(s) for s in shape) or (1,)
    lanes, bits, per = _check(lanes, bits, shape[-1], name)
    n = beats_per_frame(shape, lanes)
    beats = list(beats)
    require(len(beats) == n, name, f"{len(beats)} beats for shape {shape}",
            f"{n} beats ({lanes} lanes per beat)")
    width = lanes * bits
    if n:
        lo_b, hi_b = min(beats), max(beats)
        require(lo_b >= 0 and hi_b < (1 << width), name,
                f"beat value {lo_b if lo_b < 0 else hi_b:#x} does not fit {width} bits",
                f"integers in 0..2^{width}-1")
    b = np.array(beats, dtype=object if width > MAX_ELEMENT_BITS else np.int64)
    mask = (1 << bits) - 1
    out = np.empty((n, lanes), dtype=np.int64)
    for j in range(0, lanes, per):
        c = b >> (j * bits) if j else b
        c = (c & ((1 << (per * bits)) - 1) if width > MAX_ELEMENT_BITS else c).astype(np.int64)
        for i in range(j, min(j + per, lanes)):
            out[:, i] = (c >> ((i - j) * bits)) & mask
    if signed:
        out -= ((out >> (bits - 1)) & 1) << bits
    return out.reshape(shape)
