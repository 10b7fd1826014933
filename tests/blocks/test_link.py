"""Link TX -> channel model -> link RX, on both simulators (verif/link_sim.py).

Every run checks the delivered stream against the sent one (``check_delivery``: exactly
equal, or across a reset at most one discontinuity per reset with the loss reported),
and every frame on both lanes against ``zlib.crc32`` (lane monitors): the frames an end
sends are all right, and the receivers' CRC error counters equal the number of frames
zlib finds bad after the channel. A watchdog fails a stalled link.
"""

import random

import numpy as np
import pytest

from rtl_gen.blocks.catalog import configs
from verif.channel import ChannelConfig, TrafficConfig
from verif.harness import SimulationFailed, simulate
from verif.link_sim import check_delivery, run_link

PAIRS = {tx.name.removesuffix("_tx"): (tx, rx)
         for tx, rx in zip(configs("link_tx"), configs("link_rx"))}
SHORT = PAIRS["link_w64_d17_n8"]      # 8-beat frames; 17+1-bit beats straddle lane words
WIDE = PAIRS["link_w64_d100_n32"]     # a 100+1-bit stream beat spans two lane words


def make_images(pair, seed, count=24, longest=None):
    """Random images (lengths 1 up to a few frames, 1-beat images included)."""
    tx = pair[0]
    rng = random.Random(seed)
    longest = longest or 3 * tx.cfg.kmax
    lengths = [1, 2, longest] + [rng.randint(1, longest) for _ in range(count - 3)]
    return [[(rng.getrandbits(tx.width), k == n - 1) for k in range(n)] for n in lengths]


def run_checked(pair, sim, channel, images, gap=0.2, stall=0.2, **kw):
    """Run, then check the delivery and the lane monitors (see the module docstring)."""
    tx, rx = pair
    run = run_link(tx, rx, sim, channel, images=images, gap=gap, stall=stall, **kw)
    s = run.status
    resets = (channel.reset_tx_at > 0) + (channel.reset_rx_at > 0)
    summary = check_delivery(run.sent, run.delivered, resets,
                             s["tx_stat_loss"] + s["rx_stat_loss"],
                             tx_reset=channel.reset_tx_at > 0, both_reset=resets == 2)
    mon = run.report["monitors"]
    assert mon["sent_bad"] == [], f"an end sent a frame with a wrong CRC-32: {mon['sent_bad']}"
    assert mon["fwd_sent"]["data_frames"] >= s["tx_stat_frames_sent"] > 0
    if not resets:
        assert mon["fwd_recv"]["bad"] == s["rx_stat_crc_errors"], \
            "RX CRC error count differs from zlib's count of bad frames"
        assert mon["rev_recv"]["bad"] == s["tx_stat_crc_errors"], \
            "TX CRC error count differs from zlib's count of bad control frames"
    return run, summary


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_link_delivers_exactly(name, sim):
    """Clean lane, random payloads and image lengths, input gaps and backpressure."""
    pair = PAIRS[name]
    run, summary = run_checked(pair, sim, ChannelConfig(latency=pair[0].cfg.lane_latency,
                                                        seed=11),
                               make_images(pair, seed=3), gap=0.3, stall=0.3)
    s = run.status
    assert summary["jumps"] == 0
    assert s["tx_stat_frames_resent"] == 0 and s["rx_stat_crc_errors"] == 0
    assert s["tx_stat_link_up"] == s["rx_stat_link_up"] == 1
    assert s["tx_stat_frames_sent"] == s["rx_stat_frames_received"]


def test_link_ber_1e5(sim):
    run, _ = run_checked(WIDE, sim, ChannelConfig(latency=32, ber=1e-5, seed=5),
                         make_images(WIDE, seed=4, count=40))
    s = run.status
    assert s["ch_flips_ab"] + s["ch_flips_ba"] > 0, "the seed must give bit errors"


def test_link_ber_1e3_short_frames(sim):
    """One frame in three is hit; NAKs, replays and (seed chosen so) a retrain after four
    failed NAKs/timeouts for one frame (PCIe's REPLAY_NUM rollover)."""
    run, _ = run_checked(SHORT, sim, ChannelConfig(latency=16, ber=1e-3, seed=3),
                         make_images(SHORT, seed=1, count=30))
    s = run.status
    assert s["rx_stat_crc_errors"] > 20 and s["tx_stat_crc_errors"] > 0
    assert s["rx_stat_naks"] > 0 and s["tx_stat_frames_resent"] > 0
    assert s["tx_stat_retrains"] >= 1 and s["rx_stat_retrains"] >= 1


