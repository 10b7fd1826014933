"""Integer thresholds and residual multipliers for a monotone code function, exactly.

**Thresholds** (one integer input). A quantizer after a chain of monotone per-channel
operations (affine maps, batch-norm, ReLU) is a monotone step function ``code(q)`` of the
integer accumulator ``q`` in its type range [lo, hi]. Per channel c and level i the
threshold is found by an integer binary search on the function itself (as
``rtl_gen.model.batchnorm.fold_batchnorm`` does): for a non-decreasing channel the
smallest q with code >= i (hi + 1 if none), for a non-increasing one the largest (lo - 1
if none, ``neg`` set). Whenever the range is small enough (at most 2^22 values x channels)
every q is checked against the thresholds afterwards.

**Residual multipliers** (two integer inputs). A residual add followed by a quantizer
computes ``code(q1, q2) = Q(f(a1*q1 + b1 + a2*q2 + b2))`` per channel. The hardware adds
``z = m1*q1 + m2*q2`` with positive integers m1, m2 and thresholds z. Method, per channel
(``solve_add``): enumerate the input with fewer values, u (the other is w); for every u and
level k find by binary search the boundary ``B_k(u)``, the least w with code >= k. The
thresholded z reproduces the code on EVERY pair of the box [lo1, hi1] x [lo2, hi2] (a
superset of the reachable pairs) iff for each k there is a Z_k with
``m_u*u + m_w*(B_k(u) - 1) < Z_k <= m_u*u + m_w*B_k(u)`` for all u (one side only where
B_k(u) is the least or beyond the largest w). Those conditions on pairs (u, u') make the
ratio rho = m_u/m_w lie in an open interval (rho_lo, rho_hi), computed exactly with
rationals; the multipliers are the simplest fraction in it (smallest m_w, then m_u: the
Stern-Brocot / continued-fraction search), and Z_k follows. When the two branch scales
are in an exact small ratio (powers of two, or equal) that ratio is in the interval and
the simplest fraction is at most that simple. Bound: multipliers of at most
``MAX_MULTIPLIER_BITS`` bits (16); a channel whose simplest exact fraction needs more is
refused with the width it needs. Afterwards the whole box is checked (when it has at most
2^24 points x channels).
"""

from fractions import Fraction

import numpy as np

from rtl_gen.errors import QNNError, require

MAX_MULTIPLIER_BITS = 16
MAX_ENUMERATED = 4096          # values of the smaller add input enumerated per channel
_CHECK_LIMIT = 1 << 22


def _search_first(reached, lo, hi, shape):
    """Per entry, the least integer in [lo, hi] where ``reached(x)`` (a boolean array
    function, monotone: False ... True) holds; hi + 1 if none. lo, hi broadcast."""
    a = np.broadcast_to(np.asarray(lo, dtype=np.int64), shape).copy()
    b = np.broadcast_to(np.asarray(hi, dtype=np.int64) + 1, shape).copy()
    while (a < b).any():
        mid = a + (b - a) // 2
        r = reached(mid)
        act = a < b
        b = np.where(act & r, mid, b)
        a = np.where(act & ~r, mid + 1, a)
    return a


def thresholds(code_fn, channels, levels, lo, hi, direction, name):
    """(T int64 (C, levels), neg bool (C,)) for ``code_fn(q (..., C) int64) -> codes``,
    monotone per channel with ``direction`` (C,) in {+1, -1, 0} (0: constant)."""
    neg = np.asarray(direction) < 0
    level = np.arange(1, levels + 1)[None, :]                     # (1, L)

    def reached_pos(q):                                           # q (C, L)
        return code_fn(q.T).T >= level

    t_pos = _search_first(reached_pos, lo, hi, (channels, levels))

    def reached_neg(mq):                                          # on -q: non-increasing
        return code_fn((-mq).T).T >= level

    t_neg = -_search_first(reached_neg, -hi, -lo, (channels, levels))
    T = np.where(neg[:, None], t_neg, t_pos)
    _verify_single(code_fn, T, neg, lo, hi, name)
    return T, neg


