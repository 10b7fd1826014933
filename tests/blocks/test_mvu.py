"""Matrix-vector unit: bit-exact against the model's conv2d (via im2col windows) and dense
on both simulators, with random gaps and backpressure, then pause-free against the cycle
model; accumulator widths against ``infer``; the $readmemh weight ROM; clear errors."""

import numpy as np
import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.model.formats import signed_bits
from rtl_gen.model.layers import conv2d, dense, im2col
from rtl_gen.model.spec import Conv, Dense, Network, infer
from rtl_gen.blocks.mvu.mvu import MVU, extreme_weights
from verif.blocktest import assert_reaches, check_block, pack_frames
from verif.estimate import rtl_cells
from verif.harness import generate

MVUS = configs("mvu")

# How each catalog configuration is fed: a convolution over an (H, W, C_in) image with
# (stride, pad), or a dense layer over an input tensor. Configurations not listed here are
# fed random window vectors, each checked as a K x K x C_in image (the model's conv2d).
LAYERS = {
    "mvu_bip_a1_conv": ("conv", (5, 4, 3), 1, 1),
    "mvu_bip_a2_dense": ("dense", (3, 2, 2)),
    "mvu_tern_s2": ("conv", (5, 5, 5), 2, 1),
    "mvu_int4_rgb": ("conv", (4, 6, 3), 1, 1),
    "mvu_bip_g2": ("conv", (4, 5, 4), 1, 0),
    "mvu_int3_g3_signed": ("conv", (2, 3, 6), 1, 0),
    "mvu_int4_rom": ("dense", (4, 5, 4)),
    "mvu_bip_gapsum_dense": ("dense", (1, 1, 12)),
    "mvu_int8_wide_signed": ("dense", (1, 1, 6)),
    "mvu_int8_dense_nf3": ("dense", (2, 3, 5)),
    "mvu_bip_sf1_nf6": ("conv", (2, 3, 2), 1, 0),
}


def _images(blk, shape, seed):
    """Three frames: random codes, all codes at the maximum, and all at the minimum for
    signed inputs (else a mix of 0 and the maximum): with weight rows of all-max and
    all-min (``extreme_weights``) they reach both accumulator extremes."""
    rng = np.random.default_rng(seed)
    lo, hi = blk.x_lo, blk.x_hi
    last = np.full(shape, lo) if blk.in_signed else rng.choice([lo, hi], size=shape)
    return [rng.integers(lo, hi + 1, shape), np.full(shape, hi), last]


def layer_vectors(blk, seed=0):
    """(window vectors per frame (pixels, MW), expected accumulators per frame)."""
    kind = LAYERS.get(blk.name, ("windows",))
    if kind[0] == "conv":
        _, shape, stride, pad = kind
        imgs = _images(blk, shape, seed)
        vecs = [im2col(x, blk.kernel, stride, pad).reshape(-1, blk.mw) for x in imgs]
        outs = [conv2d(x, blk.weights, stride, pad, blk.groups).reshape(-1, blk.c_out)
                for x in imgs]
    elif kind[0] == "dense":
        imgs = _images(blk, kind[1], seed)
        w2d = blk.weights.reshape(blk.c_out, -1)
        vecs = [x.reshape(1, -1) for x in imgs]
        outs = [dense(x, w2d).reshape(1, blk.c_out) for x in imgs]
    else:
        vecs = _images(blk, (blk.pixels, blk.mw), seed)
        outs = [np.stack([conv2d(v.reshape(blk.kernel, blk.kernel, blk.c_in), blk.weights,
                                 groups=blk.groups)[0, 0] for v in fr]) for fr in vecs]
    for v in vecs:
        assert v.shape == (blk.pixels, blk.mw), f"{blk.name}: scenario does not match pixels"
    return vecs, outs


@pytest.mark.parametrize("blk", MVUS, ids=lambda b: b.name)
def test_mvu_matches_model(blk, sim):
    vecs, outs = layer_vectors(blk)
    assert_reaches(outs, blk.acc_lo, blk.acc_hi)
    res = check_block(blk, sim, {"s_axis": vecs}, {"m_axis": outs})
    assert_takes_input_ahead(blk, res)


