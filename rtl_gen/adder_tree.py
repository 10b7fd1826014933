"""Pipelined adder tree: ``out`` = the sum of ``leaves``, ``tree_latency(n)`` cycles later.

One register level per tree level (a single adder between flip-flops), each register
advancing only while ``en`` is high, so a stalled pipeline holds its partial sums.
Every node is exactly as wide as the range of its sum (from the leaves' ranges, or the
ranges given), so nothing is truncated and nothing is wider than needed. A popcount is
the tree of 1-bit leaves. Latency: ceil(log2(n)) cycles (0 for a single leaf).
"""

from myhdl import always_comb, always_seq, block

from rtl_gen.lanes import range_signal


def tree_latency(n):
    return max(0, (n - 1).bit_length())


def signal_range(sig):
    if sig.min is not None:
        return int(sig.min), int(sig.max) - 1
    return 0, (1 << len(sig)) - 1


@block
def adder_tree(clk, rst, en, leaves, out, ranges=None):
    """``out`` <= sum(leaves), pipelined; ``ranges`` [(lo, hi)] per leaf if tighter than
    the leaf signals' own ranges. ``out`` must hold the sum of the ranges."""
    ranges = list(ranges) if ranges is not None else [signal_range(s) for s in leaves]
    insts = []
    level = list(zip(leaves, ranges))
    if len(level) == 1:
        insts.append(_wire(level[0][0], out))
        return insts
    while len(level) > 1:
        nxt = []
        last = len(level) <= 2
        for i in range(0, len(level) - 1, 2):
            (a, (alo, ahi)), (b, (blo, bhi)) = level[i], level[i + 1]
            lo, hi = alo + blo, ahi + bhi
            s = out if last else range_signal(lo, hi)
            insts.append(_add_reg(clk, rst, en, a, b, s))
            nxt.append((s, (lo, hi)))
        if len(level) % 2:
            a, (lo, hi) = level[-1]
            s = range_signal(lo, hi)
            insts.append(_hold_reg(clk, rst, en, a, s))
            nxt.append((s, (lo, hi)))
        level = nxt
    return insts


@block
def _add_reg(clk, rst, en, a, b, s):
    @always_seq(clk.posedge, reset=rst)
    def add_stage():
        if en:
            s.next = a + b
    return add_stage


@block
def _hold_reg(clk, rst, en, a, s):
    @always_seq(clk.posedge, reset=rst)
    def hold_stage():
        if en:
            s.next = a
    return hold_stage


@block
def _wire(a, s):
    @always_comb
    def pass_through():
        s.next = a
    return pass_through
