"""Sliding-window core shared by the SWU and max pool: a ring of input rows in RAM banks.

Computes: from an H x W x C input stream (channels innermost, ``lanes`` per beat), the
K x K x C window of every output pixel, row by row, each window in the order kernel row,
kernel column, channel group (``rtl_gen.model.layers.im2col`` flattened); zero padding
(code 0) of ``pad`` on all four sides is inserted here, stride 1..4.

Streams: ``s_axis`` carries one word (``lanes`` x ``bits`` bits) per beat; the window
stream carries ``M`` consecutive words of one kernel row per beat (``out_lanes = M*lanes``).
``M = 1`` is the plain mode. ``M > 1`` ("kernel-column parallel") needs ``lanes = C`` (a
word is a pixel) and M dividing K: each beat is then M consecutive kernel columns
``kx .. kx+M-1`` of one kernel row, still exactly the im2col order. ``tlast`` on the last
window beat of a frame. Input ``tlast`` closes the current input row (on a well-formed
frame it falls on the end of the last row, where that changes nothing).

Storage: a ring of R rows x W*C/lanes words in M banks; padded word column ``xw`` (input
word + P*C/lanes) lives in bank ``xw mod M`` at bank word ``xw div M - OFF`` of its row's
slot (OFF = (P*C/lanes) div M; ``bank_words`` per row), so that any M consecutive columns
sit in M different banks and are read in one cycle. Each bank is a simple dual-port RAM
(one write port fed by the input, one registered read port, no reset: BRAM / LUTRAM).
Global row counts on both sides let the ring span frame boundaries, so the next frame's
rows load while the current frame's last windows are read. Two signed differences replace
unbounded counters:
  ``avail = rows written - first row needed by the output row being issued`` -- an output
  row starts only when ``avail >= rows it needs``;
  ``used  = rows written - first row still needed by a beat not yet read from the RAM`` --
  the writer takes input only while ``used < R`` (the slot it writes is free). Rows are
  released when the last beat of an output row passes the RAM read, so stalled beats in the
  read pipeline are never overwritten.

Ring size (rows): ``R = K + S + 1 + max(0, H - Ho*S)``. Between frames the writer must
hold the rows the last output row still reads plus the unread tail of the frame plus the
first rows of the next frame: ``H - first_row(Ho-1) + (K - P) <= K + S + (H - Ho*S)``;
inside a frame, the rows of one window plus the next S rows (``K + S``). The ``+ 1`` row
covers the two cycles between an output row's start and its predecessor's release, so that
neither side waits in steady state (checked across shapes by the tests' timing sweep).

Read pipeline: counters -> address registers (per bank: bank word, pad flag) -> RAM read
registers -> zero-pad select and (M > 1) rotation of the M bank words by the beat's first
column mod M -> output skid buffer; every stage advances on the skid buffer's registered
ready, so no combinational path runs from the window stream's ready to ``s_axis_tready``.

Cycle model (no stalls): ``max(H*W*C/lanes, Ho*Wo*K*K*C/out_lanes)`` cycles per frame,
frames back to back. Latency (first input beat to first window beat): ``n0*W*C/lanes + 3``
cycles where ``n0 = min(H, K - P)`` is the number of input rows the first output row needs.
"""

from dataclasses import dataclass

import numpy as np
from myhdl import Signal, always, always_comb, always_seq, block, concat, intbv

from rtl_gen.hdl.block import check_int
from rtl_gen.errors import require
from rtl_gen.hdl.lanes import join_lanes
from rtl_gen.model.limits import MAX_ELEMENT_BITS
from rtl_gen.model.layers import check_window, out_size
from rtl_gen.hdl.stream import Stream, skid_buffer
from rtl_gen.hdl.timing import chain, frames_of

READ_PIPELINE = 3  # row ready -> address register -> RAM register -> skid output register
MAX_DIM = 4096


def _divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def valid_out_lanes(channels, kernel, lanes):
    """Window-stream lanes a window unit with these input ``lanes`` can emit: ``lanes``
    itself, and with ``lanes == C`` also ``m*C`` for every m > 1 dividing K."""
    wide = [m * channels for m in _divisors(kernel) if m > 1] if lanes == channels else []
    return [lanes] + wide


