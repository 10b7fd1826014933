"""Folding float batch-norm + uniform quantizer into integer thresholds.

THE quantizer (the float semantics the thresholds reproduce, evaluated in float64 in exactly
this order, per channel c, for an integer accumulator ``acc``):

    y    = gamma*(acc*in_scale + bias - mean)/sqrt(var + eps) + beta
    code = clip(round(y/act_step), 0, 2^A - 1)              # uniform quantizer

Rounding is explicit: ``rounding`` names one of ``ROUNDING`` (this is the one place where
the model rounds). The default, ``"half_up"`` (floor(x + 0.5): ties toward +inf), is the
convention of the named designs and the block catalog. QONNX's ``Quant`` rounds with
``ROUND``, which is half to even (``"half_even"``, numpy's ``round``): the two differ only
at exact ties (y/act_step an odd multiple of 1/2), which a trained model can hit, so the
QONNX importer (``rtl_gen.importer``) always passes the mode the model names
(``QONNX_ROUNDING`` maps QONNX's names to these).

Threshold convention (what ``layers.threshold`` evaluates):
  * positive channel (gamma*in_scale > 0, and gamma == 0): T[c] non-decreasing,
    code = #{i : acc >= T[c][i]}; T[c][i] is the smallest acc whose code is >= i+1.
  * negative channel (gamma*in_scale < 0, neg[c] True): T[c] non-increasing,
    code = #{i : acc <= T[c][i]}; T[c][i] is the largest acc whose code is >= i+1.

Every step of the float expression is a correctly rounded monotone operation, so the code is
a monotone step function of acc even in floating point. Each threshold is found by an exact
integer binary search against the float function itself, so the integer thresholds agree
with ``float_reference`` for every integer acc in the search range: ``acc_range`` (lo, hi)
when given, else [-2^53, 2^53] (where float64 holds integers exactly). A level never reached
in the range gets T = hi + 1 (positive) or lo - 1 (negative); a level always reached gets
lo (positive) or hi (negative). So thresholds lie in [lo, hi + 1] or [lo - 1, hi]; gamma == 0
channels (constant code) come out as a run of lo followed by hi + 1.
"""

import numpy as np

from rtl_gen.errors import QNNError, require
from rtl_gen.model.formats import check_act_bits, int_array

DEFAULT_RANGE = (-(1 << 53), 1 << 53)


def _half_away(x):
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def _half_toward_zero(x):
    return np.sign(x) * np.ceil(np.abs(x) - 0.5)


def _away(x):
    return np.sign(x) * np.ceil(np.abs(x))


# Rounding of a real value to an integer, by name (QONNX's definitions, which are numpy's).
ROUNDING = {
    "half_up": lambda x: np.floor(x + 0.5),    # ties toward +inf (the default here)
    "half_even": np.round,                      # ties to even: QONNX ROUND / HALF_EVEN
    "half_away": _half_away,                    # ties away from zero: QONNX HALF_UP
    "half_down": _half_toward_zero,             # ties toward zero: QONNX HALF_DOWN
    "floor": np.floor,                          # QONNX FLOOR
    "ceil": np.ceil,                            # QONNX CEIL
    "up": _away,                                # away from zero: QONNX UP
    "down": np.fix,                             # toward zero: QONNX DOWN
}
QONNX_ROUNDING = {"ROUND": "half_even", "HALF_EVEN": "half_even", "HALF_UP": "half_away",
                  "HALF_DOWN": "half_down", "FLOOR": "floor", "CEIL": "ceil", "UP": "up",
                  "DOWN": "down"}


def rounding_function(mode, name=None):
    """The numpy function of rounding mode ``mode`` (a key of ``ROUNDING``)."""
    require(isinstance(mode, str) and mode in ROUNDING, name,
            f"unknown rounding mode {mode!r}", ", ".join(ROUNDING))
    return ROUNDING[mode]


