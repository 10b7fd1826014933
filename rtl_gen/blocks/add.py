"""Add: the residual join, element-wise ``a*mul_a + b*mul_b`` of two streams.

Computes: ``rtl_gen.model.layers.add`` (docs/design.md section 2): for every element,
``m = a*mul_a[c] + b*mul_b[c]`` where c is the element's channel (its position in the
pixel, channels innermost) and each multiplier is a positive integer, one per tensor or
one per channel.
Streams: ``s_axis_a`` (``lanes`` x ``a_bits``, signed or not), ``s_axis_b`` (``lanes`` x
``b_bits``), same element order; ``m_axis`` ``lanes`` x ``out_bits``, where the output
range is the model's (``rtl_gen.model.infer``): [min_c(a_lo*mul_a[c] + b_lo*mul_b[c]),
max_c(a_hi*mul_a[c] + b_hi*mul_b[c])], unsigned when that minimum is >= 0, otherwise two's
complement of ``rtl_gen.model.formats.signed_bits`` bits. ``m_axis_tlast`` is the AND of
the two inputs' ``tlast``.
Lock step: a beat moves only on a cycle where both inputs are valid and the pipeline
advances (``s_axis_a_tready = advance and s_axis_b_tvalid`` and vice versa).
Multipliers, per lane (lane l of fold f carries channel f*lanes + l): a lane whose
multiplier is the same in every fold uses it as a constant (1 is a wire, a power of two a
shift, anything else a multiply by a constant); a lane whose multiplier changes with
the fold reads it from a ``C/lanes``-entry table indexed by the fold counter.
Pipeline: [product registers, only if some multiplier is neither 1 nor a power of two]
-> sum register -> output ``skid_buffer``.
Latency: 2 cycles, 3 with the product stage.
Cycle model: ``pixels * channels / lanes`` cycles per frame (one beat per clock).
"""

import numpy as np
from myhdl import Signal, always_comb, always_seq, block, intbv

from rtl_gen.hdl.adder_tree import signal_range
from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.hdl.lanes import join_lanes, lane_signals, range_signal, split_lanes
from rtl_gen.model.formats import range_bits
from rtl_gen.model.layers import add as model_add
from rtl_gen.model.limits import MAX_BEAT_BITS, MAX_ELEMENT_BITS
from rtl_gen.model.layers import check_multiplier
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.hdl.stream import Stream, skid_buffer
from rtl_gen.hdl.timing import chain

MAX_OUT_BITS = 63    # the model's packing limit per element


