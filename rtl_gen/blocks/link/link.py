"""The link blocks: ``LinkTx`` and ``LinkRx`` (one per direction of a cut between two
FPGAs), and ``LinkLoopback`` (both back to back, a stream block for tests and bench).

A partitioner instantiates a pair with the same arguments on both sides::

    tx, rx = link_pair("cut1", lanes=16, bits=4, lane_bits=64, max_frame=256,
                       lane_latency=64)

(``cut1_tx`` on the sending FPGA, ``cut1_rx`` on the receiving one). Both are
:class:`~rtl_gen.hdl.block.Block` subclasses: the stream port is in ``ports()``, the
lane and status ports in ``extra_ports()``. The protocol, frame format and sizing
formulas are in ``framing.py``, ``tx.py`` and ``rx.py``; ``docs/design.md`` section 6
has the overview and ``README.md`` the Aurora 64B/66B wiring.

A single link end cannot be simulated with the generic stream testbench (its other side
is a lane): ``verif/link_sim.py`` joins a TX and an RX through the channel model.
``LinkLoopback`` joins them directly (lane delay in registers, no errors), which the
stream harness can drive like any block.
"""

from myhdl import Signal, always_comb, always_seq, block, intbv

from rtl_gen.blocks.link.framing import (MAX_FRAME, MAX_LANE_BITS, MAX_STREAM_BITS,
                                         MIN_LANE_BITS, LinkConfig)
from rtl_gen.blocks.link.rx import link_rx
from rtl_gen.blocks.link.tx import link_tx
from rtl_gen.errors import QNNError, require
from rtl_gen.hdl.block import Block, SignalPort, StreamPort, check_int

TX_STATUS = (("stat_link_up", 1), ("stat_frames_sent", 32), ("stat_frames_resent", 32),
             ("stat_crc_errors", 32), ("stat_retrains", 16), ("stat_far_resets", 16),
             ("stat_loss", 16))
RX_STATUS = (("stat_link_up", 1), ("stat_frames_received", 32), ("stat_crc_errors", 32),
             ("stat_naks", 32), ("stat_frames_dropped", 32), ("stat_retrains", 16),
             ("stat_far_resets", 16), ("stat_loss", 16))


def lane_ports(lane_bits):
    """The lane ports of either end: what it transmits and what it receives."""
    return [SignalPort("tx_lane_data", "out", lane_bits), SignalPort("tx_lane_valid", "out"),
            SignalPort("tx_lane_last", "out"), SignalPort("tx_lane_ready", "in"),
            SignalPort("rx_lane_data", "in", lane_bits), SignalPort("rx_lane_valid", "in")]


class LinkEnd(Block):
    """Common parameters of both ends (they must be equal on the two sides of a cut)."""

    def __init__(self, name, lanes, bits, signed=False, lane_bits=64, max_frame=256,
                 lane_latency=64, flush_cycles=32, max_replays=4):
        super().__init__(name)
        self.lanes = check_int(lanes, name, "lanes of the carried stream", 1, MAX_STREAM_BITS)
        self.bits = check_int(bits, name, "bits per lane of the carried stream", 1,
                              MAX_STREAM_BITS)
        check_int(lanes * bits, name, "stream width lanes*bits", 1, MAX_STREAM_BITS)
        self.signed = bool(signed)
        check_int(lane_bits, name, "lane width (bits)", MIN_LANE_BITS, MAX_LANE_BITS)
        require(lane_bits % 8 == 0, name, f"lane width {lane_bits} is not a whole number of "
                "bytes", "a multiple of 8 from 64 to 1024 (Aurora 64B/66B: 64 per lane)")
        check_int(max_frame, name, "payload lane beats per frame", 1, MAX_FRAME)
        check_int(lane_latency, name, "lane latency (cycles one way)", 0, 1 << 16)
        check_int(flush_cycles, name, "idle cycles before a partial frame is sent", 1,
                  1 << 16)
        check_int(max_replays, name, "replays before a retrain", 1, 15)
        self.cfg = LinkConfig(lane_bits=lane_bits, stream_bits=lanes * bits,
                              max_frame=max_frame, lane_latency=lane_latency,
                              flush_cycles=flush_cycles, max_replays=max_replays)
        require(self.cfg.kmax >= 1, name, f"a frame of {max_frame} lane beats of "
                f"{lane_bits} bits cannot hold one stream beat of {lanes * bits} + 1 bits",
                "max_frame * lane_bits >= lanes * bits + 1")

    @property
    def width(self):
        return self.lanes * self.bits

    def params(self):
        return {"lanes": self.lanes, "bits": self.bits, "signed": self.signed,
                **self.cfg.as_dict()}

    def describe(self):
        out = super().describe()
        out["derived"] = self.cfg.derived()
        return out

    def _not_a_stream_block(self, *args, **kwargs):
        raise QNNError(self.name, f"a {self.kind} is one end of a lane and has no stream "
                       "reference of its own", "simulate a TX and an RX together "
                       "(verif/link_sim.py) or a link_loopback block")

    reference = random_inputs = cycles_per_frame = model_frame_cycles = _not_a_stream_block


