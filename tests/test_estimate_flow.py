"""The per-layer Yosys estimate of a compiled network (``verif.estimate``:
``network_estimate``, ``estimate_modules``, ``estimate_cached``; ``make estimate``).

A design with a large weight ROM must come out with its weights in block RAM (RAMB
cells), not LUTs; the flow is cached by module hash (a second run synthesizes nothing,
a changed file is synthesized again) and runs blocks of one configuration once when asked;
``streamqnn estimate --yosys`` prints the per-layer table and records both estimates in
the design's manifest, and a handoff manifest carries them. resnet_block is synthesized
once here for the whole fast suite (its handoff test runs without Yosys).
"""

import json
import math

import numpy as np
import pytest

from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.designs import DEFAULT_TARGET, design
from rtl_gen.model.netgraph import Conv, Network
from streamqnn.cli import main
from streamqnn.handoff import check_request, write_handoff
from verif.estimate import Estimate, config_key, estimate_key, layer_table, lut_equivalent, \
    network_estimate, yosys_family
from verif.harness import BUILD

CACHE = BUILD / "yosys"


def _rom_net():
    """One 3x3 bipolar convolution, 64 -> 64 channels, SIMD 8 x PE 2: a weight ROM of
    2,304 words x 16 bits (36,864 bits) in a $readmemh file."""
    rng = np.random.default_rng(3)
    w = np.where(rng.random((64, 3, 3, 64)) < 0.5, -1, 1)
    net = Network("rom_net", (2, 2, 64), 2,
                  [Conv("conv", 64, 3, pad=1, weight_format="bipolar", weights=w)])
    return net, plan(net, {"conv": {"simd": 8, "pe": 2}})


def test_large_rom_goes_to_block_ram(tmp_path):
    net, planned = _rom_net()
    cn = compile_network(net, tmp_path / "rtl", plan_=planned, cache=BUILD / "rtl")
    mvu = next(b for b in cn.pipeline.blocks if b.kind == "mvu")
    image, _ = mvu.weight_rom()
    rom_bits = image.depth * image.width
    assert rom_bits == 36_864 and not image.inline
    assert any(f.suffix == ".mem" for f in cn.files)
    ne = network_estimate(cn, CACHE, family="xcup", workers=2)
    est = next(r.yosys for r in ne.blocks if r.block is mvu)
    ramb = {t: n for t, n in est.cells.items() if t.startswith("RAMB")}
    assert ramb, est.cells
    assert est.bram36 * 36 * 1024 >= rom_bits
    # in LUTs the ROM alone would take rom_bits / 64 LUT6 (576): the MVU's LUTs used as
    # memory stay far below that
    assert lut_equivalent(est) - est.lut < rom_bits / 64 / 4


def test_resnet_block_flow(tmp_path, capsys):
    """resnet_block, synthesized once for the fast suite: ``estimate --yosys`` prints the
    per-layer table and records both estimates in the manifest; the same modules again are
    all cached, a changed file is another key, identical configurations are synthesized
    once with ``distinct``, and a handoff manifest carries the Yosys estimate per layer."""
    assert main(["estimate", "resnet_block", "--yosys", "--seed", "1", "--jobs", "2",
                 "--out", str(tmp_path / "cli")]) == 0
    out = capsys.readouterr().out
    assert "| layer | blocks | LUT |" in out and "| **total** |" in out
    est = json.loads((tmp_path / "cli" / "manifest.json").read_text())["resource_estimates"]
    assert est["part"] == "xczu9eg-ffvb1156-2-e"
    assert set(est["analytic"]["per_layer"]) == set(est["yosys"]["per_layer"])
    assert est["yosys"]["total"]["ff"] > 0 and est["yosys"]["total"]["lut_levels"] > 0
    assert math.isclose(est["analytic"]["total"]["lut"],
                        sum(v["lut"] for v in est["analytic"]["per_layer"].values()), abs_tol=6)

    net = design("resnet_block", 1)
    cn = compile_network(net, tmp_path / "rtl", cache=BUILD / "rtl",
                         plan_=plan(net, target_cycles=DEFAULT_TARGET["resnet_block"]))
    lines = []
    first = network_estimate(cn, CACHE, family="xcup", workers=2, progress=lines.append)
    done = [ln for ln in lines if ln.startswith("[")]
    assert len(done) == len(cn.pipeline.blocks) and all("(cached)" in ln for ln in done)
    assert "synthesizing" not in "\n".join(lines)
    assert first.as_dict()["total"] == est["yosys"]["total"]
    # one synthesis per configuration: the two sliding windows are the same configuration
    lines = []
    distinct = network_estimate(cn, CACHE, family="xcup", workers=2, distinct=True,
                                progress=lines.append)
    swus = [r for r in distinct.blocks if r.block.kind == "sliding_window"]
    assert len(swus) == 2 and swus[0].synthesized_as == swus[1].synthesized_as
    assert len([ln for ln in lines if ln.startswith("[")]) < len(cn.pipeline.blocks)
    assert config_key(swus[0].block) == config_key(swus[1].block)
    mvus = [r.block for r in distinct.blocks if r.block.kind == "mvu"]
    assert config_key(mvus[0]) == config_key(mvus[1])   # same structure, other weights
    # the per-layer table and the manifest form
    table = layer_table(first)
    assert len(table) == 2 + len(net.layers) + 1 and table[-1].startswith("| **total**")
    d = first.as_dict()
    assert list(d["per_layer"]) == [lay.name for lay in net.layers]
    assert d["total"]["lut_equivalent"] == sum(v["lut_equivalent"]
                                               for v in d["per_layer"].values())
    # a handoff manifest carries it, per layer and per block, beside the device's totals
    man = write_handoff(cn, tmp_path / "handoff", check_request(), first)
    ys = man["resources"]["yosys"]
    assert ys["per_layer"] == d["per_layer"] and len(ys["per_block"]) == len(cn.pipeline.blocks)
    assert 0 < ys["share_of_device"]["lut"] < 1
    readme = (tmp_path / "handoff" / "README.md").read_text()
    assert f"Yosys `synth_xilinx` per layer module: {d['total']['lut_equivalent']:,} LUT" in readme
    # a changed file is another key
    v = cn.folder / "l04_b1_add_add.v"
    key = estimate_key([v], "l04_b1_add_add", "xcup")
    v.write_text(v.read_text() + "\n// changed\n")
    assert estimate_key([v], "l04_b1_add_add", "xcup") != key
    assert estimate_key([v], "l04_b1_add_add", "xc7") != estimate_key([v], "l04_b1_add_add",
                                                                     "xcup")


def test_families_and_lut_ram_count():
    assert [yosys_family(p) for p in ("xc7z020clg400-1", "xczu9eg-ffvb1156-2-e",
                                      "xcku115-flvb2104-2-e", "xcvu9p-flga2104-2L-e",
                                      "xcku5p-ffvb676-2-e", "xcu250-figd2104-2L-e")] == \
        ["xc7", "xcup", "xcu", "xcup", "xcup", "xcup"]
    with pytest.raises(ValueError):
        yosys_family("ep4ce22")
    e = Estimate(lut=10, ff=0, bram36=0, lutram=3, dsp=0, lut_levels=1,
                 cells={"LUT6": 10, "RAM64M": 1, "RAM32M16": 1, "SRLC32E": 1})
    assert lut_equivalent(e) == 10 + 4 + 8 + 1