def assert_takes_input_ahead(blk, res):
    """In the pause-free run (the source offers each beat the cycle after the one before
    was taken), the input beats are taken when ``beat_times`` says; with NF > 1 the MVU
    takes the next pixel's beats while it re-reads the buffer for the current one, so
    the first two pixels' beats go back to back (it used to refuse input for (NF-1)*SF
    cycles per pixel, which stalled a slower producer: random networks 933849170, 172
    and 194)."""
    taken = np.array(res.beat_cycles("s_axis"))
    offered = np.concatenate(([taken[0]], taken[:-1] + 1))
    model = blk.beat_times({"s_axis": offered})["s_axis"]
    bad = np.flatnonzero(model != taken)
    assert not len(bad), (f"{blk.name}: input beat {bad[0]} taken at cycle {taken[bad[0]]}, "
                          f"beat timing model says {model[bad[0]]}")
    if blk.nf > 1:
        ahead = 2 * blk.sf
        assert list(np.diff(taken[:ahead])) == [1] * (ahead - 1), \
            f"{blk.name}: the second pixel's beats were not taken during the first's refolds"


@pytest.mark.parametrize("blk", MVUS, ids=lambda b: b.name)
def test_mvu_reference_and_widths(blk):
    """The block's own reference agrees with the model layers, and its accumulator range
    is the one ``infer`` gives the same layer in a network spec."""
    vecs, outs = layer_vectors(blk, seed=5)
    ref = blk.reference({"s_axis": pack_frames(blk.port("s_axis"), vecs)})
    assert ref == {"m_axis": pack_frames(blk.port("m_axis"), outs)}
    demo = blk.random_inputs(np.random.default_rng(1), 2)
    assert len(blk.reference(demo)["m_axis"][1]) == blk.pixels * blk.c_out // blk.pe
    kind = LAYERS.get(blk.name, ("windows",))
    if kind[0] == "dense":
        shape, lay = kind[1], Dense("fc", blk.c_out, weight_format=blk.fmt.name,
                                    weights=blk.weights.reshape(blk.c_out, -1))
    else:
        shape = kind[1] if kind[0] == "conv" else (blk.kernel, blk.kernel, blk.c_in)
        stride, pad = kind[2:] if kind[0] == "conv" else (1, 0)
        lay = Conv("conv", blk.c_out, blk.kernel, stride, pad, blk.groups, blk.fmt.name,
                   weights=blk.weights)
    if blk.in_signed or blk.in_bits > 8:  # a spec's input is 1..8-bit codes: infer's rule by hand
        n = blk.kernel ** 2 * blk.c_in // blk.groups
        prods = [w * x for w in (blk.fmt.lo, blk.fmt.hi) for x in (blk.x_lo, blk.x_hi)]
        lo, hi = n * min(prods), n * max(prods)
        bits = signed_bits(lo, hi)
    else:
        t = infer(Network("n", shape, input_bits=blk.in_bits, layers=[lay]))[lay.name]
        lo, hi, bits = t.lo, t.hi, t.bits
    assert (lo, hi, bits) == (blk.acc_lo, blk.acc_hi, blk.acc_bits)
    assert blk.port("m_axis").bits == bits and blk.port("m_axis").signed
    assert blk.cycles_per_frame() == blk.pixels * (blk.mw // blk.simd) * (blk.c_out // blk.pe)


def test_mvu_catalog_covers_the_brief():
    """The catalog holds the configurations the block must be proven on."""
    by = {b.name: b for b in MVUS}
    kinds = {(b.fmt.name, b.in_bits, b.datapath) for b in MVUS}
    assert ("bipolar", 1, "xnor") in kinds and ("bipolar", 2, "xnor") in kinds
    assert any(b.fmt.name == "ternary" for b in MVUS)
    assert any(b.fmt.name == "int4" and b.in_bits == 8 for b in MVUS)
    assert any(b.groups > 1 and b.fmt.name == "bipolar" for b in MVUS)
    assert any(b.groups > 1 and b.simd > b.mw // b.groups for b in MVUS)
    assert any(b.pe == 1 for b in MVUS) and any(b.pe == b.c_out for b in MVUS)
    assert any(b.simd == 1 for b in MVUS) and any(b.simd == b.mw for b in MVUS)
    assert any(b.c_in & (b.c_in - 1) and b.c_out & (b.c_out - 1) for b in MVUS)
    assert any(b.in_signed for b in MVUS)
    assert any(b.in_bits > 8 and b.datapath == "xnor" for b in MVUS)
    assert any(b.in_bits > 8 and b.in_signed and b.datapath == "multiply" for b in MVUS)
    assert not by["mvu_int4_rom"].weight_rom()[0].inline
    assert all(LAYERS.get(b.name, ("windows",))[0] in ("conv", "dense") for b in MVUS)


@pytest.mark.parametrize("blk", MVUS, ids=lambda b: b.name)
def test_mvu_multiplies_only_on_the_multiply_path(blk):
    """Structural: Yosys elaborates the module and counts its multiplier cells. The XNOR
    (bipolar) and select (ternary) datapaths must have none; the int path must have them
    (so the check can fail)."""
    rtl = generate(blk)
    muls = rtl_cells(rtl.files, rtl.top).get("$mul", 0)
    if blk.datapath in ("xnor", "select"):
        assert muls == 0, f"{blk.name}: the {blk.datapath} datapath has {muls} multipliers"
    else:
        assert muls > 0, f"{blk.name}: no multiplier cell found on the multiply datapath"


def test_mvu_large_rom_uses_readmemh(tmp_path):
    """The big weight ROM goes to <name>_weights.mem, read by $readmemh (the simulation of
    this configuration in test_mvu_matches_model is bit-exact only if that file is used:
    the weights are nowhere else)."""
    blk = next(b for b in MVUS if b.name == "mvu_int4_rom")
    image, wbits = blk.weight_rom()
    assert image.bits > 4096 and image.depth == 160 and image.width == 2 * 4 * wbits
    rtl = blk.generate(tmp_path)
    mem = tmp_path / "mvu_int4_rom_weights.mem"
    assert rtl.data_files == (mem,)
    words = [int(line, 16) for line in mem.read_text().split()]
    assert words == image.words
    text = rtl.verilog.read_text()
    assert '$readmemh("mvu_int4_rom_weights.mem"' in text
    assert "case (" not in text, "weights of a large ROM must not be inline"
    # word nf*SF + sf, lane p*SIMD + s holds the code of row nf*PE + p, element sf*SIMD + s
    sf = blk.mw // blk.simd
    nf, s_, p_, sf_ = 3, 2, 1, 7
    code = (words[nf * sf + sf_] >> ((p_ * blk.simd + s_) * wbits)) & 0xF
    value = code - 16 if code >= 8 else code
    assert value == blk.matrix()[nf * blk.pe + p_, sf_ * blk.simd + s_]


def _w(shape, fmt="bipolar"):
    return extreme_weights(np.random.default_rng(0), fmt, shape)


@pytest.mark.parametrize("kwargs,match", [
    (dict(weights=_w((6, 3, 3, 3)), weight_format="bipolar", in_bits=1, simd=4, pe=2),
     r"layer 'bad': SIMD = 4 does not divide MW = K\*K\*C_in = 27 "
     r"\(valid: SIMD a divisor of 27: 1, 3, 9, 27\)"),
    (dict(weights=_w((6, 3, 3, 3)), weight_format="bipolar", in_bits=1, simd=3, pe=4),
     r"layer 'bad': PE = 4 does not divide C_out = 6 "
     r"\(valid: PE a divisor of 6: 1, 2, 3, 6\)"),
    (dict(weights=_w((6, 3, 3, 3)), weight_format="bipolar", in_bits=1, simd=54, pe=1),
     r"layer 'bad': SIMD.*= 54 is out of range \(valid: an integer from 1 to 27\)"),
    (dict(weights=_w((6, 3, 3)), weight_format="bipolar", in_bits=1, simd=1, pe=1),
     r"layer 'bad': weights have shape \(6, 3, 3\) \(valid: \(C_out, K, K, C_in/groups\)"),
    (dict(weights=_w((6, 3, 2, 3)), weight_format="bipolar", in_bits=1, simd=1, pe=1),
     r"weights have shape \(6, 3, 2, 3\)"),
    (dict(weights=np.zeros((4, 8), int), weight_format="bipolar", in_bits=1, simd=1, pe=1),
     r"layer 'bad': weight value 0 at index \(0, 0\).*is not bipolar "
     r"\(valid: -1 or \+1\)"),
    (dict(weights=np.full((4, 8), 8), weight_format="int4", in_bits=1, simd=1, pe=1),
     r"layer 'bad': weight value 8 .* is not int4 \(valid: integers in -8..7\)"),
    (dict(weights=np.ones((4, 8), int), weight_format="int9", in_bits=1, simd=1, pe=1),
     r"layer 'bad': unknown weight format 'int9' \(valid: bipolar, ternary, int2, .*int8\)"),
    (dict(weights=np.ones((4, 8), int), weight_format="ternary", in_bits=0, simd=1, pe=1),
     r"layer 'bad': input element bits = 0 is out of range \(valid: an integer from 1 to 32\)"),
    (dict(weights=np.ones((4, 8), int), weight_format="ternary", in_bits=33, simd=1, pe=1),
     r"input element bits = 33 is out of range \(valid: an integer from 1 to 32\)"),
    (dict(weights=np.ones((4, 3, 3, 2), int), weight_format="ternary", in_bits=2, simd=1,
          pe=1, groups=3),
     r"layer 'bad': groups = 3 does not divide C_out = 4 \(valid: groups a divisor of 4: "
     r"1, 2, 4"),
    (dict(weights=np.ones((4, 8), int), weight_format="ternary", in_bits=2, simd=1, pe=1,
          groups=0),
     r"layer 'bad': groups = 0 is out of range \(valid: an integer >= 1\)"),
    (dict(weights=np.ones((4, 8), int), weight_format="ternary", in_bits=2, simd=1, pe=1,
          pixels=0),
     r"layer 'bad': pixels per frame = 0 is out of range"),
], ids=["simd-divides", "pe-divides", "simd-range", "shape-ndim", "shape-kernel",
        "bipolar-zero", "int4-range", "format", "in-bits-0", "in-bits-33", "groups-divide",
        "groups-range", "pixels"])
def test_mvu_bad_parameters(kwargs, match, tmp_path):
    with pytest.raises(QNNError, match=match):
        MVU("bad", **kwargs).generate(tmp_path)
    assert not list(tmp_path.iterdir())


def random_mvu(seed):
    """A random MVU shape: any format, kernel, grouping, folding, signed or unsigned
    inputs of 1..8 bits (for the nightly sweep: shapes no catalog entry names)."""
    rng = np.random.default_rng(seed)
    formats = ["bipolar", "ternary", "bipolar", "int2", "int4", "bipolar", "int8", "int3"]
    fmt = formats[seed % len(formats)]
    groups = int(rng.choice([2, 3])) if seed % 5 in (2, 4) else 1
    k = int(rng.choice([1, 2, 3, 5]))
    c_in, c_out = groups * int(rng.integers(1, 5)), groups * int(rng.integers(1, 4))
    mw = k * k * c_in

    def divisor(n):
        return int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))
    return MVU(f"mvu_rand{seed}", extreme_weights(rng, fmt, (c_out, k, k, c_in // groups)),
               fmt, in_bits=int(rng.integers(1, 9)), simd=divisor(mw), pe=divisor(c_out),
               pixels=int(rng.integers(1, 4)), groups=groups,
               in_signed=seed % 3 == 1)


@pytest.mark.nightly
@pytest.mark.parametrize("seed", range(40))
def test_mvu_random_shapes(seed, sim):
    blk = random_mvu(seed)
    vecs, outs = layer_vectors(blk, seed)
    check_block(blk, sim, {"s_axis": vecs}, {"m_axis": outs})