@dataclass(frozen=True)
class WindowGeometry:
    """A validated sliding-window configuration and everything derived from it."""

    name: str
    height: int
    width: int
    channels: int
    kernel: int
    stride: int
    pad: int
    bits: int
    lanes: int
    out_lanes: int

    @classmethod
    def checked(cls, name, in_shape, kernel, stride, pad, bits, lanes, out_lanes=None):
        """Validate every parameter (QNNError naming ``name``) and build the geometry;
        ``out_lanes`` None means ``lanes``."""
        require(isinstance(in_shape, (tuple, list)) and len(in_shape) == 3, name,
                f"input shape {in_shape!r} is not (H, W, C)", "a tuple (H, W, C) of integers")
        h = check_int(in_shape[0], name, "input height H", 1, MAX_DIM)
        w = check_int(in_shape[1], name, "input width W", 1, MAX_DIM)
        c = check_int(in_shape[2], name, "input channels C", 1, MAX_DIM)
        check_int(bits, name, "element bits", 1, MAX_ELEMENT_BITS)
        check_int(lanes, name, "lanes (elements per beat)", 1, c)
        require(c % lanes == 0, name, f"{c} channels cannot be sent in groups of {lanes} lanes",
                f"lanes dividing the channel count {c}")
        check_window(kernel, stride, pad, h, w, name)
        if out_lanes is None:
            out_lanes = lanes
        valid = valid_out_lanes(c, kernel, lanes)
        check_int(out_lanes, name, "out_lanes (window elements per beat)", 1)
        require(out_lanes in valid, name,
                f"out_lanes = {out_lanes} is not possible with lanes = {lanes}, C = {c}, "
                f"K = {kernel}",
                "one of " + ", ".join(map(str, valid)) + " (out_lanes = lanes, or m*C for "
                "m > 1 dividing K when lanes = C)")
        return cls(name, h, w, c, kernel, stride, pad, bits, lanes, out_lanes)

    # --- derived sizes ----------------------------------------------------------------
    @property
    def groups(self):
        """Channel groups per pixel (C / lanes): words per input pixel."""
        return self.channels // self.lanes

    @property
    def beat_words(self):
        """Input words per window beat (M = out_lanes / lanes); also the RAM bank count."""
        return self.out_lanes // self.lanes

    @property
    def out_height(self):
        return out_size(self.height, self.kernel, self.stride, self.pad)

    @property
    def out_width(self):
        return out_size(self.width, self.kernel, self.stride, self.pad)

    @property
    def row_words(self):
        """Input words per row (W * C / lanes)."""
        return self.width * self.groups

    @property
    def bank_words(self):
        """Words of one row in one bank: bank words ``(P*CG) div M .. (P*CG + W*CG - 1)
        div M`` of the padded word columns (module docstring)."""
        m, pw = self.beat_words, self.pad * self.groups
        return (pw + self.row_words - 1) // m - pw // m + 1

    @property
    def ring_rows(self):
        """Rows in the ring (module docstring): ``K + S + 1 + max(0, H - Ho*S)``."""
        k, s = self.kernel, self.stride
        return k + s + 1 + max(0, self.height - self.out_height * s)

    @property
    def bank_depth(self):
        """Words in each RAM bank."""
        return self.ring_rows * self.bank_words

    @property
    def ram_words(self):
        """Words (``lanes`` x ``bits`` bits) in all banks together."""
        return self.beat_words * self.bank_depth

    @property
    def input_beats(self):
        return self.height * self.row_words

    @property
    def row_beats(self):
        """Window beats per kernel row (K * C / out_lanes)."""
        return self.kernel * self.groups // self.beat_words

    @property
    def window_beats(self):
        """Beats of one output pixel's window (K * K * C / out_lanes)."""
        return self.kernel * self.row_beats

    @property
    def output_beats(self):
        return self.out_height * self.out_width * self.window_beats

    def first_rows(self):
        """Input rows the first output row needs: min(H, K - P)."""
        return min(self.height, self.kernel - self.pad)

    def row_first(self, oy):
        """First real input row of output row ``oy``'s window."""
        return max(0, oy * self.stride - self.pad)

    def row_need(self, oy):
        """Real input rows output row ``oy`` reads (its first through its last)."""
        last = min(self.height - 1, oy * self.stride - self.pad + self.kernel - 1)
        return last - self.row_first(oy) + 1

    def row_release(self, oy):
        """Rows no later output row reads, freed once output row ``oy`` is read: the step
        of the first row to the next output row (the next frame's first after the last)."""
        if oy == self.out_height - 1:
            return self.height - self.row_first(oy)
        return self.row_first(oy + 1) - self.row_first(oy)

    def cycles_per_frame(self):
        return max(self.input_beats, self.output_beats)

    def latency_cycles(self):
        return self.first_rows() * self.row_words + READ_PIPELINE

    def window_times(self, offered):
        """Beat timing (``rtl_gen.hdl.timing``): (input words taken, window beats sent) for
        input words offered at cycles ``offered`` (whole frames). The writer takes a word
        when it is offered (the ring always holds the rows an output row is waiting for);
        an output row starts ``READ_PIPELINE + 1`` cycles after the last word of the last
        input row it reads was taken, and not before the previous output row's last beat
        has left; its beats then leave one per clock."""
        offered = np.asarray(offered, dtype=np.int64)
        frames = frames_of(offered, self.input_beats, self.name)
        rows_read = np.array([self.row_first(oy) + self.row_need(oy)
                              for oy in range(self.out_height)], dtype=np.int64)
        need = (np.arange(frames)[:, None] * self.input_beats
                + rows_read * self.row_words - 1).ravel()
        per_row = self.out_width * self.window_beats
        starts = chain(offered[need] + READ_PIPELINE + 1, per_row)
        return offered, (starts[:, None] + np.arange(per_row)).ravel()

    def as_dict(self):
        d = {"in_shape": [self.height, self.width, self.channels], "kernel": self.kernel,
             "stride": self.stride, "pad": self.pad, "bits": self.bits, "lanes": self.lanes}
        if self.out_lanes != self.lanes:
            d["out_lanes"] = self.out_lanes
        return d


