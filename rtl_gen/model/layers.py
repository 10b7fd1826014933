"""Integer layer functions of the reference model: pure functions on numpy arrays.

Tensors are HWC (height, width, channels; channels innermost), the stream order. Values are
integers (int64 results); nothing here rounds. Window operations (conv, max pool) accept
kernel 1..11, stride 1..4 and symmetric padding 0..K//2 on all four sides.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from rtl_gen.errors import QNNError, require
from rtl_gen.model.formats import int_array

KERNEL_RANGE = (1, 11)
STRIDE_RANGE = (1, 4)
_FLOAT_EXACT = 1 << 53        # integer dot products below this are exact in float64


def is_int(v):
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def check_window(k, stride, pad, h, w, name):
    """Validate a K x K window with stride and padding over an h x w image."""
    require(is_int(k) and KERNEL_RANGE[0] <= k <= KERNEL_RANGE[1], name,
            f"kernel {k!r} out of range", "an integer in 1..11")
    require(is_int(stride) and STRIDE_RANGE[0] <= stride <= STRIDE_RANGE[1], name,
            f"stride {stride!r} out of range", "an integer in 1..4")
    require(is_int(pad) and 0 <= pad <= k // 2, name,
            f"padding {pad!r} out of range for kernel {k}", f"an integer in 0..{k // 2}")
    require(k <= h + 2 * pad and k <= w + 2 * pad, name,
            f"kernel {k} larger than the padded input {h + 2 * pad}x{w + 2 * pad}",
            f"kernel <= padded height and width ({min(h, w) + 2 * pad})")


def out_size(n, k, stride, pad):
    """Output length of a window op along one axis: (n + 2*pad - k) // stride + 1."""
    return (n + 2 * pad - k) // stride + 1


def _hwc(x, name, what="input"):
    arr = int_array(x, name, what)
    require(arr.ndim == 3, name, f"{what} has shape {arr.shape}", "an (H, W, C) tensor")
    return arr


def im2col(x, k, stride=1, pad=0, name="im2col", pad_value=0):
    """Sliding windows, shape (Ho, Wo, K, K, C), in the order the window hardware emits.

    For each output pixel (row-major), kernel row ky, kernel column kx, channel c innermost.
    Padding inserts ``pad_value`` (activation code 0 by default). Returns a read-only view.
    """
    x = _hwc(x, name)
    h, w, _ = x.shape
    check_window(k, stride, pad, h, w, name)
    if pad:
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), constant_values=pad_value)
    win = sliding_window_view(x, (k, k), axis=(0, 1))        # (H', W', C, K, K)
    return win[::stride, ::stride].transpose(0, 1, 3, 4, 2)


def _matmul_exact(a, b, name):
    """Integer a @ b, exact: float64 BLAS when every partial sum is below 2^53."""
    amax = int(np.abs(a).max(initial=0))
    bmax = int(np.abs(b).max(initial=0))
    if amax * bmax * a.shape[-1] < _FLOAT_EXACT:
        return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    require(amax * bmax * a.shape[-1] < (1 << 63), name,
            "dot product may exceed 63 bits", "smaller values or fewer terms")
    return a @ b


def conv2d(x, w, stride=1, pad=0, groups=1, name="conv"):
    """Grouped 2-D convolution of codes x (H, W, C_in) with weight values w.

    w has shape (C_out, K, K, C_in // groups); output channel group g (channels
    g*C_out/groups ...) reads input channels g*C_in/groups ... . Returns (Ho, Wo, C_out) int64.
    """
    x = _hwc(x, name)
    w = int_array(w, name, "weights")
    require(w.ndim == 4 and w.shape[1] == w.shape[2], name,
            f"weights have shape {w.shape}", "(C_out, K, K, C_in // groups)")
    c_in, c_out, k = x.shape[2], w.shape[0], w.shape[1]
    require(is_int(groups) and groups >= 1 and c_in % groups == 0 and c_out % groups == 0,
            name, f"groups={groups!r} does not divide C_in={c_in} and C_out={c_out}",
            "a positive common divisor of C_in and C_out")
    require(w.shape[3] == c_in // groups, name,
            f"weights have shape {w.shape} for {c_in} input channels in {groups} group(s)",
            f"({c_out}, {k}, {k}, {c_in // groups})")
    cols = im2col(x, k, stride, pad, name)                  # (Ho, Wo, K, K, C_in)
    ho, wo = cols.shape[:2]
    cg, og = c_in // groups, c_out // groups
    cols = cols.reshape(ho * wo, k, k, groups, cg).transpose(3, 0, 1, 2, 4)
    cols = cols.reshape(groups, ho * wo, k * k * cg)
    wg = w.reshape(groups, og, k * k * cg).transpose(0, 2, 1)  # (g, KKCg, og)
    out = _matmul_exact(cols, wg, name)                     # (g, Ho*Wo, og)
    return out.transpose(1, 0, 2).reshape(ho, wo, c_out)


