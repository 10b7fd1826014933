"""Thresholding: accumulators to A-bit activation codes by per-channel thresholds.

Computes, per element of channel c (``rtl_gen.model.layers.threshold``):
  positive channel: code = #{i : acc >= T[c][i]}   (T[c] non-decreasing)
  negative channel (``neg[c]``, negative batch-norm scale): code = #{i : acc <= T[c][i]}
  (T[c] non-increasing), for the 2^A - 1 thresholds T[c][0..2^A-2], A in 1..8.

Streams: ``s_axis`` carries ``pe`` accumulators of ``in_bits`` bits per beat (two's
complement when ``in_signed``), channels innermost, C channels per pixel, ``pixels``
pixels per frame; ``m_axis`` carries the ``pe`` A-bit unsigned codes of the same elements,
one output beat per input beat, ``tlast`` passed through from the input.

Hardware: the thresholds sit in a ROM (``rtl_gen.hdl.rom``) of NF = C/pe words, one per
channel fold, read through a register in step with the input register. A word holds the
pe·(2^A-1) thresholds of its channels as W-bit two's complement numbers, W =
``signed_bits`` of the accumulator range joined with the thresholds (which may lie one
outside it), plus, only if any channel is negative, pe neg flags. A negative channel's
thresholds are stored inverted (~T) and its accumulator is inverted too, because
acc <= T  <=>  ~acc >= ~T: every comparator is the same ``>=``.
Pipeline (all registers advance on the output skid buffer's registered ready):
  1. input register + ROM read register (fold counter nf addresses the ROM);
  2. comparison bits, one register per threshold;
  3. popcount of the 2^A - 1 bits (``adder_tree``, ceil(log2(2^A - 1)) levels; none for A=1);
  4. output skid buffer.
Cycle model: ``pixels * C / pe`` cycles per frame (one beat per clock).
Latency: 3 + ceil(log2(2^A - 1)) cycles (3 for A = 1, 3 + A for A >= 2) from an input
transfer to the transfer of its output beat.
"""

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, intbv

from rtl_gen.hdl.adder_tree import adder_tree, delay_line, tree_latency
from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.hdl.lanes import join_lanes, lane_signal, lane_signals, split_lanes
from rtl_gen.model.batchnorm import fold_batchnorm
from rtl_gen.model.formats import check_act_bits, int_array, signed_bits
from rtl_gen.model.layers import check_thresholds, threshold
from rtl_gen.model.limits import MAX_PIXELS
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.hdl.rom import RomImage, rom
from rtl_gen.hdl.stream import Stream, skid_buffer

MAX_IN_BITS = 62        # thresholds one outside the range still fit in int64


