"""Shared stream plumbing for every block: the AXI4-Stream bundle and the skid buffer.

Stream contract (``docs/tool-notes.md``): a transfer happens on a rising edge where
``tvalid`` and ``tready`` are both high; ``tvalid``, once high, holds with stable
``tdata``/``tlast`` until the transfer; ``tvalid`` never depends on ``tready``.

A ``Stream`` passed as a top-level argument named ``s_axis`` converts to the ports
``s_axis_tdata``, ``s_axis_tvalid``, ``s_axis_tready`` and ``s_axis_tlast``.
"""

from myhdl import Signal, always_comb, always_seq, block, intbv


class Stream:
    """An AXI4-Stream bundle with ``width`` data bits and ``tlast``."""

    def __init__(self, width):
        self.width = width
        self.tdata = Signal(intbv(0)[width:])
        self.tvalid = Signal(bool(0))
        self.tready = Signal(bool(0))
        self.tlast = Signal(bool(0))


@block
def skid_buffer(clk, rst, s, m):
    """Registered stage that cuts every combinational path between ``s`` and ``m``.

    ``m.tvalid/tdata/tlast`` come from flip-flops and ``s.tready`` is a flip-flop too, so
    the ready path does not run through the block. One beat per clock when not stalled;
    latency one cycle; holds two beats when the consumer stalls.
    """
    width = len(s.tdata)
    out_data = Signal(intbv(0)[width:])
    out_last = Signal(bool(0))
    out_valid = Signal(bool(0))
    spare_data = Signal(intbv(0)[width:])
    spare_last = Signal(bool(0))
    spare_valid = Signal(bool(0))
    in_ready = Signal(bool(0))

    @always_comb
    def drive():
        m.tdata.next = out_data
        m.tlast.next = out_last
        m.tvalid.next = out_valid
        s.tready.next = in_ready

    @always_seq(clk.posedge, reset=rst)
    def regs():
        if m.tready or not out_valid:
            # The output register is free this cycle: refill it, spare beat first.
            if spare_valid:
                out_data.next = spare_data
                out_last.next = spare_last
                out_valid.next = True
            else:
                out_data.next = s.tdata
                out_last.next = s.tlast
                out_valid.next = s.tvalid and in_ready
            spare_valid.next = False
            in_ready.next = True
        elif s.tvalid and in_ready:
            # Output is stalled: park the beat that was accepted this cycle.
            spare_data.next = s.tdata
            spare_last.next = s.tlast
            spare_valid.next = True
            in_ready.next = False
        else:
            in_ready.next = not spare_valid

    return drive, regs
