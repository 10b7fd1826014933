"""Number formats: parsing, weight codes, activation widths, exact bit widths."""

import numpy as np
import pytest

from rtl_gen.errors import QNNError
from rtl_gen.model.formats import WEIGHT_FORMATS, check_act_bits, check_weights, \
    decode_weights, encode_weights, parse_weight_format, signed_bits, unsigned_bits


def test_parse_all_formats():
    assert parse_weight_format("bipolar") == parse_weight_format("bipolar", "l")
    f = parse_weight_format("bipolar")
    assert (f.bits, f.lo, f.hi) == (1, -1, 1)
    f = parse_weight_format("ternary")
    assert (f.bits, f.lo, f.hi) == (2, -1, 1)
    for n in range(2, 9):
        f = parse_weight_format(f"int{n}")
        assert (f.name, f.bits, f.lo, f.hi) == (f"int{n}", n, -2 ** (n - 1), 2 ** (n - 1) - 1)
    assert len(WEIGHT_FORMATS) == 9


@pytest.mark.parametrize("bad", ["int1", "int9", "binary", "", None, 3])
def test_parse_unknown_format(bad):
    with pytest.raises(QNNError) as e:
        parse_weight_format(bad, "conv7")
    assert e.value.layer == "conv7"
    assert "bipolar" in str(e.value) and "int8" in str(e.value) and "ternary" in str(e.value)


@pytest.mark.parametrize("fmt", WEIGHT_FORMATS)
def test_encode_decode_round_trip(fmt):
    f = parse_weight_format(fmt)
    vals = np.array([v for v in range(f.lo, f.hi + 1) if v != 0 or fmt != "bipolar"])
    codes = encode_weights(vals, fmt)
    assert codes.min() >= 0 and codes.max() < 2 ** f.bits
    assert len(set(codes.tolist())) == len(vals)
    np.testing.assert_array_equal(decode_weights(codes, fmt), vals)


def test_specific_codes():
    np.testing.assert_array_equal(encode_weights([-1, 1, 1, -1], "bipolar"), [0, 1, 1, 0])
    np.testing.assert_array_equal(encode_weights([-1, 0, 1], "ternary"), [3, 0, 1])
    np.testing.assert_array_equal(encode_weights([-8, -1, 7], "int4"), [8, 15, 7])
    np.testing.assert_array_equal(decode_weights([0, 1], "bipolar"), [-1, 1])
    with pytest.raises(QNNError, match="0, 1 or 3"):
        decode_weights([2], "ternary", "w")


def test_check_weights_bipolar_zero_names_value_and_place():
    w = np.ones((2, 3, 3, 4), dtype=int)
    w[1, 2, 0, 3] = 0
    with pytest.raises(QNNError) as e:
        check_weights(w, "bipolar", "conv2")
    msg = str(e.value)
    assert e.value.layer == "conv2" and "value 0" in msg and "(1, 2, 0, 3)" in msg
    assert "-1 or +1" in msg


def test_check_weights_range_and_dtype():
    check_weights(np.array([-8, 7]), "int4", "x")
    with pytest.raises(QNNError, match=r"-8\.\.7"):
        check_weights(np.array([[0, 8]]), "int4", "x")
    with pytest.raises(QNNError, match=r"-1\.\.1"):
        check_weights(np.array([2]), "ternary", "x")
    with pytest.raises(QNNError, match="integer"):
        check_weights(np.array([0.5]), "int4", "x")


@pytest.mark.parametrize("bits", [0, 9, -1, 1.5, True, "4"])
def test_act_bits_invalid(bits):
    with pytest.raises(QNNError) as e:
        check_act_bits(bits, "t3")
    assert e.value.layer == "t3" and "1..8" in str(e.value)


def test_act_bits_valid():
    assert [check_act_bits(b) for b in range(1, 9)] == list(range(1, 9))
    assert check_act_bits(np.int64(3)) == 3


def test_signed_bits_examples():
    assert signed_bits(-8, 7) == 4
    assert signed_bits(0, 0) == 1
    assert signed_bits(-1, 0) == 1
    assert signed_bits(0, 1) == 2
    assert signed_bits(-9, 0) == 5
    assert signed_bits(-(2 ** 40), 2 ** 40) == 42


def test_signed_bits_brute_force():
    for lo in range(-40, 41):
        for hi in range(lo, 41):
            n = 1
            while not (-2 ** (n - 1) <= lo and hi <= 2 ** (n - 1) - 1):
                n += 1
            assert signed_bits(lo, hi) == n, (lo, hi)


def test_unsigned_bits():
    assert [unsigned_bits(v) for v in (0, 1, 2, 3, 4, 255, 256)] == [1, 1, 2, 2, 3, 8, 9]
    with pytest.raises(QNNError):
        unsigned_bits(-1)