class AddUnit(Block):
    """``AddUnit("l09_add", lanes=4, a_bits=2, a_signed=False, b_bits=9, b_signed=True,
    channels=16, pixels=64, mul_a=1, mul_b=1)``."""

    kind = "add"
    stalls_whole = True   # every stage advances on the output skid buffer's ready

    def __init__(self, name, lanes, a_bits, a_signed, b_bits, b_signed, channels, pixels,
                 mul_a=1, mul_b=1):
        super().__init__(name)
        self.channels = check_int(channels, name, "channels", 1)
        self.lanes = check_int(lanes, name, "lanes per beat", 1, self.channels)
        require(self.channels % self.lanes == 0, name,
                f"lanes = {lanes} does not divide channels = {channels}",
                f"a divisor of {channels}")
        self.pixels = check_int(pixels, name, "pixels per frame", 1)
        self.a_bits = check_int(a_bits, name, "input a element bits", 1, MAX_ELEMENT_BITS)
        self.b_bits = check_int(b_bits, name, "input b element bits", 1, MAX_ELEMENT_BITS)
        self.a_signed, self.b_signed = bool(a_signed), bool(b_signed)
        ma = check_multiplier(mul_a, self.channels, name, "a")
        mb = check_multiplier(mul_b, self.channels, name, "b")
        self.mul_a = [int(m) for m in np.broadcast_to(ma, (self.channels,))]
        self.mul_b = [int(m) for m in np.broadcast_to(mb, (self.channels,))]
        self._mul_a_param = int(ma) if ma.ndim == 0 else list(self.mul_a)
        self._mul_b_param = int(mb) if mb.ndim == 0 else list(self.mul_b)
        alo, ahi = value_range(self.a_bits, self.a_signed)
        blo, bhi = value_range(self.b_bits, self.b_signed)
        self.out_lo = min(alo * x + blo * y for x, y in zip(self.mul_a, self.mul_b))
        self.out_hi = max(ahi * x + bhi * y for x, y in zip(self.mul_a, self.mul_b))
        self.out_signed, self.out_bits = range_bits(self.out_lo, self.out_hi)
        require(self.out_bits <= MAX_OUT_BITS, name,
                f"output range [{self.out_lo}, {self.out_hi}] needs {self.out_bits} bits",
                f"multipliers and input widths whose sum fits {MAX_OUT_BITS} bits")
        check_int(self.lanes * max(self.a_bits, self.b_bits, self.out_bits), name,
                  "widest beat (lanes * element bits)", 1, MAX_BEAT_BITS)

    @property
    def folds(self):
        return self.channels // self.lanes

    def lane_multipliers(self, muls, lane):
        """The multipliers lane ``lane`` applies, one per fold."""
        return [muls[f * self.lanes + lane] for f in range(self.folds)]

    @property
    def has_product_stage(self):
        """True when some lane multiplies (a constant that is not a power of two, or a
        per-fold table); shifts and 1 need no register stage of their own."""
        for muls in (self.mul_a, self.mul_b):
            for lane in range(self.lanes):
                if _term_kind(self.lane_multipliers(muls, lane)) in ("mul", "table"):
                    return True
        return False

    def ports(self):
        return [StreamPort("s_axis_a", "in", self.lanes, self.a_bits, self.a_signed),
                StreamPort("s_axis_b", "in", self.lanes, self.b_bits, self.b_signed),
                StreamPort("m_axis", "out", self.lanes, self.out_bits, self.out_signed)]

    def params(self):
        return {"lanes": self.lanes, "channels": self.channels, "pixels": self.pixels,
                "a_bits": self.a_bits, "a_signed": self.a_signed, "b_bits": self.b_bits,
                "b_signed": self.b_signed, "mul_a": self._mul_a_param,
                "mul_b": self._mul_b_param}

    def cycles_per_frame(self):
        return self.pixels * self.folds

    def latency_cycles(self):
        """Sum register and skid buffer, plus the product register when there is one."""
        return 2 + int(self.has_product_stage)

    def beat_times(self, arrivals):
        """Lock step: a pair of beats is taken once both are offered, one pair per clock."""
        taken = chain(np.maximum(arrivals["s_axis_a"], arrivals["s_axis_b"]))
        return {"s_axis_a": taken, "s_axis_b": taken,
                "m_axis": taken + self.latency_cycles()}

    def _tensor(self, beats, port):
        p = self.port(port)
        return unpack(beats, (self.pixels, self.channels), p.lanes, p.bits, p.signed, port)

    def reference(self, inputs):
        out = []
        for fa, fb in zip(inputs["s_axis_a"], inputs["s_axis_b"]):
            s = model_add(self._tensor(fa, "s_axis_a"), self._tensor(fb, "s_axis_b"),
                          self._mul_a_param, self._mul_b_param, self.name)
            out.append(pack(s, self.lanes, self.out_bits, self.out_signed, self.name))
        return {"m_axis": out}

    def random_inputs(self, rng, frames):
        shape = (self.pixels, self.channels)
        res = {}
        for port in ("s_axis_a", "s_axis_b"):
            p = self.port(port)
            lo, hi = value_range(p.bits, p.signed)
            res[port] = [pack(rng.integers(lo, hi, shape, endpoint=True, dtype=np.int64),
                              p.lanes, p.bits, p.signed, port) for _ in range(frames)]
        return res

    def hdl(self, clk, rst, s_axis_a, s_axis_b, m_axis):
        lane_mul_a = [self.lane_multipliers(self.mul_a, i) for i in range(self.lanes)]
        lane_mul_b = [self.lane_multipliers(self.mul_b, i) for i in range(self.lanes)]
        return axis_add(clk, rst, s_axis_a, s_axis_b, m_axis, self.a_bits, self.a_signed,
                        self.b_bits, self.b_signed, self.out_bits, self.out_signed,
                        lane_mul_a, lane_mul_b, self.has_product_stage)


