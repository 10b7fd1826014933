"""One test per spec error: the QNNError names the layer and says what is valid."""

import numpy as np
import pytest

from rtl_gen.errors import QNNError
from rtl_gen.model.spec import Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, MaxPool, \
    Network, Threshold, infer, run
from rtl_gen.model.infer import code_type


def expect(net, layer, *words):
    with pytest.raises(QNNError) as e:
        infer(net)
    err = e.value
    assert err.layer == layer, str(err)
    assert err.valid, f"no 'valid' hint: {err}"
    for w in words:
        assert w in str(err), f"{w!r} not in {err}"
    return err


def net_of(*layers, shape=(8, 8, 4)):
    return Network("n", shape, layers=list(layers))


def test_unknown_input_name():
    net = net_of(Conv("c1", 4, 3, pad=1), Threshold("t1", 1),
                 Conv("c2", 4, 3, input="c9"))
    expect(net, "c2", "unknown input 'c9'", "input, c1, t1")


def test_input_must_come_before():
    net = net_of(Threshold("t0", 1, input="t1"), Threshold("t1", 1))
    expect(net, "t0", "unknown input 't1'", "defined before")


def test_add_channel_mismatch():
    net = net_of(Conv("a", 4, 1), Conv("b", 8, 1, input="input"), Add("s", inputs=("a", "b")))
    expect(net, "s", "channel mismatch", "4 channels", "8", "same number of channels")


def test_add_different_shapes():
    net = net_of(Conv("a", 4, 1), Conv("b", 4, 3, input="input"), Add("s", inputs=("a", "b")))
    expect(net, "s", "different shapes", "(8, 8, 4)", "(6, 6, 4)", "same (H, W, C)")


def test_add_needs_two_inputs():
    expect(net_of(Add("s", inputs=("input",))), "s", "inputs=(name_a, name_b)")


def test_add_bad_multiplier():
    net = net_of(Fork("f"), Add("s", inputs=("f", "input"), mul=([1, 2, 3], 1)))
    expect(net, "s", "4 positive integers")
    expect(net_of(Add("s", inputs=("input", "input"), mul=(1, -2))), "s", "positive integer")


def test_groups_not_dividing():
    expect(net_of(Conv("c", 6, 3, groups=4)), "c", "groups=4", "common divisor of C_in")
    expect(net_of(Conv("c", 6, 3, groups=3)), "c", "groups=3", "common divisor")


@pytest.mark.parametrize("kw,words", [
    (dict(kernel=0), ("kernel 0", "1..11")), (dict(kernel=12), ("kernel 12", "1..11")),
    (dict(kernel=3, stride=0), ("stride 0", "1..4")), (dict(kernel=3, stride=5), ("1..4",)),
    (dict(kernel=3, pad=2), ("padding 2", "0..1")), (dict(kernel=4, pad=3), ("0..2",)),
    (dict(kernel=3, pad=-1), ("0..1",))])
def test_window_parameters_out_of_range(kw, words):
    expect(net_of(Conv("c", 4, **kw)), "c", *words)
    expect(net_of(MaxPool("p", **{"stride": 1, **kw})), "p", *words)


def test_kernel_bigger_than_padded_input():
    expect(net_of(Conv("c", 4, 7, pad=1), shape=(4, 9, 1)), "c", "larger than the padded", "6")
    expect(net_of(MaxPool("p", 5, 1), shape=(9, 4, 1)), "p", "larger than the padded")


@pytest.mark.parametrize("bits", [0, 9, 2.0])
def test_act_bits_out_of_range(bits):
    expect(net_of(Conv("c", 4, 1), Threshold("t", bits)), "t", "activation bits", "1..8")


def test_input_bits_out_of_range():
    net = Network("n", (4, 4, 1), input_bits=12, layers=[])
    expect(net, "input", "1..8")


def test_input_shape_invalid():
    expect(Network("n", (4, 4), layers=[]), "input", "(H, W, C)")


def test_weights_wrong_shape():
    net = net_of(Conv("c", 4, 3, groups=2, weights=np.ones((4, 3, 3, 4), int)))
    expect(net, "c", "(4, 3, 3, 4)", "(4, 3, 3, 2)")
    net = net_of(GlobalAvgPool("g"), Dense("fc", 3, weights=np.ones((3, 5), int)))
    expect(net, "fc", "(3, 4)")