def _threshold_codes(q, T, neg):
    """Codes of integer q (N, C) through thresholds T (C, L) (the model's semantics)."""
    pos = (q[:, :, None] >= T[None]).sum(axis=2)
    negc = (q[:, :, None] <= T[None]).sum(axis=2)
    return np.where(neg[None, :], negc, pos)


def _verify_single(code_fn, T, neg, lo, hi, name):
    c = T.shape[0]
    if (hi - lo + 1) * c * T.shape[1] > _CHECK_LIMIT:
        return
    q = np.repeat(np.arange(lo, hi + 1, dtype=np.int64)[:, None], c, axis=1)
    want = code_fn(q)
    got = _threshold_codes(q, T, neg)
    if not np.array_equal(want, got):
        bad = np.argwhere(want != got)[0]
        raise QNNError(name, f"internal: thresholds differ from the quantizer at value "
                       f"{int(q[bad[0], bad[1]])}, channel {int(bad[1])}",
                       "a monotone quantizer chain (report this)")


# --- residual multipliers ------------------------------------------------------------------
def simplest_between(lo, hi):
    """The fraction with the smallest denominator (then numerator) strictly inside
    (lo, hi); lo >= 0 a Fraction, hi a Fraction or None (no upper bound)."""
    fl = lo.numerator // lo.denominator
    if hi is None or fl + 1 < hi:
        return Fraction(fl + 1)
    # lo, hi both within (fl, fl + 1]: x = fl + 1/y
    y = simplest_between(1 / (hi - fl), None if lo == fl else 1 / (lo - fl))
    return fl + 1 / y


def _frac_extreme(num, den, largest):
    """The largest (or smallest) of num/den (den > 0) exactly, as a Fraction, or None."""
    if num.size == 0:
        return None
    val = num / den
    best = val.max() if largest else val.min()
    close = np.abs(val - best) <= 1e-9 * max(1.0, abs(best))
    fr = [Fraction(int(n), int(d)) for n, d in zip(num[close], den[close])]
    return max(fr) if largest else min(fr)


def _ratio_interval(u, B, wlo, whi):
    """Open interval (lo, hi) of rho = m_u/m_w for boundaries B (L, n) over u values (n,)."""
    lo, hi = Fraction(0), None
    for b in B:
        has_l = b > wlo                   # a lower side: m_u u + m_w (b - 1) < Z
        has_u = b <= whi                  # an upper side: Z <= m_u u + m_w b
        ui, bi = u[has_l], b[has_l]
        uj, bj = u[has_u], b[has_u]
        if ui.size == 0 or uj.size == 0:
            continue
        du = ui[:, None] - uj[None, :]    # m_u * du < m_w * (bj - bi + 1)
        rhs = bj[None, :] - bi[:, None] + 1
        up = du > 0
        low = du < 0
        if (~up & ~low & (rhs <= 0)).any():
            return None
        cand = _frac_extreme(rhs[up], du[up], largest=False)
        if cand is not None:
            hi = cand if hi is None else min(hi, cand)
        cand = _frac_extreme(-rhs[low], -du[low], largest=True)   # rho > -rhs/(-du)
        if cand is not None:
            lo = max(lo, cand)
    if hi is not None and hi <= lo:
        return None
    return lo, hi


def _boundaries(code2, u, wlo, whi, levels, c):
    """B (L, n): per level and u value, the least w in [wlo, whi] with code >= level."""
    level = np.arange(1, levels + 1)[:, None]

    def reached(w):                                               # w (L, n)
        return code2(np.broadcast_to(u[None, :], w.shape), w, c) >= level

    return _search_first(reached, wlo, whi, (levels, u.size))


