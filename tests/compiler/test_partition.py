"""The partitioner: legal and illegal cuts, the split into partitions, link load and the
system cycle model, automatic partitioning (estimates only) and the errors."""

import pytest

from rtl_gen.compiler.budget import Budget
from rtl_gen.compiler.partition import LinkOptions, legal_cuts, partition
from rtl_gen.compiler.partition_build import split
from rtl_gen.compiler.passes.without_forks import without_forks
from rtl_gen.designs.networks import DEFAULT_TARGET, design
from rtl_gen.errors import QNNError


@pytest.fixture(scope="module")
def tiny():
    return design("tiny_resnet")


def test_legal_cuts_tiny_resnet(tiny):
    assert legal_cuts(without_forks(tiny)) == [
        "stem_conv", "stem_act", "s1b1_add", "s1b1_act2", "s2b1_add", "s2b1_act2",
        "s3b1_add", "s3b1_act2", "gap", "fc"]


def test_cut_inside_residual_block_is_refused(tiny):
    with pytest.raises(QNNError) as exc:
        partition(tiny, cuts=["s2b1_conv2"], target_cycles=DEFAULT_TARGET["tiny_resnet"])
    msg = str(exc.value)
    assert "s2b1_conv2" in msg and "residual block 's2b1'" in msg
    assert "after 's1b1_act2'" in msg and "after 's2b1_add'" in msg


@pytest.mark.parametrize("cuts, valid", [(["nope"], "stem_act"), (["argmax"], "fc"),
                                         (["stem_act", "stem_act"], "each cut once")])
def test_bad_cuts(tiny, cuts, valid):
    with pytest.raises(QNNError, match=valid):
        partition(tiny, cuts=cuts, target_cycles=DEFAULT_TARGET["tiny_resnet"])


def test_user_cut_split(tiny):
    """One stream crosses; it becomes LinkTx on part 1 and LinkRx on part 2; every block
    lands in exactly one part; the system interval is the pipeline's or the link's."""
    pp = partition(tiny, cuts=["s1b1_act2"], target_cycles=DEFAULT_TARGET["tiny_resnet"])
    assert pp.cuts == ["s1b1_act2"] and len(pp.parts) == 2
    parts = split(pp)
    p1, p2 = parts
    assert p1.pipeline.inp == pp.pipeline.inp and p1.pipeline.out is None
    assert p2.pipeline.out == pp.pipeline.out and p2.pipeline.inp is None
    assert p1.tx.kind == "link_tx" and p2.rx.kind == "link_rx"
    assert p1.tx.params() == p2.rx.params()
    names = [b.name for pd in parts for b in pd.pipeline.blocks if b.kind[:4] != "link"]
    assert sorted(names) == sorted(b.name for b in pp.pipeline.blocks)
    lk, = pp.links
    assert lk.tensor == "s1b1_act2" and lk.cycles <= pp.pipeline_interval
    assert pp.system_interval == max(pp.pipeline_interval, lk.cycles)


def test_fork_goes_with_its_readers(tiny):
    """A cut before a residual block: the block's input fork lies in the later part."""
    pp = partition(tiny, cuts=["stem_act"], target_cycles=DEFAULT_TARGET["tiny_resnet"])
    forks = [b.name for b in pp.pipeline.blocks if b.kind == "fork"
             and pp.pipeline.layer_of[b.name] == "stem_act"]
    assert forks and all(pp.part_of_block[f] == 1 for f in forks)


def test_link_bound_cut_slows_the_folding(tiny):
    """At a fast folding the stem's 16 x 21-bit accumulator stream needs more lane cycles
    than the pipeline's interval: the cut is link-bound, reported, and the folding slowed
    to the link's pace (no faster than the link, no slower)."""
    fast = partition(tiny, cuts=["stem_act"], target_cycles=1000).pipeline_interval
    pp = partition(tiny, cuts=["stem_conv"], target_cycles=1000)
    lk, = pp.links
    assert any("link-bound" in n for n in pp.notes)
    assert fast < pp.pipeline_interval <= lk.cycles
    assert pp.system_interval == lk.cycles and pp.bound() == "link after stem_conv"


def test_balanced_parts(tiny):
    pp = partition(tiny, parts=3, target_cycles=DEFAULT_TARGET["tiny_resnet"])
    assert len(pp.parts) == 3 and len(pp.cuts) == 2
    assert all(c in legal_cuts(pp.net) for c in pp.cuts)


def test_too_many_parts(tiny):
    with pytest.raises(QNNError, match="at most 11 partitions"):
        partition(tiny, parts=12, target_cycles=DEFAULT_TARGET["tiny_resnet"])


def test_fits_no_devices(tiny):
    tiny_dev = Budget(2000, 4000, 2, "tiny")
    with pytest.raises(QNNError, match="does not fit 2 device"):
        partition(tiny, devices=[tiny_dev, tiny_dev])


def test_devices_fit_and_report(tiny):
    pp = partition(tiny, devices=["xc7z020", "xc7z020"], fraction=0.5)
    assert all(p.utilisation <= 1 for p in pp.parts)
    text = pp.report()
    assert "xc7z020" in text and "system frame interval" in text and "link after" in text


def test_alexnet_over_two_xcvu9p():
    pp = partition(design("alexnet"), devices=["xcvu9p", "xcvu9p"])
    assert len(pp.parts) == 2 and all(p.utilisation <= 1 for p in pp.parts)
    assert pp.system_interval >= pp.pipeline_interval


def test_resnet18_over_three_xc7z045():
    pp = partition(design("resnet18"), devices=["xc7z045"] * 3)
    assert len(pp.parts) == 3 and all(p.utilisation <= 1 for p in pp.parts)
    assert all(c in legal_cuts(pp.net) for c in pp.cuts)


def test_lane_width_option(tiny):
    pp = partition(tiny, cuts=["stem_act"], target_cycles=DEFAULT_TARGET["tiny_resnet"],
                   opts=LinkOptions(lane_bits=128))
    assert pp.links[0].cfg.lane_bits == 128