def _counter(n):
    """An unsigned counter for 0..n-1 (at least one bit wide)."""
    return Signal(intbv(0, min=0, max=max(2, n)))


@block
def window_core(clk, rst, s_axis, m_axis, geo):
    """Window stream ``m_axis`` (registered, through a skid buffer) from ``s_axis``."""
    H, W, K, S, P = geo.height, geo.width, geo.kernel, geo.stride, geo.pad
    CG, WB, R, M = geo.groups, geo.row_words, geo.ring_rows, geo.beat_words
    KX = K // M                     # window beats per kernel row and channel group
    HO, WO = geo.out_height, geo.out_width
    BW = geo.bank_words             # bank words per row
    DEPTH = geo.bank_depth
    width = len(s_axis.tdata)       # one word
    PW = P * CG                     # padding words left of column 0
    TOP = (HO - 1) * S              # top row of the last output row (padded coordinates)
    ROW_STEP = S * BW % DEPTH       # bank words from one output row's top row to the next
    WRAP_STEP = (H - TOP) * BW % DEPTH  # ... from the last output row's top to the next frame's
    ROWS = H + 2 * P + S + 1        # bound of row coordinates and row counts
    COLS = (W + 2 * P + S) * CG // M + 2    # bound of column coordinates (bank words)
    START = ((R - P) % R) * BW      # slot of input row -P of frame 0
    NEED = tuple(geo.row_need(oy) for oy in range(HO))          # per output row (ROMs)
    RELEASE = tuple(geo.row_release(oy) for oy in range(HO))

    # --- write side -----------------------------------------------------------------
    wx = _counter(WB)                                   # word within the input row
    waddr = _counter(DEPTH)                             # bank address of the word
    wrow = _counter(DEPTH)                              # bank address of the row's first word
    wnext = _counter(DEPTH)                             # ... of the next row's
    wbank = Signal(intbv(PW % M, min=0, max=M)) if M > 1 else None  # bank of the word
    wr_en = Signal(bool(0))
    row_done = Signal(bool(0))
    # Signed row differences, one bit wider than the unsigned row counts they meet.
    used = Signal(intbv(0, min=-ROWS - R, max=ROWS + R))    # written - first unreleased row
    avail = Signal(intbv(0, min=-ROWS - R, max=ROWS + R))   # written - first row of issue row

    # --- read side: position of the next window beat --------------------------------
    cg = _counter(CG)
    kx = _counter(KX)
    ky = _counter(K)
    ox = _counter(WO)
    oy = _counter(HO)
    # Row quantities share one width (and column ones another), so that no expression
    # among them is wider than its target (Verilator WIDTHTRUNC).
    y0 = _counter(ROWS)                     # top row of the window, padded coordinates (+P)
    yc = _counter(ROWS)                     # current row, padded coordinates
    x0 = _counter(COLS)                     # left column of the window: bank word (M > 1:
    xc = _counter(COLS)                     # ... with x0r, its bank); current beat's first
    x0r = _counter(M) if M > 1 else None    # column: bank word xc, bank x0r
    top_base = Signal(intbv(START, min=0, max=DEPTH))   # bank address of row y0's slot
    row_base = Signal(intbv(START, min=0, max=DEPTH))   # bank address of row yc's slot
    row_start = Signal(bool(1))             # the next beat opens an output row
    need = _counter(ROWS)                   # input rows the current output row reads
    rel_rows = _counter(ROWS)               # rows freed when the current output row ends
    krow_end = Signal(bool(0))              # the beat ends a kernel row of its window
    win_end = Signal(bool(0))               # ... its window
    row_end = Signal(bool(0))               # ... an output row
    frame_end = Signal(bool(0))             # ... the frame
    row_pad = Signal(bool(0))
    go = Signal(bool(0))
    issue = Signal(bool(0))
    advance = Signal(bool(0))

    # --- pipeline stages --------------------------------------------------------------
    b_valid = Signal(bool(0))
    b_last = Signal(bool(0))
    b_rel_rows = _counter(ROWS)
    c_valid = Signal(bool(0))
    c_last = Signal(bool(0))
    to_skid = Stream(M * width)

    @always_comb
    def write_side():
        s_axis.tready.next = used < R
        wr_en.next = s_axis.tvalid and used < R
        row_done.next = s_axis.tvalid and used < R and (wx == WB - 1 or s_axis.tlast)

    # Ring addresses one row (or one output row's step) further on, modulo DEPTH.
    row_down = Signal(intbv(0, min=0, max=DEPTH))       # row_base + BW
    top_down = Signal(intbv(0, min=0, max=DEPTH))       # top_base + ROW_STEP
    top_wrap = Signal(intbv(0, min=0, max=DEPTH))       # top_base + WRAP_STEP
    ring_steps = (_ring_add(wrow, BW, DEPTH, wnext), _ring_add(row_base, BW, DEPTH, row_down),
                  _ring_add(top_base, ROW_STEP, DEPTH, top_down),
                  _ring_add(top_base, WRAP_STEP, DEPTH, top_wrap))

    @always_seq(clk.posedge, reset=rst)
    def write_rows():
        if row_done:
            wrow.next = wnext

    write_columns = _write_columns(clk, rst, wr_en, row_done, wx, waddr, wnext, wbank,
                                   geo)

    @always_comb
    def row_need():
        need.next = NEED[oy]

    @always_comb
    def row_release():
        rel_rows.next = RELEASE[oy]

    if P:
        @always_comb
        def row_pad_check():
            row_pad.next = yc < P or yc >= H + P
    else:
        @always_comb
        def row_pad_check():
            row_pad.next = yc >= H

    @always_comb
    def read_position():
        krow_end.next = cg == CG - 1 and kx == KX - 1
        win_end.next = cg == CG - 1 and kx == KX - 1 and ky == K - 1
        row_end.next = cg == CG - 1 and kx == KX - 1 and ky == K - 1 and ox == WO - 1
        frame_end.next = (cg == CG - 1 and kx == KX - 1 and ky == K - 1 and ox == WO - 1
                          and oy == HO - 1)
        go.next = not row_start or avail >= need
        issue.next = advance and (not row_start or avail >= need)

    @always_seq(clk.posedge, reset=rst)
    def read_counters():
        if issue:
            row_start.next = row_end
            if cg != CG - 1:
                cg.next = cg + 1
            else:
                cg.next = 0
                if kx != KX - 1:
                    kx.next = kx + 1
                else:
                    kx.next = 0
                    if ky != K - 1:
                        ky.next = ky + 1
                        yc.next = yc + 1
                        row_base.next = row_down
                    else:
                        ky.next = 0
                        if ox != WO - 1:
                            ox.next = ox + 1
                            yc.next = y0
                            row_base.next = top_base
                        else:
                            ox.next = 0
                            if oy != HO - 1:
                                oy.next = oy + 1
                                y0.next = y0 + S
                                yc.next = y0 + S
                                top_base.next = top_down
                                row_base.next = top_down
                            else:
                                oy.next = 0
                                y0.next = 0
                                yc.next = 0
                                top_base.next = top_wrap
                                row_base.next = top_wrap

    columns = _column_counters(clk, rst, issue, krow_end, win_end, row_end, x0, xc, x0r,
                               geo)

    @always_seq(clk.posedge, reset=rst)
    def row_accounting():
        ended = issue and row_end
        if row_done and ended:
            avail.next = avail + 1 - rel_rows
        elif row_done:
            avail.next = avail + 1
        elif ended:
            avail.next = avail - rel_rows
        freed = advance and b_valid
        if row_done and freed:
            used.next = used + 1 - b_rel_rows
        elif row_done:
            used.next = used + 1
        elif freed:
            used.next = used - b_rel_rows

    @always_seq(clk.posedge, reset=rst)
    def stage_address():
        if advance:
            b_valid.next = go
            b_last.next = frame_end
            if row_end:
                b_rel_rows.next = rel_rows
            else:
                b_rel_rows.next = 0

    @always_seq(clk.posedge, reset=rst)
    def stage_read():
        if advance:
            c_valid.next = b_valid
            c_last.next = b_last

    words = [Signal(intbv(0)[width:]) for _ in range(M)]
    banks = [window_bank(clk, rst, b, geo, advance, wr_en, wbank, waddr, s_axis.tdata,
                         row_base, xc, x0r, row_pad, words[b]) for b in range(M)]
    beat = _rotate(clk, rst, advance, x0r, words, to_skid.tdata, width)

    @always_comb
    def to_output():
        to_skid.tvalid.next = c_valid
        to_skid.tlast.next = c_last
        advance.next = to_skid.tready

    out = skid_buffer(clk, rst, to_skid, m_axis)
    return (write_side, ring_steps, write_rows, write_columns, row_need, row_release,
            row_pad_check, read_position, read_counters, columns, row_accounting,
            stage_address, stage_read, banks, beat, to_output, out)


