"""QONNX (as Brevitas exports it) to a StreamQNN network spec, exact on integer inputs.

The walk (``convert``) visits the ONNX nodes in order and gives every tensor a symbolic
value:
  * a constant (initializers, ``Constant`` nodes, ops on constants), or a quantized
    constant (``Quant``/``BipolarQuant`` on an initializer: integer weights and scale);
  * a stream ``Val``: an integer tensor of the spec (a layer's output, or the input) with
    a per-channel real value ``a*q + b`` (``Lin``), or a pending residual sum of two such
    (``Sum``), followed by monotone per-channel operations (``ops``: affine maps from
    ``Mul``/``Div``/``Add``/``Sub`` by constants and ``BatchNormalization``, ``Relu``),
    and a layout (``index``: for every element of the ONNX tensor, its flat position in
    the spec's HWC tensor). NCHW to HWC is handled here, once: ``Conv``, ``MaxPool`` and
    the pools need the plain NCHW layout; ``Flatten``/``Reshape``/``Transpose`` only move
    ``index``; a dense layer's weight columns are permuted from the ONNX order of its
    input to HWC.
A quantizer (``Quant``, ``BipolarQuant``, ``Trunc``) on a stream becomes a ``Threshold``
layer (integer thresholds found on the quantizer chain itself, ``thresholds.py``); on a
pending sum, an ``Add`` layer with exact integer multipliers and a ``Threshold``
(``thresholds.solve_add``). ``Conv``, ``Gemm``/``MatMul``, ``MaxPool`` and the global
pools become layers, the scales of their inputs and weights carried into ``a`` and their
biases into ``b``. The graph output's ``a``, ``b`` are recorded in the spec's metadata
(``output``: tensor, scale, zero point; real = scale*(q - zero_point)); an ``ArgMax``
layer is appended when the scale is one positive number for all classes and the zero
point one number (the arg-max of the integers is then the arg-max of the logits).

Everything outside the supported set is a QNNError naming the node, its op type and
what is supported.
"""

import re
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import onnx
from onnx import numpy_helper

from rtl_gen.errors import QNNError, require
from rtl_gen.importer import quantizers as Q
from rtl_gen.importer.thresholds import MAX_MULTIPLIER_BITS, solve_add, thresholds
from rtl_gen.model.batchnorm import ROUNDING
from rtl_gen.model.formats import WEIGHT_FORMATS, parse_weight_format
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT, Add, ArgMax, Conv, Dense, GlobalAvgPool, MaxPool, \
    Network, Threshold

SUPPORTED = ("Quant", "BipolarQuant", "Trunc", "Conv", "BatchNormalization", "Relu", "Add",
             "Sub", "Mul", "Div", "MaxPool", "AveragePool", "GlobalAveragePool",
             "ReduceMean", "Gemm", "MatMul", "Flatten", "Reshape", "Transpose", "Identity",
             "Constant")
_SUPPORTED_TEXT = ", ".join(SUPPORTED)
QUANT_DOMAINS = ("qonnx.custom_op.general", "finn.custom_op.general", "onnx.brevitas", "")


@dataclass
class Lin:
    """Spec tensor ``tensor`` (integers) with real value a[c]*q + b[c]."""
    tensor: str
    a: np.ndarray
    b: np.ndarray


@dataclass
class Sum:
    """A pending residual add: x.real + y.real (ONNX node ``node``)."""
    x: Lin
    y: Lin
    node: str


@dataclass
class Op:
    """A monotone per-channel operation ``kind`` with per-channel ``params`` ((C,) arrays),
    its direction per channel (+1 non-decreasing, -1 non-increasing, 0 constant) and, when
    affine, the map (k, d): y = k*x + d. ``apply(x, c)``: on (..., C) values, or on the
    values of channel c alone."""
    what: str
    kind: str
    params: dict
    direction: np.ndarray
    affine: tuple = None

    def apply(self, x, c=None):
        p = self.params if c is None else {k: v[c] for k, v in self.params.items()}
        kind = self.kind
        if kind == "mul":
            return x * p["k"]
        if kind == "div":
            return x / p["c"]
        if kind == "add":
            return x + p["c"]
        if kind == "sub":
            return x - p["c"]
        if kind == "rsub":
            return p["c"] - x
        if kind == "bn":
            return (x - p["mean"]) / p["den"] * p["gamma"] + p["beta"]
        return np.maximum(x, 0.0)            # relu


@dataclass
class Val:
    base: object                  # Lin or Sum
    ops: tuple
    index: np.ndarray             # ONNX-shaped array of flat HWC positions
    hwc: tuple                    # the spec tensor's (H, W, C)

    @property
    def channels(self):
        return self.hwc[2]


@dataclass
class QConst:
    """A quantized constant: integer values, scale (broadcasting against them), and the
    dequantized float32 value (what the ONNX graph computes with)."""
    ints: np.ndarray
    scale: np.ndarray
    value: np.ndarray
    bipolar: bool


@dataclass
class ImportResult:
    net: Network
    notes: list = field(default_factory=list)


def canonical_index(c, h, w):
    """The layout of a plain NCHW tensor (1, C, H, W) over an HWC tensor."""
    return (np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1))[None]


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _ident(s):
    s = re.sub(r"[^A-Za-z0-9_]", "_", s).strip("_")
    s = re.sub(r"_+", "_", s)
    if not s or not (s[0].isalpha() or s[0] == "_"):
        s = "n_" + s
    return s