def test_weights_outside_format():
    w = np.ones((4, 1, 1, 4), int)
    w[2, 0, 0, 1] = 0
    expect(net_of(Conv("c", 4, 1, weights=w)), "c", "value 0", "(2, 0, 0, 1)", "-1 or +1")
    w[2, 0, 0, 1] = 8
    expect(net_of(Conv("c", 4, 1, weight_format="int4", weights=w)), "c", "value 8", "-8..7")
    expect(net_of(Conv("c", 4, 1, weight_format="ternary", weights=w)), "c", "-1..1")


def test_unknown_weight_format():
    expect(net_of(Conv("c", 4, 1, weight_format="int16")), "c", "int16", "bipolar, ternary")
    expect(net_of(Dense("d", 4, weight_format="binary")), "d", "int8")


def test_thresholds_wrong_shape():
    net = net_of(Conv("c", 4, 1), Threshold("t", 2, thresholds=np.zeros((4, 2), int)))
    expect(net, "t", "(4, 2)", "(4, 3) = (channels, 2^act_bits - 1)")
    net = net_of(Conv("c", 4, 1), Threshold("t", 1, thresholds=np.zeros((3, 1), int)))
    expect(net, "t", "(4, 1)")


def test_thresholds_unsorted():
    T = np.array([[0, 1, 2]] * 4)
    T[2] = [0, 2, 1]
    net = net_of(Conv("c", 4, 1), Threshold("t", 2, thresholds=T))
    expect(net, "t", "channel 2", "non-decreasing")
    neg = np.array([False, True, False, False])
    net = net_of(Conv("c", 4, 1), Threshold("t", 2, thresholds=np.array([[0, 1, 2]] * 4),
                                            neg=neg))
    expect(net, "t", "channel 1", "non-increasing (negative scale)")


def test_neg_flags_wrong_shape():
    net = net_of(Threshold("t", 1, thresholds=np.zeros((4, 1), int), neg=[True, False]))
    expect(net, "t", "4 booleans")


def test_threshold_on_accumulators_and_codes_is_allowed():
    """A threshold may read codes (the 8-bit input) or a signed accumulator; either way
    its output is unsigned codes of its act_bits."""
    T = np.zeros((4, 1), int)
    types = infer(net_of(Threshold("t0", 1, thresholds=T), Conv("c", 4, 1),
                         Threshold("t", 1, T)))
    assert (types["input"].signed, types["input"].bits) == (False, 8)
    assert types["t0"] == code_type((8, 8, 4), 1)
    # a 1x1 bipolar conv over 4 one-bit codes: every sum in -4..4, a signed 4-bit range
    assert (types["c"].signed, types["c"].lo, types["c"].hi, types["c"].bits) == (True, -4, 4, 4)
    assert types["t"] == code_type((8, 8, 4), 1)


def test_conv_on_signed_accumulator():
    net = net_of(Conv("c1", 4, 3, pad=1), Conv("c2", 4, 3, pad=1))
    expect(net, "c2", "'c1' is a signed accumulator", "unsigned activation codes")


def test_duplicate_layer_names():
    net = net_of(Conv("c", 4, 1), Threshold("t", 1), Conv("c", 4, 1))
    expect(net, "c", "duplicate layer name 'c'", "unique names")
    expect(net_of(Fork("input")), "input", "duplicate", "'input' is reserved")


def test_invalid_layer_name_and_item():
    expect(net_of(Fork("bad name")), "bad name", "invalid name", "identifier")
    with pytest.raises(QNNError, match="Conv, Dense"):
        infer(net_of(Fork("f"), "not a layer"))


def test_non_positive_sizes():
    expect(net_of(Conv("c", 0, 1)), "c", "out_channels 0", ">= 1")
    expect(net_of(Dense("d", -3)), "d", "out_features -3")


def test_run_input_checks():
    net = net_of(Conv("c", 4, 1, weights=np.ones((4, 1, 1, 4), int)), ArgMax("a"))
    with pytest.raises(QNNError, match=r"shape \(8, 8, 4\)") as e:
        run(net, np.zeros((8, 4, 8), int))
    assert e.value.layer == "input"
    x = np.zeros((8, 8, 4), int)
    x[3, 3, 3] = 256
    with pytest.raises(QNNError, match=r"value 256 out of range.*0\.\.255"):
        run(net, x)
    with pytest.raises(QNNError, match="integer"):
        run(net, np.zeros((8, 8, 4)))


def test_run_missing_weights_and_thresholds():
    with pytest.raises(QNNError, match="no weights") as e:
        run(net_of(Conv("c", 4, 1)), np.zeros((8, 8, 4), int))
    assert e.value.layer == "c"
    with pytest.raises(QNNError, match="no thresholds") as e:
        run(net_of(Threshold("t", 2)), np.zeros((8, 8, 4), int))
    assert e.value.layer == "t" and e.value.valid
