"""The shipped trained network (examples/mnist): imported exactly (against qonnx's executor
on every committed test image, with the accuracy the training recorded), and simulated in
RTL on a few test images on both simulators, through ``make sim``'s path too."""

import numpy as np
import pytest

from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.designs import DEFAULT_TARGET, TRAINED, design, held_out_images
from rtl_gen.importer import check
from rtl_gen.model.netgraph import Add, ArgMax, Conv, Dense, GlobalAvgPool
from streamqnn.cli import main
from verif.harness import BUILD
from verif.lint import lint
from verif.model_checks import check_timing
from verif.network_sim import run_network

MNIST = TRAINED["mnist_resnet"]


@pytest.fixture(scope="module")
def net():
    return design("mnist_resnet")


def test_shipped_network_shape(net):
    kinds = [type(lay) for lay in net.layers]
    assert kinds.count(Add) >= 2 and kinds[-3:] == [GlobalAvgPool, Dense, ArgMax]
    convs = [lay for lay in net.layers if isinstance(lay, Conv)]
    assert convs[0].weight_format == "int8" and net.layer("fc1").weight_format == "int8"
    assert {c.weight_format for c in convs[1:]} == {"bipolar"}
    assert any(c.kernel == 1 and c.stride == 2 for c in convs)       # projection shortcut
    assert net.input_shape == (28, 28, 1) and not net.input_signed


def test_exact_against_qonnx_on_every_committed_image(net):
    images, labels = held_out_images("mnist_resnet")
    rep = check(MNIST.onnx, net, list(images))
    assert rep.ok and rep.images == len(images) >= 200, rep.summary()
    acc = float(np.mean(np.array(rep.ours_classes) == labels))
    assert acc == pytest.approx(MNIST.accuracies()["quantized_accuracy_on_shipped"], abs=1e-9)


def test_rtl_on_test_images(net, sim):
    images, _ = held_out_images("mnist_resnet")
    planned = plan(net, target_cycles=DEFAULT_TARGET["mnist_resnet"])
    cn = compile_network(net, BUILD / "designs" / "mnist_resnet_test", plan_=planned,
                         cache=BUILD / "rtl", check=lambda rtl: lint(rtl.files, rtl.top))
    lint(cn.verilog, cn.name)
    outs = []
    res = run_network(cn, sim, frames=2, images=list(images[:2]), outputs=outs,
                      label="mnist")
    assert len(outs) == 2
    # frame interval, first-frame latency and every stream's first beat as the models
    # say (the latency model was 2 cycles short at fc1 until it froze the projection MVU
    # that the add stalls: rtl_gen.hdl.timing.frozen_times)
    check_timing(cn, res)


def test_make_sim_prints_classes_and_accuracies(capsys):
    assert main(["sim", "mnist_resnet", "--frames", "3"]) == 0
    out = capsys.readouterr().out
    assert "PASS: 3 of 3 frames bit-exact on verilator" in out
    assert "image 0: label" in out and "(qonnx)" in out and "logits [" in out
    assert "accuracy over 3 test images:" in out
    assert "the three agree image by image: yes" in out
