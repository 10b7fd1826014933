"""``make bench``, link section: goodput, added latency and buffer sizes of the link layer.

Every number is measured by simulation (Verilator) of a link TX and RX joined by the
channel model (``verif/link_sim.py``) with the HDL traffic (no Python per clock): a
128-bit stream (16 lanes of 8 bits, plus ``tlast``) over a 64-bit lane, 64 cycles of lane
latency each way, frames of 16, 64 and 256 payload lane beats, bit error rates 0, 1e-6,
1e-5 and 1e-4 on both lanes (the reverse lane's ACKs and credits see the same errors).

- **goodput**: stream data bits delivered per lane bit-time, ``beats * 128 / (cycles * 64)``
  from the first beat into the TX to the last out of the RX, the stream always offering
  and the consumer always ready (so the lane is the bottleneck). ``tlast`` rides along and
  is not counted. The ceiling at BER 0 is ``KMAX * 128 / ((L + 2) * 64)`` for a full frame
  of L = ceil(KMAX * 129 / 64) <= N lane beats: header and CRC beats, ``tlast`` and the
  unused bits of a frame's last lane beat.
- **lost/dup/corrupt**: the HDL checker regenerates the stream and compares every beat;
  any lost, duplicated or corrupted beat makes the delivered stream differ from it.
- **latency**: cycles from a beat's transfer into the TX to its transfer out of the RX,
  minus the lane latency: what the link adds (store and forward: a frame is sent once
  closed, and delivered once its CRC-32 is checked).
"""

import time

from rtl_gen.blocks.link.framing import LinkConfig
from rtl_gen.blocks.link.link import link_pair
from verif.channel import ChannelConfig, TrafficConfig
from verif.estimate import estimate
from verif.harness import generate
from verif.link_sim import run_link

LANES, BITS, LANE_BITS, LATENCY = 16, 8, 64, 64
FRAMES = (16, 64, 256)
BERS = (0.0, 1e-6, 1e-5, 1e-4)
BEATS = {0.0: 150_000, 1e-6: 250_000, 1e-5: 150_000, 1e-4: 60_000}
SIM = "verilator"


def pair(n):
    return link_pair(f"bench_link_n{n}", LANES, BITS, lane_bits=LANE_BITS, max_frame=n,
                     lane_latency=LATENCY)


def measure(n, ber, beats, seed=1, mean_image=4096.0, gap=0.0):
    tx, rx = pair(n)
    t0 = time.time()
    run = run_link(tx, rx, SIM, ChannelConfig(latency=LATENCY, ber=ber, seed=seed),
                   traffic=TrafficConfig(mean_image=mean_image, beats=beats, gap=gap,
                                         seed=seed + 1),
                   monitor=False, label=f"bench_n{n}_{ber:g}")
    s = run.status
    cycles = s["tr_t_last_out"] - s["tr_t_first_in"] + 1
    return {
        "n": n, "ber": ber, "beats": beats, "cycles": cycles,
        "goodput": beats * tx.width / (cycles * LANE_BITS),
        "ceiling": (tx.cfg.kmax * tx.width
                    / ((tx.cfg.lane_beats(tx.cfg.kmax) + 2) * LANE_BITS)),
        "sent": s["tx_stat_frames_sent"], "resent": s["tx_stat_frames_resent"],
        "crc": s["rx_stat_crc_errors"] + s["tx_stat_crc_errors"],
        "naks": s["rx_stat_naks"], "retrains": s["tx_stat_retrains"],
        "flips": s["ch_flips_ab"] + s["ch_flips_ba"],
        "bad": s["tr_mismatches"] + (beats - s["tr_delivered"]),
        "lat_min": s["tr_lat_min"] - LATENCY, "lat_max": s["tr_lat_max"] - LATENCY,
        "lat_mean": s["tr_lat_sum"] / max(1, s["tr_delivered"]) - LATENCY,
        "wall": time.time() - t0,
    }


def goodput_rows(progress=print):
    rows = []
    for n in FRAMES:
        for ber in BERS:
            progress(f"link: N={n} BER={ber:g} ...")
            m = measure(n, ber, BEATS[ber])
            progress(f"link: N={n} BER={ber:g}: goodput {m['goodput']:.3f} "
                     f"({m['wall']:.0f} s)")
            rows.append(m)
    return rows


def latency_rows(progress=print):
    rows = []
    for n in FRAMES:
        progress(f"link: latency N={n} ...")
        idle = measure(n, 0.0, 400, mean_image=1.0, gap=0.98)
        full = measure(n, 0.0, 40_000)
        rows.append((n, idle, full))
    return rows


def size_rows():
    rows = []
    for n in FRAMES:
        cfg = LinkConfig(lane_bits=LANE_BITS, stream_bits=LANES * BITS, max_frame=n,
                         lane_latency=LATENCY)
        rows.append((n, cfg))
    return rows


