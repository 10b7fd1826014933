"""Small sequential pieces shared by several blocks."""

from myhdl import always, block


@block
def enabled_reg(clk, en, d, q):
    """``q`` <= ``d`` on a rising edge where ``en`` is high; no reset (a datapath register:
    a tree node, one word of a delay line that maps to SRLs)."""
    @always(clk.posedge)
    def load():
        if en:
            q.next = d
    return load
