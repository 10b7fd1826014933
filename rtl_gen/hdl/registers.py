"""Small sequential pieces shared by several blocks."""

from myhdl import always, always_seq, block


@block
def enabled_reg(clk, en, d, q):
    """``q`` <= ``d`` on a rising edge where ``en`` is high; no reset (a datapath register:
    a tree node, one word of a delay line that maps to SRLs)."""
    @always(clk.posedge)
    def load():
        if en:
            q.next = d
    return load


@block
def nested_counter(clk, rst, en, inner, inner_n, outer, outer_n):
    """On each rising edge where ``en`` is high, ``inner`` counts 0 .. ``inner_n`` - 1;
    each time it wraps, ``outer`` counts 0 .. ``outer_n`` - 1 (for example channel group
    within pixel, pixel within frame). Both reset to 0."""
    @always_seq(clk.posedge, reset=rst)
    def count():
        if en:
            if inner == inner_n - 1:
                inner.next = 0
                if outer == outer_n - 1:
                    outer.next = 0
                else:
                    outer.next = outer + 1
            else:
                inner.next = inner + 1
    return count
