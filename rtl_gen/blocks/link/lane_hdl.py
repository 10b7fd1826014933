"""MyHDL pieces both link ends share: header decode and encode (``framing.py`` has the
format), and the lane output stage.

``header_decode`` looks at one lane beat and says whether it is a well-formed header of
one of the given frame types (magic, CRC-8 header check, zero upper bits, and for a data
frame ``1 <= L <= N``, ``1 <= k <= KMAX`` and ``(L - 1) * W < k * (D + 1) <= L * W``),
with its fields. ``header_encode`` builds a header beat from its fields (the CRC-8 as XOR
trees). ``lane_output`` is a ``skid_buffer`` in front of the framing core: registered
``valid``/``data``/``last`` (``last`` marks a frame's CRC beat, for a core in framing
mode), registered ready towards the sender.
"""

from myhdl import Signal, always_comb, block, concat, intbv

from rtl_gen.blocks.link.crc import CRC8, crc_xor
from rtl_gen.blocks.link.framing import MAGIC, T_DATA
from rtl_gen.hdl.stream import Stream, skid_buffer


@block
def header_decode(word, ok, ftype, flag, seq, aux, k, tag, types, cfg=None):
    """``ok`` when ``word`` is a header of a type in ``types`` (a data frame's lengths
    checked against ``cfg`` when given); the fields are valid when ``ok``: ``flag`` is
    flags bit 0, ``aux``, ``k`` and ``tag`` (k's low 4 bits) take as many low bits of
    their field as they are wide (``k`` or ``tag`` may be None: not needed)."""
    width = len(word)
    check = Signal(intbv(0)[8:])
    body = Signal(intbv(0)[56:])
    upper_zero = Signal(bool(0))
    type_ok = Signal(bool(0))
    len_ok = Signal(bool(0))
    t_lo, t_hi = min(types), max(types)
    assert list(types) == list(range(t_lo, t_hi + 1)), "types must be consecutive"

    aux_hi = 24 + len(aux)

    @always_comb
    def split():
        body.next = word[64:8]
        ftype.next = word[56:52]
        flag.next = word[48]
        seq.next = word[48:36]
        aux.next = word[aux_hi:24]

    crc = crc_xor(body, check, CRC8)

    @always_comb
    def kinds():
        type_ok.next = word[56:52] >= t_lo and word[56:52] <= t_hi

    parts = [split, crc, kinds]
    if k is not None:
        k_hi = 8 + len(k)

        @always_comb
        def k_field():
            k.next = word[k_hi:8]
        parts.append(k_field)
    if tag is not None:
        @always_comb
        def tag_field():
            tag.next = word[12:8]
        parts.append(tag_field)
    if width > 64:
        @always_comb
        def upper():
            upper_zero.next = word[width:64] == 0
        parts.append(upper)

    if cfg is not None:
        kmax, nmax, lane, bb = cfg.kmax, cfg.max_frame, cfg.lane_bits, cfg.beat_bits
        kbits = Signal(intbv(0)[32:])
        lbits = Signal(intbv(0)[32:])

        @always_comb
        def products():
            kbits.next = word[24:8] * bb
            lbits.next = word[36:24] * lane

        @always_comb
        def lengths():
            if word[56:52] != T_DATA:
                len_ok.next = True
            else:
                # aux = L - 1: (L-1)*W < k*SB <= (L-1)*W + W, with L <= N and k <= KMAX
                len_ok.next = (word[24:8] != 0 and word[24:8] <= kmax
                               and word[36:24] < nmax and kbits > lbits
                               and kbits <= lbits + lane)
        parts += [products, lengths]

    if width > 64 and cfg is not None:
        @always_comb
        def decide():
            ok.next = (word[64:56] == MAGIC and check == word[8:0] and type_ok
                       and upper_zero and len_ok)
    elif width > 64:
        @always_comb
        def decide():
            ok.next = word[64:56] == MAGIC and check == word[8:0] and type_ok and upper_zero
    elif cfg is not None:
        @always_comb
        def decide():
            ok.next = word[64:56] == MAGIC and check == word[8:0] and type_ok and len_ok
    else:
        @always_comb
        def decide():
            ok.next = word[64:56] == MAGIC and check == word[8:0] and type_ok
    parts.append(decide)
    return parts


@block
def header_encode(word, ftype, flags, seq, aux, k):
    """``word`` (W bits) = the header beat with these fields and its CRC-8."""
    width = len(word)
    body = Signal(intbv(0)[56:])
    check = Signal(intbv(0)[8:])

    @always_comb
    def assemble():
        body.next = concat(intbv(MAGIC)[8:], ftype, flags, seq, aux, k)

    crc = crc_xor(body, check, CRC8)

    if width > 64:
        @always_comb
        def place():
            word.next = concat(intbv(0)[width - 64:], body, check)
    else:
        @always_comb
        def place():
            word.next = concat(body, check)

    return assemble, crc, place


@block
def lane_output(clk, rst, data, valid, last, ready_out, lane_data, lane_valid, lane_last,
                lane_ready):
    """A skid buffer between the sender's last pipeline stage (``data``/``valid``/``last``,
    ``ready_out`` registered) and the framing core's user interface."""
    width = len(data)
    s = Stream(width)
    m = Stream(width)

    @always_comb
    def into():
        s.tdata.next = data
        s.tvalid.next = valid
        s.tlast.next = last
        ready_out.next = s.tready

    skid = skid_buffer(clk, rst, s, m)

    @always_comb
    def out():
        lane_data.next = m.tdata
        lane_valid.next = m.tvalid
        lane_last.next = m.tlast
        m.tready.next = lane_ready

    return into, skid, out
