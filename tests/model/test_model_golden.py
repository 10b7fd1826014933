"""Golden vectors and their files: hex beats and index read back to the model's tensors."""

import json

import numpy as np

from rtl_gen.model.golden import export_golden, golden_vectors
from rtl_gen.model.packing import unpack
from rtl_gen.model.spec import Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, Network, \
    Threshold, infer

rng = np.random.default_rng(9)


def small_net():
    return Network("tiny", (5, 7, 3), layers=[
        Conv("c1", 6, 3, pad=1, weight_format="int3", weights=rng.integers(-4, 4, (6, 3, 3, 3))),
        Threshold("t1", 2, thresholds=np.sort(rng.integers(-900, 900, (6, 3)), axis=1)),
        Fork("f"),
        Conv("c2", 6, 3, pad=1, weights=rng.choice([-1, 1], (6, 3, 3, 6))),
        Add("s", inputs=("c2", "f")),
        Threshold("t2", 1, thresholds=rng.integers(-5, 5, (6, 1))),
        GlobalAvgPool("gap"),
        Dense("fc", 4, weights=rng.choice([-1, 1], (4, 6))),
        ArgMax("cls")])


def test_golden_vectors_order():
    net = small_net()
    g = golden_vectors(net, rng.integers(0, 256, (5, 7, 3)))
    assert list(g) == ["input", "c1", "t1", "f", "c2", "s", "t2", "gap", "fc", "cls"]


def test_export_and_read_back(tmp_path):
    net = small_net()
    frames = rng.integers(0, 256, (3, 5, 7, 3))
    lanes = {"input": 3, "c1": 6, "t1": 2, "s": 3, "fc": 4}
    index = export_golden(net, frames, tmp_path, lanes_of=lanes)
    on_disk = json.loads((tmp_path / "index.json").read_text())
    assert on_disk == index and on_disk["frames"] == 3
    types = infer(net)
    golden = [golden_vectors(net, f) for f in frames]
    for name, info in on_disk["boundaries"].items():
        t = types[name]
        assert info["lanes"] == lanes.get(name, 1)
        assert (info["bits"], info["signed"], tuple(info["shape"])) == (t.bits, t.signed, t.shape)
        lines = (tmp_path / info["file"]).read_text().split()
        n = info["beats_per_frame"]
        assert len(lines) == 3 * n
        assert {len(x) for x in lines} == {-(-info["lanes"] * t.bits // 4)}
        for k in range(3):
            beats = [int(x, 16) for x in lines[k * n:(k + 1) * n]]
            back = unpack(beats, t.shape, info["lanes"], t.bits, t.signed)
            np.testing.assert_array_equal(back, golden[k][name], err_msg=name)


def test_export_with_callable_lanes(tmp_path):
    net = small_net()
    index = export_golden(net, rng.integers(0, 256, (5, 7, 3)), tmp_path,
                          lanes_of=lambda name, t: t.shape[2])
    assert index["boundaries"]["c2"]["lanes"] == 6
    assert index["boundaries"]["c2"]["beats_per_frame"] == 35
    assert index["frames"] == 1