class LinkTx(LinkEnd):
    """The sending end: ``s_axis`` in, forward lane out, reverse lane in."""

    kind = "link_tx"

    def ports(self):
        return [StreamPort("s_axis", "in", self.lanes, self.bits, self.signed)]

    def extra_ports(self):
        return lane_ports(self.cfg.lane_bits) + [SignalPort(n, "out", w)
                                                 for n, w in TX_STATUS]

    def hdl(self, clk, rst, s_axis, **sig):
        return link_tx(clk, rst, s_axis, sig["tx_lane_data"], sig["tx_lane_valid"],
                       sig["tx_lane_last"], sig["tx_lane_ready"], sig["rx_lane_data"],
                       sig["rx_lane_valid"], *(sig[n] for n, _ in TX_STATUS), cfg=self.cfg)


class LinkRx(LinkEnd):
    """The receiving end: forward lane in, ``m_axis`` out, reverse lane out."""

    kind = "link_rx"

    def ports(self):
        return [StreamPort("m_axis", "out", self.lanes, self.bits, self.signed)]

    def extra_ports(self):
        return lane_ports(self.cfg.lane_bits) + [SignalPort(n, "out", w)
                                                 for n, w in RX_STATUS]

    def hdl(self, clk, rst, m_axis, **sig):
        return link_rx(clk, rst, sig["rx_lane_data"], sig["rx_lane_valid"], m_axis,
                       sig["tx_lane_data"], sig["tx_lane_valid"], sig["tx_lane_last"],
                       sig["tx_lane_ready"], *(sig[n] for n, _ in RX_STATUS), cfg=self.cfg)


def link_pair(name, lanes, bits, **kwargs):
    """``(LinkTx(name + "_tx", ...), LinkRx(name + "_rx", ...))`` with equal parameters."""
    return LinkTx(f"{name}_tx", lanes, bits, **kwargs), LinkRx(f"{name}_rx", lanes, bits,
                                                              **kwargs)


class LinkLoopback(LinkEnd):
    """A TX and an RX joined by ``lane_delay`` registers each way (no errors, no idles):
    ``s_axis`` in, the same stream out on ``m_axis``. Status ports of both ends are
    outputs (``tx_stat_*``, ``rx_stat_*``)."""

    kind = "link_loopback"

    def __init__(self, name, lanes, bits, lane_delay=2, **kwargs):
        super().__init__(name, lanes, bits, **kwargs)
        self.lane_delay = check_int(lane_delay, name, "loopback lane delay (registers)", 0,
                                    64)

    def params(self):
        return {**super().params(), "lane_delay": self.lane_delay}

    def ports(self):
        return [StreamPort("s_axis", "in", self.lanes, self.bits, self.signed),
                StreamPort("m_axis", "out", self.lanes, self.bits, self.signed)]

    def extra_ports(self):
        return ([SignalPort("tx_" + n, "out", w) for n, w in TX_STATUS]
                + [SignalPort("rx_" + n, "out", w) for n, w in RX_STATUS]
                + [SignalPort("fwd_lane_frames", "out", 32),
                   SignalPort("rev_lane_frames", "out", 32)])

    def reference(self, inputs):
        return {"m_axis": [list(f) for f in inputs["s_axis"]]}

    def random_inputs(self, rng, frames):
        """Frames (images) of two or three whole link frames each (``KMAX`` beats per link
        frame, where the cycle model is exact), random data."""
        top = 1 << min(self.width, 62)
        out = []
        for _ in range(frames):
            beats = int(rng.integers(2, 4)) * self.cfg.kmax
            out.append([int(x) for x in rng.integers(0, top, beats)])
        return {"s_axis": out}

    def link_frames(self, beats):
        """Payload lane beats of the link frames one image of ``beats`` stream beats
        takes when nothing idles (full frames, then the rest)."""
        full, rest = divmod(beats, self.cfg.kmax)
        return [self.cfg.lane_beats(self.cfg.kmax)] * full + (
            [self.cfg.lane_beats(rest)] if rest else [])

    def cycles_per_frame(self, beats):
        """Cycle model of a continuous stream: the lane's cycles for the image's link
        frames (header, payload, CRC each) or one cycle per stream beat, the longer.
        Exact for images of whole link frames; an image ending in a short link frame can
        take a cycle or two more (the TX closes that frame while the lane waits)."""
        lane = sum(n + 2 for n in self.link_frames(beats))
        return max(lane, beats)

    def model_frame_cycles(self, inputs):
        return [self.cycles_per_frame(len(f)) for f in inputs["s_axis"][1:]]

    def hdl(self, clk, rst, s_axis, m_axis, **sig):
        return link_loopback(clk, rst, s_axis, m_axis, cfg=self.cfg, delay=self.lane_delay,
                             **sig)