def _term_kind(muls):
    """How a lane applies its per-fold multipliers ``muls``."""
    if any(m != muls[0] for m in muls):
        return "table"
    m = muls[0]
    if m == 1:
        return "wire"
    if m & (m - 1) == 0:
        return "shift"
    return "mul"


@block
def axis_add(clk, rst, s_axis_a, s_axis_b, m_axis, a_bits, a_signed, b_bits, b_signed,
             out_bits, out_signed, lane_mul_a, lane_mul_b, registered_terms):
    """Lock-step element-wise ``a*mul_a + b*mul_b``; ``lane_mul_*[lane][fold]``."""
    lanes, folds = len(lane_mul_a), len(lane_mul_a[0])
    to_out = Stream(lanes * out_bits)
    advance = to_out.tready
    take = Signal(bool(0))
    a_in = lane_signals(lanes, a_bits, a_signed)
    b_in = lane_signals(lanes, b_bits, b_signed)
    sums = lane_signals(lanes, out_bits, out_signed)
    insts = [split_lanes(s_axis_a.tdata, a_in), split_lanes(s_axis_b.tdata, b_in),
             join_lanes(sums, to_out.tdata), skid_buffer(clk, rst, to_out, m_axis)]
    sum_valid = Signal(bool(0))
    sum_last = Signal(bool(0))
    term_valid = Signal(bool(0))
    term_last = Signal(bool(0))

    uses_table = any(_term_kind(m) == "table" for m in lane_mul_a + lane_mul_b)
    fold = Signal(intbv(0, min=0, max=max(2, folds)))
    if uses_table:
        insts.append(_fold_counter(clk, rst, take, fold, folds))

    for lane in range(lanes):
        terms = []
        for x, muls in ((a_in[lane], lane_mul_a[lane]), (b_in[lane], lane_mul_b[lane])):
            lo, hi = signal_range(x)
            t = range_signal(min(lo * m for m in muls), max(hi * m for m in muls))
            insts.append(_term(clk, rst, advance, x, fold, t, muls, registered_terms))
            terms.append(t)
        insts.append(_sum(clk, rst, advance, terms[0], terms[1], sums[lane]))

    @always_comb
    def handshake():
        take.next = s_axis_a.tvalid and s_axis_b.tvalid and advance
        s_axis_a.tready.next = advance and s_axis_b.tvalid
        s_axis_b.tready.next = advance and s_axis_a.tvalid
        to_out.tvalid.next = sum_valid
        to_out.tlast.next = sum_last

    if registered_terms:
        @always_seq(clk.posedge, reset=rst)
        def valid_pipe():
            if advance:
                term_valid.next = take
                term_last.next = s_axis_a.tlast and s_axis_b.tlast
                sum_valid.next = term_valid
                sum_last.next = term_last
    else:
        @always_seq(clk.posedge, reset=rst)
        def valid_pipe():
            if advance:
                sum_valid.next = take
                sum_last.next = s_axis_a.tlast and s_axis_b.tlast

    insts += [handshake, valid_pipe]
    return insts


@block
def _fold_counter(clk, rst, take, fold, folds):
    """Fold (channel group) of the next beat: 0 .. folds-1, stepping on each transfer."""
    @always_seq(clk.posedge, reset=rst)
    def count_folds():
        if take:
            if fold == folds - 1:
                fold.next = 0
            else:
                fold.next = fold + 1
    return count_folds


