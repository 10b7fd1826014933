"""Max pool: bit-exact against the model's maxpool on both simulators, with gaps,
backpressure and the exact cycle model; a MyHDL-level sweep over other shapes; clear
errors. Shares the SWU test's vectors, MyHDL stream runner and error cases."""

import numpy as np
import pytest

from rtl_gen.blocks.catalog import configs
from rtl_gen.blocks.maxpool import MaxPoolUnit
from rtl_gen.model.layers import maxpool
from verif.blocktest import assert_covers, assert_reaches, check_block

from test_sliding_window import BAD_WINDOWS, make_bad, random_shapes, sweep

POOLS = configs("maxpool")


def value_range(pool):
    g = pool.geo
    return (-(1 << (g.bits - 1)), (1 << (g.bits - 1)) - 1) if pool.signed else \
        (0, (1 << g.bits) - 1)


def pool_frames(pool, seed):
    """Input tensors: one where output pixel (oy, ox, c) has a chosen maximum (for codes
    every code occurs: each element is the smallest target of the windows that read it, so
    a window whose own element is private reaches its target), one random, one all at the
    top value and, for signed accumulators, one all at the bottom (the padding value)."""
    g = pool.geo
    rng = np.random.default_rng(seed)
    lo, top = value_range(pool)
    shape = (g.height, g.width, g.channels)
    ho, wo, k, s, p = g.out_height, g.out_width, g.kernel, g.stride, g.pad
    values = np.arange(lo, top + 1) if top - lo < 256 else \
        np.concatenate([[lo, top], rng.integers(lo, top + 1, 254)])
    targets = rng.permutation(np.resize(values, ho * wo * g.channels))
    targets = targets.reshape(ho, wo, g.channels)
    chosen = np.full(shape, top)
    for oy in range(ho):
        for ox in range(wo):
            ys = slice(max(0, oy * s - p), max(0, oy * s - p + k))
            xs = slice(max(0, ox * s - p), max(0, ox * s - p + k))
            chosen[ys, xs] = np.minimum(chosen[ys, xs], targets[oy, ox])
    frames = [chosen, rng.integers(lo, top + 1, shape), np.full(shape, top)]
    return frames + ([np.full(shape, lo)] if pool.signed else [])


@pytest.mark.parametrize("pool", POOLS, ids=lambda b: b.name)
def test_maxpool_bit_exact_and_cycle_model(pool, sim):
    g = pool.geo
    xs = pool_frames(pool, seed=len(pool.name))
    lo, top = value_range(pool)
    ys = [maxpool(x, g.kernel, g.stride, g.pad, pad_value=lo) for x in xs]
    if pool.signed:   # accumulators: both extremes, negatives through padded windows
        assert_reaches(ys, lo, top, "pooled accumulator")
        assert (np.concatenate([y.ravel() for y in ys]) < 0).mean() > 0.2
    else:
        assert_covers(ys, 0, top, "pooled code")
    check_block(pool, sim, {"s_axis": xs}, {"m_axis": ys})


def test_catalog_has_the_awkward_cases():
    geos = [b.geo for b in POOLS]
    assert any((g.kernel, g.stride, g.pad) == (2, 2, 0) for g in geos)
    assert any((g.kernel, g.stride, g.pad) == (3, 2, 1) for g in geos)
    assert any((g.kernel, g.stride, g.pad) == (3, 2, 0) for g in geos)
    assert any(g.height != g.width for g in geos)
    assert any(g.channels & (g.channels - 1) for g in geos)
    assert any(g.lanes == 1 for g in geos) and any(g.lanes == g.channels for g in geos)
    assert any(b.signed and b.geo.pad for b in POOLS) and any(b.signed and b.geo.bits > 8
                                                              for b in POOLS)


def test_reference_and_models():
    pool = POOLS[1]
    g = pool.geo
    inputs = pool.random_inputs(np.random.default_rng(3), 2)
    outs = pool.reference(inputs)["m_axis"]
    assert [len(f) for f in outs] == [g.out_height * g.out_width * g.groups] * 2
    assert pool.cycles_per_frame() == max(g.input_beats, g.output_beats)
    assert pool.latency_cycles() == g.latency_cycles() + (g.kernel ** 2 - 1) * g.groups + 1


def test_maxpool_shape_sweep():
    """Shapes no catalog entry names (K 1..11, any stride and padding): exact cycle model
    and latency, bit-exact with pauses."""
    sweep(random_shapes(MaxPoolUnit, seed=3, count=5, max_cycles=600), seed=200)


@pytest.mark.nightly
def test_maxpool_shape_sweep_long():
    sweep(random_shapes(MaxPoolUnit, seed=4, count=60, max_cycles=3000), seed=2000)


@pytest.mark.parametrize("change,match", BAD_WINDOWS, ids=lambda v: str(v)[:40])
def test_maxpool_bad_parameters(change, match, tmp_path):
    make_bad(MaxPoolUnit, tmp_path, change, match)
