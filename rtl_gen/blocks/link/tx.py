"""Link TX: one AXI-Stream in, the forward lane of a transceiver framing core out.

The sending end of a cut between two FPGAs (``docs/design.md`` section 6; the frame
format is in ``rtl_gen/blocks/link/framing.py``). It packs the stream's beats (``tdata``
with ``tlast`` above it, D + 1 bits) into W-bit lane words, keeps them in a replay buffer
until the receiver acknowledges them, and sends them as CRC-32-protected frames.

Ports (besides ``clk`` and the synchronous active-high ``rst``):

=====================  ====  ========================================================
``s_axis_*``           in    the carried stream: ``tdata`` (D bits), ``tlast``,
                             ``tvalid``/``tready`` (``tready`` from a flip-flop)
``tx_lane_data[W]``    out   forward lane, to the framing core (Aurora: s_axi_tx_tdata)
``tx_lane_valid``      out   (s_axi_tx_tvalid); held with its data until ``ready``
``tx_lane_last``       out   the frame's CRC beat (s_axi_tx_tlast, framing mode only)
``tx_lane_ready``      in    the core accepts a beat (s_axi_tx_tready; low while it
                             inserts idles, e.g. clock compensation)
``rx_lane_data[W]``    in    reverse lane from the receiver (m_axi_rx_tdata): ACK, NAK,
``rx_lane_valid``      in    credits, training (m_axi_rx_tvalid; no ready, as Aurora)
``stat_link_up``       out   trained and sending data
``stat_frames_sent``   out   data frames sent for the first time (32 bits)
``stat_frames_resent`` out   data frames sent again by a replay (32 bits)
``stat_crc_errors``    out   control frames from the receiver with a bad CRC-32 (32)
``stat_retrains``      out   link retrains after ``max_replays`` failed replays (16)
``stat_far_resets``    out   resets of the receiving end seen (16)
``stat_loss``          out   of those, the ones that cost data (16): the stream restarts
                             at the next image (see "Resets" below)
=====================  ====  ========================================================

Packing: a shift register of W + D bits takes one stream beat per clock while it holds
fewer than W bits (after the lane word it writes this cycle), and writes a lane word into
the replay buffer whenever it holds W bits; a frame closes after a ``tlast`` beat, at
``KMAX`` beats, or after ``flush_cycles`` idle input cycles, and its last word is
written padded (an idle input closes a frame only when the sender could send it at once:
nothing queued and credit for it; otherwise it keeps growing, so that a slow producer does
not spend one receive slot per beat). A frame's descriptor (k, L, tlast) goes into a small
RAM indexed by its sequence number.

Replay buffer: ``R = replay_words`` lane words of RAM (written in ``@always`` without
reset, read through a register), sized by ``LinkConfig.replay_words``:

    R >= N * (ceil(T_rt / (N + 2)) + 2),
    T_rt = (N + 2) + 2 * lane_latency + RX_CHECK + ACK_TURNAROUND + TX_PARSE

(the frames a line-rate sender has unacknowledged over one round trip, plus the next
frame and the one being packed, as PCIe sizes its replay buffer from line rate and the
ACK round trip). Frames are freed when acknowledged (a purge walks the descriptors of the
acknowledged frames and advances the buffer's tail by their lengths).

Sending: header, payload words read from the replay buffer, CRC-32 beat (computed at line
rate as the beats go out, one W-bit step per clock), back to back when frames are ready
and the receiver has granted credit (a new frame with sequence s only when
``s < credit_limit``; replays need none). Go-back-N: a NAK (with the receiver's next
expected sequence number) or ``replay_timeout`` cycles without ACK progress restarts
sending at the oldest unacknowledged frame after the frame in progress. The
``max_replays``-th such request without ACK progress (default 4: three replays of one
frame have failed) retrains the link instead of replaying again, as PCIe's REPLAY_NUM
rollover does: TRAIN frames until the receiver answers TACK with its next expected
sequence number, then the replay.

Resets: after its own reset the TX sends TRAIN (fresh: "a new stream starts at sequence
s") until a TACK with the matching tag comes back; only then does data move. A TREQ from
the receiver (it was reset), or a TACK saying so, is a far-side reset: everything not yet
delivered (frames in the replay buffer, the frame being packed) is dropped, the rest of
the current image at the input too (up to its ``tlast``), ``stat_far_resets`` counts it
and ``stat_loss`` as well when anything was not yet delivered (the credit limit tells how
many frames the receiver has handed to its consumer); the link retrains and the stream
continues with the next image. Nothing is ever delivered twice or corrupted: a stream cut
by a reset is reported, not silently spliced.

Latency (no lane delay, idle link, frame closed by ``tlast``): see ``LinkConfig`` and the
bench (``bench/results.md``, link section).
"""

