"""MyHDL datapath of the matrix-vector unit (the hardware behind ``rtl_gen.blocks.mvu.mvu.MVU``).

Computes: for every window vector (SF input beats of SIMD activations), NF output beats of
PE signed accumulators: beat nf, lane p = the dot product of the vector with weight row
nf*PE + p. Streams: ``s_axis`` SIMD x in_bits, ``m_axis`` PE x acc_bits (``tlast`` on the
last output beat of the pixel whose last input beat carried ``tlast``).

One (nf, sf) step per clock, nf outer, sf inner; the stages all advance on ``advance``, the
registered ``tready`` of the output skid buffer:

  A  step issue: the weight ROM word nf*SF+sf is read through its register; the input
     beat is taken from ``s_axis`` during nf = 0 (and written to an SF-word buffer) or
     re-read from the buffer for nf = 1..NF-1, into the register ``x_reg``.
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
A stall holds every register (nothing is lost); input is refused only while nf != 0.
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
    insts.append(_control(clk, rst, advance, s_axis, sf_cnt, nf_cnt, waddr,
                          (valid_a, first_a, lastsf_a, tlast_a), sf, nf, sf * nf))
    insts.append(_input_register(clk, advance, s_axis, sf_cnt, nf_cnt, x_reg, sf, nf))
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
    input beat until its last output beat (nf = NF-1)."""
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
def _input_register(clk, advance, s_axis, sf_cnt, nf_cnt, x_reg, sf, nf):
    """x_reg <= the input beat (nf = 0) or buffer word sf (nf > 0); the buffer keeps the
    pixel's SF beats for the other NF-1 neuron folds (no buffer when NF = 1)."""
    if nf == 1:
        @always(clk.posedge)
        def take_input():
            if advance:
                x_reg.next = s_axis.tdata
        return take_input

    width = len(s_axis.tdata)
    buf = [Signal(intbv(0)[width:]) for _ in range(max(2, sf))]

    @always(clk.posedge)
    def buffer_write():
        if advance and nf_cnt == 0 and s_axis.tvalid:
            buf[sf_cnt].next = s_axis.tdata

    @always(clk.posedge)
    def buffer_read():
        if advance:
            if nf_cnt == 0:
                x_reg.next = s_axis.tdata
            else:
                x_reg.next = buf[sf_cnt]

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
