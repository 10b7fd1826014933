"""Every layer function against an explicit-loop formulation, with awkward sizes."""


import numpy as np
import pytest

from rtl_gen.errors import QNNError
from rtl_gen.model.layers import add, argmax, conv2d, dense, fork, global_avg_pool_sum, \
    im2col, maxpool, threshold

rng = np.random.default_rng(1234)


def ref_conv(x, w, stride, pad, groups):
    h, wd, c_in = x.shape
    c_out, k, _, cg = w.shape
    og = c_out // groups
    ho, wo = (h + 2 * pad - k) // stride + 1, (wd + 2 * pad - k) // stride + 1
    out = np.zeros((ho, wo, c_out), dtype=object)
    for oy in range(ho):
        for ox in range(wo):
            for co in range(c_out):
                g, s = co // og, 0
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * stride + ky - pad, ox * stride + kx - pad
                        if 0 <= iy < h and 0 <= ix < wd:
                            for ci in range(cg):
                                s += int(x[iy, ix, g * cg + ci]) * int(w[co, ky, kx, ci])
                out[oy, ox, co] = s
    return out


CONV_CASES = [  # (H, W, C_in, C_out, K, stride, pad, groups, weight range)
    (7, 5, 3, 6, 3, 1, 1, 1, (-1, 1)),
    (7, 5, 6, 3, 2, 2, 1, 1, (-8, 7)),
    (6, 9, 12, 6, 3, 2, 1, 3, (-1, 1)),
    (9, 6, 12, 12, 5, 2, 2, 12, (-128, 127)),   # depthwise
    (5, 7, 3, 4, 1, 1, 0, 1, (-2, 1)),
    (4, 3, 6, 6, 2, 1, 0, 2, (-1, 1)),
    (23, 19, 3, 4, 11, 4, 0, 1, (-1, 1)),
    (21, 18, 3, 2, 11, 4, 5, 1, (-8, 7)),
    (8, 8, 4, 4, 4, 3, 2, 1, (-1, 1)),          # even K with pad K//2
]