@block
def _ring_add(base, step, depth, result):
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
    def ring_add():
        if base >= back:
            result.next = base - back
        else:
            result.next = base + step
    return ring_add


@block
def _write_columns(clk, rst, wr_en, row_done, wx, waddr, wnext, wbank, geo):
    """Write position: word ``wx`` of the input row goes to bank ``wbank`` (M > 1) at
    bank address ``waddr``; a new row starts at ``wnext``, the next slot of the ring."""
    WB, M = geo.row_words, geo.beat_words
    if M == 1:
        @always_seq(clk.posedge, reset=rst)
        def write_columns():
            if wr_en:
                if row_done:
                    wx.next = 0
                    waddr.next = wnext
                else:
                    wx.next = wx + 1
                    waddr.next = waddr + 1
        return write_columns

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
def _column_counters(clk, rst, issue, krow_end, win_end, row_end, x0, xc, x0r, geo):
    """Column of the next window beat in padded word coordinates: the window's left
    column ``x0`` and the beat's first column ``xc``, both as bank words; for M > 1 the
    bank of both is ``x0r`` (``xc = x0 + kx*M`` shares x0's bank). A beat moves M words
    right, a kernel row returns to ``x0``, an output pixel moves ``x0`` S*C/lanes words."""
    M = geo.beat_words
    SW = geo.stride * geo.groups    # words from one output pixel's window to the next
    if M == 1:
        @always_seq(clk.posedge, reset=rst)
        def column_counters():
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
        return column_counters

    SQ, SR = divmod(SW, M)
    MSR = M - SR                    # x0r - MSR, not x0r + SR - M: M may need one bit more
    # divmod(x0*M + x0r + SW, M): the next window's left column.
    nq = Signal(intbv(0, min=x0.min, max=x0.max))
    nr = Signal(intbv(0, min=0, max=x0r.max))
    if SR:
        @always_comb
        def next_window():
            if x0r >= MSR:
                nq.next = x0 + SQ + 1
                nr.next = x0r - MSR
            else:
                nq.next = x0 + SQ
                nr.next = x0r + SR
    else:
        @always_comb
        def next_window():
            nq.next = x0 + SQ
            nr.next = x0r

    @always_seq(clk.posedge, reset=rst)
    def column_counters_banked():
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
    return next_window, column_counters_banked


