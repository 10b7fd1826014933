"""Link RX: the forward lane of a transceiver framing core in, one AXI-Stream out.

The receiving end of a cut between two FPGAs (``docs/design.md`` section 6; the frame
format is in ``rtl_gen/blocks/link/framing.py``, the sending end in ``tx.py``).

Ports (besides ``clk`` and the synchronous active-high ``rst``):

========================  ====  =====================================================
``rx_lane_data[W]``       in    forward lane from the framing core (Aurora:
``rx_lane_valid``         in    m_axi_rx_tdata / m_axi_rx_tvalid; no ready)
``m_axis_*``              out   the carried stream (``tdata`` D bits, ``tlast``), from a
                                skid buffer; any backpressure
``tx_lane_data[W]``       out   reverse lane to the framing core (s_axi_tx_tdata):
``tx_lane_valid``         out   ACK/NAK with credits, training (s_axi_tx_tvalid)
``tx_lane_last``          out   a control frame's CRC beat (s_axi_tx_tlast)
``tx_lane_ready``         in    (s_axi_tx_tready)
``stat_link_up``          out   trained: frames are accepted
``stat_frames_received``  out   data frames accepted, in order (32 bits)
``stat_crc_errors``       out   frames with a bad CRC-32 (32 bits)
``stat_naks``             out   NAKs sent (32 bits)
``stat_frames_dropped``   out   good frames not accepted: duplicates of frames already
                                received, frames after a gap, frames before training (32)
``stat_retrains``         out   retrains started by the sender (16 bits)
``stat_far_resets``       out   resets of the sending end seen after data moved (16)
``stat_loss``             out   of those, the ones that cut an image (16 bits): the
                                consumer has seen the start of an image whose end will
                                never come; the stream continues with whole images
========================  ====  =====================================================

Receiving: a register on the lane, then a parser that hunts for a well-formed header
(magic, CRC-8, lengths), takes L payload beats into the next free slot of the receive
buffer (``C = rx_slots`` slots of N lane words: RAM written without reset, read through a
register) while updating a CRC-32 at line rate, and checks the CRC beat. A data frame is
committed only when its CRC is good, its sequence number is the next expected one and a
slot was free: nothing corrupted, duplicated or out of order reaches the consumer.
A bad CRC or a gap schedules one NAK (PCIe's NAK_SCHEDULED: no second NAK for the frames
that follow until the expected frame arrives), except that the expected frame itself
arriving bad (a failed replay: its header, checked by its CRC-8, names it) is NAKed
again at once rather than left to the sender's replay timer; a duplicate schedules an
ACK.

Credits: the status frames (ACK, NAK, TACK) carry ``limit = expected + free slots``
(12-bit sequence space), which never decreases; the sender sends a new frame only below
it, so the receive buffer can never overflow, whatever the consumer does. A status frame
goes out whenever ``expected`` or ``limit`` changed, a NAK or TACK is due, a duplicate
was seen, or every ``keepalive`` cycles (so a lost one is repeated).

Draining: committed slots are unpacked in order (a W + D bit shift register taking one
lane word and giving one stream beat per clock) into ``m_axis``; a slot is freed, and
its credit returned, after its last beat has been handed to the output skid buffer.

Training: after reset the RX is "fresh": it sends TREQ every ``train_interval`` cycles and
accepts no data until a TRAIN arrives; it then takes the TRAIN's sequence number as the
next expected one and answers TACK, flagged "the receiver had lost its state" for every
TRAIN of that training (same tag), so that the sender knows. A TRAIN from a reset sender
(flag "fresh") also rebases a trained RX; if that cuts an image (the last accepted frame
did not end with ``tlast``) ``stat_loss`` counts it. A TRAIN without the flag (a retrain)
keeps all state.
"""

from myhdl import Signal, always, always_comb, always_seq, block, concat, intbv, modbv

from rtl_gen.blocks.link.crc import CRC32, crc_xor
from rtl_gen.blocks.link.framing import (FORWARD_TYPES, SEQ_BITS, T_ACK, T_DATA, T_NAK,
                                         T_TACK, T_TRAIN, T_TREQ)
from rtl_gen.blocks.link.lane_hdl import header_decode, header_encode, lane_output
from rtl_gen.hdl.stream import Stream, skid_buffer

