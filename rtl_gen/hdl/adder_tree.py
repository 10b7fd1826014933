"""Pipelined adder tree: ``out`` = the sum of ``leaves``, ``tree_latency(n)`` cycles later.

One register level per tree level (a single adder between flip-flops), each register
advancing only while ``en`` is high, so a stalled pipeline holds its partial sums.
Every node is exactly as wide as the range of its sum (from the leaves' ranges, or the
ranges given), so nothing is truncated and nothing is wider than needed. A popcount is
the tree of 1-bit leaves. Latency: ceil(log2(n)) cycles (0 for a single leaf).
"""

from myhdl import Signal, always_comb, always_seq, block

from rtl_gen.hdl.lanes import range_signal


def tree_latency(n):
    return max(0, (n - 1).bit_length())


def signal_range(sig):
    if sig.min is not None:
        return int(sig.min), int(sig.max) - 1
    return 0, (1 << len(sig)) - 1


def sum_range(ranges, nonzero=None):
    """Range of a sum of terms with the given [(lo, hi)] ranges; with ``nonzero`` = m, at
    most m of the terms are non-zero at once (each range must then contain 0)."""
    if nonzero is None or nonzero >= len(ranges):
        return sum(lo for lo, _ in ranges), sum(hi for _, hi in ranges)
    assert all(lo <= 0 <= hi for lo, hi in ranges), "nonzero needs ranges containing 0"
    return (sum(sorted(lo for lo, _ in ranges)[:nonzero]),
            sum(sorted((hi for _, hi in ranges), reverse=True)[:nonzero]))


@block
def adder_tree(clk, rst, en, leaves, out, ranges=None, nonzero=None):
    """``out`` <= sum(leaves), pipelined; ``ranges`` [(lo, hi)] per leaf if tighter than
    the leaf signals' own ranges. ``nonzero`` = m: at most m leaves are non-zero at once,
    so every node is sized by ``sum_range(..., m)`` (for example a grouped convolution's
    masked products). ``out`` must hold ``sum_range(ranges, nonzero)``."""
    ranges = list(ranges) if ranges is not None else [signal_range(s) for s in leaves]
    insts = []
    level = [(sig, [r]) for sig, r in zip(leaves, ranges)]
    if len(level) == 1:
        insts.append(_wire(level[0][0], out))
        return insts
    while len(level) > 1:
        nxt = []
        last = len(level) <= 2
        for i in range(0, len(level) - 1, 2):
            (a, ra), (b, rb) = level[i], level[i + 1]
            s = out if last else range_signal(*sum_range(ra + rb, nonzero))
            insts.append(_add_reg(clk, rst, en, a, b, s))
            nxt.append((s, ra + rb))
        if len(level) % 2:
            a, ra = level[-1]
            s = range_signal(*sum_range(ra, nonzero))
            insts.append(_hold_reg(clk, rst, en, a, s))
            nxt.append((s, ra))
        level = nxt
    return insts


@block
def delay_line(clk, rst, en, din, dout, stages):
    """``dout`` = ``din`` delayed by ``stages`` registers that advance while ``en`` is
    high (``stages`` = 0: a wire). For the valid/side-band bits that travel beside a
    pipelined datapath such as the tree above."""
    if stages == 0:
        return _wire(din, dout)
    insts, cur = [], din
    for k in range(stages):
        nxt = dout if k == stages - 1 else Signal(din.val)
        insts.append(_hold_reg(clk, rst, en, cur, nxt))
        cur = nxt
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
