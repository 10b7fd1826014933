"""The link channel model and the HDL traffic for link simulations.

``link_channel.v`` is a simulation-only, plain Verilog-2001 model of one full-duplex lane
between two link ends (latency, bit flips at a bit error rate, dropped beats, idle
insertion on the sender's ready, clock-compensation gaps, a reset of either end at a
chosen cycle), driven by seeded xorshift32 generators so that a failure replays exactly
on either simulator. ``link_traffic.v`` is a seeded stream source and checker in HDL
(for long runs without Python per clock). ``verif/link_sim.py`` joins a link TX and RX
through the channel in a system top; a partitioner's system top can use the channel
the same way between partition tops.

:class:`ChannelConfig` turns rates into the channel's threshold inputs,
:class:`TrafficConfig` the traffic's.
"""

from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHANNEL_V = HERE / "link_channel.v"
TRAFFIC_V = HERE / "link_traffic.v"
# Every Verilog file a system with the channel and the traffic needs.
VERILOG = (CHANNEL_V, HERE / "link_lane_dir.v", TRAFFIC_V, HERE / "link_stream_rng.v")
MAX_LATENCY = 2047   # the channel's delay line (MAX_LAT = 2048 entries)


def _thresh(p):
    """A probability as a threshold on a 32-bit uniform draw (p >= 1: always)."""
    if p <= 0:
        return 0
    return min(int(round(p * 2 ** 32)), 2 ** 32 - 1)


@dataclass(frozen=True)
class ChannelConfig:
    """One run's lane: the same in both directions (each with its own generators).

    ``ber``: bit error rate; ``drop``: probability that a beat is lost; ``idle``:
    probability that the framing core's ready is low on a cycle; ``cc_period`` /
    ``cc_len``: a ready-low gap of ``cc_len`` cycles every ``cc_period`` cycles (Aurora's
    clock compensation: 8 every 4,992; 0 turns it off); ``latency``: cycles one way;
    ``reset_tx_at`` / ``reset_rx_at``: cycle of a reset of that end (0: none), held for
    ``reset_len`` cycles."""

    latency: int = 8
    ber: float = 0.0
    drop: float = 0.0
    idle: float = 0.0
    cc_period: int = 0
    cc_len: int = 0
    reset_tx_at: int = 0
    reset_rx_at: int = 0
    reset_len: int = 4
    seed: int = 1

    def __post_init__(self):
        if not 1 <= self.latency <= MAX_LATENCY:
            raise ValueError(f"channel latency {self.latency} outside 1..{MAX_LATENCY}")

    def event_probs(self, lane_bits):
        """(P(a beat has >= 1 flipped bit), P(>= 2 | >= 1)) for independent bit errors."""
        p = self.ber
        if p <= 0:
            return 0.0, 0.0
        p0 = (1 - p) ** lane_bits
        p1 = lane_bits * p * (1 - p) ** (lane_bits - 1)
        hit = 1 - p0
        return hit, max(0.0, (hit - p1) / hit)

    def inputs(self, lane_bits):
        """Values of the channel's configuration ports."""
        hit, two = self.event_probs(lane_bits)
        return {"ch_seed": self.seed & 0xFFFFFFFF, "ch_latency": self.latency,
                "ch_err_thresh": _thresh(hit), "ch_err2_thresh": _thresh(two),
                "ch_drop_thresh": _thresh(self.drop), "ch_idle_thresh": _thresh(self.idle),
                "ch_cc_period": self.cc_period, "ch_cc_len": self.cc_len,
                "ch_rst_a_at": self.reset_tx_at, "ch_rst_b_at": self.reset_rx_at,
                "ch_rst_len": self.reset_len}

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class TrafficConfig:
    """The HDL traffic: ``mean_image`` beats per image on average (geometric), input
    ``gap`` and consumer ``stall`` probabilities per cycle, ``beats`` to send (0:
    unlimited), and its seed."""

    mean_image: float = 200.0
    gap: float = 0.0
    stall: float = 0.0
    beats: int = 0
    seed: int = 7

    def inputs(self):
        return {"tr_seed": self.seed & 0xFFFFFFFF,
                "tr_last_thresh": _thresh(1.0 / max(self.mean_image, 1.0)),
                "tr_gap_thresh": _thresh(self.gap), "tr_stall_thresh": _thresh(self.stall),
                "tr_max_beats": self.beats}

    def as_dict(self):
        return asdict(self)
