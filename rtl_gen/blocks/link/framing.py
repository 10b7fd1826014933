"""The link protocol's frame format, its sizing formulas and a software model of both.

Everything here is plain Python: the TX and RX generators take their constants from it,
and the testbenches and the bench decode lane traffic with it (checking every frame's
CRC-32 against ``zlib.crc32``).

Frames (all on one lane of W >= 64 bits, W a multiple of 8; a lane beat moves when its
``valid`` is high and, on the sending side, the framing core's ``ready`` is high):

- **data frame**: a header beat, L payload beats (1 <= L <= N), a CRC beat.
- **control frame**: a header beat and a CRC beat (no payload).

Header beat (bits above 63 are zero):

==========  ======  ===========================================================
bits        field   meaning
==========  ======  ===========================================================
[63:56]     magic   0xD5
[55:52]     type    1 DATA, 2 TRAIN (TX to RX); 3 ACK, 4 NAK, 5 TREQ, 6 TACK (RX to TX)
[51:48]     flags   bit 48: DATA the frame ends with a ``tlast`` beat; TRAIN the sender
                    starts a new stream (it was reset); TACK the receiver was reset
[47:36]     seq     DATA/TRAIN: the frame's (TRAIN: the next) sequence number;
                    ACK/NAK/TACK: the receiver's next expected sequence number
[35:24]     aux     DATA: L - 1; ACK/NAK/TACK: the credit limit (frames with seq below
                    it may be sent)
[23:8]      k       DATA: stream beats in the frame; TRAIN/TACK: bits [11:8] the
                    training tag
[7:0]       hcheck  CRC-8 (0x07) of bits [63:8]
==========  ======  ===========================================================

CRC beat: bits [31:0] the IEEE CRC-32 (``zlib.crc32``) of the header and payload beats,
each beat as W/8 little-endian bytes; the bits above are zero. Sequence numbers are 12
bits and wrap.

Payload: each stream beat is ``tdata`` with ``tlast`` above it (D + 1 bits, D the stream
width); the beats of a frame are concatenated, the first in the lowest bits, and cut
into W-bit lane beats, so a stream beat may straddle two lane beats and only the last
lane beat of a frame has unused (zero) bits. A frame holds at most
``KMAX = floor(N * W / (D + 1))`` stream beats; the sender closes it early at a ``tlast``
beat or when its input has been idle for ``flush_cycles`` cycles. The header's k and L
agree: ``(L - 1) * W < k * (D + 1) <= L * W``.
"""

import math
from dataclasses import dataclass

from rtl_gen.blocks.link.crc import CRC8, crc32_words

MAGIC = 0xD5
T_DATA, T_TRAIN, T_ACK, T_NAK, T_TREQ, T_TACK = 1, 2, 3, 4, 5, 6
TYPE_NAMES = {T_DATA: "DATA", T_TRAIN: "TRAIN", T_ACK: "ACK", T_NAK: "NAK", T_TREQ: "TREQ",
              T_TACK: "TACK"}
FORWARD_TYPES = (T_DATA, T_TRAIN)
REVERSE_TYPES = (T_ACK, T_NAK, T_TREQ, T_TACK)
SEQ_BITS = 12
SEQ_MOD = 1 << SEQ_BITS
MAX_FRAME = 256          # payload lane beats per frame (the aux field holds 12 bits)
MAX_K = (1 << 16) - 1    # stream beats per frame (the k field)
MIN_LANE_BITS = 64
MAX_LANE_BITS = 1024
MAX_STREAM_BITS = 4096   # tdata bits of the carried stream

# Pipeline constants of the generated TX and RX (cycles), used by the sizing formulas.
TX_PARSE_CYCLES = 4      # reverse lane: input register, header, CRC beat, action
RX_CHECK_CYCLES = 3      # forward lane: input register, CRC beat compare, commit
ACK_TURNAROUND = 5       # waiting for a status frame in progress (2 beats) + 3 registers
UNPACK_EXTRA = 4         # RX: descriptor load and output register per frame


def header_check(hdr64):
    """CRC-8 of bits [63:8] of a header."""
    return CRC8.step_word(CRC8.init, hdr64 >> 8, 56)


def make_header(ftype, seq=0, aux=0, k=0, flags=0):
    """The 64-bit header value (upper lane bits are zero)."""
    h = (MAGIC << 56) | (ftype << 52) | ((flags & 0xF) << 48) | ((seq % SEQ_MOD) << 36) \
        | ((aux % SEQ_MOD) << 24) | ((k & 0xFFFF) << 8)
    return h | header_check(h)


