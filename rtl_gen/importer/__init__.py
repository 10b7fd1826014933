"""QONNX import: a trained quantized network (Brevitas ``export_qonnx``) to a network spec.

    from rtl_gen.importer import import_onnx, check
    res = import_onnx("model.onnx")           # ImportResult: .net (a Network), .notes
    rep = check("model.onnx", res.net, random_images(res.net, 20))

``convert.py`` is the walk over the ONNX graph (the value of every tensor, NCHW to HWC,
what each op becomes), ``quantizers.py`` QONNX's quantizers as QONNX defines them,
``thresholds.py`` the exact integer thresholds and residual multipliers (method and bound in
its docstring), ``check.py`` the comparison with qonnx's own executor. The command line:
``streamqnn import model.onnx [--out spec.yaml] [--check N]``.
"""

from pathlib import Path

import onnx

from rtl_gen.errors import QNNError
from rtl_gen.importer.check import CheckReport, QonnxRunner, check, output_logits, \
    random_images, real_input
from rtl_gen.importer.convert import SUPPORTED, ImportResult, convert
from rtl_gen.importer.thresholds import MAX_MULTIPLIER_BITS


def load_onnx(path):
    """The ONNX model in ``path``; a QNNError naming the file when it cannot be read."""
    try:
        return onnx.load(str(path))
    except (OSError, onnx.onnx_cpp2py_export.checker.ValidationError) as exc:
        raise QNNError(None, f"cannot read ONNX model '{path}' ({exc})",
                       "an .onnx file (brevitas.export.export_qonnx)") from None
    except Exception as exc:    # noqa: BLE001 - protobuf decode errors of a corrupt file
        raise QNNError(None, f"'{path}' is not an ONNX model ({type(exc).__name__})",
                       "an .onnx file (brevitas.export.export_qonnx)") from None


def import_onnx(model, name=None, argmax=True, max_multiplier_bits=MAX_MULTIPLIER_BITS):
    """Import a QONNX model (a path or an ``onnx.ModelProto``): an :class:`ImportResult`."""
    if not isinstance(model, onnx.ModelProto):
        name = name or Path(str(model)).stem
        model = load_onnx(model)
    return convert(model, name or model.graph.name or "imported", argmax, max_multiplier_bits)


__all__ = ["CheckReport", "ImportResult", "MAX_MULTIPLIER_BITS", "QonnxRunner", "SUPPORTED",
           "check", "convert", "import_onnx", "load_onnx", "output_logits", "random_images",
           "real_input"]
