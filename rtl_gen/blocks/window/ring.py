"""The window core's ring of rows, write side: input acceptance, the write position, the
row balances and ring address steps (``rtl_gen.blocks.window.line_buffer`` holds the
reasoning: ring layout, ring size, why the balances are signed differences).

``ring_writer`` takes an input word while the slot it writes is free (``used < R``) and
writes it at bank ``wbank``, bank word ``waddr``; ``row_balance`` keeps one of the two
balances ``used`` and ``avail`` (rows written minus a first row still needed);
``ring_add`` steps a bank address around the ring.
"""

from myhdl import Signal, always_comb, always_seq, block, intbv


def count_signal(n):
    """An unsigned counter for 0..n-1 (at least one bit wide)."""
    return Signal(intbv(0, min=0, max=max(2, n)))


@block
def ring_add(base, step, depth, result):
    """``result = (base + step) mod depth`` for ``0 <= base, step < depth``: one compare
    and one add or subtract ("base - (depth - step)" rather than "base + step - depth",
    whose intermediate needs one bit more than ``base``: Verilator WIDTHTRUNC); a wire
    when ``step`` is 0."""
    if step == 0:
        @always_comb
        def ring_same():
            result.next = base
        return ring_same
    back = depth - step

    @always_comb
    def ring_step():
        if base >= back:
            result.next = base - back
        else:
            result.next = base + step
    return ring_step


@block
def ring_writer(clk, rst, s_axis, used, wr_en, row_done, waddr, wbank, geo):
    """Input acceptance and the write position: ``s_axis`` is ready while ``used < R``
    (the slot being written is free); an accepted word (``wr_en``) is written at bank
    ``wbank`` (M > 1), bank address ``waddr``; ``row_done`` on the word that ends an input
    row (its last word, or ``tlast``), after which the next row starts at the next slot."""
    WB, R, BW, DEPTH = geo.row_words, geo.ring_rows, geo.bank_words, geo.bank_depth
    wx = count_signal(WB)                   # word within the input row
    wrow = count_signal(DEPTH)              # bank address of the row's first word
    wnext = count_signal(DEPTH)             # ... of the next row's

    @always_comb
    def write_accept():
        s_axis.tready.next = used < R
        wr_en.next = s_axis.tvalid and used < R
        row_done.next = s_axis.tvalid and used < R and (wx == WB - 1 or s_axis.tlast)

    @always_seq(clk.posedge, reset=rst)
    def write_rows():
        if row_done:
            wrow.next = wnext

    next_row = ring_add(wrow, BW, DEPTH, wnext)
    columns = write_columns(clk, rst, wr_en, row_done, wx, waddr, wnext, wbank, geo)
    return write_accept, next_row, write_rows, columns


@block
def write_columns(clk, rst, wr_en, row_done, wx, waddr, wnext, wbank, geo):
    """Write position: word ``wx`` of the input row goes to bank ``wbank`` (M > 1) at
    bank address ``waddr``; a new row starts at ``wnext``, the next slot of the ring."""
    WB, M = geo.row_words, geo.beat_words
    if M == 1:
        @always_seq(clk.posedge, reset=rst)
        def write_single():
            if wr_en:
                if row_done:
                    wx.next = 0
                    waddr.next = wnext
                else:
                    wx.next = wx + 1
                    waddr.next = waddr + 1
        return write_single

    BANK0 = geo.pad * geo.groups % M    # bank of the row's first word

    @always_seq(clk.posedge, reset=rst)
    def write_banked():
        if wr_en:
            if row_done:
                wx.next = 0
                wbank.next = BANK0
                waddr.next = wnext
            else:
                wx.next = wx + 1
                if wbank == M - 1:
                    wbank.next = 0
                    waddr.next = waddr + 1
                else:
                    wbank.next = wbank + 1
    return write_banked


@block
def row_balance(clk, rst, up, down, amount, balance):
    """A signed row balance (rows written minus a first row still needed): +1 on a clock
    with ``up`` (an input row written), -``amount`` on one with ``down`` (rows released),
    both on one clock."""
    @always_seq(clk.posedge, reset=rst)
    def rebalance():
        if up and down:
            balance.next = balance + 1 - amount
        elif up:
            balance.next = balance + 1
        elif down:
            balance.next = balance - amount
    return rebalance