@block
def delay_line(clk, rst, din, vin, dout, vout, stages):
    """``stages`` registers on a lane (data and valid); 0 stages: a wire."""
    width = len(din)
    if stages == 0:
        @always_comb
        def wire():
            dout.next = din
            vout.next = vin
        return wire
    datas = [Signal(intbv(0)[width:]) for _ in range(stages)]
    valids = [Signal(bool(0)) for _ in range(stages)]
    regs = []
    for i in range(stages):
        regs.append(_stage(clk, rst, din if i == 0 else datas[i - 1],
                           vin if i == 0 else valids[i - 1], datas[i], valids[i]))

    @always_comb
    def tap():
        dout.next = datas[stages - 1]
        vout.next = valids[stages - 1]
    return regs, tap


@block
def _stage(clk, rst, din, vin, dout, vout):
    @always_seq(clk.posedge, reset=rst)
    def reg():
        dout.next = din
        vout.next = vin
    return reg


@block
def link_loopback(clk, rst, s_axis, m_axis, fwd_lane_frames, rev_lane_frames,
                  tx_stat_link_up, tx_stat_frames_sent, tx_stat_frames_resent,
                  tx_stat_crc_errors, tx_stat_retrains, tx_stat_far_resets, tx_stat_loss,
                  rx_stat_link_up, rx_stat_frames_received, rx_stat_crc_errors, rx_stat_naks,
                  rx_stat_frames_dropped, rx_stat_retrains, rx_stat_far_resets, rx_stat_loss,
                  cfg, delay):
    """TX -> ``delay`` registers -> RX and back; the lanes never idle; the frames each
    lane carried are counted (``*_lane_frames``, from the lanes' ``last`` marks). (A
    top-level MyHDL block needs every port as a named argument.)"""
    W = cfg.lane_bits
    fw_data, fw_valid, fw_last = Signal(intbv(0)[W:]), Signal(bool(0)), Signal(bool(0))
    rv_data, rv_valid, rv_last = Signal(intbv(0)[W:]), Signal(bool(0)), Signal(bool(0))
    fd_data, fd_valid = Signal(intbv(0)[W:]), Signal(bool(0))
    rd_data, rd_valid = Signal(intbv(0)[W:]), Signal(bool(0))
    ready = Signal(bool(0))

    @always_seq(clk.posedge, reset=rst)
    def always_ready():
        ready.next = True
        if fw_valid and fw_last and ready:
            fwd_lane_frames.next = fwd_lane_frames + 1
        if rv_valid and rv_last and ready:
            rev_lane_frames.next = rev_lane_frames + 1

    tx = link_tx(clk, rst, s_axis, fw_data, fw_valid, fw_last, ready, rd_data, rd_valid,
                 tx_stat_link_up, tx_stat_frames_sent, tx_stat_frames_resent,
                 tx_stat_crc_errors, tx_stat_retrains, tx_stat_far_resets, tx_stat_loss,
                 cfg=cfg)
    fwd = delay_line(clk, rst, fw_data, fw_valid, fd_data, fd_valid, delay)
    rx = link_rx(clk, rst, fd_data, fd_valid, m_axis, rv_data, rv_valid, rv_last, ready,
                 rx_stat_link_up, rx_stat_frames_received, rx_stat_crc_errors, rx_stat_naks,
                 rx_stat_frames_dropped, rx_stat_retrains, rx_stat_far_resets, rx_stat_loss,
                 cfg=cfg)
    rev = delay_line(clk, rst, rv_data, rv_valid, rd_data, rd_valid, delay)
    return always_ready, tx, fwd, rx, rev


def catalog_configs():
    """Link configurations linted by ``make lint`` (the TX/RX pairs are simulated through
    the channel model by tests/blocks/test_link.py, the loopbacks by the stream harness)."""
    return [
        *link_pair("link_w64_d17_n8", lanes=1, bits=17, max_frame=8, lane_latency=16),
        *link_pair("link_w64_d100_n32", lanes=4, bits=25, max_frame=32, lane_latency=32),
        *link_pair("link_w128_d8_n16", lanes=2, bits=4, lane_bits=128, max_frame=16,
                   lane_latency=8),
        LinkLoopback("link_loop_w64_d64_n16", lanes=8, bits=8, max_frame=16, lane_latency=4,
                     lane_delay=2),
    ]


def bench_configs():
    """``make bench`` (blocks section): the loopback, a stream block like the others."""
    return [b for b in catalog_configs() if b.kind == "link_loopback"]
