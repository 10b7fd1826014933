"""The imported spec against QONNX's own executor (``qonnx.core.onnx_exec.execute_onnx``).

``check(model, net, images)`` runs every image (integer codes, HWC) through our model
(``rtl_gen.model.execute.run``) and the ONNX model through qonnx's executor (the real input
``scale * (q - zero_point)`` as float32 NCHW). The executor computes in float32, our model
in integers: its outputs are turned back into integers with the recorded output scale and
zero point, which must land within ``TOLERANCE`` of an integer and equal ours exactly (the
output codes); the logits (``scale * (q - zero_point)``) are compared too and the largest
difference reported, and the arg-max of ours (ties to the lowest class, as the hardware)
must equal the arg-max of the executor's integers. Where the executor's float32 logits of
two classes tie in integers, numpy's arg-max on the floats may pick either: those images
are counted, not failed.
"""

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import numpy_helper

from rtl_gen.model.execute import run

TOLERANCE = 0.25      # of one output step: the executor's float32 rounding stays far below


@dataclass
class CheckReport:
    images: int = 0
    code_mismatches: int = 0
    argmax_mismatches: int = 0
    float_argmax_ties: int = 0
    max_logit_diff: float = 0.0
    max_step_residual: float = 0.0
    first_mismatch: str = None
    ours_classes: list = field(default_factory=list)
    qonnx_classes: list = field(default_factory=list)
    ours_logits: list = field(default_factory=list)

    @property
    def ok(self):
        return self.code_mismatches == 0 and self.argmax_mismatches == 0 and \
            self.max_step_residual <= TOLERANCE

    def summary(self):
        verdict = "EXACT" if self.ok else "MISMATCH"
        text = (f"{verdict}: {self.images} input(s) through our model and qonnx's executor: "
                f"output codes differ on {self.code_mismatches}, arg-max on "
                f"{self.argmax_mismatches}; largest logit difference "
                f"{self.max_logit_diff:.3g} (float32 rounding in the executor: at most "
                f"{self.max_step_residual:.3g} of one output step)")
        if self.float_argmax_ties:
            text += (f"; {self.float_argmax_ties} image(s) with tied top logits (arg-max to "
                     "the lowest class; numpy on the executor's floats may pick another)")
        if self.first_mismatch:
            text += f"\n  first mismatch: {self.first_mismatch}"
        return text


def output_logits(net, outs):
    """Our real-valued logits (in the ONNX output's element order) and integer codes."""
    meta = net.metadata["output"]
    q = np.asarray(outs[meta["tensor"]]).reshape(-1)
    idx = meta.get("onnx_index")
    if idx is not None:
        q = q[np.asarray(idx)]
    scale = np.asarray(meta["scale"], dtype=np.float64)
    zp = np.asarray(meta["zero_point"], dtype=np.float64)
    chan = np.asarray(idx) % len(scale) if idx is not None else np.arange(q.size) % len(scale)
    return scale[chan] * (q - zp[chan]), q, scale[chan], zp[chan]


def real_input(net, image):
    """The ONNX model's float32 input for integer codes ``image`` (H, W, C)."""
    f = net.metadata["input"]
    x = (np.asarray(image, dtype=np.float64) - f["zero_point"]) * f["scale"]
    x = x.astype(np.float32)
    if len(f.get("onnx_shape", [1, 1, 1, 1])) == 2:
        return x.reshape(1, -1)
    return x.transpose(2, 0, 1)[None]


