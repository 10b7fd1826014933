"""Network spec: shape and range inference, run, graph helpers, YAML/JSON round trips."""

import numpy as np
import pytest

from rtl_gen.errors import QNNError
from rtl_gen.model import layers as L
from rtl_gen.model.formats import signed_bits
from rtl_gen.model.spec import Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, MaxPool, \
    Network, TensorType, Threshold, consumers, infer, load, run, save

rng = np.random.default_rng(42)
H, W, C = 8, 6, 16


def sorted_thresholds(c, bits, neg=None, span=60):
    T = np.sort(rng.integers(-span, span, (c, 2 ** bits - 1)), axis=1)
    if neg is not None:
        T[neg] = T[neg][:, ::-1]
    return T


def resnet_block_net(with_weights=True, mul=(1, 1)):
    """stem conv -> threshold -> fork -> [conv3x3 -> threshold -> conv3x3] + fork -> thr."""
    def w(shape, fmt_vals):
        return rng.choice(fmt_vals, shape) if with_weights else None

    def t(bits, neg=None):
        return sorted_thresholds(C, bits, neg) if with_weights else None
    neg = np.arange(C) % 3 == 1
    return Network("resblock", input_shape=(H, W, 3), layers=[
        Conv("stem", C, 3, pad=1, weight_format="int4", weights=w((C, 3, 3, 3), range(-8, 8))),
        Threshold("stem_t", 2, thresholds=sorted_thresholds(C, 2, span=2000)
                  if with_weights else None),
        Fork("fork1"),
        Conv("conv1", C, 3, pad=1, weights=w((C, 3, 3, C), [-1, 1])),
        Threshold("t1", 2, thresholds=t(2, neg), neg=neg if with_weights else None),
        Conv("conv2", C, 3, pad=1, weights=w((C, 3, 3, C), [-1, 1])),
        Add("res", inputs=("conv2", "fork1"), mul=mul),
        Threshold("t2", 2, thresholds=t(2)),
        MaxPool("pool", 3, 2, pad=1),
        GlobalAvgPool("gap"),
        Dense("fc", 10, weight_format="ternary",
              weights=w((10, C), [-1, 0, 1])),
        ArgMax("cls"),
    ])


def test_infer_resnet_block():
    ty = infer(resnet_block_net(with_weights=False))
    assert ty["input"] == TensorType((H, W, 3), False, 0, 255, 8)
    stem = 27 * 8 * 255                       # int4: min w*x = -8*255, max = 7*255
    assert ty["stem"] == TensorType((H, W, C), True, -stem, 27 * 7 * 255, 17)
    assert ty["stem"].bits == 17                # 55080 > 2^15
    assert ty["stem_t"] == TensorType((H, W, C), False, 0, 3, 2)
    assert ty["fork1"] == ty["stem_t"]
    n = 9 * C                                  # bipolar x 2-bit codes: [-3, 3] per term
    assert ty["conv1"] == TensorType((H, W, C), True, -3 * n, 3 * n, 10)
    assert ty["conv2"] == ty["conv1"]
    assert ty["res"] == TensorType((H, W, C), True, -3 * n, 3 * n + 3, 10)
    assert ty["t2"] == TensorType((H, W, C), False, 0, 3, 2)
    assert ty["pool"] == TensorType((4, 3, C), False, 0, 3, 2)
    assert ty["gap"] == TensorType((1, 1, C), False, 0, 36, 6)
    assert ty["fc"] == TensorType((1, 1, 10), True, -36 * C, 36 * C, 11)
    assert ty["cls"] == TensorType((1, 1, 1), False, 0, 9, 4)


def test_infer_add_per_channel_multipliers():
    mul_a = [1 + (c % 4) for c in range(C)]
    ty = infer(resnet_block_net(with_weights=False, mul=(mul_a, 2)))
    n = 9 * C
    assert (ty["res"].lo, ty["res"].hi) == (-3 * n * 4, 3 * n * 4 + 6)
    assert ty["res"].bits == signed_bits(-3 * n * 4, 3 * n * 4 + 6)


def test_infer_grouped_stride_conv_and_unsigned_sum():
    net = Network("g", (7, 5, 6), input_bits=4, layers=[
        Conv("c", 12, 5, stride=2, pad=2, groups=3, weight_format="int2"),
        Threshold("t", 1),
        GlobalAvgPool("gap"),
    ])
    ty = infer(net)
    n = 25 * 2
    assert ty["input"].bits == 4
    assert ty["c"] == TensorType((4, 3, 12), True, -2 * 15 * n, 15 * n, signed_bits(-1500, 750))
    assert ty["gap"] == TensorType((1, 1, 12), False, 0, 12, 4)