class Converter:
    def __init__(self, model, name, argmax=True, max_multiplier_bits=MAX_MULTIPLIER_BITS):
        self.model = model
        self.g = model.graph
        self.name = _ident(name)
        self.argmax = argmax
        self.max_bits = max_multiplier_bits
        self.consts = {}
        self.vals = {}
        self.layers = []
        self.used_names = {INPUT}
        self.onnx_nodes = {}
        self.notes = []
        self.input_fmt = None
        self.raw_input = None
        self.types = {}
        self.input_shape = None

    # --- helpers -----------------------------------------------------------------------
    def err(self, node, what, valid):
        return QNNError(self.node_label(node), what, valid)

    @staticmethod
    def node_label(node):
        return f"{node.name or node.output[0]} ({node.op_type})"

    def layer_name(self, node, kind):
        """``<kind><n>`` (conv1, act1, add1, ...); the ONNX node is recorded in the spec's
        metadata (``onnx_nodes``)."""
        n = 1
        while f"{kind}{n}" in self.used_names:
            n += 1
        name = f"{kind}{n}"
        self.used_names.add(name)
        self.onnx_nodes[name] = node.name or node.output[0]
        return name  # never 'argmax' or 'input': generated names end in a digit

    def add_layer(self, lay):
        self.layers.append(lay)
        net = Network(self.name, self.input_shape, self.input_fmt["bits"], list(self.layers),
                      self.input_fmt["signed"])
        self.types = infer(net)
        return lay.name

    def const(self, node, name, what):
        if name not in self.consts:
            raise self.err(node, f"{what} '{name}' is not a constant",
                           "an initializer or a Constant node")
        c = self.consts[name]
        return c.value if isinstance(c, QConst) else c

    def per_channel(self, node, val, arr, what):
        """A constant broadcast against ``val``'s ONNX shape, as one value per spec channel
        (C,) float64; a constant that varies within a channel is refused."""
        arr = np.asarray(arr, dtype=np.float64)
        try:
            full = np.broadcast_to(arr, val.index.shape)
        except ValueError:
            raise self.err(node, f"{what} of shape {arr.shape} does not broadcast to the "
                           f"tensor's shape {val.index.shape}", "a scalar or one value per "
                           "channel") from None
        ours = np.empty(int(np.prod(val.hwc)))
        ours[val.index.reshape(-1)] = full.reshape(-1)
        ours = ours.reshape(-1, val.channels)
        require(np.all(ours == ours[:1]), self.node_label(node),
                f"{what} varies within a channel", "a scalar or one value per channel")
        return ours[0].copy()

    def affine(self, node, val, what="input"):
        """``val`` as Lin (composing its affine ops); a non-affine chain or a pending sum
        whose branch scales are not in an exact small ratio is refused."""
        base = val.base
        if isinstance(base, Sum):
            base = self.exact_sum(node, base)
        a, b = base.a.copy(), base.b.copy()
        for op in val.ops:
            if op.affine is None:
                raise self.err(node, f"its {what} passes through {op.what} with no quantizer "
                               "after it (not affine in integers)",
                               "a Quant between a non-linear op and a linear layer")
            k, d = op.affine
            a, b = k * a, k * b + d
        return Lin(base.tensor, a, b)

    def exact_sum(self, node, s):
        """A residual sum feeding a linear op: exact only when a1/a2 is a small ratio."""
        m1, m2, a = [], [], []
        for c in range(len(s.x.a)):
            r = Fraction(float(s.x.a[c])) / Fraction(float(s.y.a[c]))
            if r <= 0 or max(r.numerator, r.denominator).bit_length() > 16:
                raise self.err(node, f"the residual add '{s.node}' feeds a linear op with no "
                               "quantizer in between and its branch scales are not in a "
                               f"small positive integer ratio (channel {c})",
                               "a Quant after the residual add")
            m1.append(r.numerator)
            m2.append(r.denominator)
            a.append(float(s.y.a[c]) / r.denominator)
        name = self.add_sum_layer(s, m1, m2)
        return Lin(name, np.array(a), s.x.b + s.y.b)

    def add_sum_layer(self, s, m1, m2):
        mul = tuple(int(m[0]) if len(set(m)) == 1 else tuple(int(v) for v in m)
                    for m in (m1, m2))
        name = self.layer_name(_Named(s.node), "add")
        return self.add_layer(Add(name, inputs=(s.x.tensor, s.y.tensor), mul=mul))

    def tensor_range(self, tensor):
        t = self.types[tensor]
        return t.lo, t.hi

    # --- the walk ----------------------------------------------------------------------
    def run(self):
        for init in self.g.initializer:
            self.consts[init.name] = numpy_helper.to_array(init)
        inputs = [i for i in self.g.input if i.name not in self.consts]
        require(len(inputs) == 1, None, f"the graph has {len(inputs)} non-constant inputs",
                "one input (the image)")
        inp = inputs[0]
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in inp.type.tensor_type.shape.dim]
        require(len(dims) in (2, 4) and dims[0] in (1, None) and all(dims[1:]), INPUT,
                f"graph input '{inp.name}' has shape {dims}",
                "(1, C, H, W) or (1, N) with known sizes")
        self.raw_input = (inp.name, [1] + dims[1:])
        require(len(self.g.output) == 1, None, f"the graph has {len(self.g.output)} outputs",
                "one output")
        for node in self.g.node:
            self.visit(node)
        return self.finish(self.g.output[0].name)

    def visit(self, node):
        op = node.op_type
        if op not in SUPPORTED:
            raise self.err(node, f"op type {op} is not supported", _SUPPORTED_TEXT)
        if op in ("Quant", "BipolarQuant", "Trunc"):
            require(node.domain in QUANT_DOMAINS or node.domain.startswith("qonnx"),
                    self.node_label(node), f"{op} from domain '{node.domain}'",
                    "QONNX's qonnx.custom_op.general")
        ins = [i for i in node.input]
        if op == "Constant":
            attrs = _attrs(node)
            require("value" in attrs, self.node_label(node), "a Constant without 'value'",
                    "a Constant node with a tensor 'value'")
            self.consts[node.output[0]] = numpy_helper.to_array(attrs["value"])
            return
        stream_ins = [i for i in ins if i and i in self.vals]
        if ins and ins[0] == self.raw_input[0]:
            return self.input_quant(node)
        if not stream_ins and all((not i) or i in self.consts for i in ins):
            return self.fold_constant(node)
        getattr(self, "op_" + op)(node)

    # --- constants ---------------------------------------------------------------------
    def fold_constant(self, node):
        op, out = node.op_type, node.output[0]
        attrs = _attrs(node)
        vals = [self.consts[i] if i else None for i in node.input]
        vals = [v.value if isinstance(v, QConst) else v for v in vals]
        label = self.node_label(node)
        if op == "Quant":
            ints, scale, value = Q.quant_constant(
                label, vals[0], vals[1], vals[2], vals[3], int(attrs.get("signed", 1)),
                int(attrs.get("narrow", 0)), attrs.get("rounding_mode", b"ROUND"))
            self.consts[out] = QConst(ints, scale, value, False)
        elif op == "BipolarQuant":
            ints, scale, value = Q.bipolar_constant(label, vals[0], vals[1])
            self.consts[out] = QConst(ints, scale, value, True)
        elif op == "Trunc":
            raise self.err(node, "Trunc on a constant", "Trunc on activations")
        else:
            try:
                from onnx.reference import ReferenceEvaluator
                single = onnx.helper.make_graph(
                    [node], "fold", [onnx.helper.make_tensor_value_info(i, 1, None)
                                     for i in node.input if i], [
                        onnx.helper.make_tensor_value_info(o, 1, None) for o in node.output])
                res = ReferenceEvaluator(onnx.helper.make_model(
                    single, opset_imports=self.model.opset_import)).run(
                    None, {i: v for i, v in zip(node.input, vals) if i})
            except Exception as exc:     # noqa: BLE001 - any failure is the user's model
                raise self.err(node, f"cannot evaluate it on constants ({exc})",
                               _SUPPORTED_TEXT) from None
            for o, v in zip(node.output, res):
                self.consts[o] = np.asarray(v)

    # --- the input quantizer -----------------------------------------------------------
    def input_quant(self, node):
        label = self.node_label(node)
        op = node.op_type
        require(self.input_fmt is None, label, "the graph input is read by more than one node",
                "one Quant reading the graph input")
        require(op in ("Quant", "BipolarQuant"), label,
                f"the graph input goes into a {op} node", "a Quant on the graph input (the "
                "input quantizer: signed or unsigned, at most 8 bits)")
        attrs = _attrs(node)
        scale = np.asarray(self.const(node, node.input[1], "scale"), dtype=np.float64)
        if op == "BipolarQuant":
            raise self.err(node, "a bipolar input quantizer", "a Quant of 1..8 bits")
        zeropt = np.asarray(self.const(node, node.input[2], "zero point"), dtype=np.float64)
        bits = Q._scalar_int(self.const(node, node.input[3], "bit width"), label,
                             "input bit width", 1, 32)
        signed, narrow = bool(attrs.get("signed", 1)), bool(attrs.get("narrow", 0))
        require(bits <= 8 and not (bits == 1 and signed), label,
                f"the input quantizer has {bits} bits{' signed' if signed else ''}",
                "a signed (2..8 bits) or unsigned (1..8 bits) input quantizer")
        require(scale.size == 1 and zeropt.size == 1, label,
                "a per-channel input quantizer", "one scale and zero point for the input")
        dims = self.raw_input[1]
        if len(dims) == 4:
            _, c, h, w = dims
            index = canonical_index(c, h, w)
        else:
            h, w, c = 1, 1, dims[1]
            index = np.arange(c)[None]
        self.input_shape = (h, w, c)
        self.input_fmt = {"bits": bits, "signed": signed, "narrow": narrow,
                          "scale": float(scale.reshape(-1)[0]),
                          "zero_point": float(zeropt.reshape(-1)[0]),
                          "onnx_input": self.raw_input[0], "onnx_shape": list(dims)}
        sc, zp = self.input_fmt["scale"], self.input_fmt["zero_point"]
        self.vals[node.output[0]] = Val(Lin(INPUT, np.full(c, sc), np.full(c, -zp * sc)),
                                        (), index, (h, w, c))
        self.types = {INPUT: None}
        self.notes.append(f"input: {'signed' if signed else 'unsigned'} {bits}-bit integers "
                          f"q, real input = {sc:g} * (q - {zp:g})")

    # --- elementwise -------------------------------------------------------------------
    def stream(self, node, i=0):
        name = node.input[i]
        if name == self.raw_input[0]:
            raise self.err(node, "it reads the unquantized graph input",
                           "a Quant on the graph input first")
        if name not in self.vals:
            raise self.err(node, f"input '{name}' is neither a constant nor a stream",
                           "inputs produced by supported nodes")
        return self.vals[name]

    def with_op(self, node, val, op):
        self.vals[node.output[0]] = Val(val.base, val.ops + (op,), val.index, val.hwc)

    def elementwise(self, node, val, kind, params, direction, affine):
        self.with_op(node, val, Op(node.op_type, kind, params, direction, affine))

    def op_Identity(self, node):
        self.vals[node.output[0]] = self.stream(node)

    def op_Relu(self, node):
        val = self.stream(node)
        lo, _ = self.real_range(val)
        if np.all(lo >= 0):                     # already non-negative: the identity
            self.vals[node.output[0]] = val
            return
        self.elementwise(node, val, "relu", {}, np.ones(val.channels), None)

    def op_BatchNormalization(self, node):
        attrs = _attrs(node)
        val = self.stream(node)
        require(int(attrs.get("training_mode", 0)) == 0, self.node_label(node),
                "training_mode=1", "inference mode (training_mode 0)")
        eps = float(attrs.get("epsilon", 1e-5))
        shape = (1, -1) + (1,) * (val.index.ndim - 2)
        g, be, mu, var = (self.per_channel(node, val, np.asarray(
            self.const(node, node.input[i], w), dtype=np.float64).reshape(shape), w)
            for i, w in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")))
        require(np.all(var + eps > 0), self.node_label(node), "var + epsilon is not positive",
                "var + epsilon > 0")
        den = np.sqrt(var + eps)
        k = g / den
        self.elementwise(node, val, "bn", {"gamma": g, "beta": be, "mean": mu, "den": den},
                         np.sign(k), (k, be - mu * k))

    def _binary(self, node):
        """(stream, constant, stream_first) of a binary op with one constant input."""
        a, b = node.input[0], node.input[1]
        if a in self.vals and b in self.vals:
            return None
        if a in self.vals:
            return self.vals[a], self.const(node, b, "operand"), True
        return self.stream(node, 1), self.const(node, a, "operand"), False

    def op_Mul(self, node):
        got = self._binary(node)
        if got is None:
            raise self.err(node, "a product of two streams", "Mul by a constant")
        val, c, _ = got
        k = self.per_channel(node, val, c, "multiplier")
        self.elementwise(node, val, "mul", {"k": k}, np.sign(k), (k, np.zeros_like(k)))

    def op_Div(self, node):
        got = self._binary(node)
        require(got is not None and got[2], self.node_label(node),
                "a division by a stream", "Div of a stream by a constant")
        val, c, _ = got
        c = self.per_channel(node, val, c, "divisor")
        require(np.all(c != 0), self.node_label(node), "division by zero", "a non-zero divisor")
        self.elementwise(node, val, "div", {"c": c}, np.sign(c), (1 / c, np.zeros_like(c)))

    def op_Sub(self, node):
        got = self._binary(node)
        if got is None:
            raise self.err(node, "a difference of two streams",
                           "Sub of a constant (a residual join is an Add)")
        val, c, first = got
        c = self.per_channel(node, val, c, "operand")
        if first:
            self.elementwise(node, val, "sub", {"c": c}, np.ones_like(c), (np.ones_like(c), -c))
        else:
            self.elementwise(node, val, "rsub", {"c": c}, -np.ones_like(c),
                             (-np.ones_like(c), c))

    def op_Add(self, node):
        got = self._binary(node)
        if got is not None:
            val, c, _ = got
            c = self.per_channel(node, val, c, "addend")
            self.elementwise(node, val, "add", {"c": c}, np.ones_like(c), (np.ones_like(c), c))
            return
        x, y = self.stream(node, 0), self.stream(node, 1)
        require(np.array_equal(x.index, y.index) and x.hwc == y.hwc, self.node_label(node),
                f"inputs of different shapes or layouts {x.index.shape}, {y.index.shape}",
                "two tensors of the same shape")
        lx = self.affine(node, x, "first input")
        ly = self.affine(node, y, "second input")
        self.vals[node.output[0]] = Val(Sum(lx, ly, node.name or node.output[0]), (),
                                        x.index, x.hwc)

    # --- ranges ------------------------------------------------------------------------
    def base_range(self, base):
        """Per-channel real range of a base (Lin or Sum) over its integer ranges."""
        if isinstance(base, Sum):
            l1, h1 = self.base_range(base.x)
            l2, h2 = self.base_range(base.y)
            return l1 + l2, h1 + h2
        lo, hi = self.int_range(base.tensor)
        v = np.stack([base.a * lo + base.b, base.a * hi + base.b])
        return v.min(0), v.max(0)

    def int_range(self, tensor):
        if tensor == INPUT:
            f = self.input_fmt
            if f["signed"]:
                return Q.min_int(True, f["narrow"], f["bits"]), Q.max_int(True, False, f["bits"])
            return 0, Q.max_int(False, f["narrow"], f["bits"])
        return self.tensor_range(tensor)

    def real_range(self, val):
        lo, hi = self.base_range(val.base)
        v = np.stack([lo, hi])
        for op in val.ops:
            v = op.apply(v)
        return v.min(0), v.max(0)

    def chain(self, val):
        """float64 (..., C) -> float64 (or, given c, the values of channel c alone): the
        ops of ``val`` in order."""
        def fn(x, c=None):
            for op in val.ops:
                x = op.apply(x, c)
            return x
        return fn

    def direction(self, val, a):
        d = np.sign(a)
        for op in val.ops:
            d = d * np.sign(op.direction)
        return d

    # --- quantizers --------------------------------------------------------------------
    def op_Quant(self, node):
        val = self.stream(node)
        attrs = _attrs(node)
        label = self.node_label(node)
        scale, zeropt = self._qparams(node, val, 1, 2)
        q = Q.quant_activation(label, scale, zeropt,
                               self.const(node, node.input[3], "bit width"),
                               int(attrs.get("signed", 1)), int(attrs.get("narrow", 0)),
                               attrs.get("rounding_mode", b"ROUND"))
        self.quantize(node, val, q)

    def op_BipolarQuant(self, node):
        val = self.stream(node)
        scale, _ = self._qparams(node, val, 1, None)
        self.quantize(node, val, Q.bipolar_activation(self.node_label(node), scale))

    def op_Trunc(self, node):
        val = self.stream(node)
        scale, zeropt = self._qparams(node, val, 1, 2)
        rest = [np.asarray(self.const(node, i, "Trunc parameter"), dtype=np.float64)
                for i in node.input[3:]]
        if len(rest) == 3:    # v2: in_bw, out_scale, out_bw
            rest[1] = self.per_channel(node, val, rest[1], "output scale")
        self.quantize(node, val, Q.trunc_activation(self.node_label(node),
                                                    [scale, zeropt] + rest, _attrs(node)))

    def _qparams(self, node, val, i_scale, i_zp):
        scale = self.per_channel(node, val, self.const(node, node.input[i_scale], "scale"),
                                 "scale")
        require(np.all(scale > 0), self.node_label(node), "a non-positive scale",
                "positive scales")
        zp = np.zeros_like(scale) if i_zp is None else self.per_channel(
            node, val, self.const(node, node.input[i_zp], "zero point"), "zero point")
        return scale, zp

    def quantize(self, node, val, q):
        """A Threshold layer (after an Add layer for a pending sum) computing ``q`` of
        ``val``; the node's output is the codes with their real value."""
        label = self.node_label(node)
        chain = self.chain(val)
        vlo, vhi = self.real_range(val)
        ylo = int(np.min(q.integer(np.stack([vlo, vhi]))))
        yhi = int(np.max(q.integer(np.stack([vlo, vhi]))))
        if q.lo is not None:
            ylo, yhi = (q.lo, q.hi) if q.hi - q.lo <= 255 * q.step else (ylo, yhi)
        levels = (yhi - ylo) // q.step
        require(levels <= 255, label, f"its output spans {levels + 1} integer levels over "
                "the reachable input range", "a quantizer of at most 8 bits (256 levels)")
        levels = max(levels, 1)
        bits = max(1, int(levels).bit_length())
        n_levels = (1 << bits) - 1

        def codes(v, c=None):
            return ((q.integer(chain(v, c), c) - ylo) // q.step).astype(np.int64)

        base = val.base
        name = self.layer_name(node, "act")
        if isinstance(base, Sum):
            src = self.sum_to_add(node, val, base, codes, n_levels, name)
            T, neg = src[1], src[2]
            src = src[0]
        else:
            lo, hi = self.int_range(base.tensor)

            def code_fn(qi, a=base.a, b=base.b):
                return codes(qi * a + b)

            direction = self.direction(val, base.a)
            if self.identity(code_fn, lo, hi, direction, bits, base.tensor):
                a_out, b_out = q.step * q.params["out_scale"], (ylo - q.params["out_zeropt"]) \
                    * q.params["out_scale"]
                self.vals[node.output[0]] = Val(Lin(base.tensor, a_out * np.ones(val.channels),
                                                    b_out * np.ones(val.channels)),
                                                (), val.index, val.hwc)
                self.notes.append(f"{label}: the identity on '{base.tensor}' (no layer)")
                return
            T, neg = thresholds(code_fn, val.channels, n_levels, lo, hi, direction, name)
            src = base.tensor
            self.tie_report(label, code_fn, T, neg, q, chain, base)
        self.add_layer(Threshold(name, bits, thresholds=T, neg=neg, input=src))
        a_out = q.step * q.params["out_scale"] * np.ones(val.channels)
        b_out = (ylo - q.params["out_zeropt"]) * q.params["out_scale"] * np.ones(val.channels)
        self.vals[node.output[0]] = Val(Lin(name, a_out, b_out), (), val.index, val.hwc)

    def identity(self, code_fn, lo, hi, direction, bits, tensor):
        """Is the quantizer the identity on the codes of ``tensor``?"""
        t = self.types.get(tensor)
        if t is None or t.signed or hi - lo > 255 or t.bits != bits or lo != 0:
            return False
        q = np.repeat(np.arange(lo, hi + 1)[:, None], len(direction), axis=1)
        return bool(np.array_equal(code_fn(q), q))

    def sum_to_add(self, node, val, s, codes, n_levels, name):
        label = self.node_label(node)
        d_ops = self.direction(val, np.ones(val.channels))
        d1, d2 = d_ops * np.sign(s.x.a), d_ops * np.sign(s.y.a)
        bad = np.nonzero(d1 * d2 < 0)[0]
        if bad.size:
            raise self.err(node, f"the residual add '{s.node}' joins branches whose scales "
                           f"have opposite signs in channel {int(bad[0])} (a1={s.x.a[bad[0]]:g}, "
                           f"a2={s.y.a[bad[0]]:g})",
                           "branch scales of the same sign (positive integer multipliers)")
        direction = np.where(d1 != 0, d1, d2)
        r1, r2 = self.int_range(s.x.tensor), self.int_range(s.y.tensor)

        def code2(q1, q2, c):
            return codes((q1 * s.x.a[c] + s.x.b[c]) + (q2 * s.y.a[c] + s.y.b[c]), c)

        m1, m2, T, neg, widths = solve_add(code2, (r1, r2), n_levels, direction,
                                           f"{s.node} (Add)", val.channels, self.max_bits)
        add = self.add_sum_layer(s, list(m1), list(m2))
        self.notes.append(
            f"{s.node} (Add): '{s.x.tensor}' x {_short(m1)} + '{s.y.tensor}' x {_short(m2)}; "
            f"multipliers of at most {int(widths.max())} bits, exact on all "
            f"{(r1[1] - r1[0] + 1) * (r2[1] - r2[0] + 1):,} input pairs per channel")
        return add, T, neg

    def tie_report(self, label, code_fn, T, neg, q, chain, base):
        """Count thresholds where the quantizer's input is at an exact rounding tie
        (resolved as the node's rounding mode says: QONNX's ROUND is half to even) or
        within 1e-6 of a step (a float32 executor may round the other way)."""
        lo, hi = self.int_range(base.tensor)
        real = np.where(neg[:, None], (T >= lo) & (T < hi), (T > lo) & (T <= hi))
        if not real.any():
            return
        edges = np.stack([np.where(neg[:, None], T, T - 1), np.where(neg[:, None], T + 1, T)])
        v = edges.astype(np.float64) * base.a[None, :, None] + base.b[None, :, None]
        pre = q.pre(chain(v.transpose(0, 2, 1))).transpose(0, 2, 1)     # (2, C, L)
        nearest = q.kind == "quant" and q.params["round"] not in (
            ROUNDING["floor"], ROUNDING["ceil"], ROUNDING["up"], ROUNDING["down"])
        step = pre - np.floor(pre) - (0.5 if nearest else 0.0)
        dist = np.minimum(np.abs(step), np.abs(1 - np.abs(step)) if not nearest else 1)
        exact = int(np.sum((dist[1] == 0) & real))
        near = int(np.sum((dist > 0) & (dist < 1e-6) & real[None]))
        if exact or near:
            self.notes.append(f"{label}: {exact} threshold(s) at an exact rounding tie "
                              f"(resolved as the node's rounding mode says), {near} value(s) "
                              "within 1e-6 of a tie (a float32 executor may round them "
                              "differently)")

    # --- linear layers -----------------------------------------------------------------
    def weights(self, node, i, out_axis):
        name = node.input[i]
        c = self.consts.get(name)
        if not isinstance(c, QConst):
            raise self.err(node, f"its weights '{name}' are not quantized",
                           "weights from a Quant or BipolarQuant node on an initializer")
        ints, scale = c.ints, np.broadcast_to(np.asarray(c.scale, np.float64), c.ints.shape)
        s = np.moveaxis(scale, out_axis, 0).reshape(scale.shape[out_axis], -1)
        require(np.all(s == s[:, :1]), self.node_label(node),
                "its weight scale varies within an output channel",
                "one weight scale per tensor or per output channel")
        if c.bipolar:
            fmt = "bipolar"
        else:
            lo, hi = int(ints.min(initial=0)), int(ints.max(initial=0))
            if set(np.unique(ints).tolist()) <= {-1, 1}:
                fmt = "bipolar"
            else:
                fmt = next((f for f in WEIGHT_FORMATS[1:]
                            if parse_weight_format(f).lo <= lo
                            and hi <= parse_weight_format(f).hi), None)
            require(fmt is not None, self.node_label(node),
                    f"its integer weights span [{lo}, {hi}]", "at most 8-bit signed weights "
                    "(int2..int8, ternary or bipolar)")
        return ints, s[:, 0], fmt

    def op_Conv(self, node):
        val = self.stream(node)
        label = self.node_label(node)
        attrs = _attrs(node)
        ints, s_w, fmt = self.weights(node, 1, 0)
        require(ints.ndim == 4 and ints.shape[2] == ints.shape[3], label,
                f"weights of shape {ints.shape}", "a 2-D convolution with a square kernel")
        k = ints.shape[2]
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        strides = list(attrs.get("strides", [1, 1]))
        auto = attrs.get("auto_pad", b"NOTSET")
        auto = auto.decode() if isinstance(auto, bytes) else auto
        for key, ok, valid in (
                ("auto_pad", auto in ("NOTSET", "VALID"), "NOTSET or VALID (explicit pads)"),
                ("pads", len(set(pads)) == 1, "the same padding on all four sides"),
                ("strides", len(set(strides)) == 1, "the same stride along H and W"),
                ("dilations", set(attrs.get("dilations", [1, 1])) == {1}, "1"),
                ("kernel_shape", list(attrs.get("kernel_shape", [k, k])) == [k, k],
                 "the weights' K x K")):
            if not ok:
                raise self.err(node, f"attribute {key}={attrs.get(key)!r} is not supported",
                               valid)
        groups = int(attrs.get("group", 1))
        self.require_plain(node, val)
        lin = self.affine(node, val)
        pad = pads[0]
        a_in = lin.a
        require(np.all(a_in == a_in[0]), label, "its input's scale differs between channels",
                "one input scale (a per-tensor activation quantizer)")
        require(pad == 0 or np.all(lin.b == 0), label,
                "zero padding of an input with a non-zero offset (zero point) - the padded "
                "value would not be the code 0", "pads=0, or an input whose 0 is code 0")
        h, w, c_in = val.hwc
        c_out = ints.shape[0]
        require(ints.shape[1] * groups == c_in, label,
                f"weights {ints.shape} for {c_in} input channels in {groups} group(s)",
                "(C_out, C_in/group, K, K)")
        name = self.layer_name(node, "conv")
        self.add_layer(Conv(name, c_out, k, strides[0], pad, groups, fmt,
                            ints.transpose(0, 2, 3, 1), input=lin.tensor))
        b = np.zeros(c_out)
        if np.any(lin.b != 0):        # no padding: a constant per output channel
            real_w = ints * s_w[:, None, None, None]
            cg = c_in // groups
            for o in range(c_out):
                g = o // (c_out // groups)
                b[o] = np.sum(real_w[o] * lin.b[g * cg:(g + 1) * cg][:, None, None])
        if len(node.input) > 2 and node.input[2]:
            b = b + np.asarray(self.const(node, node.input[2], "bias"),
                               dtype=np.float64).reshape(-1)
        ho, wo, _ = self.types[name].shape
        self.vals[node.output[0]] = Val(Lin(name, a_in[0] * s_w, b), (),
                                        canonical_index(c_out, ho, wo), (ho, wo, c_out))

    def require_plain(self, node, val):
        h, w, c = val.hwc
        ok = val.index.ndim == 4 and np.array_equal(val.index, canonical_index(c, h, w))
        require(ok, self.node_label(node), f"its input has layout {val.index.shape} (after a "
                "Reshape/Transpose)", "an NCHW tensor (1, C, H, W)")

    def dense(self, node, val, ints, s_w, fmt, alpha=1.0):
        """A Dense layer: ints (M, N) in the ONNX order of the input features."""
        label = self.node_label(node)
        idx = val.index.reshape(-1)
        require(val.index.ndim == 2 and val.index.shape[0] == 1 and idx.size == ints.shape[1],
                label, f"input of shape {val.index.shape} for weights over {ints.shape[1]} "
                "features", "a (1, N) input (after Flatten/Reshape)")
        lin = self.affine(node, val)
        require(np.all(lin.a == lin.a[0]), label, "its input's scale differs between channels",
                "one input scale (a per-tensor activation quantizer)")
        w = np.zeros_like(ints)
        w[:, idx] = ints
        name = self.layer_name(node, "fc")
        m = ints.shape[0]
        self.add_layer(Dense(name, m, fmt, w, input=lin.tensor))
        chan = idx % val.channels
        b = (ints * s_w[:, None]) @ lin.b[chan] * alpha
        self.vals[node.output[0]] = Val(Lin(name, lin.a[0] * s_w * alpha, b), (),
                                        np.arange(m)[None], (1, 1, m))
        return name

    def op_Gemm(self, node):
        attrs = _attrs(node)
        val = self.stream(node)
        label = self.node_label(node)
        require(int(attrs.get("transA", 0)) == 0, label, "transA=1", "transA=0")
        trans_b = int(attrs.get("transB", 0))
        ints, s_w, fmt = self.weights(node, 1, 0 if trans_b else 1)
        if not trans_b:
            ints = ints.T
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        require(alpha > 0, label, f"alpha={alpha}", "a positive alpha")
        self.dense(node, val, ints, s_w, fmt, alpha)
        if len(node.input) > 2 and node.input[2]:
            out = self.vals[node.output[0]]
            bias = np.asarray(self.const(node, node.input[2], "bias"), np.float64).reshape(-1)
            out.base.b = out.base.b + beta * np.broadcast_to(bias, out.base.b.shape)

    def op_MatMul(self, node):
        val = self.stream(node)
        ints, s_w, fmt = self.weights(node, 1, 1)
        require(ints.ndim == 2, self.node_label(node), f"weights of shape {ints.shape}",
                "a 2-D weight matrix (N, M)")
        self.dense(node, val, ints.T, s_w, fmt)

    # --- pools and layout --------------------------------------------------------------
    def op_MaxPool(self, node):
        val = self.stream(node)
        attrs = _attrs(node)
        label = self.node_label(node)
        ks = list(attrs.get("kernel_shape", []))
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        strides = list(attrs.get("strides", [1, 1]))
        for key, ok, valid in (("kernel_shape", len(ks) == 2 and ks[0] == ks[1], "K x K"),
                               ("pads", len(set(pads)) == 1, "the same on all four sides"),
                               ("strides", len(set(strides)) == 1, "the same along H and W"),
                               ("ceil_mode", int(attrs.get("ceil_mode", 0)) == 0, "0"),
                               ("dilations", set(attrs.get("dilations", [1, 1])) == {1}, "1"),
                               ("storage_order", int(attrs.get("storage_order", 0)) == 0, "0")):
            if not ok:
                raise self.err(node, f"attribute {key}={attrs.get(key)!r} is not supported",
                               valid)
        require(len(node.output) == 1 or not node.output[1], label, "the Indices output",
                "MaxPool with one output")
        self.require_plain(node, val)
        base = val.base
        if isinstance(base, Sum):
            base = self.exact_sum(node, base)
        d = self.direction(val, base.a)
        require(np.all(d >= 0), label, f"max pool over a channel whose value falls as its "
                f"integer rises (channel {int(np.argmin(d))}; a negative scale)",
                "max pool where every channel's scale is positive")
        name = self.layer_name(node, "pool")
        self.add_layer(MaxPool(name, ks[0], strides[0], pads[0], input=base.tensor))
        ho, wo, c = self.types[name].shape
        self.vals[node.output[0]] = Val(Lin(name, base.a, base.b), val.ops,
                                        canonical_index(c, ho, wo), (ho, wo, c))

    def global_pool(self, node, keepdims=True):
        val = self.stream(node)
        self.require_plain(node, val)
        lin = self.affine(node, val)
        h, w, c = val.hwc
        name = self.layer_name(node, "gap")
        self.add_layer(GlobalAvgPool(name, input=lin.tensor))
        index = canonical_index(c, 1, 1) if keepdims else np.arange(c)[None]
        self.vals[node.output[0]] = Val(Lin(name, lin.a / (h * w), lin.b), (), index,
                                        (1, 1, c))

    def op_GlobalAveragePool(self, node):
        self.global_pool(node)

    def op_AveragePool(self, node):
        val = self.stream(node)
        attrs = _attrs(node)
        h, w, _ = val.hwc
        ks = list(attrs.get("kernel_shape", []))
        ok = ks == [h, w] and set(attrs.get("pads", [0])) == {0} and \
            int(attrs.get("ceil_mode", 0)) == 0
        require(ok, self.node_label(node), f"kernel {ks} over a {h}x{w} input",
                "an AveragePool over the whole map (a global average pool), no padding")
        self.global_pool(node)

    def op_ReduceMean(self, node):
        attrs = _attrs(node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self.const(node, node.input[1], "axes").tolist()
        axes = sorted(int(a) % 4 for a in (axes or []))
        val = self.stream(node)
        require(axes == [2, 3] and val.index.ndim == 4, self.node_label(node),
                f"a mean over axes {axes}", "a mean over H and W (axes 2, 3: a global "
                "average pool)")
        self.global_pool(node, bool(attrs.get("keepdims", 1)))

    def _relayout(self, node, index):
        val = self.stream(node)
        self.vals[node.output[0]] = Val(val.base, val.ops, index, val.hwc)

    def op_Flatten(self, node):
        val = self.stream(node)
        axis = int(_attrs(node).get("axis", 1)) % max(1, val.index.ndim)
        shape = (int(np.prod(val.index.shape[:axis])), -1)
        self._relayout(node, val.index.reshape(shape))

    def op_Reshape(self, node):
        val = self.stream(node)
        shape = [int(s) for s in np.asarray(self.const(node, node.input[1], "shape"))]
        allow_zero = int(_attrs(node).get("allowzero", 0))
        shape = [val.index.shape[i] if (s == 0 and not allow_zero) else s
                 for i, s in enumerate(shape)]
        try:
            index = val.index.reshape(shape)
        except ValueError:
            raise self.err(node, f"cannot reshape {val.index.shape} to {shape}",
                           "a shape with the same number of elements") from None
        self._relayout(node, index)

    def op_Transpose(self, node):
        val = self.stream(node)
        perm = _attrs(node).get("perm")
        self._relayout(node, val.index.transpose(perm) if perm is not None else val.index.T)

    # --- the output --------------------------------------------------------------------
    def finish(self, out_name):
        require(out_name in self.vals, None, f"the graph output '{out_name}' is not computed "
                "from the input", "an output that depends on the input")
        require(self.layers, None, "the graph has no layer", "at least one Conv/Gemm/...")
        val = self.vals[out_name]
        lin = self.affine(_Named(out_name), val, "value")
        a = np.broadcast_to(lin.a, (val.channels,)).astype(np.float64)
        b = np.broadcast_to(lin.b, (val.channels,)).astype(np.float64)
        zp = -b / a
        out = {"tensor": lin.tensor, "scale": a.tolist(), "zero_point": zp.tolist(),
               "onnx_output": out_name, "onnx_shape": list(val.index.shape)}
        if not np.array_equal(val.index.reshape(-1), np.arange(val.index.size)):
            out["onnx_index"] = val.index.reshape(-1).tolist()
        meta = {"source": "qonnx", "input": self.input_fmt, "output": out,
                "onnx_nodes": dict(self.onnx_nodes)}
        layers = list(self.layers)
        if lin.tensor != layers[-1].name:
            raise QNNError(lin.tensor, "the graph output is not the last layer's output",
                           "a network whose output is its last layer")
        uniform = np.all(a == a[0]) and a[0] > 0 and np.all(zp == zp[0])
        if self.argmax and val.hwc[:2] == (1, 1) and uniform and val.channels > 1:
            name = "argmax"
            layers.append(ArgMax(name, input=lin.tensor))
            meta["argmax"] = name
        elif self.argmax:
            self.notes.append("no ArgMax layer: the output is not one logit vector with one "
                              "positive scale and zero point for all classes")
        net = Network(self.name, self.input_shape, self.input_fmt["bits"], layers,
                      self.input_fmt["signed"], meta)
        infer(net)
        return ImportResult(net, self.notes)


class _Named:
    """Stands in for a node where only a name is at hand."""

    def __init__(self, name):
        self.name = name
        self.op_type = "Add" if not name.startswith("argmax") else "ArgMax"
        self.output = [name]


def _short(m):
    vals = sorted(set(int(v) for v in m))
    return str(vals[0]) if len(vals) == 1 else "[" + ", ".join(str(int(v)) for v in m) + "]"


def convert(model, name="imported", argmax=True, max_multiplier_bits=MAX_MULTIPLIER_BITS):
    """An :class:`ImportResult` (``net``, ``notes``) for an ``onnx.ModelProto``;
    residual multipliers of at most ``max_multiplier_bits`` bits."""
    return Converter(model, name, argmax, max_multiplier_bits).run()
