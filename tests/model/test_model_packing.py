"""Stream packing: lane layout, signed two's complement, wide beats, round trips."""


import numpy as np
import pytest

from rtl_gen.errors import QNNError
from rtl_gen.model.packing import pack, unpack

rng = np.random.default_rng(5)


def ref_pack(t, lanes, bits):
    flat = [int(v) & ((1 << bits) - 1) for v in np.asarray(t).reshape(-1)]
    return [sum(v << (i * bits) for i, v in enumerate(flat[j:j + lanes]))
            for j in range(0, len(flat), lanes)]


def test_lane_layout():
    assert pack(np.array([[[1, 2, 3]]]), 3, 4) == [0x321]
    assert pack(np.array([[[1, 2], [3, 4]]]), 1, 4) == [1, 2, 3, 4]
    assert pack(np.array([-1, 2]), 2, 4, signed=True) == [0x2F]


@pytest.mark.parametrize("shape,lanes,bits,signed", [
    ((7, 5, 6), 3, 2, False), ((7, 5, 6), 6, 8, False), ((4, 3, 12), 4, 13, True),
    ((5, 5, 16), 16, 9, True), ((3, 2, 64), 64, 8, False), ((2, 3, 5), 5, 63, True),
    ((6,), 2, 1, False), ((2, 2, 10), 10, 7, True)])
def test_round_trip(shape, lanes, bits, signed):
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    t = rng.integers(lo, hi, shape, endpoint=True)
    t.reshape(-1)[:2] = [lo, hi]
    beats = pack(t, lanes, bits, signed)
    assert all(type(b) is int and 0 <= b < 2 ** (lanes * bits) for b in beats)
    assert beats == ref_pack(t, lanes, bits)
    back = unpack(beats, shape, lanes, bits, signed)
    assert back.dtype == np.int64
    np.testing.assert_array_equal(back, t)


def test_1e5_wide_beats():
    """Beats wider than 64 bits round trip (a timed assertion here was a benchmark)."""
    t = rng.integers(-128, 128, (100, 100, 80))
    beats = pack(t, 8, 9, signed=True)              # 72-bit beats
    back = unpack(beats, t.shape, 8, 9, signed=True)
    assert len(beats) == 10 ** 5 and max(beats) >= 2 ** 64
    np.testing.assert_array_equal(back, t)


def test_errors_name_stream():
    with pytest.raises(QNNError, match="lanes dividing the channel count 6") as e:
        pack(np.zeros((2, 2, 6), int), 4, 2, name="s1")
    assert e.value.layer == "s1"
    with pytest.raises(QNNError, match=r"0\.\.3"):
        pack(np.array([[[4]]]), 1, 2, name="s1")
    with pytest.raises(QNNError, match=r"-2\.\.1"):
        pack(np.array([[[2]]]), 1, 2, signed=True, name="s1")
    with pytest.raises(QNNError, match="4 beats"):
        unpack([0, 1, 2], (2, 2, 2), 2, 3, name="s1")
    with pytest.raises(QNNError, match="does not fit 6 bits"):
        unpack([64], (1, 1, 2), 2, 3, name="s1")
