"""Number formats of the reference model (docs/design.md section 2).

Weights: ``bipolar`` (1 bit; code 0 = -1, code 1 = +1), ``ternary`` (2-bit two's complement,
values -1, 0, +1) and ``int2`` .. ``int8`` (signed two's complement). Activations are unsigned
A-bit codes, A in 1..8; the network input is ``input_bits``-bit integers (8 by default),
unsigned, or two's complement when the network's ``input_signed`` is set (a QONNX model with
a signed input quantizer). This module parses and checks formats, converts weight values
to and from the unsigned bit codes stored in ROMs, and gives the exact bit widths of
integer ranges.
"""

from dataclasses import dataclass

import numpy as np

from rtl_gen.errors import QNNError, require

ACT_BITS_RANGE = (1, 8)
INPUT_BITS = 8
WEIGHT_FORMATS = ("bipolar", "ternary") + tuple(f"int{n}" for n in range(2, 9))
_VALID_WEIGHT_FORMATS = ", ".join(WEIGHT_FORMATS)


@dataclass(frozen=True)
class WeightFormat:
    """A weight format: its name, code width and value range [lo, hi].

    ``bipolar`` is the one format whose range has a hole: its values are -1 and +1 only.
    """

    name: str
    bits: int
    lo: int
    hi: int

    @property
    def allows_zero(self):
        return self.name != "bipolar"


def parse_weight_format(fmt, layer=None):
    """Return the WeightFormat for a format string (or pass a WeightFormat through)."""
    if isinstance(fmt, WeightFormat):
        return fmt
    if fmt == "bipolar":
        return WeightFormat("bipolar", 1, -1, 1)
    if fmt == "ternary":
        return WeightFormat("ternary", 2, -1, 1)
    if isinstance(fmt, str) and fmt in WEIGHT_FORMATS:
        n = int(fmt[3:])
        return WeightFormat(fmt, n, -(1 << (n - 1)), (1 << (n - 1)) - 1)
    raise QNNError(layer, f"unknown weight format {fmt!r}", _VALID_WEIGHT_FORMATS)


def int_array(a, layer, what):
    arr = np.asarray(a)
    if arr.dtype == object or arr.dtype == bool:
        try:
            arr = arr.astype(np.int64)
        except (OverflowError, TypeError, ValueError):
            raise QNNError(layer, f"{what} must be integers", "an integer array") from None
    require(np.issubdtype(arr.dtype, np.integer), layer,
            f"{what} must be integers, got dtype {arr.dtype}", "an integer array")
    return arr.astype(np.int64, copy=False)


def check_weights(w, fmt, layer=None):
    """Raise QNNError if any weight value is outside the format; return them as int64."""
    f = parse_weight_format(fmt, layer)
    arr = int_array(w, layer, "weights")
    bad = (arr < f.lo) | (arr > f.hi)
    if not f.allows_zero:
        bad |= arr == 0
    if bad.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
        valid = "-1 or +1" if f.name == "bipolar" else f"integers in {f.lo}..{f.hi}"
        raise QNNError(layer, f"weight value {int(arr[idx])} at index {idx} "
                              f"({int(bad.sum())} bad in total) is not {f.name}", valid)
    return arr


def encode_weights(w, fmt, layer=None):
    """Weight values -> unsigned bit codes (int64) for ROM storage."""
    f = parse_weight_format(fmt, layer)
    arr = check_weights(w, f, layer)
    if f.name == "bipolar":
        return (arr + 1) // 2
    return arr & ((1 << f.bits) - 1)


def decode_weights(codes, fmt, layer=None):
    """Unsigned bit codes -> weight values (int64); inverse of encode_weights."""
    f = parse_weight_format(fmt, layer)
    arr = int_array(codes, layer, "weight codes")
    bad = (arr < 0) | (arr >= (1 << f.bits))
    if f.name == "ternary":
        bad |= arr == 2          # 0b10 would be -2, not a ternary value
    if bad.any():
        idx = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))
        valid = "0, 1 or 3" if f.name == "ternary" else f"0..{(1 << f.bits) - 1}"
        raise QNNError(layer, f"weight code {int(arr[idx])} at index {idx} is not a "
                              f"{f.name} code", valid)
    if f.name == "bipolar":
        return 2 * arr - 1
    half = 1 << (f.bits - 1)
    return np.where(arr >= half, arr - (1 << f.bits), arr)


def check_act_bits(bits, layer=None):
    """Raise QNNError unless ``bits`` is an activation width in 1..8; return it as int."""
    ok = isinstance(bits, (int, np.integer)) and not isinstance(bits, bool)
    require(ok and ACT_BITS_RANGE[0] <= bits <= ACT_BITS_RANGE[1], layer,
            f"activation bits {bits!r} out of range", "an integer in 1..8")
    return int(bits)


def signed_bits(lo, hi):
    """Exact two's complement width holding every integer in [lo, hi] (at least 1)."""
    lo, hi = int(lo), int(hi)
    require(lo <= hi, None, f"empty range [{lo}, {hi}]", "lo <= hi")
    need_hi = hi.bit_length() + 1 if hi > 0 else 1
    need_lo = (~lo).bit_length() + 1 if lo < 0 else 1
    return max(need_hi, need_lo)


def unsigned_bits(hi):
    """Exact unsigned width holding every integer in [0, hi] (at least 1)."""
    hi = int(hi)
    require(hi >= 0, None, f"unsigned range with negative maximum {hi}", "hi >= 0")
    return max(1, hi.bit_length())


def range_bits(lo, hi):
    """(signed, bits) for a range: unsigned when lo >= 0, else two's complement."""
    if lo >= 0:
        return False, unsigned_bits(hi)
    return True, signed_bits(lo, hi)