def test_link_retrain_before_any_data_is_not_a_reset(sim):
    """Errors so frequent that the first frame fails four times before any gets through
    (this seed: the first retrain comes ~3,000 cycles before the first good frame): a
    retrain that finds the receiver with no data yet must not be taken for a reset of
    it (nothing dropped, no loss reported). HDL traffic: its checker sees any drop."""
    tx, rx = WIDE
    run = run_link(tx, rx, sim, ChannelConfig(latency=32, ber=1e-3, seed=2),
                   traffic=TrafficConfig(mean_image=1000, beats=20, seed=5), monitor=False,
                   label="early_retrain")
    s = run.status
    assert s["tx_stat_retrains"] >= 2
    assert s["tx_stat_far_resets"] == s["tx_stat_loss"] == s["rx_stat_loss"] == 0
    assert s["tr_mismatches"] == 0 and s["tr_delivered"] == 20


def test_link_dropped_beats(sim):
    run, _ = run_checked(SHORT, sim, ChannelConfig(latency=16, drop=1e-2, seed=5),
                         make_images(SHORT, seed=2, count=30))
    s = run.status
    assert s["ch_drops_ab"] > 0 and s["tx_stat_frames_resent"] > 0


def test_link_idle_insertion(sim):
    """The framing core's ready low 30 % of cycles, plus an 8-cycle gap every 200."""
    run, _ = run_checked(WIDE, sim, ChannelConfig(latency=32, idle=0.3, cc_period=200,
                                                  cc_len=8, seed=6),
                         make_images(WIDE, seed=5), gap=0.1, stall=0.1)
    assert run.status["tx_stat_frames_resent"] == 0


def test_link_consumer_backpressure(sim):
    """A consumer that takes a beat one cycle in ten: credits hold the sender back, the
    receive buffer never overflows, nothing is lost or resent."""
    run, _ = run_checked(SHORT, sim, ChannelConfig(latency=16, seed=8),
                         make_images(SHORT, seed=6, count=12), gap=0.0, stall=0.9)
    assert run.status["tx_stat_frames_resent"] == 0
    assert run.status["rx_stat_frames_dropped"] == 0


def test_link_slow_producer_coalesces(sim):
    """A producer giving a beat every ~33 cycles over a lane far longer than the link was
    sized for (600 cycles each way, credits scarce): idle input closes a partial frame
    only when it could be sent at once, so frames grow instead of spending a receive slot
    per beat, and the producer is not held back."""
    rng = random.Random(4)
    images = [[(rng.getrandbits(SHORT[0].width), k == 39) for k in range(40)]
              for _ in range(3)]
    run, _ = run_checked(SHORT, sim, ChannelConfig(latency=600, seed=3), images, gap=0.97,
                         stall=0.0)
    assert run.status["tx_stat_frames_sent"] < 30, "one frame per beat: not coalesced"
    assert run.cycles < 120 * 34 + 3000


@pytest.mark.parametrize("which", ["rx", "tx", "both"])
def test_link_reset_mid_stream(which, sim):
    """A reset of either end (or both) in the middle of an image: the link re-trains and
    the stream goes on; the image cut is reported (by the RX when the TX was reset, by
    the TX when the RX was), no beat is duplicated or corrupted."""
    at = 600
    ch = ChannelConfig(latency=16, seed=7, reset_tx_at=at if which != "rx" else 0,
                       reset_rx_at=at if which != "tx" else 0)
    run, summary = run_checked(SHORT, sim, ch, make_images(SHORT, seed=1, count=30))
    s = run.status
    assert summary["jumps"] == 1, "the reset happened mid-stream: some data is lost"
    if which == "rx":
        assert s["tx_stat_far_resets"] == 1 and s["tx_stat_loss"] == 1
    elif which == "tx":
        assert s["rx_stat_far_resets"] == 1
        assert s["rx_stat_loss"] == summary["cuts"]
    assert s["tx_stat_link_up"] == s["rx_stat_link_up"] == 1


