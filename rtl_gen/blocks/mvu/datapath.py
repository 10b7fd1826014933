"""MyHDL datapath of the matrix-vector unit (the hardware behind ``rtl_gen.blocks.mvu.mvu.MVU``).

Computes: for every window vector (SF input beats of SIMD activations), NF output beats of
PE signed accumulators: beat nf, lane p = the dot product of the vector with weight row
nf*PE + p. Streams: ``s_axis`` SIMD x in_bits, ``m_axis`` PE x acc_bits (``tlast`` on the
last output beat of the pixel whose last input beat carried ``tlast``).

One (nf, sf) step per clock, nf outer, sf inner; the stages all advance on ``advance``, the
registered ``tready`` of the output skid buffer:

  A  step issue: the weight ROM word nf*SF+sf is read through its register; the input
     beat is taken from ``s_axis`` during nf = 0 or re-read from the buffer for
     nf = 1..NF-1, into the register ``x_reg``. With NF > 1 the buffer holds two pixels
     and the input side runs ahead of the steps by up to one pixel: the next pixel's
     beats are taken (and written to the buffer) while the current one's NF-1 re-read
     folds run, and its nf = 0 steps then read them from the buffer. Without that, the
     MVU refused input for (NF-1)*SF cycles per pixel, and a producer that spreads its
     beats over the frame (a dense layer after a slower layer, one pixel per frame)
     stalled the whole pipeline for up to that long every frame.
  B  leaves: per PE and SIMD lane a registered product (x*w), selection (+x, -x, 0) or
     masked activation (x where the bipolar weight is +1); for ``xnor`` also the
     activations themselves, shared by all PEs.
  T  a pipelined adder tree per PE (and one shared tree of all activations for ``xnor``):
     ceil(log2(SIMD)) register levels, each node exactly as wide as its range (in a
     grouped layer, the range of the most in-group lanes a beat can hold: out-of-group
     weights are 0, so every node stays within the accumulator's exact width).
  C  accumulation over sf: acc = tree (sf = 0) or acc + tree; complete at sf = SF-1.
  X  ``xnor`` only: acc = 2*S_w - S_all (S_w: the PE's masked sum, S_all: the shared sum).
  then the output skid buffer (one register).

Latency (first input transfer to first output transfer, no stalls):
SF + 3 + ceil(log2(SIMD)) + (1 for xnor). Cycles per pixel: SF*NF exactly.
A stall holds every register (nothing is lost); input is refused only while the buffer
holds the current pixel and the whole next one (NF > 1), or, with NF = 1, never.
"""

from myhdl import ConcatSignal, Signal, always, always_comb, always_seq, block, intbv

from rtl_gen.hdl.adder_tree import adder_tree, delay_line, signal_range, sum_range, \
    tree_latency
from rtl_gen.hdl.lanes import join_lanes, lane_signal, range_signal, split_lanes
from rtl_gen.blocks.mvu.weights import MULTIPLY, SELECT, XNOR
from rtl_gen.hdl.rom import rom
from rtl_gen.hdl.stream import Stream, skid_buffer

# Side-band bits travelling with each step: valid, first step (sf = 0), last step
# (sf = SF-1), and the output tlast.
_VALID, _FIRST, _LASTSF, _TLAST = 0, 1, 2, 3


def mvu_latency(sf, simd, kind):
    """Cycles from the first input transfer to the first output transfer."""
    return sf + 3 + tree_latency(simd) + (1 if kind == XNOR else 0)


def _counter(n):
    """A counter signal for 0..n-1 (at least one bit wide)."""
    return Signal(intbv(0, min=0, max=max(2, n)))


