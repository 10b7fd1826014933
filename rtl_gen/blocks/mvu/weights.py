"""Weights of the matrix-vector unit (MVU): window-order matrix, datapath, ranges, ROM image.

Pure numpy, no hardware. The MVU multiplies every window vector of MW = K*K*C_in elements
(order ky, kx, channel, as ``rtl_gen.model.layers.im2col`` flattens them) by a matrix of
C_out rows. This module

* expands the layer's weights (C_out, K, K, C_in/groups) to that (C_out, MW) matrix, with
  zeros where an output channel's group does not see an input channel;
* chooses the datapath: ``xnor`` (bipolar, not grouped: masked sums, no multiplier),
  ``select`` (ternary, and bipolar grouped, whose out-of-group zeros bipolar cannot
  encode: +x, -x or 0 per weight) or ``multiply`` (int2..int8);
* gives the exact integer ranges: of one product, and of the accumulator with
  ``rtl_gen.model.infer`` semantics (the worst case over ALL weights of the format), and
  the most lanes of a beat that can be non-zero for one PE (fewer than SIMD when a grouped
  layer's beat spans several groups; the adder trees are sized by it);
* folds the matrix into ROM words: word ``nf*SF + sf`` holds the PE x SIMD weight codes
  of neuron fold nf and synapse fold sf: lane p*SIMD + s (``wb`` bits, lane 0 lowest) is
  the code of output channel nf*PE + p and window element sf*SIMD + s.
"""

import numpy as np

from rtl_gen.model.formats import encode_weights
from rtl_gen.model.packing import pack
from rtl_gen.hdl.rom import RomImage

XNOR, SELECT, MULTIPLY = "xnor", "select", "multiply"


def window_matrix(weights, groups):
    """(C_out, K, K, C_in/groups) weight values -> (C_out, K*K*C_in) int64 in window
    order; output channel o of group g = o // (C_out/groups) has zeros outside the input
    channels g*C_in/groups .. (g+1)*C_in/groups - 1."""
    w = np.asarray(weights, dtype=np.int64)
    c_out, k, _, cg = w.shape
    og = c_out // groups
    full = np.zeros((c_out, k, k, cg * groups), dtype=np.int64)
    for g in range(groups):
        full[g * og:(g + 1) * og, :, :, g * cg:(g + 1) * cg] = w[g * og:(g + 1) * og]
    return full.reshape(c_out, k * k * cg * groups)


def in_group_mask(c_out, kernel, c_in, groups):
    """(C_out, MW) bool: window element j is in output channel o's group."""
    og, cg = c_out // groups, c_in // groups
    chan_group = (np.arange(kernel * kernel * c_in) % c_in) // cg
    return chan_group[None, :] == (np.arange(c_out) // og)[:, None]


def max_nonzero_lanes(c_out, kernel, c_in, groups, pe, simd):
    """The most SIMD lanes of one PE, in one (nf, sf) step, whose weight can be non-zero:
    SIMD, or fewer when a grouped layer's beats span more than one group."""
    mask = in_group_mask(c_out, kernel, c_in, groups)
    nf, sf = c_out // pe, kernel * kernel * c_in // simd
    return int(mask.reshape(nf, pe, sf, simd).sum(axis=3).max())


def datapath_kind(fmt, groups):
    """The arithmetic one weight needs: XNOR, SELECT or MULTIPLY (see the module doc)."""
    if fmt.name == "bipolar":
        return XNOR if groups == 1 else SELECT
    if fmt.name == "ternary":
        return SELECT
    return MULTIPLY


def rom_format(kind, fmt):
    """The weight format whose codes the ROM stores for datapath ``kind``."""
    return "ternary" if kind == SELECT else fmt.name


def product_range(kind, fmt, xlo, xhi):
    """[lo, hi] of one leaf of the adder tree: the masked activation (XNOR), +-x or 0
    (SELECT), or x*w over the format (MULTIPLY)."""
    if kind == XNOR:
        return min(0, xlo), max(0, xhi)
    wlo, whi = (-1, 1) if kind == SELECT else (fmt.lo, fmt.hi)
    corners = [0] + [w * x for w in (wlo, whi) for x in (xlo, xhi)]
    return min(corners), max(corners)


def dot_range(n, fmt, xlo, xhi):
    """Accumulator range of an n-term dot product, ``rtl_gen.model.infer`` semantics:
    n * [min, max] of w*x over the format's extreme weights and the input's extremes."""
    corners = [w * x for w in (fmt.lo, fmt.hi) for x in (xlo, xhi)]
    return n * min(corners), n * max(corners)


def rom_image(name, matrix, kind, fmt, pe, simd, inline_bits=None):
    """The :class:`RomImage` of a (C_out, MW) weight-value matrix folded by PE and SIMD."""
    codes = encode_weights(matrix, rom_format(kind, fmt), name)
    wbits = 2 if kind == SELECT else fmt.bits
    c_out, mw = codes.shape
    nf, sf = c_out // pe, mw // simd
    folded = codes.reshape(nf, pe, sf, simd).transpose(0, 2, 1, 3).reshape(nf * sf, pe * simd)
    words = pack(folded, pe * simd, wbits, name=name)
    kwargs = {} if inline_bits is None else {"inline_bits": inline_bits}
    return RomImage(f"{name}_weights", pe * simd * wbits, words, **kwargs), wbits