@block
def _term(clk, rst, en, x, fold, t, muls, registered):
    """``t`` = ``x * muls[fold]``: a wire, shift, constant multiply or table multiply;
    registered on ``en`` when ``registered`` (the product stage), else combinational."""
    kind = _term_kind(muls)
    if kind == "table":
        table = tuple(muls)
        if len(x) == 1 and x.min is not None and x.min < 0:
            # x is -1 or 0: t = x ? -m : 0, from a table of -m in t's own width (a
            # signed x * m would be sized by m plus a sign bit, wider than t).
            tw = len(t)
            negs = tuple((-mul) & ((1 << tw) - 1) for mul in table)
            neg_m = Signal(intbv(0)[tw:])

            @always_comb
            def neg_table():
                neg_m.next = negs[fold]

            @always_seq(clk.posedge, reset=rst)
            def select_neg():
                if en:
                    if x == -1:
                        t.next = neg_m.signed()
                    else:
                        t.next = 0
            return neg_table, select_neg
        m = Signal(intbv(0)[max(table).bit_length():])

        @always_comb
        def mul_table():
            m.next = table[fold]

        @always_seq(clk.posedge, reset=rst)
        def mul_by_table():
            if en:
                t.next = x * m
        return mul_table, mul_by_table
    const = muls[0]
    shift = const.bit_length() - 1
    assert registered or kind != "mul", "a constant multiply needs the product stage"
    if registered:
        if kind == "mul":
            @always_seq(clk.posedge, reset=rst)
            def mul_by_const():
                if en:
                    t.next = x * const
            return mul_by_const

        @always_seq(clk.posedge, reset=rst)
        def shift_reg():
            if en:
                t.next = x << shift
        return shift_reg

    @always_comb
    def shift_wire():
        t.next = x << shift
    return shift_wire


@block
def _sum(clk, rst, en, ta, tb, s):
    @always_seq(clk.posedge, reset=rst)
    def add_terms():
        if en:
            s.next = ta + tb
    return add_terms


def catalog_configs():
    """Add configurations tested on both simulators and linted."""
    return [
        # The paper's ResNet join: 2-bit codes + signed accumulators, unit multipliers.
        AddUnit("add_codes_acc_l3", lanes=3, a_bits=2, a_signed=False, b_bits=7, b_signed=True,
            channels=6, pixels=5),
        # Per-channel multipliers that are not powers of two, 5 channels, lanes=1.
        AddUnit("add_perch_l1", lanes=1, a_bits=3, a_signed=True, b_bits=2, b_signed=False,
            channels=5, pixels=4, mul_a=[3, 5, 1, 7, 6], mul_b=[2, 1, 9, 4, 3]),
        # Per-channel table over folds beside constant lanes: 6 channels in 2 lanes.
        AddUnit("add_perch_l2", lanes=2, a_bits=4, a_signed=False, b_bits=4, b_signed=True,
            channels=6, pixels=3, mul_a=[3, 2, 3, 2, 3, 2], mul_b=[1, 4, 5, 4, 6, 4]),
        # Scalar power-of-two multiplier, lanes = C = 7.
        AddUnit("add_shift_l7", lanes=7, a_bits=5, a_signed=True, b_bits=3, b_signed=False,
            channels=7, pixels=4, mul_a=1, mul_b=8),
        # Unsigned + unsigned (unsigned output), lanes = C = 3.
        AddUnit("add_codes_l3", lanes=3, a_bits=2, a_signed=False, b_bits=2, b_signed=False,
            channels=3, pixels=6),
        # 1-bit signed input (-1/0) times a per-channel table (found by the lint sweep).
        AddUnit("add_a1s_table_l2", lanes=2, a_bits=1, a_signed=True, b_bits=3, b_signed=False,
            channels=6, pixels=2, mul_a=[2, 2, 4, 5, 3, 1]),
    ]
