"""QONNX's quantizers as QONNX defines them (``qonnx.custom_op.general``), in numpy.

Two uses: on constants (weights, biases) in float32, step for step as QONNX's executor
computes them, so that the integer weights are exactly the ones the model carries; and on
activations, as integer-valued functions of a real input (float64), from which the
importer finds integer thresholds. Rounding modes are QONNX's names, mapped to the model's
(``rtl_gen.model.batchnorm.QONNX_ROUNDING``): ``ROUND`` is half to even.

``Quant(x, scale, zeropt, bitwidth; signed, narrow, rounding_mode)``:
    y = x/scale + zeropt; clip to [min_int, max_int]; round; out = (y - zeropt)*scale
    (1-bit signed: y = +1 if x/scale + zeropt >= 0 else -1, QONNX's bipolar case)
``BipolarQuant(x, scale)``: out = (+1 if x/scale >= 0 else -1) * scale
``Trunc`` v1 ``(x, scale, zeropt, in_bw, out_bw; rounding_mode)``:
    y = round_half_even(x/scale + zeropt) / 2^(in_bw - out_bw); y = rounding(y);
    out = (y - zeropt)*scale
``Trunc`` v2 ``(x, scale, zeropt, in_bw, out_scale, out_bw; rounding_mode, signed, narrow)``:
    y = round_half_even(x/scale + zeropt) / t, t = 2^round(log2(out_scale/scale));
    clip to [min_int, max_int] of out_bw; y = rounding(y); out = (y - zeropt/t)*out_scale
"""

from dataclasses import dataclass

import numpy as np

from rtl_gen.errors import QNNError, require
from rtl_gen.model.batchnorm import QONNX_ROUNDING, rounding_function


def min_int(signed, narrow, bits):
    if signed:
        return -(1 << (bits - 1)) + (1 if narrow else 0)
    return 0


def max_int(signed, narrow, bits):
    if signed:
        return (1 << (bits - 1)) - 1
    return (1 << bits) - 1 - (1 if narrow else 0)


def rounding(mode, node):
    """The numpy function of a QONNX rounding mode name."""
    name = mode.decode() if isinstance(mode, bytes) else str(mode)
    require(name.upper() in QONNX_ROUNDING, node, f"rounding_mode {name!r} is not a QONNX "
            "rounding mode", ", ".join(QONNX_ROUNDING))
    return rounding_function(QONNX_ROUNDING[name.upper()], node)


@dataclass
class IntQuantizer:
    """An integer-valued monotone non-decreasing function of a real input, and the real
    value of each integer: out = (y - zeropt) * scale, y in [lo, hi] (step ``step``).

    ``integer(v)`` maps reals (float64, (..., C)) to the integer y (as float64); ``lo``,
    ``hi`` bound y; ``pre(v)`` is the value just before the final rounding (for tie
    reports); per-channel parameters broadcast over the last axis."""

    kind: str
    node: str
    scale: np.ndarray          # (C,) or scalar: real units of one integer step
    zeropt: np.ndarray
    lo: int
    hi: int
    step: int = 1
    params: dict = None

    def _p(self, c):
        """The parameters, for channel ``c`` only when given (v then has no channel axis)."""
        if c is None:
            return self.params
        return {k: (v[c] if isinstance(v, np.ndarray) and v.ndim == 1 else v)
                for k, v in self.params.items()}

    def pre(self, v, c=None):
        p = self._p(c)
        if self.kind in ("quant", "bipolar"):
            return v / p["scale"] + p["zeropt"]
        return np.round(v / p["scale"] + p["zeropt"]) / p["t"]

    def integer(self, v, c=None):
        p = self._p(c)
        if self.kind == "bipolar":
            return np.where(v / p["scale"] + p["zeropt"] >= 0, 1.0, -1.0)
        if self.kind == "quant":
            y = v / p["scale"] + p["zeropt"]
            y = np.clip(y, p["min"], p["max"])
            return p["round"](y)
        y = np.round(v / p["scale"] + p["zeropt"]) / p["t"]      # trunc
        if "min" in p:
            y = np.clip(y, p["min"], p["max"])
        return p["round"](y)

    def real_offset(self):
        """(a, b) with out = a*code + b for code = (y - lo)/step."""
        p = self.params
        return self.step * p["out_scale"], (self.lo - p["out_zeropt"]) * p["out_scale"]


def _scalar_int(v, node, what, lo, hi):
    arr = np.asarray(v, dtype=np.float64)
    require(arr.size == 1 and float(arr.reshape(-1)[0]).is_integer(), node,
            f"{what} {arr.reshape(-1)[:4].tolist()} is not one integer", f"an integer in {lo}..{hi}")
    val = int(arr.reshape(-1)[0])
    require(lo <= val <= hi, node, f"{what} {val} out of range", f"an integer in {lo}..{hi}")
    return val


