"""Matrix-vector unit (MVU): convolution and dense layers as dot products with on-chip weights.

Computes: for every input vector x (one output pixel's window from the sliding window
unit, MW = K*K*C_in elements in the order ky, kx, channel; for a dense layer the flattened
input, K = 1) the C_out dot products acc[o] = sum_j W[o, j] * x[j], bit-exact with
``rtl_gen.model.layers.conv2d`` / ``dense``. Weights are ``bipolar``, ``ternary`` or
``int2``..``int8`` (``rtl_gen.model.formats``), shaped (C_out, K, K, C_in/groups) (or
(C_out, N) for K = 1); grouped convolution: output channel o of group g sees only the input
channels of group g.

Streams: ``s_axis`` SIMD lanes of ``in_bits``-bit activations (unsigned codes, or two's
complement with ``in_signed``), SF = MW/SIMD beats per pixel; ``m_axis`` PE lanes of signed
accumulators, NF = C_out/PE beats per pixel (channels nf*PE .. nf*PE+PE-1 in beat nf), each
exactly ``acc_bits`` wide: the worst case over all weights of the format and all inputs
(``rtl_gen.model.infer`` semantics). ``tlast`` marks the last output beat of the pixel whose
last input beat carried ``tlast``.

Cycle model: SF*NF cycles per pixel, ``cycles_per_frame()`` = pixels*SF*NF. With NF > 1
the input buffer holds two pixels, so the next pixel's beats are taken while the current
one's NF-1 re-read folds run (``rtl_gen.blocks.mvu.datapath``): a producer slower than the
MVU is never stalled for them.
Latency: ``latency_cycles()`` = SF + 3 + ceil(log2(SIMD)) (+1 for the bipolar XNOR path).
Arithmetic: bipolar (not grouped) never multiplies: per PE the sum S_w of the activations
whose weight is +1 (a popcount for 1-bit activations), one shared sum S_all, and
acc = 2*S_w - S_all; ternary (and grouped bipolar, whose out-of-group weights are 0)
selects +x, -x or 0; intN multiplies. Weights live in a ROM of NF*SF words of
PE*SIMD*wbits bits (``rtl_gen.hdl.rom``: inline when small, ``$readmemh`` from
``<name>_weights.mem`` when large). Structure in ``rtl_gen.blocks.mvu.datapath``.
"""

import hashlib

import numpy as np

from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.model.formats import check_weights, int_array, \
    parse_weight_format, signed_bits
from rtl_gen.model.layers import conv2d
from rtl_gen.model.limits import MAX_ELEMENT_BITS, MAX_PIXELS
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.blocks.mvu.datapath import mvu_core, mvu_latency
from rtl_gen.hdl.timing import chain, frames_of
from rtl_gen.blocks.mvu.weights import datapath_kind, dot_range, max_nonzero_lanes, product_range, \
    rom_image, window_matrix



def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _divisor_text(n):
    ds = _divisors(n)
    shown = ", ".join(str(d) for d in ds[:16]) + (", ..." if len(ds) > 16 else "")
    return f"a divisor of {n}: {shown}"