@pytest.mark.parametrize("h,w,c_in,c_out,k,s,p,g,wr", CONV_CASES)
def test_conv2d_against_loops(h, w, c_in, c_out, k, s, p, g, wr):
    x = rng.integers(0, 256, (h, w, c_in))
    wt = rng.integers(wr[0], wr[1] + 1, (c_out, k, k, c_in // g))
    if wr == (-1, 1):
        wt = np.where(wt == 0, 1, wt)
    y = conv2d(x, wt, stride=s, pad=p, groups=g)
    assert y.dtype == np.int64
    assert y.shape == ((h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, c_out)
    np.testing.assert_array_equal(y, ref_conv(x, wt, s, p, g).astype(np.int64))


def test_conv2d_exact_beyond_float_range():
    x = rng.integers(0, 2 ** 44, (4, 3, 3))
    wt = rng.integers(-128, 128, (2, 3, 3, 3))
    y = conv2d(x, wt, pad=1)
    np.testing.assert_array_equal(y, ref_conv(x, wt, 1, 1, 1).astype(np.int64))


def test_conv2d_resnet_stage_shape():
    """A ResNet-18 stage-1 convolution (its speed is a benchmark, not a test: a timed
    assertion here failed on a loaded machine)."""
    x = rng.integers(0, 4, (56, 56, 64))
    wt = rng.choice([-1, 1], (64, 3, 3, 64))
    y = conv2d(x, wt, pad=1)
    assert y.shape == (56, 56, 64)
    assert y[10, 20, 5] == int((np.pad(x, ((1, 1), (1, 1), (0, 0)))[10:13, 20:23] * wt[5]).sum())


def test_im2col_hardware_order():
    x = rng.integers(0, 16, (5, 7, 3))
    k, s, p = 3, 2, 1
    cols = im2col(x, k, s, p)
    emitted = []
    for oy in range((5 + 2 * p - k) // s + 1):
        for ox in range((7 + 2 * p - k) // s + 1):
            for ky in range(k):
                for kx in range(k):
                    for c in range(3):
                        iy, ix = oy * s + ky - p, ox * s + kx - p
                        emitted.append(int(x[iy, ix, c]) if 0 <= iy < 5 and 0 <= ix < 7 else 0)
    assert cols.shape == (3, 4, 3, 3, 3)
    assert cols.reshape(-1).tolist() == emitted


def test_dense_hwc_flatten():
    x = rng.integers(0, 4, (3, 2, 5))
    w = rng.integers(-8, 8, (7, 30))
    y = dense(x, w)
    assert y.shape == (1, 1, 7)
    for o in range(7):
        s = sum(int(x[h, wd, c]) * int(w[o, (h * 2 + wd) * 5 + c])
                for h in range(3) for wd in range(2) for c in range(5))
        assert y[0, 0, o] == s
    with pytest.raises(QNNError, match=r"\(C_out, 30\)"):
        dense(x, w[:, :29], name="fc")


def ref_threshold(acc, T, neg):
    out = np.zeros(acc.shape, dtype=np.int64)
    for idx in np.ndindex(acc.shape):
        c = idx[-1]
        a = int(acc[idx])
        out[idx] = sum((a <= t) if neg[c] else (a >= t) for t in T[c])
    return out


@pytest.mark.parametrize("bits", [1, 2, 3])
def test_threshold_with_negative_channels(bits):
    c = 6
    acc = rng.integers(-40, 41, (7, 5, c))
    T = np.sort(rng.integers(-30, 31, (c, 2 ** bits - 1)), axis=1)
    neg = np.array([False, True, False, True, True, False])
    T[neg] = T[neg][:, ::-1]
    T[0, :] = 3                              # repeated thresholds are allowed
    y = threshold(acc, T, neg)
    np.testing.assert_array_equal(y, ref_threshold(acc, T, neg))
    assert y.min() >= 0 and y.max() <= 2 ** bits - 1


def test_threshold_boundaries_exact():
    T = np.array([[-1, 0, 2], [2, 0, -1]])
    acc = np.array([[-2, -2], [-1, -1], [0, 0], [1, 1], [2, 2], [3, 3]])
    y = threshold(acc, T, [False, True])
    assert y[:, 0].tolist() == [0, 1, 2, 2, 3, 3]
    assert y[:, 1].tolist() == [3, 3, 2, 1, 1, 0]


def test_threshold_unsorted():
    with pytest.raises(QNNError) as e:
        threshold(np.zeros((2, 2), int), [[1, 0, 2], [0, 1, 2]], name="th")
    assert e.value.layer == "th" and "channel 0" in str(e.value)
    assert "non-decreasing" in str(e.value)
    with pytest.raises(QNNError, match="non-increasing"):
        threshold(np.zeros((2, 2), int), [[0, 1, 2], [0, 1, 2]], neg=[False, True])


def test_threshold_bad_shape():
    with pytest.raises(QNNError, match="2\\^A - 1"):
        threshold(np.zeros((2, 3), int), np.zeros((3, 2), int), name="th")


def ref_maxpool(x, k, s, p):
    h, w, c = x.shape
    ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    out = np.zeros((ho, wo, c), dtype=np.int64)
    for oy in range(ho):
        for ox in range(wo):
            for ch in range(c):
                vals = []
                for ky in range(k):
                    for kx in range(k):
                        iy, ix = oy * s + ky - p, ox * s + kx - p
                        vals.append(x[iy, ix, ch] if 0 <= iy < h and 0 <= ix < w else 0)
                out[oy, ox, ch] = max(vals)
    return out


@pytest.mark.parametrize("shape,k,s,p", [((7, 5, 3), 3, 2, 1), ((8, 6, 6), 2, 2, 0),
                                         ((5, 7, 12), 3, 1, 1), ((9, 9, 1), 3, 3, 0)])
def test_maxpool(shape, k, s, p):
    x = rng.integers(0, 16, shape)
    np.testing.assert_array_equal(maxpool(x, k, s, p), ref_maxpool(x, k, s, p))


def test_maxpool_signed_pad_value():
    x = -rng.integers(1, 50, (4, 4, 2))
    y = maxpool(x, 3, 2, 1, pad_value=-1000)
    for oy in range(2):
        for ox in range(2):
            win = x[max(0, 2 * oy - 1):2 * oy + 2, max(0, 2 * ox - 1):2 * ox + 2]
            np.testing.assert_array_equal(y[oy, ox], win.max(axis=(0, 1)))


def test_global_avg_pool_sum():
    x = rng.integers(0, 256, (7, 5, 6))
    y = global_avg_pool_sum(x)
    assert y.shape == (1, 1, 6)
    for c in range(6):
        assert y[0, 0, c] == sum(int(x[i, j, c]) for i in range(7) for j in range(5))


def test_add_per_channel_multipliers():
    a = rng.integers(-100, 100, (7, 5, 3))
    b = rng.integers(0, 4, (7, 5, 3))
    ma, mb = [1, 2, 4], 3
    y = add(a, b, ma, mb)
    for idx in np.ndindex(a.shape):
        assert y[idx] == a[idx] * ma[idx[2]] + b[idx] * mb
    np.testing.assert_array_equal(add(a, b), a + b)


def test_add_errors():
    a = np.zeros((2, 2, 3), int)
    with pytest.raises(QNNError, match="same shape") as e:
        add(a, np.zeros((2, 2, 4), int), name="res1")
    assert e.value.layer == "res1"
    with pytest.raises(QNNError, match="3 positive integers"):
        add(a, a, [1, 2], 1, name="res1")
    with pytest.raises(QNNError, match="positive"):
        add(a, a, 0, 1, name="res1")


def test_fork_and_argmax():
    x = rng.integers(0, 4, (2, 2, 3))
    a, b = fork(x)
    assert a is x and b is x
    assert argmax([3, 7, 7, 1]) == 1
    assert argmax(np.array([[[5, 5, 5]]])) == 0
    assert argmax([-4, -2, -2, -3]) == 1
    v = rng.integers(0, 3, 50)
    assert argmax(v) == next(i for i, e in enumerate(v) if e == v.max())


@pytest.mark.parametrize("k,s,p,match", [(0, 1, 0, "1..11"), (12, 1, 0, "1..11"),
                                         (3, 5, 0, "1..4"), (3, 1, 2, "0..1"),
                                         (7, 1, 0, "larger than the padded input")])
def test_window_errors(k, s, p, match):
    with pytest.raises(QNNError, match=match) as e:
        im2col(np.zeros((5, 6, 2), int), k, s, p, name="cv")
    assert e.value.layer == "cv"
    if k:
        with pytest.raises(QNNError, match=match):
            conv2d(np.zeros((5, 6, 2), int), np.ones((2, k, k, 2), int), s, p, name="cv")
        with pytest.raises(QNNError, match=match):
            maxpool(np.zeros((5, 6, 2), int), k, s, p, name="cv")


def test_conv_group_error():
    with pytest.raises(QNNError, match="common divisor"):
        conv2d(np.zeros((5, 5, 6), int), np.ones((4, 3, 3, 2), int), groups=3, name="cv")