def quant_activation(node, scale, zeropt, bitwidth, signed, narrow, mode):
    """The IntQuantizer of a Quant node on activations (per-channel scale/zeropt (C,))."""
    bits = _scalar_int(bitwidth, node, "bit width", 1, 32)
    p = {"scale": scale, "zeropt": zeropt, "out_scale": scale, "out_zeropt": zeropt}
    if bits == 1 and signed:
        return IntQuantizer("bipolar", node, scale, zeropt, -1, 1, 2, p)
    p.update(min=float(min_int(signed, narrow, bits)), max=float(max_int(signed, narrow, bits)),
             round=rounding(mode, node))
    return IntQuantizer("quant", node, scale, zeropt, min_int(signed, narrow, bits),
                        max_int(signed, narrow, bits), 1, p)


def bipolar_activation(node, scale):
    zero = np.zeros_like(scale)
    p = {"scale": scale, "zeropt": zero, "out_scale": scale, "out_zeropt": zero}
    return IntQuantizer("bipolar", node, scale, zero, -1, 1, 2, p)


def trunc_activation(node, inputs, attrs):
    """The IntQuantizer of a Trunc node (v1: 5 inputs, v2: 6 inputs); ``inputs`` are the
    constant inputs after the data input (per-channel arrays for scale and zero point)."""
    mode = rounding(attrs.get("rounding_mode", b"FLOOR"), node)
    if len(inputs) == 4:
        scale, zeropt, in_bw, out_bw = inputs
        in_b = _scalar_int(in_bw, node, "input bit width", 1, 64)
        out_b = _scalar_int(out_bw, node, "output bit width", 1, 64)
        t = float(2.0 ** (in_b - out_b))
        p = {"scale": scale, "zeropt": zeropt, "t": t, "round": mode, "out_scale": scale,
             "out_zeropt": zeropt}
        return IntQuantizer("trunc", node, scale, zeropt, None, None, 1, p)
    require(len(inputs) == 5, node, f"Trunc with {len(inputs) + 1} inputs",
            "5 inputs (Trunc v1) or 6 (Trunc v2)")
    scale, zeropt, in_bw, out_scale, out_bw = inputs
    out_b = _scalar_int(out_bw, node, "output bit width", 1, 64)
    signed, narrow = int(attrs.get("signed", 1)), int(attrs.get("narrow", 0))
    ratio = np.asarray(out_scale, dtype=np.float64) / np.asarray(scale, dtype=np.float64)
    t = 2.0 ** np.round(np.log2(ratio))
    require(np.asarray(t).size == 1, node, "a per-channel truncation scale",
            "one output_scale/scale ratio")
    t = float(np.asarray(t).reshape(-1)[0])
    p = {"scale": scale, "zeropt": zeropt, "t": t, "round": mode,
         "min": float(min_int(signed, narrow, out_b)), "max": float(max_int(signed, narrow, out_b)),
         "out_scale": np.asarray(out_scale, dtype=np.float64), "out_zeropt": zeropt / t}
    return IntQuantizer("trunc", node, scale, zeropt, min_int(signed, narrow, out_b),
                        max_int(signed, narrow, out_b), 1, p)


# --- constants (weights): float32, as QONNX's executor computes them ------------------------
def quant_constant(node, x, scale, zeropt, bitwidth, signed, narrow, mode):
    """(integer values y - zeropt as int64, scale as float32 array, dequantized float32) of a
    Quant node on a constant, computed in float32 step by step as QONNX does."""
    x = np.asarray(x, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    zeropt = np.asarray(zeropt, dtype=np.float32)
    bits = _scalar_int(bitwidth, node, "bit width", 1, 32)
    y = x / scale + zeropt
    if bits == 1 and signed:
        y = np.where(y >= 0.0, np.float32(1), np.float32(-1))
    else:
        lo, hi = np.float32(min_int(signed, narrow, bits)), np.float32(max_int(signed, narrow, bits))
        y = np.where(y > hi, hi, y)
        y = np.where(y < lo, lo, y)
        y = rounding(mode, node)(y)
    ints = y - zeropt
    require(np.all(ints == np.round(ints)), node, "a non-integer zero point on weights",
            "an integer zero point")
    return ints.astype(np.int64), scale, (ints * scale).astype(np.float32)


def bipolar_constant(node, x, scale):
    x = np.asarray(x, dtype=np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    y = np.where(x / scale >= 0.0, 1, -1).astype(np.int64)
    return y, scale, (y * scale).astype(np.float32)


def unsupported(node, op, what, valid):
    return QNNError(node, f"{op}: {what}", valid)