@dataclass(frozen=True)
class Header:
    ftype: int
    flags: int
    seq: int
    aux: int
    k: int

    @property
    def length(self):
        return self.aux + 1

    @property
    def name(self):
        return TYPE_NAMES.get(self.ftype, f"type{self.ftype}")


def parse_header(word, lane_bits):
    """A :class:`Header` if ``word`` is a well-formed header beat, else None."""
    if word >> 64 or (word >> 56) & 0xFF != MAGIC or header_check(word) != word & 0xFF:
        return None
    h = Header(ftype=(word >> 52) & 0xF, flags=(word >> 48) & 0xF, seq=(word >> 36) & 0xFFF,
               aux=(word >> 24) & 0xFFF, k=(word >> 8) & 0xFFFF)
    return h if h.ftype in TYPE_NAMES else None


def crc_beat(words, lane_bits):
    return crc32_words(words, lane_bits)


@dataclass(frozen=True)
class LinkConfig:
    """The parameters both ends of one link must share, and what follows from them.

    ``lane_bits`` W, ``stream_bits`` D (tdata width of the carried stream),
    ``max_frame`` N (payload lane beats per frame), ``lane_latency`` (cycles one way
    through the framing cores and the cable, an upper estimate: the buffers are sized
    for it; a longer lane still works, at lower goodput).
    """

    lane_bits: int = 64
    stream_bits: int = 64
    max_frame: int = 256
    lane_latency: int = 64
    flush_cycles: int = 32
    max_replays: int = 4
    train_interval: int = 16
    keepalive: int = 64

    # --- payload packing -------------------------------------------------------------
    @property
    def beat_bits(self):
        """Bits of one stream beat on the lane: tdata and tlast."""
        return self.stream_bits + 1

    @property
    def kmax(self):
        return min(self.max_frame * self.lane_bits // self.beat_bits, MAX_K)

    def lane_beats(self, k):
        """Payload lane beats of a frame of ``k`` stream beats."""
        return -(-k * self.beat_bits // self.lane_bits)

    # --- sizing (PCIe data link layer style) ------------------------------------------
    @property
    def frame_cycles(self):
        """Lane cycles of a full data frame: header, N payload beats, CRC."""
        return self.max_frame + 2

    @property
    def round_trip(self):
        """Cycles from the first beat of a full frame leaving the TX to its ACK being
        acted on at the TX:

        ``T_rt = (N + 2) + 2 * lane_latency + RX_CHECK + ACK_TURNAROUND + TX_PARSE``

        (the frame itself, the lane both ways, the receiver's CRC check and commit, the
        wait for the reverse lane and the status frame's two beats, the sender's parse)."""
        return (self.frame_cycles + 2 * self.lane_latency + RX_CHECK_CYCLES
                + ACK_TURNAROUND + TX_PARSE_CYCLES)

    @property
    def frames_in_flight(self):
        """Full frames sent but not yet acknowledged at line rate: ceil(T_rt / (N + 2))."""
        return -(-self.round_trip // self.frame_cycles)

    @property
    def replay_words(self):
        """Replay buffer (lane words), a power of two at least

        ``N * (ceil(T_rt / (N + 2)) + 2)``

        the frames that line rate keeps unacknowledged over one round trip, plus the next
        frame (closed, waiting to be sent) and the one being packed: as PCIe sizes its
        replay buffer from line rate times the ACK round trip."""
        return _pow2(self.max_frame * (self.frames_in_flight + 2))

    @property
    def descriptors(self):
        """Frame descriptors in the replay buffer (a power of two, 4..256): enough for
        the shortest frames (3 lane beats) over one round trip, ceil(T_rt / 3) + 2."""
        return max(4, min(256, _pow2(-(-self.round_trip // 3) + 2)))

    @property
    def credit_round_trip(self):
        """Cycles from a frame leaving the TX to the credit for its buffer slot coming
        back: the round trip plus draining the frame to the consumer (N + UNPACK_EXTRA)."""
        return self.round_trip + self.max_frame + UNPACK_EXTRA

    @property
    def rx_slots(self):
        """Receive buffer slots of N lane words each (a power of two):
        ceil(credit round trip / (N + 2)) + 1, so credits never stall a fast consumer."""
        return _pow2(-(-self.credit_round_trip // self.frame_cycles) + 1)

    @property
    def rx_words(self):
        return self.rx_slots * self.max_frame

    @property
    def replay_timeout(self):
        """Cycles without ACK progress before the TX replays: 3 round trips (room for
        lane throttling and a lost ACK being repeated)."""
        return 3 * self.round_trip + self.keepalive

    def as_dict(self):
        return {"lane_bits": self.lane_bits, "stream_bits": self.stream_bits,
                "max_frame": self.max_frame, "lane_latency": self.lane_latency,
                "flush_cycles": self.flush_cycles, "max_replays": self.max_replays,
                "train_interval": self.train_interval, "keepalive": self.keepalive}

    def derived(self):
        return {"kmax": self.kmax, "round_trip": self.round_trip,
                "replay_words": self.replay_words, "descriptors": self.descriptors,
                "rx_slots": self.rx_slots, "replay_timeout": self.replay_timeout}


def _pow2(n):
    return 1 << max(1, math.ceil(math.log2(max(n, 2))))


# --- software model of the payload packing ------------------------------------------
def pack_payload(beats, cfg):
    """Lane words of one frame's payload: ``beats`` are (tdata, tlast) pairs."""
    acc, nbits, words = 0, 0, []
    for data, last in beats:
        acc |= ((int(last) << cfg.stream_bits) | data) << nbits
        nbits += cfg.beat_bits
        while nbits >= cfg.lane_bits:
            words.append(acc & ((1 << cfg.lane_bits) - 1))
            acc >>= cfg.lane_bits
            nbits -= cfg.lane_bits
    if nbits:
        words.append(acc)
    return words


def unpack_payload(words, k, cfg):
    """(tdata, tlast) pairs of the ``k`` stream beats in a frame's payload words."""
    acc = 0
    for i, w in enumerate(words):
        acc |= w << (i * cfg.lane_bits)
    out = []
    mask = (1 << cfg.stream_bits) - 1
    for j in range(k):
        b = acc >> (j * cfg.beat_bits)
        out.append((b & mask, bool(b >> cfg.stream_bits & 1)))
    return out


def encode_data_frame(seq, beats, cfg):
    """All lane words of a data frame carrying ``beats`` ((tdata, tlast) pairs)."""
    payload = pack_payload(beats, cfg)
    hdr = make_header(T_DATA, seq, len(payload) - 1, len(beats), int(beats[-1][1]))
    crc = crc32_words([hdr] + payload, cfg.lane_bits)
    return [hdr] + payload + [crc]


def encode_control_frame(ftype, seq=0, aux=0, k=0, flags=0, lane_bits=64):
    hdr = make_header(ftype, seq, aux, k, flags)
    return [hdr, crc32_words([hdr], lane_bits)]


@dataclass
class Frame:
    """One frame seen on a lane (by :class:`LaneMonitor`)."""

    header: Header
    words: list          # header, payload, CRC beat
    crc_ok: bool
    cycle: int = 0

    @property
    def payload(self):
        return self.words[1:-1]


class LaneMonitor:
    """Splits a lane's beats into frames the way the receivers do: hunt for a valid
    header, take L payload beats (none for control frames), then the CRC beat; every
    frame's CRC is checked with ``zlib.crc32`` (``check``) by the caller's choice."""

    def __init__(self, cfg, types, crc_fn):
        self.cfg = cfg
        self.types = types
        self.crc_fn = crc_fn
        self.state = None
        self.frames = []
        self.bad_headers = 0

    def _valid_header(self, word):
        h = parse_header(word, self.cfg.lane_bits)
        if h is None or h.ftype not in self.types:
            return None
        if h.ftype == T_DATA:
            n = h.length
            if not (1 <= h.k <= self.cfg.kmax and n <= self.cfg.max_frame
                    and (n - 1) * self.cfg.lane_bits < h.k * self.cfg.beat_bits
                    <= n * self.cfg.lane_bits):
                return None
        return h

    def beat(self, word, cycle=0):
        if self.state is None:
            h = self._valid_header(word)
            if h is None:
                self.bad_headers += 1
                return None
            self.state = (h, [word], h.length if h.ftype == T_DATA else 0)
            return None
        h, words, left = self.state
        words.append(word)
        if left > 0:
            self.state = (h, words, left - 1)
            return None
        self.state = None
        ok = word == self.crc_fn(words[:-1])
        frame = Frame(h, words, ok, cycle)
        self.frames.append(frame)
        return frame

    def reset(self):
        self.state = None
