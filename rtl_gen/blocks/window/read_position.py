"""The window core's read position: where the next window beat reads the ring, and when
it may issue (``rtl_gen.blocks.window.line_buffer`` holds the reasoning).

``window_position`` counts the beat's channel group, kernel column step, kernel row,
output pixel and output row and flags the beats that end a kernel row, a window, an output
row and the frame; ``issue_control`` lets an output row's first beat issue only once its
rows are written; ``row_counters`` and ``column_counters`` follow the beat's ring row
(slot base address, padding) and column (bank word, bank) for the RAM banks.
"""

from myhdl import Signal, always_comb, always_seq, block, intbv

from rtl_gen.blocks.window.ring import count_signal, ring_add
from rtl_gen.hdl.registers import nested_counter


@block
def window_position(clk, rst, issue, krow_end, win_end, row_end, frame_end, row_issued,
                    need, rel_rows, geo):
    """Kernel counters of the next window beat, advanced by ``issue``: channel group,
    kernel column step (M columns), kernel row, output pixel, output row ``oy``. Flags:
    the beat ends a kernel row (``krow_end``), a window, an output row, the frame;
    ``row_issued``: an output row's last beat issues. ``need`` and ``rel_rows`` (ROMs):
    the rows output row ``oy`` reads and the rows it frees when it ends."""
    CG, K, WO, HO = geo.groups, geo.kernel, geo.out_width, geo.out_height
    KX = K // geo.beat_words
    NEED = tuple(geo.row_need(y) for y in range(HO))
    RELEASE = tuple(geo.row_release(y) for y in range(HO))
    cg, kx, ky, ox, oy = (count_signal(n) for n in (CG, KX, K, WO, HO))
    krow_step = Signal(bool(0))

    @always_comb
    def position_flags():
        krow_end.next = cg == CG - 1 and kx == KX - 1
        win_end.next = cg == CG - 1 and kx == KX - 1 and ky == K - 1
        row_end.next = cg == CG - 1 and kx == KX - 1 and ky == K - 1 and ox == WO - 1
        frame_end.next = (cg == CG - 1 and kx == KX - 1 and ky == K - 1 and ox == WO - 1
                          and oy == HO - 1)

    @always_comb
    def position_steps():
        krow_step.next = issue and krow_end
        row_issued.next = issue and row_end

    @always_seq(clk.posedge, reset=rst)
    def output_row():
        if row_issued:
            if oy == HO - 1:
                oy.next = 0
            else:
                oy.next = oy + 1

    @always_comb
    def row_needs():
        need.next = NEED[oy]

    @always_comb
    def row_releases():
        rel_rows.next = RELEASE[oy]

    counters = (nested_counter(clk, rst, issue, cg, CG, kx, KX),
                nested_counter(clk, rst, krow_step, ky, K, ox, WO))
    return position_flags, position_steps, counters, output_row, row_needs, row_releases


@block
def issue_control(clk, rst, advance, avail, need, row_end, go, issue):
    """``go``: the next window beat may enter the read pipeline, which an output row's
    first beat may only do once ``avail >= need`` (its rows are written); ``issue``: it
    does, the pipeline moving (``advance``)."""
    row_start = Signal(bool(1))             # the next beat opens an output row

    @always_comb
    def issue_check():
        go.next = not row_start or avail >= need
        issue.next = advance and (not row_start or avail >= need)

    @always_seq(clk.posedge, reset=rst)
    def row_opening():
        if issue:
            row_start.next = row_end
    return issue_check, row_opening


