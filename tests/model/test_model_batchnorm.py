"""Batch-norm folding: integer thresholds give exactly the float quantizer's codes."""

import numpy as np
import pytest

from rtl_gen.errors import QNNError
from rtl_gen.model.batchnorm import float_reference, fold_batchnorm
from rtl_gen.model.layers import threshold


def random_bn(rng, c, scale=1.0):
    gamma = rng.normal(size=c)
    gamma[rng.random(c) < 0.2] = 0.0
    gamma[rng.random(c) < 0.1] *= 1e-3
    return dict(gamma=gamma, beta=rng.normal(size=c), mean=rng.normal(size=c) * 20 * scale,
                var=rng.random(c) * 30 * scale ** 2 + 0.01, eps=1e-5)


@pytest.mark.parametrize("seed,bits", [(0, 1), (1, 2), (2, 3), (3, 4), (4, 8), (5, 2)])
def test_fold_matches_float_on_every_acc_in_range(seed, bits):
    rng = np.random.default_rng(seed)
    c = 12
    bn = random_bn(rng, c)
    step = float(rng.choice([0.1, 0.25, 1 / 3, 0.7, 1.0]))
    in_scale = float(rng.choice([1.0, 0.5, 0.37]))
    bias = rng.normal(size=c) if seed % 2 else None
    lo, hi = -300, 300
    T, neg = fold_batchnorm(**bn, act_bits=bits, act_step=step, in_scale=in_scale, bias=bias,
                            acc_range=(lo, hi), name="bn1")
    assert T.shape == (c, 2 ** bits - 1) and T.dtype == np.int64 and neg.dtype == bool
    np.testing.assert_array_equal(neg, bn["gamma"] * in_scale < 0)
    assert T.min() >= lo - 1 and T.max() <= hi + 1
    acc = np.repeat(np.arange(lo, hi + 1)[:, None], c, axis=1)
    want = float_reference(acc, **bn, act_bits=bits, act_step=step, in_scale=in_scale,
                           bias=bias)
    np.testing.assert_array_equal(threshold(acc, T, neg), want)
    assert (want.max(axis=0) > want.min(axis=0)).sum() > 0     # not all constant


def test_fold_without_range_random_large_accs():
    rng = np.random.default_rng(7)
    c = 16
    bn = random_bn(rng, c, scale=1e4)
    T, neg = fold_batchnorm(**bn, act_bits=4, act_step=0.3, in_scale=0.8)
    acc = rng.integers(-10 ** 6, 10 ** 6, (4000, c))
    want = float_reference(acc, **bn, act_bits=4, act_step=0.3, in_scale=0.8)
    np.testing.assert_array_equal(threshold(acc, T, neg), want)
    near = T[(np.abs(T) < 2 ** 52)]                 # every threshold and its neighbours
    acc = np.concatenate([near - 1, near, near + 1])
    acc = np.repeat(acc[:, None], c, axis=1)
    want = float_reference(acc, **bn, act_bits=4, act_step=0.3, in_scale=0.8)
    np.testing.assert_array_equal(threshold(acc, T, neg), want)


def test_exact_half_boundaries_round_up():
    # y/step + 0.5 lands exactly on integers: code = floor(acc/2 + 0.5), half rounds up
    T, neg = fold_batchnorm([1.0, -1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], 0.0,
                            act_bits=2, act_step=1.0, in_scale=0.5, acc_range=(-10, 10))
    assert T[0].tolist() == [1, 3, 5]
    assert neg.tolist() == [False, True] and T[1].tolist() == [-1, -3, -5]
    acc = np.repeat(np.arange(-10, 11)[:, None], 2, axis=1)
    want = float_reference(acc, [1.0, -1.0], [0.0, 0.0], [0.0, 0.0], [1.0, 1.0], 0.0, 2, 1.0,
                           in_scale=0.5)
    np.testing.assert_array_equal(threshold(acc, T, neg), want)


def test_zero_gamma_constant_codes():
    T, neg = fold_batchnorm([0.0, 0.0, -0.0], [0.6, -5.0, 9.0], [1, 2, 3], [1, 1, 1], 1e-5,
                            act_bits=2, act_step=0.5, acc_range=(-20, 20))
    assert not neg.any()
    assert T[0].tolist() == [-20, 21, 21]      # constant code 1
    assert T[1].tolist() == [21, 21, 21]       # constant code 0
    assert T[2].tolist() == [-20, -20, -20]    # constant code 3


def test_fold_errors():
    ok = dict(gamma=[1.0], beta=[0.0], mean=[0.0], var=[1.0], eps=1e-5, act_step=0.5)
    with pytest.raises(QNNError, match="1..8") as e:
        fold_batchnorm(**ok, act_bits=9, name="bnx")
    assert e.value.layer == "bnx"
    with pytest.raises(QNNError, match="act_step > 0"):
        fold_batchnorm(**{**ok, "act_step": 0.0}, act_bits=2, name="bnx")
    with pytest.raises(QNNError, match="var \\+ eps > 0"):
        fold_batchnorm(**{**ok, "var": [-1.0]}, act_bits=2, name="bnx")
    with pytest.raises(QNNError, match="lo <= hi"):
        fold_batchnorm(**ok, act_bits=2, acc_range=(5, 4), name="bnx")
    with pytest.raises(QNNError, match=r"shape \(1,\)"):
        fold_batchnorm(**{**ok, "beta": [0.0, 1.0]}, act_bits=2, name="bnx")
