"""Arg-max: the index of the largest of a frame's n values (ties to the lowest index).

Computes ``rtl_gen.model.layers.argmax`` of each frame: the index of the largest value,
the lowest such index when several are equal (numpy's ``argmax``).

Streams: ``s_axis`` carries one frame of n values (the last dense layer's accumulators),
``lanes`` per beat, value i of the frame in lane i % lanes of beat i // lanes, ``in_bits``
bits each (two's complement when ``in_signed``), ``tlast`` on the frame's last beat (it
delimits frames). ``m_axis`` carries one beat per frame: the index, unsigned,
``max(1, bit_length(n - 1))`` bits, ``tlast`` high.

Hardware: the beat's lanes are reduced by a pipelined comparator tree (one register per
level, ceil(log2(lanes)) levels; at each node the lower index wins unless the higher is
strictly larger), then a running best across beats (again strictly larger wins, so the
earlier beat keeps a tie). The index of lane 0 of each beat comes from a counter that
advances by ``lanes`` per beat and restarts after ``tlast``. The result enters the output
skid buffer after the frame's last beat has been folded in.
Cycle model: n / lanes cycles per frame (the input rate; one output beat per frame).
Latency: n / lanes + ceil(log2(lanes)) + 2 cycles from a frame's first input transfer to
its output transfer.
"""

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, intbv

from rtl_gen.hdl.adder_tree import delay_line, tree_latency
from rtl_gen.hdl.block import Block, StreamPort, check_int
from rtl_gen.errors import require
from rtl_gen.hdl.lanes import lane_signal, lane_signals, split_lanes
from rtl_gen.model.formats import unsigned_bits
from rtl_gen.model.layers import argmax
from rtl_gen.model.limits import MAX_ARGMAX_INPUTS
from rtl_gen.model.packing import pack, unpack, value_range
from rtl_gen.hdl.registers import enabled_reg
from rtl_gen.hdl.stream import Stream, skid_buffer
from rtl_gen.hdl.timing import frames_of, streamed

MAX_IN_BITS = 63


class ArgMaxUnit(Block):
    """Arg-max block instance: ``ArgMaxUnit(name, n, in_bits, lanes=1, in_signed=True)``.

    ``n`` values per frame (2 or more), ``lanes`` values per input beat (dividing n),
    ``in_bits``/``in_signed`` their format.
    """

    kind = "argmax"
    stalls_whole = True   # every stage advances on the output skid buffer's ready

    def __init__(self, name, n, in_bits, lanes=1, in_signed=True):
        super().__init__(name)
        self.n = check_int(n, name, "n (values per frame)", 2, MAX_ARGMAX_INPUTS)
        self.in_bits = check_int(in_bits, name, "input value bits", 1, MAX_IN_BITS)
        require(isinstance(in_signed, (bool, np.bool_)), name,
                f"in_signed = {in_signed!r} is not a boolean", "True or False")
        self.in_signed = bool(in_signed)
        self.lanes = check_int(lanes, name, "lanes (values per beat)", 1, self.n)
        require(self.n % self.lanes == 0, name,
                f"lanes = {lanes} does not divide the {self.n} values of a frame",
                "a divisor of n: " + _divisors(self.n))
        self.lo, self.hi = value_range(self.in_bits, self.in_signed)

    @property
    def beats(self):
        """Input beats per frame."""
        return self.n // self.lanes

    @property
    def index_bits(self):
        return unsigned_bits(self.n - 1)

    def ports(self):
        return [StreamPort("s_axis", "in", self.lanes, self.in_bits, self.in_signed),
                StreamPort("m_axis", "out", 1, self.index_bits, False)]

    def params(self):
        return {"n": self.n, "lanes": self.lanes, "in_bits": self.in_bits,
                "in_signed": self.in_signed}

    def cycles_per_frame(self):
        return self.beats

    def latency_cycles(self):
        return self.beats + tree_latency(self.lanes) + 2

    def beat_times(self, arrivals):
        """The index leaves ``tree + 3`` cycles after the frame's last beat came in."""
        taken = np.asarray(arrivals["s_axis"], dtype=np.int64)
        frames = frames_of(taken, self.beats, self.name)
        need = (np.arange(frames) + 1) * self.beats - 1
        return {"s_axis": taken, "m_axis": streamed(taken, tree_latency(self.lanes) + 3, need)}

    def reference(self, inputs):
        out = []
        for beats in inputs["s_axis"]:
            v = unpack(beats, (self.n,), self.lanes, self.in_bits, self.in_signed, self.name)
            out.append(pack([argmax(v)], 1, self.index_bits, name=self.name))
        return {"m_axis": out}

    def random_inputs(self, rng, frames):
        return {"s_axis": [pack(rng.integers(self.lo, self.hi + 1, self.n), self.lanes,
                                self.in_bits, self.in_signed, self.name)
                           for _ in range(frames)]}

    def hdl(self, clk, rst, s_axis, m_axis):
        return argmax_core(clk, rst, s_axis, m_axis, self)


