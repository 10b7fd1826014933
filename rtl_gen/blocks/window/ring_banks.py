"""The window core's RAM banks and their share of the read pipeline
(``rtl_gen.blocks.window.line_buffer`` holds the ring layout and the reasoning).

``window_bank`` is one bank: the address stage (``bank_addressing``: which bank word
holds this bank's column of the beat, whether that column is padding), its RAM
(``bank_ram``, registered read) and the zero-pad select after the read. ``rotate`` puts
the M bank words of a beat in column order. All of it is datapath: its registers advance
on ``advance`` and have no reset.
"""

from myhdl import Signal, always, always_comb, block, concat, intbv

from rtl_gen.hdl.lanes import join_lanes
from rtl_gen.hdl.registers import enabled_reg


@block
def window_bank(clk, bank, geo, advance, wr_en, wbank, waddr, wdata, row_base, xc, x0r,
                row_pad, word):
    """Bank ``bank``: written when ``wbank == bank`` (or always, for a single bank);
    ``word`` is this bank's column of the beat two stages after the address stage, 0 if
    that column is padding."""
    b_addr = Signal(intbv(0, min=0, max=max(2, geo.bank_depth)))
    b_pad, c_pad = Signal(bool(0)), Signal(bool(0))
    ram_q = Signal(intbv(0)[len(word):])
    insts = []
    if wbank is None:
        we = wr_en
    else:
        we = Signal(bool(0))

        @always_comb
        def bank_enable():
            we.next = wr_en and wbank == bank
        insts.append(bank_enable)

    @always_comb
    def pad_select():
        if c_pad:
            word.next = 0
        else:
            word.next = ram_q

    insts += [bank_addressing(clk, bank, geo, advance, row_base, xc, x0r, row_pad, b_addr,
                              b_pad),
              bank_ram(clk, we, waddr, wdata, advance, b_addr, ram_q, geo.bank_depth),
              enabled_reg(clk, advance, b_pad, c_pad), pad_select]
    return insts


@block
def bank_addressing(clk, bank, geo, advance, row_base, xc, x0r, row_pad, b_addr, b_pad):
    """Address stage of bank ``bank``: ``b_addr``, the bank address of this bank's column
    of the beat (0 if padded), and ``b_pad``, whether that column is padding.

    The beat's columns are ``xc*M + x0r .. xc*M + x0r + M - 1``; this bank's is in bank
    word ``xc + 1`` if ``bank < x0r``, else ``xc``. Padded word columns hold real data in
    bank words LO..HI only."""
    M, PW, WB = geo.beat_words, geo.pad * geo.groups, geo.row_words
    OFF = PW // M
    LO = (PW - bank + M - 1) // M       # first bank word with a real column
    HI = (PW + WB - 1 - bank) // M      # last one
    pad_now = Signal(bool(0))
    insts = []
    if bank < M - 1:
        col = Signal(intbv(0, min=xc.min, max=xc.max))

        @always_comb
        def bank_column():
            if x0r > bank:
                col.next = xc + 1
            else:
                col.next = xc
        insts.append(bank_column)
    else:
        col = xc
    if LO > 0:
        @always_comb
        def pad_check():
            pad_now.next = row_pad or col < LO or col > HI
    else:
        @always_comb
        def pad_check():
            pad_now.next = row_pad or col > HI

    # A real column's bank word is below the bank depth, so the address needs only the
    # address bits of ``col`` (the column counters may be wider; Verilator WIDTHTRUNC).
    col_addr = col(len(b_addr), 0) if len(col) > len(b_addr) else col

    @always(clk.posedge)
    def address_stage():
        if advance:
            b_pad.next = pad_now
            if pad_now:
                b_addr.next = 0
            else:
                b_addr.next = row_base + col_addr - OFF
    return insts, pad_check, address_stage


@block
def bank_ram(clk, we, waddr, wdata, re, raddr, q, depth):
    """A simple dual-port RAM of ``depth`` words without reset (BRAM / LUTRAM): ``wdata``
    written at ``waddr`` when ``we``; registered read, ``q`` <= word ``raddr`` when ``re``."""
    mem = [Signal(intbv(0)[len(q):]) for _ in range(depth)]

    @always(clk.posedge)
    def ram_write():
        if we:
            mem[waddr].next = wdata

    @always(clk.posedge)
    def ram_read():
        if re:
            q.next = mem[raddr]
    return ram_write, ram_read


@block
def rotate(clk, advance, x0r, words, beat, width):
    """``beat`` = the bank words in column order: lane j is bank ``(r + j) mod M`` where
    r = ``x0r`` of the beat, delayed to the RAM output (two stages). A barrel rotator:
    stage k rotates by 2^k mod M words where bit k of r is set. One bank: a wire."""
    M = len(words)
    if M == 1:
        return join_lanes(words, beat)

    b_rot = Signal(intbv(0, min=0, max=M))
    c_rot = Signal(intbv(0, min=0, max=M))
    stages = (enabled_reg(clk, advance, x0r, b_rot), enabled_reg(clk, advance, b_rot, c_rot))
    steps = [Signal(intbv(0)[M * width:]) for _ in range(len(c_rot))]
    insts = [stages, join_lanes(words, steps[0])]
    for k, (a, b) in enumerate(zip(steps, steps[1:] + [beat])):
        insts.append(rotate_step(a, b, c_rot, k, (1 << k) % M * width))
    return insts


@block
def rotate_step(x, y, rot, k, shift):
    """``y`` = ``x`` rotated right by ``shift`` bits (lane i + shift/width to lane i)
    if bit ``k`` of ``rot`` is set, else ``x``."""
    total = len(x)

    @always_comb
    def rotate_by():
        if rot[k]:
            y.next = concat(x[shift:0], x[total:shift])
        else:
            y.next = x
    return rotate_by
