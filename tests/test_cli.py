"""The command line (``streamqnn`` / ``python -m streamqnn.cli``, behind ``make sim``):
estimate, generate and sim print the models and the measurements; bad input exits 2
with a clear message."""

import json

from streamqnn.cli import main


def test_estimate_prints_models(capsys):
    assert main(["estimate", "resnet_block"]) == 0
    out = capsys.readouterr().out
    assert "frame interval 4,608 cycles" in out
    assert "first-frame latency 654 cycles" in out
    assert "resources (analytic estimate): LUT" in out and "skip FIFO b1_add" in out


def test_generate_writes_manifest_with_models(tmp_path, capsys):
    assert main(["generate", "resnet_block", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "lint clean" in out and "first-frame latency 654 cycles (model)" in out
    man = json.loads((tmp_path / "manifest.json").read_text())
    assert man["interval_cycles"] == 4608 and man["first_frame_latency_cycles"] == 654
    assert man["first_beat_cycles"]["l05_b1_act2_thresh"] > 0
    assert (tmp_path / "resnet_block.v").exists()


def test_sim_summary(capsys, tmp_path):
    assert main(["sim", "resnet_block", "--frames", "2", "--seed", "3",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS: 2 of 2 frames bit-exact on verilator" in out
    assert "cycles per frame: [4608] measured, 4608 model (0.00 % off)" in out
    assert "first-frame latency: 654 cycles measured, 654 model" in out
    assert "simulator speed:" in out


def test_sim_under_pauses_makes_no_model_comparison(capsys, tmp_path):
    """With --pauses the run is slowed on purpose: the measured interval is shown without a
    '% off' against the cycle model (which assumes no pauses)."""
    assert main(["sim", "resnet_block", "--frames", "2", "--seed", "3", "--pauses", "0.3",
                 "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS: 2 of 2 frames bit-exact on verilator with random input gaps" in out
    assert "% off" not in out
    assert "measured under pauses (the cycle model, 4608, assumes none" in out
    assert "first-frame latency:" in out and "(654 by the model, without pauses)" in out
    assert main(["sim", "fork_l1_b1", "--frames", "2", "--pauses", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "measured under pauses (the cycle model" in out and "model;" not in out


def test_bad_input_exits_2(capsys):
    assert main(["estimate", "no_such_net"]) == 2
    assert "unknown design 'no_such_net'" in capsys.readouterr().err
    assert main(["estimate", "resnet_block", "--fold", "b1_conv1=5,3"]) == 2
    assert "layer 'b1_conv1': SIMD=5 neither divides C_in=16" in capsys.readouterr().err
    assert main(["estimate", "resnet_block", "--fold", "b1_conv1"]) == 2
    assert "--fold 'b1_conv1' is not understood" in capsys.readouterr().err
