"""Folding for a resource budget (``rtl_gen.compiler.budget``) and the target floor: the
fastest plan whose analytic estimate fits, clear errors for budgets that cannot be met or
not be read, and no layer unfolded beyond the pace of the slowest."""

import pytest

from streamqnn.cli import main
from rtl_gen.compiler.budget import DEVICES, Budget, fold_for_budget, interval_candidates, \
    parse_budget
from rtl_gen.compiler.compile import plan
from rtl_gen.compiler.folding import fold_network, frame_interval, reachable_interval
from rtl_gen.compiler.passes.without_forks import without_forks
from rtl_gen.compiler.resources import pipeline_estimate
from rtl_gen.designs.networks import design
from rtl_gen.errors import QNNError


def test_parse_budget():
    vu9p = parse_budget("XCVU9P")
    assert (vu9p.lut, vu9p.ff, vu9p.bram36) == (DEVICES["xcvu9p"].lut, DEVICES["xcvu9p"].ff,
                                               DEVICES["xcvu9p"].bram36)
    b = parse_budget("lut=20_000,bram=12")
    assert (b.lut, b.ff, b.bram36) == (20000, None, 12)
    assert b.fits(type(DEVICES["xc7z020"])(19000, 10**9, 12))
    assert not b.fits(type(DEVICES["xc7z020"])(19000, 0, 13))


@pytest.mark.parametrize("text, match", [
    ("foo=3", r"budget item 'foo=3' is not understood.*valid: a device \(xc7z020"),
    ("lut=-5", r"budget item 'lut=-5' is not understood"),
    ("lut=5,lut=6", r"budget item 'lut=6' is not understood.*each resource at most once"),
    ("lut=abc", r"budget item 'lut=abc'"),
    ("", r"empty budget"),
])
def test_bad_budgets(text, match):
    with pytest.raises(QNNError, match=match):
        parse_budget(text)


@pytest.mark.parametrize("name, budget", [("tiny_resnet", "lut=20000"),
                                          ("tiny_resnet", "lut=30000,ff=25000,bram=20"),
                                          ("resnet_block_down", "lut=6000")])
def test_fastest_plan_within_budget(name, budget):
    """The chosen plan fits, and the next faster possible interval does not (the
    bisection's boundary)."""
    net = design(name)
    b = parse_budget(budget)
    (_, folds, pipe), est, target = fold_for_budget(net, b)
    assert b.fits(est) and est == pipeline_estimate(pipe)[0]
    assert frame_interval(folds) <= target
    flat = without_forks(net)
    cands = [c for c in interval_candidates(flat) if c >= reachable_interval(flat)]
    faster = [c for c in cands if c < target]
    if faster:
        _, _, pipe2 = plan(net, target_cycles=faster[-1])
        assert not b.fits(pipeline_estimate(pipe2)[0])


def test_budget_too_small_is_refused():
    with pytest.raises(QNNError, match=r"does not fit LUT 100 with any folding \(\d+ tried; "
                       r"the least any needs: LUT [\d,]+.*split across several FPGAs"):
        fold_for_budget(design("tiny_resnet"), Budget(lut=100))


def test_target_below_reach_is_raised_to_it():
    """resnet18 cannot go below its stem's fastest interval; asking for less must not
    unfold the other layers further than that interval needs."""
    net = without_forks(design("resnet18"))
    floor = reachable_interval(net)
    low = fold_network(net, target_cycles=floor // 7)
    at = fold_network(net, target_cycles=floor)
    assert low == at and frame_interval(low) == floor


def test_cli_budget(capsys):
    assert main(["estimate", "tiny_resnet", "--budget", "lut=20000"]) == 0
    out = capsys.readouterr().out
    assert "the fastest folding within LUT 20,000" in out and "chosen: target" in out
    assert "resources (analytic estimate): LUT" in out
    assert main(["estimate", "tiny_resnet", "--budget", "xc7z020", "--target", "9"]) == 2
    assert "both --target and --budget given" in capsys.readouterr().err


def test_budget_met_only_by_a_faster_folding():
    """Block RAM is not monotone in the folding: tiny_resnet fully folded needs more RAMB36
    than its fast foldings (wide ROM words go to LUTs), so a small BRAM budget is met only
    by scanning past the slowest folding."""
    net = design("tiny_resnet")
    slowest = pipeline_estimate(plan(net, target_cycles=10**9)[2])[0]
    b = Budget(bram36=6)
    assert not b.fits(slowest)
    (_, folds, _), est, _ = fold_for_budget(net, b)
    assert b.fits(est) and frame_interval(folds) < 10**9