class Thresholding(Block):
    """Thresholding block instance.

    ``Thresholding(name, thresholds, neg=None, *, in_bits, in_signed=True, pe=1, pixels=1,
    act_bits=None)``: ``thresholds`` is a (C, 2^A - 1) integer table, ``neg`` C booleans
    (None: all positive), ``in_bits``/``in_signed`` the accumulator format, ``pe`` lanes
    per beat (dividing C), ``pixels`` pixels per frame; ``act_bits`` (optional) must agree
    with the table's shape. Every threshold must lie in [lo - 1, hi + 1] of the input
    range (``fold_batchnorm(..., acc_range=(lo, hi))`` produces such tables).
    """

    kind = "thresholding"
    stalls_whole = True   # every stage advances on the output skid buffer's ready

    def __init__(self, name, thresholds, neg=None, *, in_bits, in_signed=True, pe=1,
                 pixels=1, act_bits=None):
        super().__init__(name)
        table = int_array(thresholds, name, "thresholds")
        require(table.ndim == 2 and table.shape[0] >= 1, name,
                f"thresholds have shape {table.shape}", "a (C, 2^A - 1) table, A in 1..8")
        if act_bits is not None:
            act_bits = check_act_bits(act_bits, name)
        self.T, self.neg = check_thresholds(table, neg, table.shape[0], name, act_bits)
        self.channels, self.n_thr = self.T.shape
        self.act_bits = self.n_thr.bit_length()
        require(isinstance(in_signed, (bool, np.bool_)), name,
                f"in_signed = {in_signed!r} is not a boolean", "True or False")
        self.in_signed = bool(in_signed)
        self.in_bits = check_int(in_bits, name, "input accumulator bits",
                                 1, MAX_IN_BITS)
        self.pe = check_int(pe, name, "pe (lanes per beat)", 1, self.channels)
        require(self.channels % self.pe == 0, name,
                f"pe = {pe} does not divide the {self.channels} channels",
                "a divisor of C: " + ", ".join(str(d) for d in range(1, self.channels + 1)
                                                if self.channels % d == 0))
        self.pixels = check_int(pixels, name, "pixels per frame", 1, MAX_PIXELS)
        self.lo, self.hi = value_range(self.in_bits, self.in_signed)
        tmin, tmax = int(self.T.min()), int(self.T.max())
        fmt = f"{self.in_bits}-bit {'signed' if self.in_signed else 'unsigned'}"
        require(self.lo - 1 <= tmin and tmax <= self.hi + 1, name,
                f"thresholds span [{tmin}, {tmax}], outside the {fmt} input range "
                f"[{self.lo}, {self.hi}]",
                f"thresholds in [{self.lo - 1}, {self.hi + 1}] (one outside the range at "
                f"most; fold_batchnorm with acc_range=({self.lo}, {self.hi}) gives these)")

    # --- derived sizes ----------------------------------------------------------------
    @property
    def folds(self):
        """NF: ROM words, beats per pixel."""
        return self.channels // self.pe

    @property
    def any_neg(self):
        return bool(self.neg.any())

    def stored_thresholds(self):
        """The table as stored: ~T for negative channels (int64, (C, 2^A - 1))."""
        return np.where(self.neg[:, None], ~self.T, self.T)

    @property
    def cmp_bits(self):
        """W: width of the comparators (accumulator side and threshold side)."""
        stored = self.stored_thresholds()
        lo, hi = self.lo, self.hi
        if self.any_neg:
            lo, hi = min(lo, ~self.hi), max(hi, ~self.lo)
        return signed_bits(min(lo, int(stored.min())), max(hi, int(stored.max())))

    def rom_image(self):
        """One word per channel fold: lane l's thresholds at bits (l*(2^A-1)+i)*W, then
        (if any channel is negative) lane l's neg flag at bit pe*(2^A-1)*W + l."""
        w, n, pe = self.cmp_bits, self.n_thr, self.pe
        mask = (1 << w) - 1
        stored = self.stored_thresholds()
        words = []
        for f in range(self.folds):
            word = 0
            for lane in range(pe):
                c = f * pe + lane
                for i in range(n):
                    word |= (int(stored[c, i]) & mask) << ((lane * n + i) * w)
                if self.neg[c]:
                    word |= 1 << (pe * n * w + lane)
            words.append(word)
        width = pe * n * w + (pe if self.any_neg else 0)
        return RomImage(f"{self.name}_thr", width, words)

    # --- Block interface --------------------------------------------------------------
    def ports(self):
        return [StreamPort("s_axis", "in", self.pe, self.in_bits, self.in_signed),
                StreamPort("m_axis", "out", self.pe, self.act_bits, False)]

    def params(self):
        return {"channels": self.channels, "act_bits": self.act_bits, "pe": self.pe,
                "pixels": self.pixels, "in_bits": self.in_bits, "in_signed": self.in_signed,
                "thresholds": self.T.tolist(), "neg": self.neg.tolist()}

    def cycles_per_frame(self):
        return self.pixels * self.folds

    def latency_cycles(self):
        return 3 + tree_latency(self.n_thr)

    def reference(self, inputs):
        shape = (self.pixels, self.channels)
        out = []
        for beats in inputs["s_axis"]:
            acc = unpack(beats, shape, self.pe, self.in_bits, self.in_signed, self.name)
            codes = threshold(acc, self.T, self.neg, self.name)
            out.append(pack(codes, self.pe, self.act_bits, name=self.name))
        return {"m_axis": out}

    def random_inputs(self, rng, frames):
        shape = (self.pixels, self.channels)
        return {"s_axis": [pack(rng.integers(self.lo, self.hi + 1, shape), self.pe,
                                self.in_bits, self.in_signed, self.name)
                           for _ in range(frames)]}

    def write_data_files(self, folder):
        return self.rom_image().write(folder)

    def hdl(self, clk, rst, s_axis, m_axis):
        return thresholding_core(clk, rst, s_axis, m_axis, self)


@block
def thresholding_core(clk, rst, s_axis, m_axis, cfg):
    pe, n, w, nf = cfg.pe, cfg.n_thr, cfg.cmp_bits, cfg.folds
    image = cfg.rom_image()
    out = Stream(pe * cfg.act_bits)          # into the output skid buffer
    advance = Signal(bool(0))
    din = Signal(intbv(0)[pe * cfg.in_bits:])
    in_valid = Signal(bool(0))
    in_last = Signal(bool(0))
    fold = Signal(intbv(0, min=0, max=image.addr_max))
    word = Signal(intbv(0)[image.width:])

    @always_comb
    def handshake():
        advance.next = out.tready
        s_axis.tready.next = out.tready

    @always_seq(clk.posedge, reset=rst)
    def take():
        if advance:
            in_valid.next = s_axis.tvalid
            in_last.next = s_axis.tlast
            if s_axis.tvalid:
                if fold == nf - 1 or s_axis.tlast:    # tlast re-aligns a bad frame
                    fold.next = 0
                else:
                    fold.next = fold + 1

    @always(clk.posedge)
    def take_data():
        if advance:
            din.next = s_axis.tdata

    insts = [handshake, take, take_data, rom(clk, advance, fold, word, image)]
    accs = lane_signals(pe, cfg.in_bits, cfg.in_signed)
    insts.append(split_lanes(din, accs))
    codes = lane_signals(pe, cfg.act_bits)
    for lane in range(pe):
        bits = [Signal(bool(0)) for _ in range(n)]
        neg_bit = pe * n * w + lane if cfg.any_neg else None
        insts.append(lane_compare(clk, advance, accs[lane], word, lane * n * w, neg_bit,
                                  bits, w))
        insts.append(adder_tree(clk, rst, advance, bits, codes[lane]))
    insts.append(join_lanes(codes, out.tdata))
    # valid and tlast beside the compare register and the popcount tree
    stages = 1 + tree_latency(n)
    insts.append(delay_line(clk, rst, advance, in_valid, out.tvalid, stages))
    insts.append(delay_line(clk, rst, advance, in_last, out.tlast, stages))
    insts.append(skid_buffer(clk, rst, out, m_axis))
    return insts


