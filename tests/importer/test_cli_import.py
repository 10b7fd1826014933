"""``streamqnn import``: the spec written, the check against qonnx's executor with the logits
printed (the recorded output scale applied), errors exit 2 with the node named."""

import onnx

import onnx_models as M
from rtl_gen.importer import random_images
from rtl_gen.model.execute import run
from rtl_gen.model.serialize import load
from streamqnn.cli import main


def test_cli_import_and_check(tmp_path, capsys):
    path = M.save(M.unusual(), tmp_path / "unusual.onnx")
    out = tmp_path / "unusual.yaml"
    assert main(["import", str(path), "--out", str(out), "--check", "30"]) == 0
    text = capsys.readouterr().out
    assert "imported" in text and "residual (Add)" in text and f"wrote {out}" in text
    assert "EXACT: 30 input(s)" in text and "largest logit difference" in text
    assert "input 0: class" in text and "logits [" in text
    net = load(out)
    assert net.metadata["output"]["tensor"] == "fc1"
    outs = run(net, random_images(net, 1)[0])
    assert outs["fc1"].shape == (1, 1, 5)
    assert main(["import", str(tmp_path / "missing.onnx")]) == 2
    assert "cannot read ONNX model" in capsys.readouterr().err
    bad = onnx.ModelProto()
    bad.CopyFrom(M.unusual())
    bad.graph.node[3].op_type = "Softmax"
    onnx.save(bad, str(tmp_path / "bad.onnx"))
    assert main(["import", str(tmp_path / "bad.onnx")]) == 2
    assert "op type Softmax is not supported" in capsys.readouterr().err