def test_run_matches_layer_functions_and_ranges():
    net = resnet_block_net(mul=([1, 2] * (C // 2), 3))
    x = rng.integers(0, 256, (H, W, 3))
    out = run(net, x)
    assert list(out) == ["input"] + [lay.name for lay in net.layers]
    lay = net.layer
    s = L.conv2d(x, lay("stem").weights, pad=1)
    st = L.threshold(s, lay("stem_t").thresholds)
    c1 = L.conv2d(st, lay("conv1").weights, pad=1)
    t1 = L.threshold(c1, lay("t1").thresholds, lay("t1").neg)
    c2 = L.conv2d(t1, lay("conv2").weights, pad=1)
    r = L.add(c2, st, [1, 2] * (C // 2), 3)
    t2 = L.threshold(r, lay("t2").thresholds)
    p = L.maxpool(t2, 3, 2, 1)
    fc = L.dense(L.global_avg_pool_sum(p), lay("fc").weights)
    for name, want in [("stem", s), ("stem_t", st), ("fork1", st), ("conv1", c1), ("t1", t1),
                       ("conv2", c2), ("res", r), ("t2", t2), ("pool", p), ("fc", fc)]:
        np.testing.assert_array_equal(out[name], want, err_msg=name)
    assert out["cls"].reshape(-1).tolist() == [int(np.argmax(fc))]
    assert len(set(t1.reshape(-1).tolist())) > 1          # thresholds do something
    for name, t in infer(net).items():
        assert out[name].shape == t.shape
        assert t.lo <= out[name].min() and out[name].max() <= t.hi, name


def test_maxpool_on_signed_accumulators_pads_with_range_minimum():
    net = Network("mp", (4, 4, 2), layers=[
        Conv("c", 2, 1, weight_format="int2", weights=-np.ones((2, 1, 1, 2), int)),
        MaxPool("p", 3, 2, pad=1)])
    x = rng.integers(1, 256, (4, 4, 2))
    out = run(net, x)
    want = np.array([[out["c"][max(0, 2 * i - 1):2 * i + 2, max(0, 2 * j - 1):2 * j + 2]
                      .max(axis=(0, 1)) for j in range(2)] for i in range(2)])
    assert (want < 0).all()
    np.testing.assert_array_equal(out["p"], want)


def test_graph_helpers():
    net = resnet_block_net(with_weights=False)
    assert consumers(net, "fork1") == ["conv1", "res"]
    assert consumers(net, "input") == ["stem"]
    assert consumers(net, "cls") == []
    assert net.sources(net.layer("conv1")) == ["fork1"]
    assert net.sources("res") == ["conv2", "fork1"]
    assert net.layer("gap").name == "gap"
    with pytest.raises(QNNError, match="conv1"):
        net.layer("nope")


@pytest.mark.parametrize("ext", [".yaml", ".yml", ".json"])
def test_file_round_trip(tmp_path, ext):
    net = resnet_block_net(mul=([1, 2] * (C // 2), 2))
    net.layers[3].input = "fork1"
    path = tmp_path / f"net{ext}"
    save(net, path)
    back = load(path)
    assert back == net
    assert back.to_dict() == net.to_dict()
    assert isinstance(back.layer("conv1").weights, np.ndarray)
    assert back.layer("t1").neg.dtype == bool
    x = rng.integers(0, 256, (H, W, 3))
    a, b = run(net, x), run(back, x)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    save(back, tmp_path / f"again{ext}")
    assert (tmp_path / f"again{ext}").read_text() == path.read_text()


def test_round_trip_without_weights(tmp_path):
    net = resnet_block_net(with_weights=False)
    save(net, tmp_path / "n.yaml")
    assert load(tmp_path / "n.yaml") == net
    assert infer(load(tmp_path / "n.yaml")) == infer(net)


def test_equality_sees_weights():
    a, b = resnet_block_net(), resnet_block_net()
    assert a != b                       # different random weights
    assert a == load_dict_copy(a)


def load_dict_copy(net):
    from rtl_gen.model.serialize import from_dict
    return from_dict(net.to_dict())


def test_load_errors(tmp_path):
    p = tmp_path / "n.txt"
    with pytest.raises(QNNError, match=".yaml, .yml or .json"):
        save(resnet_block_net(False), p)
    p = tmp_path / "bad.yaml"
    p.write_text("name: n\ninput_shape: [4, 4, 1]\nlayers:\n- {type: Convolution, name: c}\n")
    with pytest.raises(QNNError, match="Conv, Dense") as e:
        load(p)
    assert e.value.layer == "c"
    p.write_text("name: n\ninput_shape: [4, 4, 1]\nlayers:\n- {type: Fork, name: f, k: 3}\n")
    with pytest.raises(QNNError, match="unknown field"):
        load(p)