from myhdl import Signal, always, always_comb, always_seq, block, concat, intbv, modbv

from rtl_gen.blocks.link.crc import CRC32, crc_xor
from rtl_gen.blocks.link.framing import (REVERSE_TYPES, SEQ_BITS, T_ACK, T_DATA, T_NAK,
                                         T_TACK, T_TRAIN, T_TREQ)
from rtl_gen.blocks.link.lane_hdl import header_decode, header_encode, lane_output

K_HDR, K_PAY, K_CRC = 0, 1, 2
S_IDLE, S_PAY, S_CRC = 0, 1, 2


def _bits(n):
    """Bits of an unsigned counter holding 0..n."""
    return max(1, int(n).bit_length())


@block
def link_tx(clk, rst, s_axis, tx_lane_data, tx_lane_valid, tx_lane_last, tx_lane_ready,
            rx_lane_data, rx_lane_valid, stat_link_up, stat_frames_sent, stat_frames_resent,
            stat_crc_errors, stat_retrains, stat_far_resets, stat_loss, cfg):
    W, D, SB, N = cfg.lane_bits, cfg.stream_bits, cfg.beat_bits, cfg.max_frame
    KMAX = cfg.kmax
    BW = W + D
    R = cfg.replay_words
    RB = R.bit_length() - 1
    F = cfg.descriptors
    FB = F.bit_length() - 1
    C = cfg.rx_slots
    TIMEOUT = cfg.replay_timeout
    FLUSH = cfg.flush_cycles
    TI = cfg.train_interval
    MAXR = cfg.max_replays
    LB = max(1, (N - 1).bit_length())   # L - 1
    KB = max(1, KMAX.bit_length())      # k
    HALF = 1 << (SEQ_BITS - 1)
    CRC_INIT = CRC32.init

    # ---------------- reverse lane: control frames from the receiver ------------------
    rq_data = Signal(intbv(0)[W:])
    rq_valid = Signal(bool(0))
    rh_ok = Signal(bool(0))
    rh_type = Signal(intbv(0)[4:])
    rh_flag = Signal(bool(0))
    rh_seq = Signal(intbv(0)[12:])
    rh_aux = Signal(intbv(0)[12:])
    rh_tag = Signal(intbv(0)[4:])
    rh_crc = Signal(intbv(0)[32:])
    c_state = Signal(bool(0))
    c_crc = Signal(intbv(0)[32:])
    c_type = Signal(intbv(0)[4:])
    c_flag = Signal(bool(0))
    c_seq = Signal(modbv(0)[12:])
    c_aux = Signal(modbv(0)[12:])
    c_tag = Signal(intbv(0)[4:])
    ctl_valid = Signal(bool(0))
    ctl_type = Signal(intbv(0)[4:])
    ctl_flag = Signal(bool(0))
    ctl_seq = Signal(modbv(0)[12:])
    ctl_aux = Signal(modbv(0)[12:])
    ctl_tag = Signal(intbv(0)[4:])
    c_expect = Signal(intbv(0)[32:])

    @always_seq(clk.posedge, reset=rst)
    def rev_in():
        rq_valid.next = rx_lane_valid
        rq_data.next = rx_lane_data

    rdec = header_decode(rq_data, rh_ok, rh_type, rh_flag, rh_seq, rh_aux, None, rh_tag,
                         REVERSE_TYPES)
    rcrc = crc_xor(rq_data, rh_crc, CRC32)

    @always_comb
    def rev_expect():
        c_expect.next = ~c_crc

    @always_seq(clk.posedge, reset=rst)
    def rev_parse():
        ctl_valid.next = False
        if rq_valid:
            if not c_state:
                if rh_ok:
                    c_state.next = True
                    c_crc.next = rh_crc
                    c_type.next = rh_type
                    c_flag.next = rh_flag
                    c_seq.next = rh_seq
                    c_aux.next = rh_aux
                    c_tag.next = rh_tag
            else:
                c_state.next = False
                if rq_data == c_expect:
                    ctl_valid.next = True
                    ctl_type.next = c_type
                    ctl_flag.next = c_flag
                    ctl_seq.next = c_seq
                    ctl_aux.next = c_aux
                    ctl_tag.next = c_tag
                else:
                    stat_crc_errors.next = stat_crc_errors + 1

    # ---------------- replay buffer and descriptors -----------------------------------
    ram = [Signal(intbv(0)[W:]) for _ in range(R)]
    ram_we = Signal(bool(0))
    ram_waddr = Signal(modbv(0)[RB:])
    ram_wdata = Signal(intbv(0)[W:])
    ram_q = Signal(intbv(0)[W:])
    snd_addr = Signal(modbv(0)[RB:])
    adv = Signal(bool(0))

    # descriptors, by sequence number modulo F: L - 1, and (ends with tlast, k)
    lens = [Signal(intbv(0)[LB:]) for _ in range(F)]
    metas = [Signal(intbv(0)[KB + 1:]) for _ in range(F)]
    info_we = Signal(bool(0))
    info_waddr = Signal(modbv(0)[FB:])
    len_wdata = Signal(intbv(0)[LB:])
    meta_wdata = Signal(intbv(0)[KB + 1:])
    len_q = Signal(intbv(0)[LB:])
    meta_q = Signal(intbv(0)[KB + 1:])
    plen_q = Signal(intbv(0)[LB:])
    send_seq = Signal(modbv(0)[12:])
    purge_seq = Signal(modbv(0)[12:])
    send_slot = Signal(modbv(0)[FB:])
    purge_slot = Signal(modbv(0)[FB:])

    @always_comb
    def slots():
        send_slot.next = send_seq[FB:]
        purge_slot.next = purge_seq[FB:]

    @always(clk.posedge)
    def ram_write():
        if ram_we:
            ram[ram_waddr].next = ram_wdata

    @always(clk.posedge)
    def ram_read():
        if adv:
            ram_q.next = ram[snd_addr]

    @always(clk.posedge)
    def info_write():
        if info_we:
            lens[info_waddr].next = len_wdata
            metas[info_waddr].next = meta_wdata

    @always(clk.posedge)
    def info_read():
        len_q.next = lens[send_slot]
        meta_q.next = metas[send_slot]

    @always(clk.posedge)
    def purge_read():
        plen_q.next = lens[purge_slot]

    # ---------------- sender pipeline: stage 2 -> lane output -------------------------
    s2_valid = Signal(bool(0))
    s2_kind = Signal(intbv(0, min=0, max=3))
    s2_hdr = Signal(intbv(0)[W:])
    crc_reg = Signal(intbv(0)[32:])
    crc_sel = Signal(intbv(0)[32:])
    crc_nx = Signal(intbv(0)[32:])
    out_data = Signal(intbv(0)[W:])
    out_last = Signal(bool(0))
    crc_inv = Signal(intbv(0)[32:])

    @always_comb
    def crc_final():
        crc_inv.next = ~crc_reg

    @always_comb
    def out_mux():
        if s2_kind == K_HDR:
            out_data.next = s2_hdr
            crc_sel.next = intbv(CRC_INIT)[32:]
        elif s2_kind == K_PAY:
            out_data.next = ram_q
            crc_sel.next = crc_reg
        else:
            out_data.next = crc_inv
            crc_sel.next = crc_reg
        out_last.next = s2_kind == K_CRC

    step = crc_xor(out_data, crc_nx, CRC32, crc_in=crc_sel)
    lane = lane_output(clk, rst, out_data, s2_valid, out_last, adv, tx_lane_data,
                       tx_lane_valid, tx_lane_last, tx_lane_ready)

    # ---------------- header of the next frame to send --------------------------------
    link_up = Signal(bool(0))
    tx_fresh = Signal(bool(1))
    train_tag = Signal(modbv(0)[4:])
    ack_seq = Signal(modbv(0)[12:])
    h_type = Signal(intbv(0)[4:])
    h_flags = Signal(intbv(0)[4:])
    h_seq = Signal(intbv(0)[12:])
    h_aux = Signal(intbv(0)[12:])
    h_k = Signal(intbv(0)[16:])
    h_word = Signal(intbv(0)[W:])

    @always_comb
    def next_header():
        if link_up:
            h_type.next = T_DATA
            h_flags.next = concat(intbv(0)[3:], meta_q[KB])
            h_seq.next = send_seq
            h_aux.next = len_q
            h_k.next = meta_q[KB:]
        else:
            h_type.next = T_TRAIN
            h_flags.next = concat(intbv(0)[3:], tx_fresh)
            h_seq.next = ack_seq
            h_aux.next = 0
            h_k.next = concat(intbv(0)[12:], train_tag)

    henc = header_encode(h_word, h_type, h_flags, h_seq, h_aux, h_k)

    # ---------------- the control process ---------------------------------------------
    in_ready = Signal(bool(0))
    pk_buf = Signal(intbv(0)[BW:])
    fill = Signal(intbv(0, min=0, max=BW + 1))
    kcnt = Signal(intbv(0, min=0, max=KMAX + 1))
    open_len = Signal(intbv(0, min=0, max=N + 1))
    closing = Signal(bool(0))
    idle_cnt = Signal(intbv(0, min=0, max=FLUSH + 1))
    mid_image = Signal(bool(0))
    drop_mode = Signal(bool(0))
    wr_ptr = Signal(modbv(0)[RB + 1:])
    tail = Signal(modbv(0)[RB + 1:])
    open_seq = Signal(modbv(0)[12:])
    packed_d1 = Signal(modbv(0)[12:])
    packed_d2 = Signal(modbv(0)[12:])
    max_sent = Signal(modbv(0)[12:])
    credit_limit = Signal(modbv(0)[12:])
    purge_wait = Signal(bool(0))
    replay_req = Signal(bool(0))
    replay_num = Signal(intbv(0, min=0, max=MAXR + 1))
    rtimer = Signal(intbv(0, min=0, max=TIMEOUT + 1))
    train_timer = Signal(intbv(0, min=0, max=TI + 1))
    s_state = Signal(intbv(0, min=0, max=3))
    cur_left = Signal(intbv(0, min=0, max=N + 1))
    settle = Signal(bool(0))

    @always_comb
    def in_handshake():
        s_axis.tready.next = in_ready
        stat_link_up.next = link_up

    @always_seq(clk.posedge, reset=rst)
    def control():
        v_ack = modbv(0)[12:]
        v_d1 = modbv(0)[12:]
        v_d2 = modbv(0)[12:]
        v_wr = modbv(0)[RB + 1:]
        v_tail = modbv(0)[RB + 1:]
        v_fill = intbv(0, min=0, max=BW + 1)
        v_buf = intbv(0)[BW:]
        v_k = intbv(0, min=0, max=KMAX + 1)
        v_len = intbv(0, min=0, max=N + 1)
        v_open = modbv(0)[12:]
        v_closing = bool(0)
        v_mid = bool(0)
        v_drop = bool(0)
        v_trigger = bool(0)
        v_clear = bool(0)
        v_up = bool(0)
        v_purge = modbv(0)[12:]
        v_kk = intbv(0)[KB:]
        v_lm1 = intbv(0)[LB:]
        v_end = bool(0)

        v_ack[:] = ack_seq
        v_up = bool(link_up)
        v_trigger = False
        v_clear = False

        # --- control frames from the receiver ---
        if ctl_valid:
            if ctl_type == T_TREQ:
                if not tx_fresh:
                    v_clear = True
                    v_up = False
            elif ctl_type == T_TACK:
                if (not link_up) and ctl_tag == train_tag:
                    credit_limit.next = ctl_aux
                    v_up = True
                    if tx_fresh:
                        tx_fresh.next = False
                    elif ctl_flag:
                        v_clear = True
                    else:
                        v_d1[:] = ctl_seq - ack_seq
                        v_d2[:] = max_sent - ack_seq
                        if v_d1 <= v_d2:
                            v_ack[:] = ctl_seq
                        if v_ack != max_sent:
                            replay_req.next = True
                        replay_num.next = 0
                        rtimer.next = 0
            elif ctl_type == T_ACK or ctl_type == T_NAK:
                if link_up:
                    v_d1[:] = ctl_seq - ack_seq
                    v_d2[:] = max_sent - ack_seq
                    if v_d1 <= v_d2 and v_d1 != 0:
                        v_ack[:] = ctl_seq
                        rtimer.next = 0
                        replay_num.next = 0
                    v_d1[:] = ctl_aux - credit_limit
                    if v_d1 != 0 and v_d1 < HALF:
                        credit_limit.next = ctl_aux
                    if ctl_type == T_NAK and v_ack != max_sent:
                        v_trigger = True
        ack_seq.next = v_ack

        # --- replay timer ---
        if link_up and v_ack != max_sent and not replay_req and v_ack == ack_seq:
            if rtimer == TIMEOUT:
                v_trigger = True
            else:
                rtimer.next = rtimer + 1
        if v_trigger and v_up:
            rtimer.next = 0
            if replay_num == MAXR - 1:
                v_up = False
                replay_num.next = 0
                replay_req.next = False
                train_tag.next = train_tag + 1
                train_timer.next = 0
                stat_retrains.next = stat_retrains + 1
            else:
                replay_num.next = replay_num + 1
                replay_req.next = True
        link_up.next = v_up

        # --- purge: free acknowledged frames (one per two cycles) ---
        v_tail[:] = tail
        v_purge[:] = purge_seq
        if purge_wait:
            purge_wait.next = False
        elif purge_seq != ack_seq:
            v_tail[:] = tail + plen_q + 1
            v_purge[:] = purge_seq + 1
            purge_wait.next = True
        tail.next = v_tail
        purge_seq.next = v_purge

        # --- packer ---
        v_wr[:] = wr_ptr
        v_fill[:] = fill
        v_buf[:] = pk_buf
        v_k[:] = kcnt
        v_len[:] = open_len
        v_open[:] = open_seq
        v_closing = bool(closing)
        v_mid = bool(mid_image)
        v_drop = bool(drop_mode)
        ram_we.next = False
        info_we.next = False
        if (wr_ptr[RB] == tail[RB] or wr_ptr[RB:] != tail[RB:]) and (
                fill >= W or (closing and fill != 0)):
            ram_we.next = True
            ram_waddr.next = wr_ptr[RB:]
            ram_wdata.next = pk_buf[W:]
            v_wr[:] = wr_ptr + 1
            v_len[:] = open_len + 1
            v_buf[:] = pk_buf >> W
            if fill >= W:
                v_fill[:] = fill - W
            else:
                v_fill[:] = 0
        if s_axis.tvalid and in_ready:
            if drop_mode:
                if s_axis.tlast:
                    v_drop = False
            else:
                v_buf[:] = v_buf | (concat(s_axis.tlast, s_axis.tdata) << v_fill)
                v_fill[:] = v_fill + SB
                v_k[:] = kcnt + 1
                v_mid = not bool(s_axis.tlast)
                idle_cnt.next = 0
                if s_axis.tlast or kcnt == KMAX - 1:
                    v_closing = True
        elif kcnt != 0 and not closing:
            # An idle input closes a partial frame only when the sender could send it at
            # once (nothing queued, credit for it); otherwise the frame keeps growing, so a
            # slow producer does not spend a receive slot per beat.
            v_d1[:] = credit_limit - open_seq
            if idle_cnt == FLUSH - 1:
                if link_up and send_seq == open_seq and v_d1 != 0 and v_d1 < HALF:
                    v_closing = True
                    idle_cnt.next = 0
            else:
                idle_cnt.next = idle_cnt + 1
        if v_closing and v_fill == 0:
            info_we.next = True
            info_waddr.next = open_seq[FB:]
            v_kk[:] = v_k
            v_lm1[:] = v_len[LB:] - 1   # modulo 2**LB: L = N = 2**LB gives N - 1
            v_end = not v_mid
            len_wdata.next = v_lm1
            meta_wdata.next = concat(v_end, v_kk)
            v_open[:] = open_seq + 1
            v_k[:] = 0
            v_len[:] = 0
            v_closing = False
        packed_d1.next = open_seq
        packed_d2.next = packed_d1

        # --- sender: pick the next beat (when the lane stage can take one) ---
        if settle:
            settle.next = False
        if train_timer != 0:
            train_timer.next = train_timer - 1
        if adv:
            if s_state == S_IDLE:
                v_d1[:] = send_seq - ack_seq
                v_d2[:] = credit_limit - send_seq
                if settle:
                    s2_valid.next = False
                elif not link_up:
                    if train_timer == 0:
                        s2_valid.next = True
                        s2_kind.next = K_HDR
                        s2_hdr.next = h_word
                        s_state.next = S_CRC
                        train_timer.next = TI
                    else:
                        s2_valid.next = False
                elif replay_req or v_d1 >= HALF:
                    s2_valid.next = False
                    if purge_seq == ack_seq and not purge_wait:
                        send_seq.next = ack_seq
                        snd_addr.next = tail[RB:]
                        replay_req.next = False
                        rtimer.next = 0
                        settle.next = True
                elif send_seq != packed_d2 and (send_seq != max_sent or
                                                (v_d2 != 0 and v_d2 < HALF)):
                    s2_valid.next = True
                    s2_kind.next = K_HDR
                    s2_hdr.next = h_word
                    cur_left.next = len_q + 1
                    s_state.next = S_PAY
                    send_seq.next = send_seq + 1
                    if send_seq == max_sent:
                        max_sent.next = max_sent + 1
                        stat_frames_sent.next = stat_frames_sent + 1
                    else:
                        stat_frames_resent.next = stat_frames_resent + 1
                else:
                    s2_valid.next = False
            elif s_state == S_PAY:
                s2_valid.next = True
                s2_kind.next = K_PAY
                snd_addr.next = snd_addr + 1
                cur_left.next = cur_left - 1
                if cur_left == 1:
                    s_state.next = S_CRC
            else:
                s2_valid.next = True
                s2_kind.next = K_CRC
                s_state.next = S_IDLE
            if s2_valid and s2_kind != K_CRC:
                crc_reg.next = crc_nx

        # --- far-side reset: drop everything not yet delivered, retrain ---
        if v_clear:
            stat_far_resets.next = stat_far_resets + 1
            v_d1[:] = credit_limit - C
            if kcnt != 0 or closing or mid_image or open_seq != v_d1:
                stat_loss.next = stat_loss + 1
            v_drop = bool(drop_mode) or mid_image
            v_mid = False
            v_wr[:] = 0
            tail.next = 0
            v_fill[:] = 0
            v_buf[:] = 0
            v_k[:] = 0
            v_len[:] = 0
            v_closing = False
            idle_cnt.next = 0
            v_open[:] = v_ack
            packed_d1.next = v_ack
            packed_d2.next = v_ack
            send_seq.next = v_ack
            max_sent.next = v_ack
            purge_seq.next = v_ack
            purge_wait.next = False
            replay_req.next = True      # the sender restarts at the (new) buffer start
            replay_num.next = 0
            rtimer.next = 0
            settle.next = True
            info_we.next = False
            if not v_up:
                tx_fresh.next = True
                train_timer.next = 0

        wr_ptr.next = v_wr
        fill.next = v_fill
        pk_buf.next = v_buf
        kcnt.next = v_k
        open_len.next = v_len
        open_seq.next = v_open
        closing.next = v_closing
        mid_image.next = v_mid
        drop_mode.next = v_drop

        # --- input ready for the next cycle ---
        v_d1[:] = v_open - v_purge
        if v_clear:
            in_ready.next = False
        elif v_drop:
            in_ready.next = True
        elif v_closing or (v_k == 0 and v_d1 > F - 2):
            in_ready.next = False
        elif v_fill < W:
            in_ready.next = True
        elif v_fill < 2 * W and (v_wr[RB] == v_tail[RB] or v_wr[RB:] != v_tail[RB:]):
            in_ready.next = True
        else:
            in_ready.next = False

    return (rev_in, rdec, rcrc, rev_expect, crc_final, rev_parse, slots, ram_write, ram_read,
            info_write, info_read, purge_read, out_mux, step, lane, next_header, henc,
            in_handshake, control)