@block
def lane_compare(clk, en, acc, word, lo, neg_bit, bits, width):
    """bits[i] <= key >= T_i (registered, while ``en``), T_i the two's complement number
    in ``word[lo + (i+1)*width - 1 : lo + i*width]``; key is the accumulator widened to
    ``width`` bits and inverted when ``word[neg_bit]`` is set (``neg_bit`` None: never)."""
    key = lane_signal(width, signed=True)
    insts = []
    if neg_bit is None:
        @always_comb
        def widen():
            key.next = acc
        insts.append(widen)
    else:
        wide = lane_signal(width, signed=True)

        @always_comb
        def widen():
            wide.next = acc

        @always_comb
        def invert():
            if word[neg_bit]:
                key.next = ~wide
            else:
                key.next = wide
        insts += [widen, invert]
    for i, b in enumerate(bits):
        insts.append(ge_reg(clk, en, key, word, lo + i * width, width, b))
    return insts


@block
def ge_reg(clk, en, key, word, lo, width, out):
    """out <= key >= word[lo + width - 1 : lo] (signed), registered while ``en``."""
    hi = lo + width

    @always(clk.posedge)
    def compare():
        if en:
            out.next = key >= word[hi:lo].signed()
    return compare


def _sorted_rows(rng, channels, n, lo, hi, neg):
    """Random threshold rows spread over [lo - 1, hi + 1], sorted per the neg flags."""
    t = np.sort(rng.integers(lo - 1, hi + 2, (channels, n)), axis=1)
    return np.where(np.asarray(neg)[:, None], t[:, ::-1], t)


BN_EXAMPLE = "thr_bn_a3_pe4"


def bn_example_params():
    """Random float batch-norm parameters (some negative gammas) of the catalog's folded
    configuration, as keyword arguments of ``fold_batchnorm`` / ``float_reference``."""
    rng = np.random.default_rng(11)
    c = 12
    return dict(gamma=rng.uniform(0.5, 2.0, c) * np.where(np.arange(c) % 3 == 1, -1, 1),
                beta=rng.uniform(-1, 1, c),
                # channels 0 and 1 centred near the range ends: levels that are never
                # reached fold to thresholds one outside the accumulator range
                mean=np.concatenate([[230.0, -235.0], rng.uniform(-40, 40, c - 2)]),
                var=rng.uniform(100, 900, c), eps=1e-5, act_bits=3, act_step=0.45)


def _bn_config():
    """Thresholds folded by ``fold_batchnorm`` for a 9-bit signed accumulator."""
    T, neg = fold_batchnorm(**bn_example_params(), acc_range=(-256, 255), name=BN_EXAMPLE)
    return Thresholding(BN_EXAMPLE, T, neg, in_bits=9, pe=4, pixels=3)


def catalog_configs():
    """Thresholding configurations tested on both simulators and linted."""
    rng = np.random.default_rng(5)
    neg8 = [False, True, False, False, True, True, False, True]
    neg48 = (np.arange(48) % 5 == 2)
    return [
        # A=1 (a sign-like threshold), PE = C = 5 (not a power of two)
        Thresholding("thr_a1_pe5_c5", _sorted_rows(rng, 5, 1, -128, 127, [False] * 5),
                     in_bits=8, pe=5, pixels=6),
        # A=2 with negative-scale channels
        Thresholding("thr_a2_neg_c8_pe2", _sorted_rows(rng, 8, 3, -512, 511, neg8), neg8,
                     in_bits=10, pe=2, pixels=3),
        # A=4, PE=1, three channels, unsigned input (a global-average-pool sum)
        Thresholding("thr_a4_pe1_gap", _sorted_rows(rng, 3, 15, 0, 4095, [False] * 3),
                     in_bits=12, in_signed=False, pe=1, pixels=1),
        _bn_config(),
        # large enough for a $readmemh ROM
        Thresholding("thr_a4_c48_pe4_mem", _sorted_rows(rng, 48, 15, -8192, 8191, neg48),
                     neg48, in_bits=14, pe=4, pixels=2),
    ]