class MVU(Block):
    """``MVU(name, weights, weight_format, in_bits, simd, pe, pixels=1, groups=1,
    in_signed=False)``.

    ``weights``: integer values, (C_out, K, K, C_in/groups) for a convolution or
    (C_out, N) for a dense layer (K = 1, C_in = N*groups). ``weight_format``: "bipolar",
    "ternary" or "int2".."int8". ``in_bits``: input element width, 1..32 (codes, pixels, or a pooled sum). ``simd`` must divide
    MW = K*K*C_in and ``pe`` must divide C_out. ``pixels``: output pixels per frame (the
    cycle model and the frame shape of ``reference``; the hardware follows ``tlast``).
    """

    kind = "mvu"
    stalls_whole = True   # every stage advances on the output skid buffer's ready

    def __init__(self, name, weights, weight_format, in_bits, simd, pe, pixels=1, groups=1,
                 in_signed=False):
        super().__init__(name)
        self.fmt = parse_weight_format(weight_format, name)
        self.in_bits = check_int(in_bits, name, "input element bits", 1, MAX_ELEMENT_BITS)
        require(isinstance(in_signed, bool), name, f"in_signed = {in_signed!r}",
                "True or False")
        self.in_signed = in_signed
        self.groups = check_int(groups, name, "groups", 1)
        w = int_array(weights, name, "weights")
        require(w.ndim in (2, 4) and all(d >= 1 for d in w.shape)
                and (w.ndim == 2 or w.shape[1] == w.shape[2]), name,
                f"weights have shape {w.shape}",
                "(C_out, K, K, C_in/groups) for a convolution or (C_out, N) for a dense "
                "layer, every dimension >= 1")
        self.weights = w.reshape(w.shape[0], 1, 1, w.shape[1]) if w.ndim == 2 else w
        self.c_out, self.kernel = int(self.weights.shape[0]), int(self.weights.shape[1])
        require(self.c_out % self.groups == 0, name,
                f"groups = {self.groups} does not divide C_out = {self.c_out}",
                f"groups {_divisor_text(self.c_out)} (it must also divide C_in)")
        self.c_in = int(self.weights.shape[3]) * self.groups
        check_weights(w, self.fmt, name)
        self.mw = self.kernel * self.kernel * self.c_in
        self.simd = check_int(simd, name, f"SIMD (input lanes; MW = {self.mw})", 1, self.mw)
        require(self.mw % self.simd == 0, name,
                f"SIMD = {simd} does not divide MW = K*K*C_in = {self.mw}",
                f"SIMD {_divisor_text(self.mw)}")
        self.pe = check_int(pe, name, f"PE (output lanes; C_out = {self.c_out})", 1,
                            self.c_out)
        require(self.c_out % self.pe == 0, name,
                f"PE = {pe} does not divide C_out = {self.c_out}",
                f"PE {_divisor_text(self.c_out)}")
        self.pixels = check_int(pixels, name, "pixels per frame", 1, MAX_PIXELS)
        self.datapath = datapath_kind(self.fmt, self.groups)
        self.x_lo, self.x_hi = value_range(self.in_bits, self.in_signed)
        n_group = self.kernel * self.kernel * (self.c_in // self.groups)
        self.acc_lo, self.acc_hi = dot_range(n_group, self.fmt, self.x_lo, self.x_hi)
        self.acc_bits = signed_bits(self.acc_lo, self.acc_hi)

    # --- folding and timing --------------------------------------------------------------
    @property
    def sf(self):
        """Synapse fold: input beats per pixel."""
        return self.mw // self.simd

    @property
    def nf(self):
        """Neuron fold: output beats per pixel."""
        return self.c_out // self.pe

    def cycles_per_frame(self):
        return self.pixels * self.sf * self.nf

    def latency_cycles(self):
        return mvu_latency(self.sf, self.simd, self.datapath)

    def beat_times(self, arrivals):
        """One (nf, sf) step per clock, nf outer: the SF steps of nf = 0 use the input
        beats (each step when its beat is there), the (NF-1)*SF steps after them re-read
        the buffer; output beat nf of a pixel leaves ``latency - SF + 1`` cycles after its
        step sf = SF-1. Input beats are taken one per clock when offered, at most one
        pixel ahead of the steps (NF > 1: pixel p's first beat not before the cycle after
        pixel p-2's last step); the steps never wait for that limit, so they follow the
        offered cycles as if every beat were taken by its own step."""
        sf, nf = self.sf, self.nf
        offered = np.asarray(arrivals["s_axis"], dtype=np.int64)
        frames_of(offered, self.pixels * sf, self.name)
        gaps = np.ones(len(offered), dtype=np.int64)
        gaps[::sf] = (nf - 1) * sf + 1          # a pixel's first step after the last's NF*SF
        steps = chain(offered, gaps)             # the nf = 0 step of every input beat
        ends = steps[sf - 1::sf, None] + np.arange(nf) * sf
        taken = steps
        if nf > 1:
            ready = offered.copy()
            ready[2 * sf::sf] = np.maximum(ready[2 * sf::sf], ends[:-2, -1] + 1)
            taken = chain(ready)
        return {"s_axis": taken, "m_axis": (ends + self.latency_cycles() - sf + 1).ravel()}

    # --- weights -------------------------------------------------------------------------
    def matrix(self):
        """(C_out, MW) weight values in window order, zeros outside each group."""
        return window_matrix(self.weights, self.groups)

    def weight_rom(self):
        """(RomImage, bits per weight) of the folded weights."""
        return rom_image(self.name, self.matrix(), self.datapath, self.fmt, self.pe,
                         self.simd)

    def write_data_files(self, folder):
        return self.weight_rom()[0].write(folder)

    # --- Block interface -----------------------------------------------------------------
    def ports(self):
        return [StreamPort("s_axis", "in", self.simd, self.in_bits, self.in_signed),
                StreamPort("m_axis", "out", self.pe, self.acc_bits, True)]

    def params(self):
        digest = hashlib.sha256(np.ascontiguousarray(self.weights).tobytes()).hexdigest()
        return {"weight_format": self.fmt.name, "in_bits": self.in_bits,
                "in_signed": self.in_signed, "simd": self.simd, "pe": self.pe,
                "pixels": self.pixels, "groups": self.groups, "kernel": self.kernel,
                "c_in": self.c_in, "c_out": self.c_out, "acc_bits": self.acc_bits,
                "datapath": self.datapath, "weights_sha256": digest[:16]}

    def hdl(self, clk, rst, s_axis, m_axis):
        image, wbits = self.weight_rom()
        leaf = product_range(self.datapath, self.fmt, self.x_lo, self.x_hi)
        return mvu_core(clk, rst, s_axis, m_axis, self.simd, self.pe, self.sf, self.nf,
                        self.in_bits, self.in_signed, self.datapath, image, wbits, leaf,
                        (self.acc_lo, self.acc_hi),
                        max_nonzero_lanes(self.c_out, self.kernel, self.c_in, self.groups,
                                          self.pe, self.simd))

    def compute(self, vectors):
        """Reference dot products of (pixels, MW) window vectors -> (pixels, C_out), with
        the model's grouped ``conv2d`` on each K x K x C_in window."""
        v = np.asarray(vectors, dtype=np.int64).reshape(-1, self.kernel, self.kernel,
                                                         self.c_in)
        if self.kernel == 1:
            out = conv2d(v.reshape(-1, 1, self.c_in), self.weights, groups=self.groups,
                         name=self.name)
        else:
            out = np.stack([conv2d(win, self.weights, groups=self.groups, name=self.name)
                            for win in v])
        return out.reshape(-1, self.c_out)

    def reference(self, inputs):
        sp, mp = self.port("s_axis"), self.port("m_axis")
        frames = []
        for beats in inputs["s_axis"]:
            vec = unpack(beats, (self.pixels, self.mw), sp.lanes, sp.bits, sp.signed,
                         self.name)
            frames.append(pack(self.compute(vec), mp.lanes, mp.bits, True, self.name))
        return {"m_axis": frames}

    def random_inputs(self, rng, frames):
        sp = self.port("s_axis")
        return {"s_axis": [pack(rng.integers(self.x_lo, self.x_hi + 1,
                                             (self.pixels, self.mw)),
                                sp.lanes, sp.bits, sp.signed, self.name)
                           for _ in range(frames)]}


def extreme_weights(rng, fmt, shape):
    """Random weights of ``fmt`` whose output channel 0 is all at the format's maximum
    and channel 1 all at its minimum, so that all-max inputs reach both accumulator
    extremes (for a test or a demonstration configuration)."""
    f = parse_weight_format(fmt)
    if f.name == "bipolar":
        w = rng.choice([-1, 1], size=shape)
    else:
        w = rng.integers(f.lo, f.hi + 1, size=shape)
    w[0], w[1 % shape[0]] = f.hi, f.lo
    return w.astype(np.int64)


def catalog_configs():
    """MVU configurations tested on both simulators and linted (see tests/test_mvu.py for
    the image shapes they are fed with)."""
    rng = np.random.default_rng(2024)
    return [
        # bipolar x 1-bit activations (XNOR/popcount), 3x3 conv on a 5x4 image, pad 1
        MVU("mvu_bip_a1_conv", extreme_weights(rng, "bipolar", (6, 3, 3, 3)), "bipolar",
            in_bits=1, simd=3, pe=2, pixels=20),
        # bipolar x 2-bit, dense 3x2x2 -> 5, SIMD = MW, PE = 1
        MVU("mvu_bip_a2_dense", extreme_weights(rng, "bipolar", (5, 12)), "bipolar",
            in_bits=2, simd=12, pe=1),
        # ternary 3x3 stride 2 pad 1 on 5x5x5, SIMD = 1, PE = C_out = 3
        MVU("mvu_tern_s2", extreme_weights(rng, "ternary", (3, 3, 3, 5)), "ternary",
            in_bits=3, simd=1, pe=3, pixels=9),
        # first layer: int4 weights x 8-bit pixels, 3x3 conv of RGB 4x6, pad 1
        MVU("mvu_int4_rgb", extreme_weights(rng, "int4", (6, 3, 3, 3)), "int4",
            in_bits=8, simd=9, pe=3, pixels=24),
        # grouped bipolar (masked: the ternary datapath), 3x3, C_in 4 -> 6, groups 2
        MVU("mvu_bip_g2", extreme_weights(rng, "bipolar", (6, 3, 3, 2)), "bipolar",
            in_bits=2, simd=4, pe=3, pixels=6, groups=2),
        # grouped int3 1x1 on signed 3-bit inputs, groups 3, SIMD = MW spans all groups
        # (trees sized for the 2 in-group lanes of a beat)
        MVU("mvu_int3_g3_signed", extreme_weights(rng, "int3", (6, 1, 1, 2)), "int3",
            in_bits=3, simd=6, pe=6, pixels=6, groups=3, in_signed=True),
        # a weight ROM large enough for $readmemh: dense int4, 80 -> 16
        MVU("mvu_int4_rom", extreme_weights(rng, "int4", (16, 80)), "int4",
            in_bits=4, simd=4, pe=2),
        # a dense layer after a global average pool: 10-bit unsigned sums, bipolar (XNOR)
        MVU("mvu_bip_gapsum_dense", extreme_weights(rng, "bipolar", (5, 12)), "bipolar",
            in_bits=10, simd=4, pe=5),
        # wide signed inputs (a pooled sum of accumulators) times int8
        MVU("mvu_int8_wide_signed", extreme_weights(rng, "int8", (4, 6)), "int8",
            in_bits=14, simd=3, pe=2, in_signed=True),
        # a dense layer with NF > 1 at SIMD = PE = 1 (SF = 30, NF = 3): it takes the next
        # frame's beats while it re-reads the buffer (random networks 933849170/172/194:
        # behind a slower layer, it stalled the pipeline for (NF-1)*SF cycles a frame)
        MVU("mvu_int8_dense_nf3", extreme_weights(rng, "int8", (3, 30)), "int8",
            in_bits=1, simd=1, pe=1),
        # SF = 1 (a two-word buffer), NF = 6: a 1x1 convolution, 2 -> 6 channels
        MVU("mvu_bip_sf1_nf6", extreme_weights(rng, "bipolar", (6, 1, 1, 2)), "bipolar",
            in_bits=2, simd=2, pe=1, pixels=6),
    ]


__all__ = ["MVU", "catalog_configs", "extreme_weights"]


def bench_configs():
    """A small catalog MVU, and a large one (3x3, 64 -> 64 channels, bipolar, SIMD 16 x
    PE 4: a 576 x 64-bit weight ROM) that shows the weights going to block RAM."""
    rng = np.random.default_rng(7)
    w = np.where(rng.random((64, 3, 3, 64)) < 0.5, -1, 1)
    return [catalog_configs()[0],
            MVU("mvu_bench_64x64_k3", w, "bipolar", 2, 16, 4, pixels=4)]
