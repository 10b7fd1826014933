"""Network compiler without simulation: folding, cycle model, pipeline structure, skip-FIFO
analysis, and specs refused with a clear error before any RTL is written."""

import copy

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.compiler.folding import auto_fold, fold_network, frame_interval
from rtl_gen.compiler.layer_kinds import kind_of
from rtl_gen.compiler.passes.insert_forks import insert_forks
from rtl_gen.compiler.passes.lower import lower
from rtl_gen.designs.networks import DESIGNS, calibrate, design
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import Add, Conv, Network, Threshold


def mvu_cycles(lay, tin, tout, simd, pe):
    """The MVU cycle model, written out here independently of the compiler's registry."""
    if isinstance(lay, Conv):
        (h, w, cin), (ho, wo, cout), k = tin.shape, tout.shape, lay.kernel
        return max(h * w * cin // min(simd, cin), ho * wo * (k * k * cin // simd) * (cout // pe))
    return (int(np.prod(tin.shape)) // simd) * (tout.shape[2] // pe)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_designs_plan_and_cycle_model(name):
    net = design(name)
    _, folds, pipe = plan(net, target_cycles=2_000_000)
    # the interval is the slowest layer's, and every conv/dense layer's cycles follow
    # (K*K*C_in/SIMD)*(C_out/PE) per output pixel (or the window unit's input rate)
    types = infer(net)
    for lay in net.layers:
        f = folds[lay.name]
        if f.kind in ("conv", "dense"):
            src = net.sources(lay)[0]
            assert f.cycles == mvu_cycles(lay, types[src], types[lay.name], f.simd, f.pe)
    assert frame_interval(folds) == max(f.cycles for f in folds.values())
    assert frame_interval(folds) <= 2_000_000
    assert pipe.out is not None and pipe.inp is not None


def test_every_code_occurs_in_designs():
    from rtl_gen.model.execute import run
    from rtl_gen.designs.networks import random_input

    for name in ("resnet_block", "resnet_block_down", "tiny_resnet"):
        net = design(name)
        outs = run(net, random_input(net, np.random.default_rng(3)))
        for lay in net.layers:
            if isinstance(lay, Threshold):
                codes = np.unique(outs[lay.name])
                assert len(codes) == 1 << lay.act_bits, (name, lay.name, codes)


def test_auto_fold_balances_layers():
    """Every conv meets the target with the least parallelism that can (no layer is
    needlessly faster than the slowest), and the interval is met where reachable."""
    net = design("resnet18")
    types = infer(net)
    for target in (1_850_000, 400_000):
        folds, interval = auto_fold(net, target)
        for lay in net.layers:
            f = folds[lay.name]
            if f.kind not in ("conv", "dense"):
                continue
            tin, tout = types[net.sources(lay)[0]], types[lay.name]
            options = kind_of(lay).options(lay, tin, tout)
            meets = [s * p for s, p in options if mvu_cycles(lay, tin, tout, s, p) <= target]
            if meets:
                assert f.cycles <= target and f.simd * f.pe == min(meets), lay.name
            else:
                assert (f.simd, f.pe) == max(options), lay.name


def test_resnet_block_pipeline_structure():
    _, folds, pipe = plan(design("resnet_block"), target_cycles=4608)
    kinds = [b.kind for b in pipe.blocks]
    assert kinds.count("sliding_window") == 2 and kinds.count("mvu") == 2
    assert kinds.count("fork") == 1 and kinds.count("add") == 1 and kinds.count("fifo") == 1
    (fifo, analysis), = pipe.skip_fifos.values()
    assert fifo.depth == analysis.depth > analysis.row_beats
    names = [b.name for b in pipe.blocks]
    assert "l01_b1_conv1_swu" in names and "l05_b1_act2_thresh" in names


def test_add_channel_mismatch_refused(tmp_path):
    net = design("resnet_block")
    conv2 = net.layer("b1_conv2")
    conv2.out_channels = 8
    conv2.weights = conv2.weights[:8]
    with pytest.raises(QNNError, match=r"layer 'b1_add': channel mismatch"):
        compile_network(net, tmp_path)
    assert not list(tmp_path.iterdir())


def test_skip_shapes_differ_refused(tmp_path):
    net = design("resnet_block")
    net.layer("b1_conv2").stride = 2
    with pytest.raises(QNNError, match=r"layer 'b1_add': inputs .* different shapes"):
        compile_network(net, tmp_path)
    assert not list(tmp_path.iterdir())


def test_fold_that_does_not_divide_refused(tmp_path):
    with pytest.raises(QNNError, match=r"layer 'b1_conv1': PE=5 does not divide C_out=16"
                                       r".*valid: one of 1, 2, 4, 8, 16"):
        compile_network(design("resnet_block"), tmp_path,
                        folding={"b1_conv1": {"simd": 4, "pe": 5}})
    with pytest.raises(QNNError, match=r"layer 'b1_conv1': SIMD=3"):
        compile_network(design("resnet_block"), tmp_path,
                        folding={"b1_conv1": {"simd": 3, "pe": 4}})
    with pytest.raises(QNNError, match=r"layer 'nope': folding given for a layer that is "
                                       r"not in the network"):
        compile_network(design("resnet_block"), tmp_path, folding={"nope": {"simd": 1}})
    assert not list(tmp_path.iterdir())


def test_user_folding_is_used():
    _, folds, pipe = plan(design("resnet_block"), {"b1_conv1": {"simd": 4, "pe": 2}}, 4608)
    assert (folds["b1_conv1"].simd, folds["b1_conv1"].pe) == (4, 2)
    mvu = pipe.block("l01_b1_conv1_mvu")
    assert (mvu.simd, mvu.pe) == (4, 2)


def _swapped_adds(net):
    """The same network with every add's inputs (and multipliers) written the other way."""
    net = copy.deepcopy(net)
    for lay in net.layers:
        if isinstance(lay, Add):
            lay.inputs, lay.mul = lay.inputs[::-1], lay.mul[::-1]
    return net


@pytest.mark.parametrize("name", ["resnet_block", "resnet_block_down", "tiny_resnet"])
@pytest.mark.parametrize("target", [None, 768, 1120, 2048, 4608, 36864])
def test_add_folding_does_not_depend_on_input_order(name, target):
    """Before the add chose its lanes by cost, resnet_block at a 1,120-cycle target ran at
    768 cycles per frame written one way and 1,024 the other."""
    net = design(name)
    f1, f2 = fold_network(net, None, target), fold_network(_swapped_adds(net), None, target)
    assert frame_interval(f1) == frame_interval(f2)
    assert [(f.simd, f.pe) for f in f1.values()] == [(f.simd, f.pe) for f in f2.values()]
    p1, p2 = plan(net, target_cycles=target)[2], plan(_swapped_adds(net), target_cycles=target)[2]
    assert sorted(b.kind for b in p1.blocks) == sorted(b.kind for b in p2.blocks)


def test_every_block_gets_its_own_module_name():
    """The pipeline input and its first reader's output both forked: the input's fork is
    ``<reader>_infork`` (both were ``<reader>_fork``); and a pipeline refuses a second
    block of a name it already has, so a naming slip stops the compiler at once."""
    rng = np.random.default_rng(0)
    net = calibrate(Network("twoforks", (4, 4, 2), 2, [
        Threshold("t0", 2),
        Conv("c2", 2, 1, input="t0", weight_format="ternary",
             weights=rng.integers(-1, 2, (2, 1, 1, 2))),
        Conv("c3", 2, 1, input="t0", weight_format="ternary",
             weights=rng.integers(-1, 2, (2, 1, 1, 2))),
        Add("a1", inputs=("c2", "c3")),
        Add("a2", inputs=("a1", "input"))]))
    infer(net)
    pipe = insert_forks(lower(net, fold_network(net)))
    names = [b.name for b in pipe.blocks]
    assert len(set(names)) == len(names)
    assert {"l01_t0_infork", "l01_t0_fork"} <= set(names)
    with pytest.raises(QNNError, match="the compiler named two blocks 'l01_t0_fork'"):
        pipe.add_block(copy.copy(pipe.block("l01_t0_fork")), "t0")
    with pytest.raises(QNNError, match="layer 'a2'"):   # nested skips: refused, naming it
        plan(net)