def _divisors(n):
    small = [d for d in range(1, int(n ** 0.5) + 1) if n % d == 0]
    return ", ".join(str(d) for d in sorted(set(small + [n // d for d in small])))


@block
def argmax_core(clk, rst, s_axis, m_axis, cfg):
    lanes, nb = cfg.lanes, cfg.beats
    out = Stream(cfg.index_bits)            # into the output skid buffer
    advance = Signal(bool(0))
    din = Signal(intbv(0)[lanes * cfg.in_bits:])
    in_valid = Signal(bool(0))
    insts = []

    @always_comb
    def handshake():
        advance.next = out.tready
        s_axis.tready.next = out.tready

    @always(clk.posedge)
    def take_data():
        if advance:
            din.next = s_axis.tdata

    insts += [handshake, take_data]
    in_first, in_last = Signal(bool(0)), Signal(bool(0))
    starting = Signal(bool(1))          # the next beat starts a frame

    @always_seq(clk.posedge, reset=rst)
    def take():
        if advance:
            in_valid.next = s_axis.tvalid
            if s_axis.tvalid:
                in_first.next = starting
                in_last.next = s_axis.tlast
                starting.next = s_axis.tlast
    insts.append(take)
    if nb > 1:
        # index of lane 0 of the next beat: + lanes per beat, 0 after tlast
        base = Signal(intbv(0, min=0, max=cfg.n))
        in_base = Signal(intbv(0, min=0, max=cfg.n))
        insts.append(beat_base(clk, rst, advance, s_axis, base, in_base, lanes))

    vals = lane_signals(lanes, cfg.in_bits, cfg.in_signed)
    insts.append(split_lanes(din, vals))
    if lanes > 1:
        # comparator tree over the lanes, side-band bits delayed beside it
        best_val = lane_signal(cfg.in_bits, cfg.in_signed)
        best_lane = Signal(intbv(0, min=0, max=lanes))
        insts.append(max_tree(clk, advance, vals, best_val, best_lane))
    else:
        best_val, best_lane = vals[0], 0
    depth = tree_latency(lanes)
    t_valid, t_first, t_last = Signal(bool(0)), Signal(bool(0)), Signal(bool(0))
    insts += [delay_line(clk, rst, advance, in_valid, t_valid, depth),
              delay_line(clk, rst, advance, in_first, t_first, depth),
              delay_line(clk, rst, advance, in_last, t_last, depth)]
    if nb > 1:
        t_base = Signal(intbv(0, min=0, max=cfg.n))
        insts.append(delay_line(clk, rst, advance, in_base, t_base, depth))
    else:
        t_base = 0                      # one beat per frame: the index is the lane's
    insts.append(running_best(clk, rst, advance, t_valid, t_first, t_last, best_val,
                              best_lane, t_base, out))
    insts.append(skid_buffer(clk, rst, out, m_axis))
    return insts


@block
def beat_base(clk, rst, en, s_axis, base, in_base, step):
    """``in_base`` <= ``base`` for each accepted beat; ``base`` advances by ``step`` and
    restarts at 0 after the frame's last beat."""
    @always_seq(clk.posedge, reset=rst)
    def count():
        if en and s_axis.tvalid:
            in_base.next = base
            if s_axis.tlast:
                base.next = 0
            else:
                base.next = base + step
    return count


@block
def running_best(clk, rst, en, valid, first, last, val, lane, base, out):
    """Fold each beat's (val, base + lane) into the frame's best (a later beat wins only
    when strictly larger); after the last beat, offer the best index on ``out``."""
    best = Signal(val.val)
    index = Signal(intbv(0)[len(out.tdata):])
    cand = Signal(intbv(0)[len(out.tdata):])
    done = Signal(bool(0))

    @always_comb
    def position():
        cand.next = base + lane

    @always_seq(clk.posedge, reset=rst)
    def fold():
        if en:
            done.next = valid and last
            if valid and (first or val > best):
                best.next = val
                index.next = cand

    @always_comb
    def offer():
        out.tdata.next = index
        out.tvalid.next = done
        out.tlast.next = done

    return position, fold, offer


@block
def max_tree(clk, en, vals, out_val, out_idx):
    """Pipelined (value, lane index) maximum of ``vals`` (two or more); the lower index
    wins ties. One register level per tree level; latency ``tree_latency(len(vals))``."""
    level = [(v, i) for i, v in enumerate(vals)]     # leaf indices are constants
    insts = []
    while len(level) > 1:
        last = len(level) <= 2
        nxt = []
        for k in range(0, len(level) - 1, 2):
            (va, ia), (vb, ib) = level[k], level[k + 1]
            vo = out_val if last else Signal(va.val)
            io = out_idx if last else Signal(intbv(0, min=0, max=out_idx.max))
            insts.append(max_node(clk, en, va, ia, vb, ib, vo, io))
            nxt.append((vo, io))
        if len(level) % 2:
            va, ia = level[-1]
            vo = Signal(va.val)
            if isinstance(ia, int):         # a leaf: its index stays a constant
                insts.append(enabled_reg(clk, en, va, vo))
                nxt.append((vo, ia))
            else:
                io = Signal(intbv(0, min=0, max=out_idx.max))
                insts += [enabled_reg(clk, en, va, vo), enabled_reg(clk, en, ia, io)]
                nxt.append((vo, io))
        level = nxt
    return insts


@block
def max_node(clk, en, va, ia, vb, ib, vo, io):
    """(vo, io) <= (vb, ib) if vb > va else (va, ia); ``ia``/``ib`` signals or constants."""
    @always(clk.posedge)
    def pick():
        if en:
            if vb > va:
                vo.next = vb
                io.next = ib
            else:
                vo.next = va
                io.next = ia
    return pick


def catalog_configs():
    """Arg-max configurations tested on both simulators and linted."""
    return [
        ArgMaxUnit("argmax_n10_l1", n=10, in_bits=8, lanes=1),
        ArgMaxUnit("argmax_n10_l5", n=10, in_bits=6, lanes=5),
        ArgMaxUnit("argmax_n1000_l8", n=1000, in_bits=18, lanes=8),
        ArgMaxUnit("argmax_n12_l12_u", n=12, in_bits=5, lanes=12, in_signed=False),
    ]