@block
def mvu_core(clk, rst, s_axis, m_axis, simd, pe, sf, nf, in_bits, in_signed, kind,
             image, wbits, leaf_range, acc_range, nonzero):
    """The MVU datapath; ``image`` is the weight RomImage (NF*SF words of PE*SIMD*wbits),
    ``leaf_range`` the range of one tree leaf, ``acc_range`` the exact output range and
    ``nonzero`` the most leaves of one PE that can be non-zero in one step (SIMD, or
    fewer in a grouped layer whose beats span several groups: the trees are sized by it)."""
    acc_bits = len(range_signal(*acc_range))
    core = Stream(pe * acc_bits)
    advance = core.tready
    insts = [skid_buffer(clk, rst, core, m_axis)]

    # --- A: step issue, weight ROM, input register ---------------------------------------
    x_reg = Signal(intbv(0)[simd * in_bits:])
    w_reg = Signal(intbv(0)[image.width:])
    waddr = Signal(intbv(0, min=0, max=image.addr_max))
    sf_cnt, nf_cnt = _counter(sf), _counter(nf)
    valid_a, first_a, lastsf_a, tlast_a = [Signal(bool(0)) for _ in range(4)]
    tags_a = ConcatSignal(tlast_a, lastsf_a, first_a, valid_a)
    tags = (valid_a, first_a, lastsf_a, tlast_a)
    if nf == 1:
        insts.append(_control(clk, rst, advance, s_axis, sf_cnt, nf_cnt, waddr, tags, sf,
                              nf, sf * nf))
        insts.append(_input_register(clk, advance, s_axis, x_reg))
    else:
        accept, live = Signal(bool(0)), Signal(bool(0))
        wptr, raddr = _counter(2 * sf), _counter(2 * sf)
        insts.append(_control_prefetch(clk, rst, advance, s_axis, sf_cnt, nf_cnt, waddr,
                                       tags, accept, live, wptr, raddr, sf, nf, sf * nf))
        insts.append(_input_buffer(clk, advance, s_axis, accept, live, wptr, raddr, x_reg,
                                   sf))
    insts.append(rom(clk, advance, waddr, w_reg, image))

    # --- B: leaves -------------------------------------------------------------------------
    xs = [lane_signal(in_bits, in_signed) for _ in range(simd)]
    insts.append(split_lanes(x_reg, xs))
    if kind == MULTIPLY:
        ws = [lane_signal(wbits, signed=True) for _ in range(pe * simd)]
        insts.append(split_lanes(w_reg, ws))
    leaves = [[range_signal(*leaf_range) for _ in range(simd)] for _ in range(pe)]
    for p in range(pe):
        for s in range(simd):
            lane = p * simd + s
            if kind == MULTIPLY:
                leaf = _leaf_multiply(clk, rst, advance, xs[s], ws[lane], leaves[p][s])
            elif kind == SELECT:
                leaf = _leaf_select(clk, rst, advance, xs[s], w_reg, lane * wbits,
                                    leaves[p][s])
            else:
                leaf = _leaf_mask(clk, rst, advance, xs[s], w_reg, lane * wbits,
                                  leaves[p][s])
            insts.append(leaf)

    # --- T: adder trees ------------------------------------------------------------------
    depth = tree_latency(simd)
    tags_t = Signal(intbv(0)[4:])
    insts.append(delay_line(clk, rst, advance, tags_a, tags_t, 1 + depth))
    valid_t, first_t, lastsf_t, tlast_t = [Signal(bool(0)) for _ in range(4)]
    insts.append(_unpack_tags(tags_t, valid_t, first_t, lastsf_t, tlast_t))

    tree_range = sum_range([leaf_range] * simd, nonzero)
    sums = []
    for p in range(pe):
        t = range_signal(*tree_range)
        insts.append(adder_tree(clk, rst, advance, leaves[p], t, ranges=[leaf_range] * simd,
                                nonzero=nonzero))
        sums.append(t)
    if kind == XNOR:
        x_leaves = [lane_signal(in_bits, in_signed) for _ in range(simd)]
        for s in range(simd):  # registered like the PE leaves
            insts.append(delay_line(clk, rst, advance, xs[s], x_leaves[s], 1))
        x_range = signal_range(xs[0])
        t_all = range_signal(*sum_range([x_range] * simd))
        insts.append(adder_tree(clk, rst, advance, x_leaves, t_all))

    # --- C: accumulators -------------------------------------------------------------------
    if kind == XNOR:
        # S_w and S_all over the whole vector (SF*SIMD terms)
        accs = [range_signal(*sum_range([leaf_range] * (sf * simd))) for _ in sums]
        acc_all = range_signal(*sum_range([x_range] * (sf * simd)))
        insts.append(_accumulate(clk, rst, advance, valid_t, first_t, t_all, acc_all))
    else:
        accs = [range_signal(*acc_range) for _ in sums]
    for p in range(pe):
        insts.append(_accumulate(clk, rst, advance, valid_t, first_t, sums[p], accs[p]))
    done_valid, done_last = Signal(bool(0)), Signal(bool(0))
    insts.append(_done_tags(clk, rst, advance, valid_t, lastsf_t, tlast_t, done_valid,
                            done_last))
    tags_c = ConcatSignal(done_last, done_valid)

    # --- X: xnor combination, then the output ------------------------------------------
    if kind == XNOR:
        outs = [range_signal(*acc_range) for _ in range(pe)]
        for p in range(pe):
            insts.append(_xnor_combine(clk, rst, advance, accs[p], acc_all, outs[p]))
        tags_o = Signal(intbv(0)[2:])
        insts.append(delay_line(clk, rst, advance, tags_c, tags_o, 1))
    else:
        outs, tags_o = accs, tags_c
    insts.append(join_lanes(outs, core.tdata))
    insts.append(_drive_core(tags_o, core))
    return insts