def resource_rows(progress=print):
    rows = []
    for n in FRAMES:
        for blk in pair(n):
            progress(f"link: synthesizing {blk.name} (yosys) ...")
            rtl = generate(blk)
            rows.append((n, blk, estimate(rtl.files, rtl.top)))
    return rows


def link_section(progress=print):
    good = goodput_rows(progress)
    lat = latency_rows(progress)
    res = resource_rows(progress)
    out = [
        "## Link layer (multi-FPGA)",
        "",
        f"TX -> channel model -> RX on {SIM.capitalize()}, HDL traffic: a {LANES * BITS}-bit "
        f"stream ({LANES} lanes x {BITS} bits, plus tlast) over a {LANE_BITS}-bit lane with "
        f"{LATENCY} cycles of latency each way; bit errors on both lanes (one or two flipped "
        "bits per hit beat, as `verif/channel/link_channel.v` models them). Goodput: stream "
        f"data bits delivered per lane bit-time (tlast not counted; the stream always "
        "offers, the consumer is always ready); ceiling: what header, CRC, tlast and the "
        "last lane beat's unused bits leave. Lost/dup/corrupt: beats the HDL checker found "
        "missing, "
        "repeated or wrong (it compares every beat with the stream sent). "
        "`verif/bench_link.py` states the method.",
        "",
        "| frame N | BER | goodput | ceiling | beats | frames sent | resent | CRC errors "
        "| NAKs | retrains | lost/dup/corrupt |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in good:
        out.append(f"| {m['n']} | {m['ber']:g} | {m['goodput']:.3f} | {m['ceiling']:.3f} | "
                   f"{m['beats']:,} | {m['sent']:,} | {m['resent']:,} | {m['crc']:,} | "
                   f"{m['naks']:,} | {m['retrains']:,} | {m['bad']} |")
    out += [
        "",
        "Latency the link adds (cycles, lane latency subtracted; first beat into the TX to "
        "delivery). Idle: one-beat images, one every ~50 cycles (a frame closes at its "
        "tlast; at N = 256 the 4 receive slots, one per frame however short, make such "
        "frames wait for credits now and then); loaded: the stream always offering (a beat "
        "waits for its frame to fill, to be sent, and to be checked whole at the RX).",
        "",
        "| frame N | idle min | idle mean | loaded mean | loaded max |",
        "|---|---|---|---|---|",
    ]
    for n, idle, full in lat:
        out.append(f"| {n} | {idle['lat_min']} | {idle['lat_mean']:.0f} | "
                   f"{full['lat_mean']:.0f} | {full['lat_max']} |")
    out += [
        "",
        "Buffers (`rtl_gen/blocks/link/framing.py`, `LinkConfig`): round trip "
        "T_rt = (N + 2) + 2 x lane latency + 12 cycles of TX/RX processing; replay buffer "
        ">= N x (ceil(T_rt / (N + 2)) + 2) lane words (a power of two), as PCIe sizes its "
        "replay buffer from line rate and the ACK round trip; receive buffer: "
        "ceil((T_rt + N + 4) / (N + 2)) + 1 slots of N words (credits never stall a fast "
        "consumer). Resources: Yosys `synth_xilinx` (7-series), RAMB36 equivalents.",
        "",
        "| frame N | T_rt | replay buffer | descriptors | RX slots | RX buffer | replay timeout "
        "| TX LUT/FF/BRAM36 | RX LUT/FF/BRAM36 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    est = {(n, b.kind): e for n, b, e in res}
    for n, cfg in size_rows():
        tx, rx = est[(n, "link_tx")], est[(n, "link_rx")]
        out.append(
            f"| {n} | {cfg.round_trip} | {cfg.replay_words} words "
            f"({cfg.replay_words * LANE_BITS // 1024} Kbit) | {cfg.descriptors} | "
            f"{cfg.rx_slots} | {cfg.rx_words} words ({cfg.rx_words * LANE_BITS // 1024} Kbit) "
            f"| {cfg.replay_timeout} | {tx.lut}/{tx.ff}/{tx.bram36:g} | "
            f"{rx.lut}/{rx.ff}/{rx.bram36:g} |")
    out += [
        "",
        "Compared with the links FPGA dataflow flows use today: Aurora 64B/66B detects "
        "errors (an optional CRC-32 per frame in framing mode) but does not retransmit; "
        "the FINN multi-FPGA flows (AuroraFlow; Elastic-DF over 100G Ethernet) count errors "
        "and do not recover from them, so a flipped bit reaches the next FPGA's layers. "
        "This link recovers: NAK or timeout, go-back-N replay from a replay buffer, a "
        "retrain when three replays of one frame have failed, with zero lost, duplicated or "
        "corrupted beats at every rate in the table above.",
        "",
    ]
    return out