def test_link_reset_between_images_loses_nothing(sim):
    """The RX end is reset while the stream pauses between images: after re-training the
    stream continues with nothing lost, and no loss is reported."""
    images = make_images(SHORT, seed=9, count=12)
    run, summary = run_checked(SHORT, sim, ChannelConfig(latency=16, seed=9,
                                                         reset_rx_at=1500),
                               images, holds={6: 1800})
    s = run.status
    assert summary["jumps"] == 0
    assert s["tx_stat_far_resets"] == 1 and s["tx_stat_loss"] == 0


def test_link_watchdog(sim):
    """A lane that loses every beat: the watchdog fails the run and says what it saw."""
    tx, rx = SHORT
    with pytest.raises(SimulationFailed, match=r"watchdog: link stalled, no beat delivered "
                       r"for 3000 cycles.*TX link_up=0"):
        run_link(tx, rx, sim, ChannelConfig(latency=16, drop=1.0, seed=1),
                 images=make_images(SHORT, seed=1, count=4), stall_limit=3000,
                 label="watchdog")


def test_link_sequence_numbers_wrap(sim):
    """Over 4,096 frames (12-bit sequence numbers wrap): tiny images, one frame each,
    HDL source and checker, some bit errors."""
    tx, rx = SHORT
    run = run_link(tx, rx, sim, ChannelConfig(latency=16, ber=2e-5, seed=2),
                   traffic=TrafficConfig(mean_image=1.5, beats=7000, stall=0.1, seed=3),
                   monitor=False, label="wrap")
    s = run.status
    assert s["tx_stat_frames_sent"] > 4096
    assert s["tr_mismatches"] == 0 and s["tr_delivered"] == 7000


def test_link_hdl_traffic_checked_by_zlib(sim):
    """The HDL traffic with the lane monitors on: every frame's CRC against zlib."""
    tx, rx = WIDE
    run = run_link(tx, rx, sim, ChannelConfig(latency=32, ber=1e-4, seed=4),
                   traffic=TrafficConfig(mean_image=80, beats=3000, gap=0.1, stall=0.1),
                   label="hdl")
    s, mon = run.status, run.report["monitors"]
    assert s["tr_mismatches"] == 0 and s["tr_delivered"] == 3000
    assert mon["sent_bad"] == [] and mon["fwd_recv"]["bad"] == s["rx_stat_crc_errors"] > 0


def test_loopback_as_a_stream_block(sim):
    """TX and RX back to back (LinkLoopback) through the generic stream harness: exact with
    random gaps and backpressure; without pauses, each image of full link frames takes
    the lane's cycles (header, payload, CRC per frame), as its cycle model says."""
    blk = configs("link_loopback")[0]
    ins = blk.random_inputs(np.random.default_rng(3), 4)
    short = {"s_axis": ins["s_axis"] + [[1], [2, 3], [4, 5, 6]]}
    simulate(blk, sim, short, blk.reference(short), gap=0.3, stall=0.3, seed=2,
             label="pauses")
    res = simulate(blk, sim, ins, blk.reference(ins), label="timing")
    assert res.frame_intervals() == blk.model_frame_cycles(ins)


@pytest.mark.nightly
@pytest.mark.parametrize("ber", [1e-6, 1e-5, 1e-4, 1e-3])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_link_ber_sweep_nightly(name, ber, sim):
    """Long runs (HDL traffic: a million beats, fewer at the highest rates where frames
    mostly fail) at every bit error rate, with dropped beats, idles, input gaps and
    backpressure: nothing lost, duplicated or corrupted."""
    tx, rx = PAIRS[name]
    beats = {1e-4: 300_000, 1e-3: 60_000}.get(ber, 1_000_000)
    run = run_link(tx, rx, sim, ChannelConfig(latency=tx.cfg.lane_latency, ber=ber,
                                              drop=ber / 10, idle=0.05, seed=17),
                   traffic=TrafficConfig(mean_image=500, beats=beats, gap=0.05,
                                         stall=0.05, seed=23),
                   monitor=False, label=f"sweep{ber:g}")
    assert run.status["tr_mismatches"] == 0 and run.status["tr_delivered"] == beats