@block
def window_bank(clk, rst, bank, geo, advance, wr_en, wbank, waddr, wdata, row_base, xc,
                x0r, row_pad, word):
    """Bank ``bank`` of the ring and its share of the read pipeline: the RAM (written
    when ``wbank == bank``, or always for a single bank), the address stage (which bank
    word holds this bank's column of the beat, whether that column is padding) and the
    zero-pad select after the registered read. ``word``: this bank's column, 0 if padded.

    The beat's columns are ``xc*M + x0r .. xc*M + x0r + M - 1``; this bank's is in bank
    word ``xc + 1`` if ``bank < x0r``, else ``xc``. Padded word columns hold real data in
    bank words LO..HI only."""
    M, PW, WB = geo.beat_words, geo.pad * geo.groups, geo.row_words
    OFF = PW // M
    LO = (PW - bank + M - 1) // M       # first bank word with a real column
    HI = (PW + WB - 1 - bank) // M      # last one
    width = len(word)
    mem = [Signal(intbv(0)[width:]) for _ in range(geo.bank_depth)]
    insts = []

    if wbank is None:
        we = wr_en
    else:
        we = Signal(bool(0))

        @always_comb
        def bank_enable():
            we.next = wr_en and wbank == bank
        insts.append(bank_enable)

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

    pad_now = Signal(bool(0))
    if LO > 0:
        @always_comb
        def pad_check():
            pad_now.next = row_pad or col < LO or col > HI
    else:
        @always_comb
        def pad_check():
            pad_now.next = row_pad or col > HI

    b_addr = Signal(intbv(0, min=0, max=max(2, geo.bank_depth)))
    # A real column's bank word is below the bank depth, so the address needs only the
    # address bits of ``col`` (the column counters may be wider; Verilator WIDTHTRUNC).
    col_addr = col(len(b_addr), 0) if len(col) > len(b_addr) else col
    b_pad = Signal(bool(0))
    c_pad = Signal(bool(0))
    ram_q = Signal(intbv(0)[width:])

    @always_seq(clk.posedge, reset=rst)
    def bank_address():
        if advance:
            b_pad.next = pad_now
            if pad_now:
                b_addr.next = 0
            else:
                b_addr.next = row_base + col_addr - OFF

    @always(clk.posedge)
    def ram_write():
        if we:
            mem[waddr].next = wdata

    @always(clk.posedge)
    def ram_read():
        if advance:
            ram_q.next = mem[b_addr]

    @always_seq(clk.posedge, reset=rst)
    def bank_pad():
        if advance:
            c_pad.next = b_pad

    @always_comb
    def pad_select():
        if c_pad:
            word.next = 0
        else:
            word.next = ram_q

    return insts, pad_check, bank_address, ram_write, ram_read, bank_pad, pad_select