P_HUNT, P_PAY, P_CRC = 0, 1, 2


@block
def link_rx(clk, rst, rx_lane_data, rx_lane_valid, m_axis, tx_lane_data, tx_lane_valid,
            tx_lane_last, tx_lane_ready, stat_link_up, stat_frames_received, stat_crc_errors,
            stat_naks, stat_frames_dropped, stat_retrains, stat_far_resets, stat_loss, cfg):
    W, D, SB, N = cfg.lane_bits, cfg.stream_bits, cfg.beat_bits, cfg.max_frame
    KMAX = cfg.kmax
    BW = W + D
    C = cfg.rx_slots
    CB = C.bit_length() - 1
    WORDS = C * N
    TI = cfg.train_interval
    KA = cfg.keepalive
    HALF = 1 << (SEQ_BITS - 1)
    CRC_INIT = CRC32.init
    LB = max(1, (N - 1).bit_length())   # L - 1
    KB = max(1, KMAX.bit_length())      # k
    DW = KB + LB                        # descriptor: (k, L - 1)

    # ---------------- forward lane in: decode and CRC --------------------------------
    fq_data = Signal(intbv(0)[W:])
    fq_valid = Signal(bool(0))
    h_ok = Signal(bool(0))
    h_type = Signal(intbv(0)[4:])
    h_flag = Signal(bool(0))
    h_seq = Signal(intbv(0)[12:])
    h_aux = Signal(intbv(0)[LB:])
    h_k = Signal(intbv(0)[KB:])
    h_tag = Signal(intbv(0)[4:])
    p_state = Signal(intbv(0, min=0, max=3))
    crc_run = Signal(intbv(0)[32:])
    crc_sel = Signal(intbv(0)[32:])
    crc_nx = Signal(intbv(0)[32:])
    crc_expect = Signal(intbv(0)[32:])

    @always_seq(clk.posedge, reset=rst)
    def lane_in():
        fq_valid.next = rx_lane_valid
        fq_data.next = rx_lane_data

    dec = header_decode(fq_data, h_ok, h_type, h_flag, h_seq, h_aux, h_k, h_tag,
                        FORWARD_TYPES, cfg)

    @always_comb
    def crc_inputs():
        if p_state == P_HUNT:
            crc_sel.next = intbv(CRC_INIT)[32:]
        else:
            crc_sel.next = crc_run
        crc_expect.next = ~crc_run

    step = crc_xor(fq_data, crc_nx, CRC32, crc_in=crc_sel)

    # ---------------- receive buffer and descriptors ---------------------------------
    ram = [Signal(intbv(0)[W:]) for _ in range(WORDS)]
    ram_we = Signal(bool(0))
    ram_waddr = Signal(intbv(0, min=0, max=WORDS))
    ram_wdata = Signal(intbv(0)[W:])
    ram_q = Signal(intbv(0)[W:])
    rd_en = Signal(bool(0))
    fetch_addr = Signal(intbv(0, min=0, max=WORDS))
    desc = [Signal(intbv(0)[DW:]) for _ in range(C)]
    desc_we = Signal(bool(0))
    desc_waddr = Signal(modbv(0)[CB:])
    desc_wdata = Signal(intbv(0)[DW:])
    desc_q = Signal(intbv(0)[DW:])
    wr_cnt = Signal(modbv(0)[CB + 1:])
    rd_cnt = Signal(modbv(0)[CB + 1:])       # slots freed (their last beat is out)
    f_cnt = Signal(modbv(0)[CB + 1:])        # slot being fetched, or next to fetch
    f_slot = Signal(modbv(0)[CB:])
    f_next_slot = Signal(modbv(0)[CB:])
    descn_q = Signal(intbv(0)[DW:])

    @always_comb
    def slot_of():
        f_slot.next = f_cnt[CB:]
        f_next_slot.next = f_cnt[CB:] + 1

    @always(clk.posedge)
    def ram_write():
        if ram_we:
            ram[ram_waddr].next = ram_wdata

    @always(clk.posedge)
    def ram_read():
        if rd_en:
            ram_q.next = ram[fetch_addr]

    @always(clk.posedge)
    def desc_write():
        if desc_we:
            desc[desc_waddr].next = desc_wdata

    @always(clk.posedge)
    def desc_read():
        desc_q.next = desc[f_slot]
        descn_q.next = desc[f_next_slot]

    # ---------------- status frames on the reverse lane --------------------------------
    rx_fresh = Signal(bool(1))
    tack_fresh = Signal(bool(0))
    expected = Signal(modbv(0)[12:])
    occupied = Signal(modbv(0)[CB + 1:])
    limit = Signal(modbv(0)[12:])
    tack_pending = Signal(bool(0))
    tack_tag = Signal(intbv(0)[4:])
    nak_pending = Signal(bool(0))
    force_ack = Signal(bool(0))
    r_type = Signal(intbv(0)[4:])
    r_flags = Signal(intbv(0)[4:])
    r_k = Signal(intbv(0)[16:])
    r_word = Signal(intbv(0)[W:])
    radv = Signal(bool(0))
    rs2_valid = Signal(bool(0))
    rs2_crc = Signal(bool(0))
    rs2_hdr = Signal(intbv(0)[W:])
    r_crc = Signal(intbv(0)[32:])
    r_crc_inv = Signal(intbv(0)[32:])
    r_out = Signal(intbv(0)[W:])

    @always_comb
    def credits():
        occupied.next = wr_cnt - rd_cnt
        limit.next = expected + C - occupied
        stat_link_up.next = not rx_fresh

    @always_comb
    def status_fields():
        if rx_fresh:
            r_type.next = T_TREQ
        elif tack_pending:
            r_type.next = T_TACK
        elif nak_pending:
            r_type.next = T_NAK
        else:
            r_type.next = T_ACK
        r_flags.next = concat(intbv(0)[3:], tack_fresh)
        r_k.next = concat(intbv(0)[12:], tack_tag)

    renc = header_encode(r_word, r_type, r_flags, expected, limit, r_k)
    rcrc = crc_xor(rs2_hdr, r_crc, CRC32)

    @always_comb
    def status_out():
        r_crc_inv.next = ~r_crc
        if rs2_crc:
            r_out.next = r_crc_inv
        else:
            r_out.next = rs2_hdr

    rlane = lane_output(clk, rst, r_out, rs2_valid, rs2_crc, radv, tx_lane_data,
                        tx_lane_valid, tx_lane_last, tx_lane_ready)

    # ---------------- parser, link state, status sender -------------------------------
    f_type = Signal(intbv(0)[4:])
    f_flag = Signal(bool(0))
    f_seq = Signal(modbv(0)[12:])
    f_k = Signal(intbv(0)[KB:])
    f_lm1 = Signal(intbv(0)[LB:])
    f_tag = Signal(intbv(0)[4:])
    cnt = Signal(intbv(0, min=0, max=N + 1))
    wpos = Signal(intbv(0, min=0, max=N))
    wr_ok = Signal(bool(0))
    wr_base = Signal(intbv(0, min=0, max=WORDS))
    nak_sched = Signal(bool(0))
    mid_image = Signal(bool(0))
    has_data = Signal(bool(0))
    last_tag = Signal(intbv(0)[4:])
    r_state = Signal(bool(0))
    last_e = Signal(modbv(0)[12:])
    last_l = Signal(modbv(0)[12:])
    keep_timer = Signal(intbv(0, min=0, max=KA + 1))
    treq_timer = Signal(intbv(0, min=0, max=TI + 1))

    @always_seq(clk.posedge, reset=rst)
    def control():
        v_d = modbv(0)[12:]

        # --- status sender (first, so that a request raised below waits its turn) ---
        if keep_timer != 0:
            keep_timer.next = keep_timer - 1
        if treq_timer != 0:
            treq_timer.next = treq_timer - 1
        if radv:
            if not r_state:
                if rx_fresh:
                    if treq_timer == 0:
                        rs2_valid.next = True
                        rs2_crc.next = False
                        rs2_hdr.next = r_word
                        r_state.next = True
                        treq_timer.next = TI
                    else:
                        rs2_valid.next = False
                elif (tack_pending or nak_pending or force_ack or keep_timer == 0
                      or expected != last_e or limit != last_l):
                    rs2_valid.next = True
                    rs2_crc.next = False
                    rs2_hdr.next = r_word
                    r_state.next = True
                    last_e.next = expected
                    last_l.next = limit
                    keep_timer.next = KA
                    force_ack.next = False
                    if tack_pending:
                        tack_pending.next = False
                    elif nak_pending:
                        nak_pending.next = False
                        stat_naks.next = stat_naks + 1
                else:
                    rs2_valid.next = False
            else:
                rs2_valid.next = True
                rs2_crc.next = True
                r_state.next = False

        # --- parser ---
        ram_we.next = False
        desc_we.next = False
        if fq_valid:
            if p_state == P_HUNT:
                if h_ok:
                    crc_run.next = crc_nx
                    f_type.next = h_type
                    f_flag.next = h_flag
                    f_seq.next = h_seq
                    f_k.next = h_k
                    f_lm1.next = h_aux
                    f_tag.next = h_tag
                    if h_type == T_DATA:
                        cnt.next = h_aux + 1
                        wpos.next = 0
                        wr_ok.next = occupied < C
                        p_state.next = P_PAY
                    else:
                        p_state.next = P_CRC
            elif p_state == P_PAY:
                crc_run.next = crc_nx
                if wr_ok:
                    ram_we.next = True
                    ram_waddr.next = wr_base + wpos
                    ram_wdata.next = fq_data
                if cnt == 1:
                    p_state.next = P_CRC
                else:
                    wpos.next = wpos + 1
                cnt.next = cnt - 1
            else:
                p_state.next = P_HUNT
                if fq_data != crc_expect:
                    stat_crc_errors.next = stat_crc_errors + 1
                    # NAK once per error (PCIe's NAK_SCHEDULED), and again whenever the
                    # awaited frame itself arrives bad: its header (CRC-8) names it, so
                    # a failed replay is answered at once instead of by the TX's timer
                    if f_type == T_DATA and not rx_fresh and (not nak_sched
                                                              or f_seq == expected):
                        nak_pending.next = True
                        nak_sched.next = True
                elif f_type == T_TRAIN:
                    tack_pending.next = True
                    tack_tag.next = f_tag
                    # TACK's flag: this training found the RX without state (reset);
                    # it holds for every TRAIN of the same training (same tag)
                    if rx_fresh:
                        tack_fresh.next = True
                    elif f_tag != last_tag:
                        tack_fresh.next = False
                    if rx_fresh or f_flag:
                        if (not rx_fresh) and has_data:
                            stat_far_resets.next = stat_far_resets + 1
                            if mid_image:
                                stat_loss.next = stat_loss + 1
                        expected.next = f_seq
                        nak_sched.next = False
                        nak_pending.next = False
                        mid_image.next = False
                        has_data.next = False
                        rx_fresh.next = False
                    elif f_tag != last_tag:
                        stat_retrains.next = stat_retrains + 1
                    last_tag.next = f_tag
                else:
                    v_d[:] = expected - f_seq
                    if rx_fresh:
                        stat_frames_dropped.next = stat_frames_dropped + 1
                    elif v_d == 0 and wr_ok:
                        desc_we.next = True
                        desc_waddr.next = wr_cnt[CB:]
                        desc_wdata.next = concat(f_k, f_lm1)
                        wr_cnt.next = wr_cnt + 1
                        if wr_base == WORDS - N:
                            wr_base.next = 0
                        else:
                            wr_base.next = wr_base + N
                        expected.next = expected + 1
                        nak_sched.next = False
                        mid_image.next = not f_flag
                        has_data.next = True
                        stat_frames_received.next = stat_frames_received + 1
                    elif v_d != 0 and v_d < HALF:
                        stat_frames_dropped.next = stat_frames_dropped + 1
                        force_ack.next = True
                    else:
                        stat_frames_dropped.next = stat_frames_dropped + 1
                        if not nak_sched:
                            nak_pending.next = True
                            nak_sched.next = True

    # ---------------- unpacker: committed slots to m_axis --------------------------------
    # Fetch: reads the committed slots' words in order, one per clock, into ram_q (a
    # one-word stage), tagging a frame's first word with the frame's k; it moves on to
    # the next slot in the cycle after a frame's last word (descn_q: the next slot's
    # descriptor, read ahead). Gearbox: a W + D bit shift register; pops a stream beat
    # when it holds one, takes a word when it has room; a frame's first word waits until
    # the previous frame's last beat pops (in the same cycle at the latest), which drops
    # the padding: no bubble between frames.
    wr_cnt_d1 = Signal(modbv(0)[CB + 1:])
    wr_cnt_d2 = Signal(modbv(0)[CB + 1:])
    f_active = Signal(bool(0))
    f_first = Signal(bool(0))
    f_fresh = Signal(bool(0))
    f_left = Signal(intbv(0, min=0, max=N + 1))
    fetch_k = Signal(intbv(0)[KB:])
    f_base = Signal(intbv(0, min=0, max=WORDS))
    w_valid = Signal(bool(0))
    w_first = Signal(bool(0))
    w_k = Signal(intbv(0)[KB:])
    ubuf = Signal(intbv(0)[BW:])
    ufill = Signal(intbv(0, min=0, max=BW + 1))
    beats_left = Signal(intbv(0, min=0, max=KMAX + 1))
    u_out = Stream(D)
    u_valid = Signal(bool(0))
    pop = Signal(bool(0))
    last_pop = Signal(bool(0))
    consume = Signal(bool(0))
    fill_p = Signal(intbv(0, min=0, max=BW + 1))

    @always_comb
    def unpack_decide():
        u_valid.next = beats_left != 0 and ufill >= SB
        pop.next = beats_left != 0 and ufill >= SB and u_out.tready
        last_pop.next = beats_left == 1 and ufill >= SB and u_out.tready
        if beats_left != 0 and ufill >= SB and u_out.tready:
            fill_p.next = ufill - SB
        else:
            fill_p.next = ufill

    @always_comb
    def unpack_fetch():
        if w_first:
            consume.next = w_valid and (beats_left == 0 or last_pop)
        else:
            consume.next = w_valid and fill_p < SB
        rd_en.next = f_active and (not w_valid or consume)

    @always_comb
    def unpack_out():
        u_out.tvalid.next = u_valid
        u_out.tdata.next = ubuf[D:]
        u_out.tlast.next = ubuf[D]

    @always_seq(clk.posedge, reset=rst)
    def unpack():
        v_buf = intbv(0)[BW:]
        v_fill = intbv(0, min=0, max=BW + 1)
        v_base = intbv(0, min=0, max=WORDS)
        v_next = modbv(0)[CB + 1:]
        v_next[:] = f_cnt + 1
        wr_cnt_d1.next = wr_cnt
        wr_cnt_d2.next = wr_cnt_d1
        f_fresh.next = False
        # --- fetch ---
        if f_base == WORDS - N:
            v_base[:] = 0
        else:
            v_base[:] = f_base + N
        if rd_en:
            w_valid.next = True
            w_first.next = f_first
            w_k.next = fetch_k
            f_first.next = False
            f_left.next = f_left - 1
            fetch_addr.next = fetch_addr + 1
            if f_left == 1:
                f_cnt.next = v_next
                f_fresh.next = True
                f_base.next = v_base
                if v_next != wr_cnt_d2 and not f_fresh:
                    f_left.next = descn_q[LB:] + 1
                    fetch_k.next = descn_q[KB + LB:LB]
                    f_first.next = True
                    fetch_addr.next = v_base
                else:
                    f_active.next = False
        elif consume:
            w_valid.next = False
        if not f_active and not f_fresh and f_cnt != wr_cnt_d2:
            f_active.next = True
            f_left.next = desc_q[LB:] + 1
            fetch_k.next = desc_q[KB + LB:LB]
            f_first.next = True
            fetch_addr.next = f_base
        # --- gearbox ---
        v_buf[:] = ubuf
        v_fill[:] = ufill
        if pop:
            v_buf[:] = ubuf >> SB
            v_fill[:] = ufill - SB
            beats_left.next = beats_left - 1
        if last_pop:
            rd_cnt.next = rd_cnt + 1
            v_buf[:] = 0
            v_fill[:] = 0
        if consume:
            if w_first:
                v_buf[:] = ram_q
                v_fill[:] = W
                beats_left.next = w_k
            else:
                v_buf[:] = v_buf | (ram_q << v_fill)
                v_fill[:] = v_fill + W
        ubuf.next = v_buf
        ufill.next = v_fill

    out = skid_buffer(clk, rst, u_out, m_axis)

    return (lane_in, dec, crc_inputs, step, slot_of, ram_write, ram_read, desc_write,
            desc_read, credits, status_fields, renc, rcrc, status_out, rlane, control,
            unpack_decide, unpack_fetch, unpack_out, unpack, out)