class QonnxRunner:
    """qonnx's executor on a model (shapes inferred once). ``many`` runs a batch at once
    where the model allows it (the batch size set on the input, a Reshape's leading 1 set
    to it; every batched result is the per-image computation, numpy and onnxruntime work
    element by element along the batch), else one by one."""

    def __init__(self, model):
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model = onnx.load(str(model))
        self.proto = model
        self.model = self._wrap(model)
        inits = {i.name for i in self.model.graph.initializer}
        self.input = next(i.name for i in self.model.graph.input if i.name not in inits)
        self.output = self.model.graph.output[0].name
        self.batched = {}

    @staticmethod
    def _wrap(model):
        from qonnx.core.modelwrapper import ModelWrapper
        from qonnx.transformation.infer_shapes import InferShapes

        return ModelWrapper(model).transform(InferShapes())

    def __call__(self, x):
        from qonnx.core.onnx_exec import execute_onnx

        return np.asarray(execute_onnx(self.model, {self.input: x})[self.output],
                          dtype=np.float64).reshape(-1)

    def _batch_model(self, n):
        if n not in self.batched:
            m = onnx.ModelProto()
            m.CopyFrom(self.proto)
            inp = next(i for i in m.graph.input if i.name == self.input)
            inp.type.tensor_type.shape.dim[0].dim_value = n
            for out in m.graph.output:
                if out.type.tensor_type.shape.dim:
                    out.type.tensor_type.shape.dim[0].dim_value = n
            del m.graph.value_info[:]
            inits = {i.name: i for i in m.graph.initializer}
            for node in m.graph.node:
                if node.op_type == "Reshape" and node.input[1] in inits:
                    shape = numpy_helper.to_array(inits[node.input[1]]).copy()
                    if shape.size and shape[0] == 1:
                        shape[0] = n
                        inits[node.input[1]].CopyFrom(numpy_helper.from_array(
                            shape, node.input[1]))
            self.batched[n] = self._wrap(m)
        return self.batched[n]

    def many(self, xs, batch=100):
        """Outputs (N, -1) for inputs xs (N, ...) (each with its leading 1 dropped)."""
        from qonnx.core.onnx_exec import execute_onnx

        out = []
        for i in range(0, len(xs), batch):
            chunk = np.concatenate([x for x in xs[i:i + batch]])
            try:
                res = execute_onnx(self._batch_model(len(chunk)), {self.input: chunk})
                got = np.asarray(res[self.output], dtype=np.float64).reshape(len(chunk), -1)
            except Exception:    # noqa: BLE001 - a model that does not batch: one by one
                got = np.stack([self(x) for x in xs[i:i + batch]])
            out.append(got)
        return np.concatenate(out)


def random_images(net, n, seed=0):
    f = net.metadata["input"]
    bits, signed = f["bits"], f["signed"]
    lo = -(1 << (bits - 1)) + (1 if f.get("narrow") else 0) if signed else 0
    hi = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1 - (1 if f.get("narrow") else 0)
    rng = np.random.default_rng(seed)
    return [rng.integers(lo, hi + 1, size=net.input_shape) for _ in range(n)]


def check(model, net, images, runner=None, progress=None):
    """A :class:`CheckReport` for ``images`` (integer HWC arrays) through ``net`` and
    qonnx's executor on ``model`` (an ONNX path or ModelProto)."""
    runner = runner or QonnxRunner(model)
    rep = CheckReport()
    theirs_all = runner.many([real_input(net, img) for img in images])
    for i, img in enumerate(images):
        outs = run(net, img)
        logits, q, scale, zp = output_logits(net, outs)
        got = theirs_all[i]
        back = got / scale + zp
        qi = np.round(back)
        rep.images += 1
        rep.max_step_residual = max(rep.max_step_residual, float(np.abs(back - qi).max()))
        rep.max_logit_diff = max(rep.max_logit_diff, float(np.abs(got - logits).max()))
        ours_cls = int(np.argmax(logits))
        if "argmax" in net.metadata:
            ours_cls = int(np.asarray(outs[net.metadata["argmax"]]).reshape(-1)[0])
        theirs = int(np.argmax(qi))
        rep.ours_classes.append(ours_cls)
        rep.qonnx_classes.append(theirs)
        rep.ours_logits.append(logits)
        if (qi == qi.max()).sum() > 1:
            rep.float_argmax_ties += 1
        if not np.array_equal(qi, q):
            rep.code_mismatches += 1
            if rep.first_mismatch is None:
                j = int(np.argmax(qi != q))
                rep.first_mismatch = (f"input {i}, output element {j}: ours {int(q[j])}, "
                                      f"qonnx {back[j]:.6f}")
        if ours_cls != theirs:
            rep.argmax_mismatches += 1
            if rep.first_mismatch is None:
                rep.first_mismatch = f"input {i}: arg-max ours {ours_cls}, qonnx {theirs}"
        if progress and (i + 1) % 100 == 0:
            progress(f"checked {i + 1} of {len(images)} inputs")
    return rep
