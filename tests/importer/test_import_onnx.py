"""``rtl_gen.importer`` on QONNX models built here from ONNX helpers (not from Brevitas):
exact against qonnx's own executor, the residual multipliers exact on the whole input box,
QONNX's rounding modes at exact ties, NCHW to HWC (a Flatten over a spatial map, a
Transpose + Reshape), and a clear error for everything outside the supported set."""

import numpy as np
import onnx
import pytest

import onnx_models as M
from rtl_gen import QNNError
from rtl_gen.importer import check, convert, import_onnx, random_images
from rtl_gen.importer.thresholds import simplest_between, solve_add
from rtl_gen.model.execute import run
from rtl_gen.model.netgraph import Add, ArgMax, Threshold
from rtl_gen.model.serialize import load, save


def test_unusual_order_exact_against_qonnx(tmp_path):
    m = M.unusual()
    res = convert(m, "unusual")
    net = res.net
    kinds = [type(lay).__name__ for lay in net.layers]
    assert kinds == ["Conv", "Threshold", "Conv", "Add", "Threshold", "MaxPool", "Dense"]
    assert net.input_signed and net.input_bits == 8
    add = next(lay for lay in net.layers if isinstance(lay, Add))
    assert add.inputs == ("act1", "conv2")                 # the codes, the BN'd branch
    act2 = net.layer("act2")
    assert act2.neg.tolist() == [False, True, False, False]  # BN after the add, gamma < 0
    assert any("exact rounding tie" in n for n in res.notes)
    # the output scale and zero point (a Gemm bias) are in the metadata; no arg-max layer
    # (the zero points differ per class)
    assert net.metadata["output"]["zero_point"] == [128.0, 64.0, 0.0, -64.0, -128.0]
    assert not any(isinstance(lay, ArgMax) for lay in net.layers)
    rep = check(m, net, random_images(net, 150, seed=3))
    assert rep.ok and rep.code_mismatches == 0, rep.summary()
    save(net, tmp_path / "u.yaml")
    assert load(tmp_path / "u.yaml") == net


def test_transpose_reshape_matmul_and_argmax():
    m = M.transpose_matmul()
    net = convert(m, "tm").net
    assert [type(lay).__name__ for lay in net.layers] == ["Conv", "Threshold", "Dense",
                                                           "ArgMax"]
    assert net.layer("conv1").weight_format == "ternary"
    # Transpose to NHWC + Reshape: the ONNX feature order is already HWC
    rep = check(m, net, random_images(net, 100, seed=1))
    assert rep.ok, rep.summary()


def _tie_model(mode):
    """A 1x1 conv (int weights, scale 2^-4) into a 3-bit quantizer of step 2^-3: the
    quantizer's input x/step = acc/2 ties on every odd accumulator."""
    def ops(b, x):
        w = b.quant(b.const(np.array([1, 2, -1, 3]).reshape(2, 2, 1, 1) / 16), 1 / 16, 4, 1,
                    name="w")
        c = b.node("Conv", [x, w], name="conv", kernel_shape=[1, 1])
        return b.quant(c, 2 ** -11, 3, 0, mode=mode, name="act")
    return M.single(ops, out_shape=(1, 2, 4, 4))


@pytest.mark.parametrize("mode", ["ROUND", "HALF_UP", "HALF_DOWN", "FLOOR", "CEIL", "UP",
                                  "DOWN"])
def test_rounding_modes_exact_at_ties(mode):
    """The quantizer's input acc*2^-12 / 2^-12... lands on exact ties: the thresholds follow
    the node's rounding mode (QONNX's ROUND is half to even), exact against qonnx."""
    m = _tie_model(mode)
    res = convert(m, "ties")
    rep = check(m, res.net, random_images(res.net, 40, seed=2))
    assert rep.ok, rep.summary()


def test_round_is_half_to_even_not_half_up():
    even = convert(_tie_model("ROUND"), "t").net.layer("act1").thresholds
    up = convert(_tie_model("HALF_UP"), "t").net.layer("act1").thresholds
    assert not np.array_equal(even, up)
    assert any("exact rounding tie" in n for n in convert(_tie_model("ROUND"), "t").notes)


def test_residual_multipliers_exact_and_bounded():
    """A sum a1*q1 + a2*q2 of an irrational-looking ratio into a 2-bit quantizer: the
    multipliers are exact on every pair; a 2-bit bound refuses with the width needed."""
    a1, a2 = 0.3183098861837907, 0.1

    def code2(q1, q2, c):
        return np.clip(np.round((a1 * q1 + a2 * q2) / 0.5), 0, 3).astype(np.int64)

    m1, m2, T, neg, widths = solve_add(code2, ((0, 3), (-20, 20)), 3, np.ones(1), "add", 1)
    q1, q2 = np.meshgrid(np.arange(4), np.arange(-20, 21), indexing="ij")
    z = m1[0] * q1 + m2[0] * q2
    assert np.array_equal((z[..., None] >= T[0]).sum(-1), code2(q1, q2, 0))
    assert widths[0] <= 4
    with pytest.raises(QNNError, match=r"exact residual multipliers need \d+ bits"):
        solve_add(code2, ((0, 3), (-20, 20)), 3, np.ones(1), "add", 1, max_bits=1)


