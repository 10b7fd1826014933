"""A signed 8-bit network input (what a QONNX model with a signed input quantizer needs):
the model's type and range, the spec files, clear errors, and the RTL bit-exact on both
simulators (the sliding window pads with the value 0, the MVU multiplies signed inputs).
Also the explicit rounding modes of ``fold_batchnorm``."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.designs.networks import calibrate, random_input, random_weights
from rtl_gen.model.batchnorm import ROUNDING, float_reference, fold_batchnorm
from rtl_gen.model.execute import run
from rtl_gen.model.infer import infer
from rtl_gen.model.layers import conv2d
from rtl_gen.model.netgraph import INPUT, ArgMax, Conv, Dense, GlobalAvgPool, MaxPool, \
    Network, Threshold
from rtl_gen.model.serialize import from_dict, load, save, to_dict
from verif.harness import BUILD
from verif.lint import lint
from verif.network_sim import run_network


def signed_net(seed=0):
    rng = np.random.default_rng(seed)
    net = Network("signed_in", (8, 8, 2), 8, [
        Conv("c1", 4, 3, 1, 1, 1, "int4", random_weights(rng, (4, 3, 3, 2), "int4")),
        Threshold("t1", 2),
        Conv("c2", 4, 1, 1, 0, 1, "bipolar", random_weights(rng, (4, 1, 1, 4), "bipolar")),
        Threshold("t2", 2),
        MaxPool("p", 2, 2), GlobalAvgPool("g"),
        Dense("d", 3, "int8", random_weights(rng, (3, 4), "int8")), ArgMax("a")],
        input_signed=True)
    return calibrate(net, seed)


def test_signed_input_type_and_model():
    net = signed_net()
    t = infer(net)[INPUT]
    assert (t.signed, t.lo, t.hi, t.bits) == (True, -128, 127, 8)
    x = random_input(net, np.random.default_rng(1))
    assert x.min() < 0 and x.min() >= -128 and x.max() <= 127
    outs = run(net, x)
    assert np.array_equal(outs["c1"], conv2d(x, net.layers[0].weights, 1, 1))
    with pytest.raises(QNNError, match=r"input value -129 out of range.*-128\.\.127 \(8-bit "
                       r"signed\)"):
        run(net, np.full((8, 8, 2), -129))
    unsigned = Network("u", (8, 8, 2), 8, net.layers)
    with pytest.raises(QNNError, match="input value -1 out of range"):
        run(unsigned, np.full((8, 8, 2), -1))


def test_signed_input_spec_files(tmp_path):
    net = signed_net()
    net.metadata = {"output": {"scale": [0.5, 0.25, 1.0]}}
    for ext in ("yaml", "json"):
        save(net, tmp_path / f"n.{ext}")
        back = load(tmp_path / f"n.{ext}")
        assert back == net and back.input_signed is True
        assert back.metadata == {"output": {"scale": [0.5, 0.25, 1.0]}}
    # an unsigned network without metadata keeps its old dict form (no new keys)
    d = to_dict(Network("u", (4, 4, 1), 8, [Threshold("t", 1, thresholds=[[3]])]))
    assert "input_signed" not in d and "metadata" not in d
    with pytest.raises(QNNError, match="input_signed 'yes' is not a boolean"):
        infer(from_dict(dict(to_dict(net), input_signed="yes")))


def test_conv_takes_only_the_network_input_signed():
    rng = np.random.default_rng(0)
    net = Network("n", (4, 4, 1), 8, [
        Conv("c1", 2, 3, 1, 1, 1, "int4", random_weights(rng, (2, 3, 3, 1), "int4")),
        Conv("c2", 2, 1, weights=random_weights(rng, (2, 1, 1, 2), "bipolar"))],
        input_signed=True)
    with pytest.raises(QNNError, match="'c1' is a signed accumulator"):
        infer(net)


def test_signed_input_rtl(sim):
    net = signed_net()
    cn = compile_network(net, BUILD / "designs" / f"signed_in_{sim}",
                         plan_=plan(net, target_cycles=64), cache=BUILD / "rtl",
                         check=lambda rtl: lint(rtl.files, rtl.top))
    assert cn.port("s_axis").signed
    lint(cn.verilog, cn.name)
    run_network(cn, sim, frames=2, seed=3)


def test_rounding_is_explicit():
    """Ties: y/act_step = acc/2 lands on odd multiples of 1/2 for odd acc. half_up (the
    default) rounds them up, half_even (QONNX's ROUND) to even; elsewhere they agree."""
    bn = dict(gamma=[1.0], beta=[0.0], mean=[0.0], var=[1.0], eps=0.0, act_bits=3,
              act_step=2.0)
    acc = np.arange(-2, 16)[:, None]
    up = float_reference(acc, **bn)[:, 0]
    even = float_reference(acc, **bn, rounding="half_even")[:, 0]
    assert up.tolist()[2:8] == [0, 1, 1, 2, 2, 3]          # acc 0..5: 0, .5, 1, 1.5, 2, 2.5
    assert even.tolist()[2:8] == [0, 0, 1, 2, 2, 2]
    for mode in ROUNDING:
        T, neg = fold_batchnorm(**bn, acc_range=(-2, 15), rounding=mode)
        codes = np.searchsorted(T[0], acc[:, 0], side="right")
        assert np.array_equal(codes, float_reference(acc, **bn, rounding=mode)[:, 0]), mode
    with pytest.raises(QNNError, match="unknown rounding mode 'nearest'"):
        fold_batchnorm(**bn, rounding="nearest")