@block
def _control(clk, rst, advance, s_axis, sf_cnt, nf_cnt, waddr, tags, sf, nf, words):
    """Step counters (nf outer, sf inner, ROM address nf*SF+sf), input handshake and the
    side-band bits of the issued step. ``pix_last`` keeps the tlast of a pixel's last
    input beat until its last output beat (nf = NF-1). Used for NF = 1 (NF > 1:
    ``_control_prefetch``)."""
    pix_last = Signal(bool(0))
    valid, first, lastsf, tlast = tags
    last_sf, last_nf, last_word = sf - 1, nf - 1, words - 1

    @always_comb
    def handshake():
        s_axis.tready.next = advance and nf_cnt == 0

    @always_seq(clk.posedge, reset=rst)
    def step():
        if advance:
            valid.next = nf_cnt != 0 or s_axis.tvalid
            first.next = sf_cnt == 0
            lastsf.next = sf_cnt == last_sf
            if nf_cnt == 0:
                tlast.next = s_axis.tlast and nf_cnt == last_nf and sf_cnt == last_sf
            else:
                tlast.next = pix_last and nf_cnt == last_nf and sf_cnt == last_sf
            if nf_cnt != 0 or s_axis.tvalid:
                if nf_cnt == 0 and sf_cnt == last_sf:
                    pix_last.next = s_axis.tlast
                if sf_cnt == last_sf:
                    sf_cnt.next = 0
                    if nf_cnt == last_nf:
                        nf_cnt.next = 0
                    else:
                        nf_cnt.next = nf_cnt + 1
                else:
                    sf_cnt.next = sf_cnt + 1
                if waddr == last_word:
                    waddr.next = 0
                else:
                    waddr.next = waddr + 1

    return handshake, step


@block
def _input_register(clk, advance, s_axis, x_reg):
    """NF = 1: x_reg <= the input beat (no buffer)."""
    @always(clk.posedge)
    def take_input():
        if advance:
            x_reg.next = s_axis.tdata
    return take_input


@block
def _control_prefetch(clk, rst, advance, s_axis, sf_cnt, nf_cnt, waddr, tags, accept, live,
                      wptr, raddr, sf, nf, words):
    """NF > 1: step counters as in ``_control``, and an input side of its own that keeps
    taking beats while the steps re-read the buffer: the buffer holds two pixels (2*SF
    words, ``wptr`` writes, ``raddr`` reads), so the next pixel's beats are taken during
    the current pixel's NF-1 re-read folds instead of stalling the producer for
    (NF-1)*SF cycles per pixel. ``held``: beats taken of the current pixel and the next
    (input is taken while held < 2*SF, that is, at most one pixel ahead); a step of fold
    nf = 0 reads the buffer when its beat was taken before (held > sf), else it takes
    the beat as it arrives (``live``, the same cycle, as with NF = 1). ``tlast`` of each
    pixel's last beat is kept per buffer half until its last output beat."""
    held = Signal(intbv(0, min=0, max=2 * sf + 1))
    last_lo, last_hi, pix_last, issue, leave = (Signal(bool(0)) for _ in range(5))
    valid, first, lastsf, tlast = tags
    last_sf, last_nf, last_word, full, top = sf - 1, nf - 1, words - 1, 2 * sf, 2 * sf - 1

    @always_comb
    def handshake():
        s_axis.tready.next = advance and held < full
        accept.next = advance and s_axis.tvalid and held < full
        live.next = nf_cnt == 0 and held <= sf_cnt
        issue.next = advance and (nf_cnt != 0 or held > sf_cnt or s_axis.tvalid)
        leave.next = nf_cnt == last_nf and sf_cnt == last_sf
        if raddr < sf:
            pix_last.next = last_lo
        else:
            pix_last.next = last_hi

    @always_seq(clk.posedge, reset=rst)
    def take():
        if accept:
            if wptr == last_sf:
                last_lo.next = s_axis.tlast
            if wptr == top:
                last_hi.next = s_axis.tlast
                wptr.next = 0
            else:
                wptr.next = wptr + 1
        if issue and leave:
            if accept:
                held.next = held + 1 - sf
            else:
                held.next = held - sf
        elif accept:
            held.next = held + 1

    @always_seq(clk.posedge, reset=rst)
    def step():
        if advance:
            valid.next = issue
            first.next = sf_cnt == 0
            lastsf.next = sf_cnt == last_sf
            tlast.next = pix_last and leave
            if issue:
                if sf_cnt == last_sf:
                    sf_cnt.next = 0
                    if nf_cnt == last_nf:
                        nf_cnt.next = 0
                        if raddr == top:
                            raddr.next = 0
                        else:
                            raddr.next = raddr + 1
                    else:
                        nf_cnt.next = nf_cnt + 1
                        raddr.next = raddr - last_sf
                else:
                    sf_cnt.next = sf_cnt + 1
                    raddr.next = raddr + 1
                if waddr == last_word:
                    waddr.next = 0
                else:
                    waddr.next = waddr + 1

    return handshake, take, step