def solve_add(code2, ranges, levels, direction, name, channels,
              max_bits=MAX_MULTIPLIER_BITS):
    """Per-channel multipliers and thresholds for ``code2(q1, q2, c)`` (arrays of equal
    shape, channel c) non-decreasing in both inputs when ``direction`` is +1,
    non-increasing in both when -1 (0: constant). Returns (m1 (C,), m2 (C,), T (C, L),
    neg (C,), widths (C,) bits of the larger multiplier)."""
    (lo1, hi1), (lo2, hi2) = ranges
    m1 = np.ones(channels, dtype=np.int64)
    m2 = np.ones(channels, dtype=np.int64)
    T = np.zeros((channels, levels), dtype=np.int64)
    neg = np.asarray(direction) < 0
    swap = (hi1 - lo1) > (hi2 - lo2)          # u: the input with fewer values
    (ulo, uhi), (wlo, whi) = ((lo2, hi2), (lo1, hi1)) if swap else ((lo1, hi1), (lo2, hi2))
    if uhi - ulo + 1 > MAX_ENUMERATED:
        raise QNNError(name, f"both inputs of the residual add span more than "
                       f"{MAX_ENUMERATED:,} values ({hi1 - lo1 + 1:,} and {hi2 - lo2 + 1:,})",
                       "an add where one input is a narrower tensor (activation codes or a "
                       "small accumulator)")
    for c in range(channels):
        s = -1 if neg[c] else 1

        def code(uu, ww, ch, s=s):            # in oriented coordinates (non-decreasing)
            a, b = (ww, uu) if swap else (uu, ww)
            return code2(s * a, s * b, ch)

        ul, uh, wl, wh = (ulo, uhi, wlo, whi) if s > 0 else (-uhi, -ulo, -whi, -wlo)
        u = np.arange(ul, uh + 1, dtype=np.int64)
        B = _boundaries(code, u, wl, wh, levels, c)
        interval = _ratio_interval(u, B, wl, wh)
        if interval is None:
            raise QNNError(name, f"channel {c}: no integer multipliers reproduce the "
                           "quantized sum (the code is not a function of any weighted sum)",
                           "branch scales of the same sign into a monotone quantizer")
        rho = simplest_between(*interval)
        mu, mw = rho.numerator, rho.denominator
        width = max(mu, mw).bit_length()
        if width > max_bits:
            raise QNNError(name, f"channel {c}: exact residual multipliers need {width} bits "
                           f"({mu}:{mw}, the simplest ratio in ({float(interval[0]):.9g}, "
                           f"{float(interval[1]) if interval[1] is not None else 'inf':.9g}))",
                           f"multipliers of at most {max_bits} bits")
        for k in range(levels):
            b = B[k]
            lower = mu * u[b > wl] + mw * (b[b > wl] - 1)
            upper = mu * u[b <= wh] + mw * b[b <= wh]
            z = int(lower.max()) + 1 if lower.size else int(upper.min())
            assert not upper.size or z <= int(upper.min())
            T[c, k] = -z if s < 0 else z
        m1[c], m2[c] = (mw, mu) if swap else (mu, mw)
    _verify_add(code2, ranges, m1, m2, T, neg, name)
    widths = np.array([max(int(a), int(b)).bit_length() for a, b in zip(m1, m2)])
    return m1, m2, T, neg, widths


def _verify_add(code2, ranges, m1, m2, T, neg, name):
    (lo1, hi1), (lo2, hi2) = ranges
    n1, n2 = hi1 - lo1 + 1, hi2 - lo2 + 1
    if n1 * n2 * len(m1) > (1 << 24):
        return
    q1, q2 = np.meshgrid(np.arange(lo1, hi1 + 1), np.arange(lo2, hi2 + 1), indexing="ij")
    q1, q2 = q1.reshape(-1), q2.reshape(-1)
    for c in range(len(m1)):
        want = code2(q1, q2, c)
        z = m1[c] * q1 + m2[c] * q2
        got = ((z[:, None] <= T[c][None]) if neg[c] else (z[:, None] >= T[c][None])).sum(1)
        require(np.array_equal(want, got), name,
                f"internal: the residual multipliers of channel {c} are not exact",
                "(report this)")