def dense(x, w, name="dense"):
    """Fully connected layer: x flattened in HWC order (C innermost), w (C_out, N).

    Returns a (1, 1, C_out) int64 tensor (a one-pixel stream).
    """
    v = int_array(x, name, "input").reshape(-1)
    w = int_array(w, name, "weights")
    require(w.ndim == 2 and w.shape[1] == v.size, name,
            f"weights have shape {w.shape} for {v.size} inputs", f"(C_out, {v.size})")
    return _matmul_exact(v[None, :], w.T, name).reshape(1, 1, w.shape[0])


def check_thresholds(T, neg, channels, name, act_bits=None):
    """Validate a threshold table (C, 2^A-1) and its neg flags; return (T int64, neg bool).

    Positive channels need T[c] non-decreasing, negative (neg[c] True) non-increasing.
    """
    T = int_array(T, name, "thresholds")
    if act_bits is not None:
        want = (channels, (1 << act_bits) - 1)
        require(T.shape == want, name, f"thresholds have shape {T.shape}",
                f"{want} = (channels, 2^act_bits - 1)")
    else:
        n = T.shape[1] if T.ndim == 2 else 0
        require(T.ndim == 2 and T.shape[0] == channels and n >= 1 and (n + 1) & n == 0
                and n <= 255, name, f"thresholds have shape {T.shape}",
                f"({channels}, 2^A - 1) with A in 1..8")
    if neg is None:
        neg = np.zeros(channels, dtype=bool)
    neg = np.asarray(neg)
    require(neg.shape == (channels,) and (neg.dtype == bool or np.isin(neg, (0, 1)).all()),
            name, f"neg flags have shape {neg.shape}, dtype {neg.dtype}",
            f"{channels} booleans, one per channel")
    neg = neg.astype(bool)
    d = np.diff(T, axis=1)
    bad = np.where(neg, (d > 0).any(axis=1), (d < 0).any(axis=1))
    if bad.any():
        c = int(np.argmax(bad))
        order = "non-increasing (negative scale)" if neg[c] else "non-decreasing"
        raise QNNError(name, f"thresholds of channel {c} are not sorted: {T[c].tolist()}",
                       f"each row sorted {order}")
    return T, neg


def threshold(acc, T, neg=None, name="threshold"):
    """Accumulators (..., C) to codes by per-channel thresholds T (C, 2^A-1).

    Positive channel: code = #{i : acc >= T[c][i]}, T[c] non-decreasing.
    Negative channel (neg[c] True): code = #{i : acc <= T[c][i]}, T[c] non-increasing.
    """
    acc = int_array(acc, name, "input")
    require(acc.ndim >= 1, name, "input is a scalar", "a tensor with channels last")
    c = acc.shape[-1]
    T, neg = check_thresholds(T, neg, c, name)
    out = np.empty(acc.shape, dtype=np.int64)
    for ch in range(c):
        a = acc[..., ch]
        if neg[ch]:
            out[..., ch] = np.searchsorted(-T[ch], -a, side="right")
        else:
            out[..., ch] = np.searchsorted(T[ch], a, side="right")
    return out


def maxpool(x, k, stride, pad=0, name="maxpool", pad_value=0):
    """Max pool over K x K windows; padding inserts ``pad_value`` (code 0, the minimum code).

    For pooling signed accumulators with padding, pass the range minimum as pad_value.
    """
    cols = im2col(x, k, stride, pad, name, pad_value)
    return cols.max(axis=(2, 3)).astype(np.int64)


def global_avg_pool_sum(x, name="gap"):
    """Global average pool as an integer sum over H and W: (1, 1, C)."""
    return _hwc(x, name).sum(axis=(0, 1), keepdims=True)


def check_multiplier(m, channels, name, which):
    arr = np.asarray(m)
    ok = arr.ndim == 0 or arr.shape == (channels,)
    ok = ok and arr.dtype != bool and np.issubdtype(arr.dtype, np.integer) and (arr >= 1).all()
    require(ok, name, f"multiplier {which} {m!r} is not valid for {channels} channels",
            f"a positive integer or {channels} positive integers (one per channel)")
    return arr.astype(np.int64)


def add(a, b, mul_a=1, mul_b=1, name="add"):
    """Element-wise a*mul_a + b*mul_b; multipliers positive ints, scalar or per channel."""
    a = int_array(a, name, "input a")
    b = int_array(b, name, "input b")
    require(a.shape == b.shape, name, f"input shapes differ: {a.shape} and {b.shape}",
            "two inputs of the same shape")
    c = a.shape[-1] if a.ndim else 1
    return a * check_multiplier(mul_a, c, name, "a") + b * check_multiplier(mul_b, c, name, "b")


def fork(x):
    """Duplicate a stream: (x, x)."""
    return x, x


def argmax(v):
    """Index of the largest element of v flattened (ties to the lowest index), as int."""
    return int(np.argmax(np.asarray(v).reshape(-1)))