def test_simplest_fraction():
    from fractions import Fraction as F
    assert simplest_between(F(0), None) == 1
    assert simplest_between(F(1, 3), F(1, 2)) == F(2, 5)
    assert simplest_between(F(2), F(3)) == F(5, 2)
    assert simplest_between(F(314, 100), F(315, 100)) == F(22, 7)


def _error(ops, match, shape=(1, 2, 4, 4)):
    with pytest.raises(QNNError, match=match):
        convert(M.single(ops, in_shape=shape), "bad")


def test_errors_name_the_node():
    _error(lambda b, x: b.node("Sigmoid", [x], name="sig"),
           r"layer 'sig \(Sigmoid\)': op type Sigmoid is not supported \(valid: Quant, "
           r"BipolarQuant, Trunc, Conv")

    def dilated(b, x):
        w = b.bipolar_weights((2, 2, 3, 3), 1.0)
        return b.node("Conv", [x, w], name="dil", kernel_shape=[3, 3], dilations=[2, 2])
    _error(dilated, r"'dil \(Conv\)': attribute dilations=\[2, 2\] is not supported")

    def float_weights(b, x):
        return b.node("Conv", [x, b.const(np.ones((2, 2, 1, 1)))], name="fw",
                      kernel_shape=[1, 1])
    _error(float_weights, r"'fw \(Conv\)': its weights 'c\d+' are not quantized")

    def two_streams(b, x):
        return b.node("Mul", [x, x], name="sq")
    _error(two_streams, r"'sq \(Mul\)': a product of two streams")

    def relu_conv(b, x):
        s = b.node("Sub", [x, b.const(0.5)], name="sub")
        r = b.node("Relu", [s], name="relu")
        w = b.bipolar_weights((2, 2, 1, 1), 1.0)
        return b.node("Conv", [r, w], name="cv", kernel_shape=[1, 1])
    _error(relu_conv, r"'cv \(Conv\)': its input passes through Relu with no quantizer")

    def zp_pad(b, x):
        q = b.quant(x, 1 / 16, 4, 0, zeropt=3.0, name="zq")
        w = b.bipolar_weights((2, 2, 3, 3), 1.0)
        return b.node("Conv", [q, w], name="padded", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    _error(zp_pad, r"'padded \(Conv\)': zero padding of an input with a non-zero offset")

    def wide_act(b, x):
        w = b.bipolar_weights((2, 2, 3, 3), 1.0)
        c = b.node("Conv", [x, w], name="c", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        return b.quant(c, 1 / 256, 12, 1, name="q12")
    _error(wide_act, r"'q12 \(Quant\)': its output spans \d+ integer levels")

    def opposite(b, x):
        w = b.bipolar_weights((2, 2, 1, 1), 1.0)
        c = b.node("Conv", [x, w], name="c", kernel_shape=[1, 1])
        n = b.node("Mul", [c, b.const(-1.0)], name="neg")
        s = b.node("Add", [x, n], name="res")
        return b.quant(s, 0.1, 2, 0, name="q")
    _error(opposite, r"the residual add 'res' joins branches whose scales have opposite "
           r"signs in channel 0")

    def avgpool(b, x):
        return b.node("AveragePool", [x], name="ap", kernel_shape=[2, 2], strides=[2, 2])
    _error(avgpool, r"'ap \(AveragePool\)': kernel \[2, 2\] over a 4x4 input")

    def no_input_quant(b, x):
        return b.node("Relu", ["x"], name="r0")
    with pytest.raises(QNNError, match=r"'r0 \(Relu\)': the graph input goes into a Relu"):
        b = M.Builder("b", (1, 2, 4, 4))
        convert(b.model(no_input_quant(b, "x"), (1, 2, 4, 4)), "b")

    def signed_16(b, x):
        return b.quant(x, 1.0, 16, 1, name="q16")
    with pytest.raises(QNNError, match=r"the input quantizer has 16 bits signed"):
        b = M.Builder("b", (1, 2, 4, 4))
        convert(b.model(signed_16(b, "x"), (1, 2, 4, 4)), "b")


def test_unreadable_file(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"not a model")
    with pytest.raises(QNNError, match="is not an ONNX model|cannot read ONNX model"):
        import_onnx(tmp_path / "x.onnx")


def test_multiplier_width_refused_naming_the_add():
    """The unusual model's add needs 3-bit multipliers: with a 2-bit bound it is refused,
    naming the add, the channel and the width needed."""
    with pytest.raises(QNNError, match=r"layer 'residual \(Add\)': channel \d: exact residual "
                       r"multipliers need 3 bits .*valid: multipliers of at most 2 bits"):
        convert(M.unusual(), "u", max_multiplier_bits=2)