@block
def _rotate(clk, rst, advance, x0r, words, beat, width):
    """``beat`` = the bank words in column order: lane j is bank ``(r + j) mod M`` where
    r = ``x0r`` of the beat, delayed to the RAM output (two stages). A barrel rotator:
    stage k rotates by 2^k mod M words where bit k of r is set. One bank: a wire."""
    M = len(words)
    if M == 1:
        return join_lanes(words, beat)

    b_rot = Signal(intbv(0, min=0, max=M))
    c_rot = Signal(intbv(0, min=0, max=M))

    @always_seq(clk.posedge, reset=rst)
    def rotation_stages():
        if advance:
            b_rot.next = x0r
            c_rot.next = b_rot

    steps = [Signal(intbv(0)[M * width:]) for _ in range(len(c_rot))]
    insts = [rotation_stages, join_lanes(words, steps[0])]
    for k, (a, b) in enumerate(zip(steps, steps[1:] + [beat])):
        insts.append(_rotate_step(a, b, c_rot, k, (1 << k) % M * width))
    return insts


@block
def _rotate_step(x, y, rot, k, shift):
    """``y`` = ``x`` rotated right by ``shift`` bits (lane i + shift/width to lane i)
    if bit ``k`` of ``rot`` is set, else ``x``."""
    total = len(x)

    @always_comb
    def rotate_step():
        if rot[k]:
            y.next = concat(x[shift:0], x[total:shift])
        else:
            y.next = x
    return rotate_step