@block
def _input_buffer(clk, advance, s_axis, accept, live, wptr, raddr, x_reg, sf):
    """NF > 1: every beat taken is written at ``wptr`` of a 2*SF-word buffer; x_reg <= the
    input beat itself (``live``) or buffer word ``raddr``."""
    width = len(s_axis.tdata)
    buf = [Signal(intbv(0)[width:]) for _ in range(2 * sf)]

    @always(clk.posedge)
    def buffer_write():
        if accept:
            buf[wptr].next = s_axis.tdata

    @always(clk.posedge)
    def buffer_read():
        if advance:
            if live:
                x_reg.next = s_axis.tdata
            else:
                x_reg.next = buf[raddr]

    return buffer_write, buffer_read


@block
def _leaf_multiply(clk, rst, en, x, w, out):
    """Registered tree leaf x*w (w a signed lane of the weight word)."""
    @always_seq(clk.posedge, reset=rst)
    def leaf_multiply():
        if en:
            out.next = x * w
    return leaf_multiply


@block
def _leaf_select(clk, rst, en, x, word, lo, out):
    """Registered tree leaf +x, 0 or -x for the ternary code word[lo+1:lo] (01 is +1,
    11 is -1, 00 is 0)."""
    sign = lo + 1

    @always_seq(clk.posedge, reset=rst)
    def leaf_select():
        if en:
            if not word[lo]:
                out.next = 0
            elif word[sign]:
                out.next = -x
            else:
                out.next = x
    return leaf_select


@block
def _leaf_mask(clk, rst, en, x, word, lo, out):
    """Registered tree leaf: x where the bipolar weight bit word[lo] is 1 (+1), else 0."""
    @always_seq(clk.posedge, reset=rst)
    def leaf_mask():
        if en:
            if word[lo]:
                out.next = x
            else:
                out.next = 0
    return leaf_mask


@block
def _unpack_tags(tags, valid, first, lastsf, tlast):
    @always_comb
    def unpack_tags():
        valid.next = tags[_VALID]
        first.next = tags[_FIRST]
        lastsf.next = tags[_LASTSF]
        tlast.next = tags[_TLAST]
    return unpack_tags


@block
def _accumulate(clk, rst, en, valid, first, t, acc):
    """acc <= t on the first step of a dot product, acc + t on the others."""
    @always_seq(clk.posedge, reset=rst)
    def accumulate():
        if en and valid:
            if first:
                acc.next = t
            else:
                acc.next = acc + t
    return accumulate


@block
def _done_tags(clk, rst, en, valid, lastsf, tlast, done_valid, done_last):
    """``done_valid``: the accumulators hold complete dot products; ``done_last``: and
    this is the frame's last output beat."""
    @always_seq(clk.posedge, reset=rst)
    def done_tags():
        if en:
            done_valid.next = valid and lastsf
            done_last.next = valid and lastsf and tlast
    return done_tags


@block
def _xnor_combine(clk, rst, en, s_w, s_all, out):
    """out <= 2*S_w - S_all: +x where the weight is +1, -x where it is -1."""
    @always_seq(clk.posedge, reset=rst)
    def xnor_combine():
        if en:
            out.next = s_w + s_w - s_all
    return xnor_combine


@block
def _drive_core(tags, core):
    @always_comb
    def drive_core():
        core.tvalid.next = tags[0]
        core.tlast.next = tags[1]
    return drive_core


__all__ = ["mvu_core", "mvu_latency"]