def _params(gamma, beta, mean, var, eps, act_step, in_scale, bias, name, rounding):
    gamma = np.asarray(gamma, dtype=np.float64)
    require(gamma.ndim == 1 and gamma.size >= 1, name, f"gamma has shape {gamma.shape}",
            "one value per channel, shape (C,)")
    c = gamma.size

    def per_channel(v, what, default=None):
        v = np.asarray(default if v is None else v, dtype=np.float64)
        require(v.shape in ((), (c,)), name, f"{what} has shape {v.shape}",
                f"a scalar or shape ({c},)")
        require(np.isfinite(v).all(), name, f"{what} is not finite", "finite numbers")
        return np.broadcast_to(v, (c,))

    p = dict(gamma=per_channel(gamma, "gamma"), beta=per_channel(beta, "beta"),
             mean=per_channel(mean, "mean"), var=per_channel(var, "var"),
             eps=per_channel(eps, "eps"), act_step=per_channel(act_step, "act_step"),
             in_scale=per_channel(in_scale, "in_scale"), bias=per_channel(bias, "bias", 0.0))
    require((p["var"] + p["eps"] > 0).all(), name, "var + eps is not positive", "var + eps > 0")
    require((p["act_step"] > 0).all(), name, "act_step is not positive", "act_step > 0")
    require((p["in_scale"] != 0).all(), name, "in_scale is zero", "a non-zero scale")
    p["round"] = rounding_function(rounding, name)
    return p


def _codes(accf, p, top):
    """THE quantizer on float64 accumulators; p's arrays broadcast against accf."""
    y = p["gamma"] * (accf * p["in_scale"] + p["bias"] - p["mean"]) \
        / np.sqrt(p["var"] + p["eps"]) + p["beta"]
    return np.clip(p["round"](y / p["act_step"]), 0, top)


def float_reference(acc, gamma, beta, mean, var, eps, act_bits, act_step, in_scale=1.0,
                    bias=None, name="bn", rounding="half_up"):
    """Codes of THE quantizer for integer accumulators acc (..., C), as int64."""
    bits = check_act_bits(act_bits, name)
    p = _params(gamma, beta, mean, var, eps, act_step, in_scale, bias, name, rounding)
    acc = int_array(acc, name, "accumulators")
    require(acc.ndim >= 1 and acc.shape[-1] == p["gamma"].size, name,
            f"accumulators have shape {acc.shape}", f"(..., {p['gamma'].size})")
    return _codes(acc.astype(np.float64), p, (1 << bits) - 1).astype(np.int64)


def fold_batchnorm(gamma, beta, mean, var, eps, act_bits, act_step, in_scale=1.0, bias=None,
                   acc_range=None, name="bn", rounding="half_up"):
    """Integer thresholds reproducing THE quantizer: (T int64 (C, 2^A-1), neg bool (C,)).
    ``rounding``: a mode of ``ROUNDING`` ("half_even" for a QONNX model's ``ROUND``)."""
    bits = check_act_bits(act_bits, name)
    p = _params(gamma, beta, mean, var, eps, act_step, in_scale, bias, name, rounding)
    if acc_range is None:
        acc_range = DEFAULT_RANGE
    try:
        lo_r, hi_r = (int(v) for v in acc_range)
    except (TypeError, ValueError):
        raise QNNError(name, f"acc_range {acc_range!r} is not a pair of integers",
                       "(lo, hi) integers with lo <= hi") from None
    require(lo_r <= hi_r and DEFAULT_RANGE[0] <= lo_r and hi_r <= DEFAULT_RANGE[1], name,
            f"acc_range {acc_range!r} is empty or too wide",
            "(lo, hi) integers with -2^53 <= lo <= hi <= 2^53")
    c, n = p["gamma"].size, (1 << bits) - 1
    pc = {k: (v if k == "round" else v[:, None]) for k, v in p.items()}
    level = np.arange(1, n + 1, dtype=np.float64)[None, :]

    def reached(a):
        return _codes(a.astype(np.float64), pc, n) >= level

    # positive: smallest acc in [lo, hi] reaching the level, hi + 1 if none
    lo = np.full((c, n), lo_r, dtype=np.int64)
    hi = np.full((c, n), hi_r + 1, dtype=np.int64)
    while (lo < hi).any():
        mid = lo + (hi - lo) // 2
        r = reached(mid)
        act = lo < hi
        hi = np.where(act & r, mid, hi)
        lo = np.where(act & ~r, mid + 1, lo)
    t_pos = lo
    # negative: largest acc in [lo, hi] reaching the level, lo - 1 if none
    lo = np.full((c, n), lo_r - 1, dtype=np.int64)
    hi = np.full((c, n), hi_r, dtype=np.int64)
    while (lo < hi).any():
        mid = lo + (hi - lo + 1) // 2
        r = reached(mid)
        act = lo < hi
        lo = np.where(act & r, mid, lo)
        hi = np.where(act & ~r, mid - 1, hi)
    t_neg = lo
    neg = (p["gamma"] * p["in_scale"]) < 0
    return np.where(neg[:, None], t_neg, t_pos), neg
