"""Small QONNX models built here from ONNX helpers (not from Brevitas), with ops in unusual
orders: a signed 8-bit input, a conv with a bias and per-channel weight scales, a Mul after
a Relu, a residual add with a batch-norm on one branch only and one after it with a
negative scale, a max pool, a Flatten over a spatial map into a Gemm with a bias."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QDOMAIN = "qonnx.custom_op.general"


class Builder:
    def __init__(self, name, in_shape):
        self.name = name
        self.nodes, self.inits = [], []
        self.rng = np.random.default_rng(7)
        self.inp = helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))
        self.n = 0

    def const(self, value, name=None):
        self.n += 1
        name = name or f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=np.float32), name))
        return name

    def node(self, op, inputs, domain="", name=None, **attrs):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name or f"{op}_{self.n}",
                                           domain=domain, **attrs))
        return out

    def quant(self, x, scale, bits, signed, narrow=0, zeropt=0.0, mode="ROUND", name=None):
        return self.node("Quant", [x, self.const(scale), self.const(zeropt), self.const(bits)],
                         QDOMAIN, name=name, signed=signed, narrow=narrow, rounding_mode=mode)

    def int_weights(self, shape, bits, scale, name=None):
        """A Quant on float weights whose integers are random in the signed range."""
        lo, hi = -(1 << (bits - 1)) + 1, (1 << (bits - 1)) - 1
        ints = self.rng.integers(lo, hi + 1, size=shape)
        w = (ints * np.asarray(scale)).astype(np.float32)
        return self.quant(self.const(w), scale, bits, 1, 1, name=name), ints

    def bipolar_weights(self, shape, scale):
        w = self.rng.standard_normal(shape).astype(np.float32)
        return self.node("BipolarQuant", [self.const(w), self.const(scale)], QDOMAIN)

    def model(self, out, out_shape):
        graph = helper.make_graph(self.nodes, self.name, [self.inp], [
            helper.make_tensor_value_info(out, TensorProto.FLOAT, list(out_shape))],
            self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid(QDOMAIN, 1)])
        m.ir_version = 8
        return m


def unusual(n_classes=5):
    """Signed 8-bit input (2, 6, 6) -> conv 3x3 (int4, per-channel scales, bias) -> Relu
    -> Mul -> Quant 2-bit -> [conv 1x1 bipolar -> BN] + (the codes: no BN on this branch)
    -> BN (one channel negative) -> Relu -> Quant 3-bit -> MaxPool 2 -> Flatten (NCHW order) -> Gemm int8 + bias."""
    b = Builder("unusual", (1, 2, 6, 6))
    x = b.quant("x", 2.0 ** -7, 8, 1, name="input_quant")
    # dyadic scales (as Brevitas' fixed-point quantizers give): float32 is then exact in
    # the executor up to the batch-norms, and exact rounding ties do occur (half to even)
    s1 = np.array([2 ** -6, 3 * 2 ** -7, 5 * 2 ** -8, 2 ** -5],
                  dtype=np.float32).reshape(4, 1, 1, 1)
    w1, _ = b.int_weights((4, 2, 3, 3), 4, s1)
    bias1 = b.const(np.array([2 ** -7, -2 ** -6, 0.0, 3 * 2 ** -7]))
    c1 = b.node("Conv", [x, w1, bias1], name="conv_bias", kernel_shape=[3, 3],
                pads=[1, 1, 1, 1], strides=[1, 1])
    r1 = b.node("Relu", [c1])
    m1 = b.node("Mul", [r1, b.const(np.array([1.5, 0.75, 1.0, 2.0]).reshape(1, 4, 1, 1))],
                name="mul_after_relu")
    a1 = b.quant(m1, 2 ** -5, 2, 0, name="act_2bit")
    w2 = b.bipolar_weights((4, 4, 1, 1), np.array([0.5, 0.25, 0.8, 0.3]).reshape(4, 1, 1, 1))
    c2 = b.node("Conv", [a1, w2], name="conv_1x1", kernel_shape=[1, 1])
    bn = b.node("BatchNormalization", [c2, b.const([1.2, 0.9, 0.7, 1.1]),
                                       b.const([0.01, 0.02, -0.03, 0.0]),
                                       b.const([0.005, -0.01, 0.0, 0.02]),
                                       b.const([0.04, 0.09, 0.05, 0.02])], name="bn_branch",
                epsilon=1e-5)
    add = b.node("Add", [a1, bn], name="residual")
    post = b.node("BatchNormalization", [add, b.const([1.0, -1.3, 0.8, 1.0]),
                                         b.const([0.02, 0.1, 0.0, -0.01]),
                                         b.const([0.0, 0.05, 0.01, 0.0]),
                                         b.const([1.0, 0.5, 1.2, 0.9])], name="bn_after_add")
    r2 = b.node("Relu", [post])
    a2 = b.quant(r2, 0.05, 3, 0, name="act_3bit")
    p = b.node("MaxPool", [a2], name="pool", kernel_shape=[2, 2], strides=[2, 2])
    f = b.node("Flatten", [p], name="flatten", axis=1)
    s3 = np.full((n_classes, 1), 2 ** -7, dtype=np.float32)
    w3, _ = b.int_weights((n_classes, 36), 8, s3)
    g = b.node("Gemm", [f, w3, b.const(np.linspace(-0.05, 0.05, n_classes))], name="classifier",
               transB=1)
    return b.model(g, (1, n_classes))


def transpose_matmul():
    """Unsigned 4-bit input (1, 3, 4, 4) -> conv 3x3 no pad (ternary weights) -> BN ->
    Quant 2-bit -> Transpose to NHWC -> Reshape (1, -1) -> MatMul int8 -> Mul (po2 scale)
    (the output scale) : the dense layer reads the HWC order directly."""
    b = Builder("transpose_matmul", (1, 3, 4, 4))
    x = b.quant("x", 1 / 16, 4, 0, name="input_quant")
    w1 = b.node("Quant", [b.const(np.sign(b.rng.standard_normal((4, 3, 3, 3))) *
                                  (b.rng.random((4, 3, 3, 3)) > 0.3) * 0.5),
                          b.const(0.5), b.const(0.0), b.const(2)], QDOMAIN, signed=1,
                narrow=1, rounding_mode="ROUND")
    c1 = b.node("Conv", [x, w1], name="conv_ternary", kernel_shape=[3, 3])
    bn = b.node("BatchNormalization", [c1, b.const([0.9, 1.1, -1.0, 0.6]),
                                       b.const([0.1, 0.0, 0.2, -0.1]),
                                       b.const([0.0, 0.1, 0.0, -0.2]),
                                       b.const([0.3, 0.2, 0.4, 0.25])], name="bn")
    a1 = b.quant(bn, 0.25, 2, 0, name="act")
    t = b.node("Transpose", [a1], name="to_nhwc", perm=[0, 2, 3, 1])
    r = b.node("Reshape", [t, b.const(np.array([1, -1]), "shape")], name="flat")
    b.inits[-1] = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")
    w2, _ = b.int_weights((16, 3), 8, 0.125)
    mm = b.node("MatMul", [r, w2], name="fc")
    out = b.node("Mul", [mm, b.const(2.0)], name="out_scale")
    return b.model(out, (1, 3))


def single(op_nodes, in_shape=(1, 2, 4, 4), out_shape=None):
    """A model: input Quant (unsigned 8-bit) then ``op_nodes(builder, x) -> out``."""
    b = Builder("single", in_shape)
    x = b.quant("x", 1 / 256, 8, 0, name="input_quant")
    out = op_nodes(b, x)
    return b.model(out, out_shape or in_shape)


def save(model, path):
    onnx.save(model, str(path))
    return path