@block
def row_counters(clk, rst, issue, krow_end, win_end, row_end, frame_end, row_base, row_pad,
                 geo):
    """Row of the next window beat: ``row_base``, the bank address of its ring slot
    (reset: ``geo.first_slot``), and ``row_pad``, whether it is a padding row. In padded
    coordinates the window's top row is ``y0`` and the beat's ``yc``: after a kernel row's
    last beat ``yc`` steps one row, after a window's it returns to ``y0``, after an output
    row's ``y0`` moves S rows, after the frame's both go to row 0 of the next frame, whose
    slot follows the frame's last row."""
    H, S, P = geo.height, geo.stride, geo.pad
    BW, DEPTH = geo.bank_words, geo.bank_depth
    ROW_STEP = S * BW % DEPTH       # bank words from one output row's top row to the next
    TOP = (geo.out_height - 1) * S  # top row of the last output row (padded coordinates)
    WRAP_STEP = (H - TOP) * BW % DEPTH  # ... from the last output row's top to the next frame's
    y0, yc = count_signal(geo.row_bound), count_signal(geo.row_bound)
    top_base = Signal(intbv(geo.first_slot, min=0, max=DEPTH))  # bank address of row y0
    row_down, top_down, top_wrap = (Signal(intbv(0, min=0, max=DEPTH)) for _ in range(3))
    steps = (ring_add(row_base, BW, DEPTH, row_down),
             ring_add(top_base, ROW_STEP, DEPTH, top_down),
             ring_add(top_base, WRAP_STEP, DEPTH, top_wrap))

    if P:
        @always_comb
        def row_pad_check():
            row_pad.next = yc < P or yc >= H + P
    else:
        @always_comb
        def row_pad_check():
            row_pad.next = yc >= H

    @always_seq(clk.posedge, reset=rst)
    def row_counting():
        if issue and krow_end:
            if not win_end:
                yc.next = yc + 1
                row_base.next = row_down
            elif not row_end:
                yc.next = y0
                row_base.next = top_base
            elif not frame_end:
                y0.next = y0 + S
                yc.next = y0 + S
                top_base.next = top_down
                row_base.next = top_down
            else:
                y0.next = 0
                yc.next = 0
                top_base.next = top_wrap
                row_base.next = top_wrap
    return steps, row_pad_check, row_counting


@block
def column_counters(clk, rst, issue, krow_end, win_end, row_end, xc, x0r, geo):
    """Column of the next window beat in padded word coordinates, as bank words: the
    beat's first column ``xc`` and (internal) the window's left column ``x0``; for M > 1
    the bank of both is ``x0r`` (``xc = x0 + kx*M`` shares x0's bank). A beat moves M
    words right, a kernel row returns to ``x0``, an output pixel moves ``x0`` S*C/lanes
    words, an output row returns to column 0."""
    M = geo.beat_words
    SW = geo.stride * geo.groups    # words from one output pixel's window to the next
    x0 = count_signal(geo.col_bound)
    if M == 1:
        @always_seq(clk.posedge, reset=rst)
        def column_counting():
            if issue:
                if not krow_end:
                    xc.next = xc + 1
                elif not win_end:
                    xc.next = x0
                elif not row_end:
                    x0.next = x0 + SW
                    xc.next = x0 + SW
                else:
                    x0.next = 0
                    xc.next = 0
        return column_counting

    nq = Signal(intbv(0, min=x0.min, max=x0.max))
    nr = Signal(intbv(0, min=0, max=x0r.max))
    next_window = next_window_column(x0, x0r, nq, nr, SW, M)

    @always_seq(clk.posedge, reset=rst)
    def column_counting_banked():
        if issue:
            if not krow_end:
                xc.next = xc + 1
            elif not win_end:
                xc.next = x0
            elif not row_end:
                x0.next = nq
                xc.next = nq
                x0r.next = nr
            else:
                x0.next = 0
                xc.next = 0
                x0r.next = 0
    return next_window, column_counting_banked


@block
def next_window_column(x0, x0r, nq, nr, step, m):
    """The next window's left column (``nq`` bank word, ``nr`` bank) ``step`` words right
    of ``x0`` (bank word), ``x0r`` (bank): divmod(x0*m + x0r + step, m)."""
    SQ, SR = divmod(step, m)
    MSR = m - SR                    # x0r - MSR, not x0r + SR - m: m may need one bit more
    if not SR:
        @always_comb
        def column_step():
            nq.next = x0 + SQ
            nr.next = x0r
        return column_step

    @always_comb
    def column_step_carry():
        if x0r >= MSR:
            nq.next = x0 + SQ + 1
            nr.next = x0r - MSR
        else:
            nq.next = x0 + SQ
            nr.next = x0r + SR
    return column_step_carry
