"""Thresholding: bit-exact against rtl_gen.model.layers.threshold on both simulators, with
accumulators at, just below and just above every threshold and at both ends of the input
range; cycle model and latency; ROM form; clear errors for bad parameters."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.model.batchnorm import float_reference
from rtl_gen.model.layers import threshold
from rtl_gen.model.packing import pack
from rtl_gen.blocks.thresholding import BN_EXAMPLE, Thresholding, bn_example_params
from verif.blocktest import assert_covers, assert_reaches, check_block
from verif.harness import generate

BLOCKS = configs("thresholding")
MIN_FRAMES = 3


def boundary_accumulators(blk, seed):
    """Accumulators (frames, pixels, C): for every channel, every T-1, T, T+1 inside the
    input range and both range ends, shuffled, padded with random values to whole frames."""
    rng = np.random.default_rng(seed)
    lo, hi = blk.lo, blk.hi
    per_channel = []
    for row in blk.T:
        vals = {lo, hi}
        vals.update(int(t) + d for t in row for d in (-1, 0, 1) if lo <= int(t) + d <= hi)
        per_channel.append(sorted(vals))
    need = max(len(v) for v in per_channel)
    frames = max(MIN_FRAMES, -(-need // blk.pixels))
    acc = rng.integers(lo, hi + 1, (frames * blk.pixels, blk.channels))
    for c, vals in enumerate(per_channel):
        acc[:len(vals), c] = rng.permutation(vals)
        acc[:, c] = rng.permutation(acc[:, c])
    return acc.reshape(frames, blk.pixels, blk.channels)


def golden(blk, acc):
    return [threshold(a, blk.T, blk.neg, name="golden") for a in acc]


@pytest.mark.parametrize("blk", BLOCKS, ids=lambda b: b.name)
def test_thresholding_bit_exact(blk, sim):
    acc = boundary_accumulators(blk, seed=len(blk.name))
    codes = golden(blk, acc)
    assert_covers(codes, 0, 2 ** blk.act_bits - 1, "code")
    assert_reaches(acc, blk.lo, blk.hi)
    check_block(blk, sim, {"s_axis": list(acc)}, {"m_axis": codes})


def test_folded_batchnorm_matches_float_quantizer():
    """The folded configuration's thresholds reproduce THE float quantizer on every
    accumulator of its 9-bit range, so the RTL tested above is the batch-norm layer."""
    blk = next(b for b in BLOCKS if b.name == BN_EXAMPLE)
    acc = np.repeat(np.arange(blk.lo, blk.hi + 1)[:, None], blk.channels, axis=1)
    np.testing.assert_array_equal(threshold(acc, blk.T, blk.neg),
                                  float_reference(acc, **bn_example_params()))
    assert blk.neg.any() and not blk.neg.all()
    assert blk.T.min() == blk.lo - 1 and blk.T.max() == blk.hi + 1   # one outside the range


@pytest.mark.parametrize("blk", BLOCKS, ids=lambda b: b.name)
def test_reference_and_rom(blk):
    """The block's own reference is the model layer; the ROM is inline when small and a
    $readmemh file when large; the cycle model is pixels * C / pe."""
    acc = boundary_accumulators(blk, seed=1)
    ins = [pack(a, blk.pe, blk.in_bits, blk.in_signed) for a in acc]
    want = [pack(c, blk.pe, blk.act_bits) for c in golden(blk, acc)]
    assert blk.reference({"s_axis": ins}) == {"m_axis": want}
    rtl = generate(blk)
    image = blk.rom_image()
    assert image.depth == max(2, blk.channels // blk.pe)
    if image.inline:
        assert rtl.data_files == () and "$readmemh" not in rtl.verilog.read_text()
    else:
        assert [f.name for f in rtl.data_files] == [image.mem_file]
        assert "$readmemh" in rtl.verilog.read_text()
    assert blk.cycles_per_frame() == blk.pixels * blk.channels // blk.pe
    assert any(not b.rom_image().inline for b in BLOCKS)


def _rows(c, n, lo=-100, step=10):
    return np.tile(np.arange(lo, lo + n * step, step), (c, 1))


@pytest.mark.parametrize("kwargs,match", [
    (dict(thresholds=_rows(4, 3)[:, :2], in_bits=8),
     r"layer 't': thresholds have shape \(4, 2\).*valid: \(4, 2\^A - 1\) with A in 1\.\.8"),
    (dict(thresholds=_rows(4, 3)[0], in_bits=8),
     r"layer 't': thresholds have shape \(3,\).*valid: a \(C, 2\^A - 1\) table"),
    (dict(thresholds=_rows(2, 511, lo=0, step=1), in_bits=12),      # A = 9
     r"layer 't': thresholds have shape \(2, 511\).*A in 1\.\.8"),
    (dict(thresholds=_rows(4, 3), in_bits=8, act_bits=3),
     r"layer 't': thresholds have shape \(4, 3\).*valid: \(4, 7\)"),
    (dict(thresholds=_rows(4, 3), in_bits=8, act_bits=9),
     r"layer 't': activation bits 9 out of range.*valid: an integer in 1\.\.8"),
    (dict(thresholds=_rows(4, 3)[:, ::-1], in_bits=8),
     r"layer 't': thresholds of channel 0 are not sorted.*non-decreasing"),
    (dict(thresholds=_rows(4, 3), neg=[False, True, False, False], in_bits=8),
     r"layer 't': thresholds of channel 1 are not sorted.*non-increasing \(negative scale\)"),
    (dict(thresholds=_rows(4, 3), neg=[True, False], in_bits=8),
     r"layer 't': neg flags have shape \(2,\).*4 booleans"),
    (dict(thresholds=_rows(4, 3).astype(float), in_bits=8),
     r"layer 't': thresholds must be integers"),
    (dict(thresholds=_rows(6, 3), in_bits=8, pe=4),
     r"layer 't': pe = 4 does not divide the 6 channels.*valid: a divisor of C: 1, 2, 3, 6"),
    (dict(thresholds=_rows(6, 3), in_bits=8, pe=0),
     r"layer 't': pe \(lanes per beat\) = 0 is out of range.*from 1 to 6"),
    (dict(thresholds=_rows(4, 3), in_bits=8, pixels=0),
     r"layer 't': pixels per frame = 0 is out of range"),
    (dict(thresholds=_rows(4, 3), in_bits=0),
     r"layer 't': input accumulator bits = 0 is out of range.*from 1 to 62"),
    (dict(thresholds=_rows(4, 3), in_bits=8, in_signed="yes"),
     r"layer 't': in_signed = 'yes' is not a boolean"),
    (dict(thresholds=_rows(4, 3, lo=-300), in_bits=8),
     r"layer 't': thresholds span \[-300, -280\], outside the 8-bit signed input range "
     r"\[-128, 127\].*valid: thresholds in \[-129, 128\]"),
    (dict(thresholds=_rows(4, 3, lo=-2), in_bits=8, in_signed=False),
     r"thresholds span \[-2, 18\], outside the 8-bit unsigned input range \[0, 255\].*"
     r"valid: thresholds in \[-1, 256\]"),
    (dict(name="wire", thresholds=_rows(4, 3), in_bits=8), r"Verilog keyword"),
])
def test_thresholding_bad_parameters(kwargs, match, tmp_path):
    kwargs = dict({"name": "t"}, **kwargs)
    with pytest.raises(QNNError, match=match):
        Thresholding(**kwargs).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))


def test_thresholds_one_outside_range_are_accepted():
    """fold_batchnorm's never/always-reached levels (lo - 1, hi + 1) are valid."""
    t = np.array([[-129, 0, 128], [128, 0, -129]])
    blk = Thresholding("t_edges", t, [False, True], in_bits=8, pe=2)
    assert blk.cmp_bits == 9
