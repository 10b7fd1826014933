"""cocotb testbench of a link: TX -> channel model -> RX in a system top
(``verif/link_sim.py`` writes it and the JSON configuration named by
``STREAMQNN_LINK_CONFIG``).

Two kinds of traffic:

- ``python``: a driver offers the configured images on ``s_axis`` (random input gaps; when
  the TX end is reset, its upstream is taken to be reset too: the image in progress is
  abandoned and the next one starts after the reset), a sink takes ``m_axis`` with random
  backpressure and records every beat (and where the RX end was reset);
- ``hdl``: the HDL source and checker of ``verif/channel/link_traffic.v`` (no Python per
  clock unless lane monitors are on); the testbench polls its counters.

Lane monitors (``monitor``): every lane beat on both lanes, before and after the channel,
is split into frames like the receivers do, and each frame's CRC-32 is computed with
``zlib.crc32``: frames leaving an end must all be right, frames arriving are counted bad
or good (the caller compares with the ends' CRC error counters).

A watchdog fails the run when no beat is delivered for ``stall_limit`` cycles while some
are still expected, with the state of both ends in the message. The report (JSON) has
every counter, the delivered beats and the monitors' findings.
"""

import json
import os
import random
import zlib

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, Timer

from rtl_gen.blocks.link.framing import (FORWARD_TYPES, REVERSE_TYPES, LaneMonitor,
                                         LinkConfig)

CLOCK_NS = 10


def _int(handle):
    try:
        return int(handle.value)
    except ValueError:          # X/Z
        return 0


def zlib_frame_crc(lane_bytes):
    def crc(words):
        return zlib.crc32(b"".join(w.to_bytes(lane_bytes, "little") for w in words))
    return crc


class Monitors:
    """The four lane monitors (forward and reverse, sent and received)."""

    def __init__(self, dut, cfg):
        crc = zlib_frame_crc(cfg.lane_bits // 8)
        self.dut = dut
        self.mon = {name: LaneMonitor(cfg, types, crc) for name, types in (
            ("fwd_sent", FORWARD_TYPES), ("fwd_recv", FORWARD_TYPES),
            ("rev_sent", REVERSE_TYPES), ("rev_recv", REVERSE_TYPES))}
        self.sent_bad = []       # frames an end sent whose CRC is wrong (never allowed)
        self.h = {n: getattr(dut, n) for n in (
            "fwd_tx_data", "fwd_tx_valid", "fwd_tx_ready", "fwd_rx_data", "fwd_rx_valid",
            "rev_tx_data", "rev_tx_valid", "rev_tx_ready", "rev_rx_data", "rev_rx_valid")}

    def sample(self, cycle, rst_tx, rst_rx):
        h = self.h
        if rst_tx:      # the TX's parser and sender start over
            self.mon["fwd_sent"].reset()
            self.mon["rev_recv"].reset()
        if rst_rx:
            self.mon["rev_sent"].reset()
            self.mon["fwd_recv"].reset()
        for name, data, valid, ready in (("fwd_sent", "fwd_tx_data", "fwd_tx_valid",
                                          "fwd_tx_ready"),
                                         ("rev_sent", "rev_tx_data", "rev_tx_valid",
                                          "rev_tx_ready"),
                                         ("fwd_recv", "fwd_rx_data", "fwd_rx_valid", None),
                                         ("rev_recv", "rev_rx_data", "rev_rx_valid", None)):
            if _int(h[valid]) and (ready is None or _int(h[ready])):
                frame = self.mon[name].beat(_int(h[data]), cycle)
                if frame is not None and name.endswith("sent") and not frame.crc_ok:
                    self.sent_bad.append((name, cycle, frame.header.name, frame.header.seq))

    def summary(self, dump=False):
        out = {"sent_bad": self.sent_bad[:20]}
        for name, m in self.mon.items():
            frames = m.frames
            out[name] = {"frames": len(frames), "bad": sum(not f.crc_ok for f in frames),
                         "data_frames": sum(f.header.name == "DATA" for f in frames)}
            if dump:
                out[name]["list"] = [[f.cycle, f.header.name, f.header.seq, f.header.aux,
                                      f.header.k, f.header.flags, int(f.crc_ok)]
                                     for f in frames]
        return out


async def _reset(dut, cycles=8):
    dut.rst.value = 1
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0


def _status(dut):
    names = [n for n in dir(dut) if n.startswith(("tx_stat_", "rx_stat_", "ch_", "tr_"))
             and not n.startswith(("ch_seed", "tr_seed"))]
    out = {}
    for n in names:
        try:
            out[n] = _int(getattr(dut, n))
        except AttributeError:
            pass
    return out


def _stall_message(dut, cycle, stall_limit, what):
    s = _status(dut)
    return (f"watchdog: link stalled, no beat delivered for {stall_limit} cycles (at cycle "
            f"{cycle}; {what}); TX link_up={s.get('tx_stat_link_up')} frames sent "
            f"{s.get('tx_stat_frames_sent')} resent {s.get('tx_stat_frames_resent')} "
            f"retrains {s.get('tx_stat_retrains')} CRC errors {s.get('tx_stat_crc_errors')}; "
            f"RX link_up={s.get('rx_stat_link_up')} frames received "
            f"{s.get('rx_stat_frames_received')} CRC errors {s.get('rx_stat_crc_errors')} "
            f"NAKs {s.get('rx_stat_naks')}")


@cocotb.test()
async def link_test(dut):
    with open(os.environ["STREAMQNN_LINK_CONFIG"]) as fh:
        cfg = json.load(fh)
    link = LinkConfig(**cfg["link"])
    report = {"ok": False, "message": ""}
    for name, value in cfg["inputs"].items():
        getattr(dut, name).value = value
    dut.tr_enable.value = 0
    dut.s_axis_tvalid.value = 0
    dut.s_axis_tdata.value = 0
    dut.s_axis_tlast.value = 0
    dut.m_axis_tready.value = 0
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    await _reset(dut)
    monitors = Monitors(dut, link) if cfg.get("monitor") else None
    stall_limit = int(cfg["stall_limit"])
    try:
        if cfg["traffic"] == "hdl":
            await _run_hdl(dut, cfg, monitors, stall_limit, report)
        else:
            await _run_python(dut, cfg, monitors, stall_limit, report)
        report["ok"] = True
    except AssertionError as exc:
        report["message"] = str(exc)
        raise
    finally:
        report["status"] = _status(dut)
        if "sent" in report:
            report["sent"] = [[[d, int(last)] for d, last in img] for img in report["sent"]
                              if img]
            report["delivered"] = [[d, int(last)] for d, last in report["delivered"]]
        if monitors is not None:
            report["monitors"] = monitors.summary(bool(cfg.get("dump")))
        with open(cfg["report"], "w") as fh:
            json.dump(report, fh)


async def _run_hdl(dut, cfg, monitors, stall_limit, report):
    """HDL source and checker; Python polls (or samples the lanes every cycle)."""
    target = int(cfg["inputs"]["tr_max_beats"])
    dut.tr_enable.value = 1
    cycle, last_progress, last_delivered = 0, 0, 0
    chunk = 256
    while True:
        if monitors is None:
            await Timer(chunk * CLOCK_NS, unit="ns")
            cycle += chunk
        else:
            for _ in range(chunk):
                await RisingEdge(dut.clk)
                cycle += 1
                monitors.sample(cycle, _int(dut.rst_tx), _int(dut.rst_rx))
        delivered = _int(dut.tr_delivered)
        if _int(dut.tr_mismatches):
            raise AssertionError(
                f"link delivered a wrong beat: beat {_int(dut.tr_first_bad)} differs from "
                f"the stream sent ({_int(dut.tr_mismatches)} beats differ)")
        if delivered != last_delivered:
            last_delivered, last_progress = delivered, cycle
        if delivered >= target:
            break
        if cycle - last_progress > stall_limit:
            raise AssertionError(_stall_message(dut, cycle, stall_limit,
                                                f"{delivered} of {target} beats delivered"))
    # nothing more may arrive
    await ClockCycles(dut.clk, 64)
    report["cycles"] = cycle + 64
    extra = _int(dut.tr_delivered) - target
    assert extra == 0, f"link delivered {extra} beats more than were sent"


async def _run_python(dut, cfg, monitors, stall_limit, report):
    """Python source and sink, every cycle."""
    rng = random.Random(int(cfg.get("seed", 0)))
    images = [[(int(d), bool(last)) for d, last in img] for img in cfg["images"]]
    gap, stall = float(cfg.get("gap", 0.0)), float(cfg.get("stall", 0.0))
    holds = {int(k): int(v) for k, v in cfg.get("holds", {}).items()}  # image: from cycle
    sent = [[]]            # beats the TX accepted, per image (an abandoned image stays short)
    delivered, events = [], []
    report["sent"], report["delivered"], report["events"] = sent, delivered, events
    img, pos = 0, 0        # the beat offered: images[img][pos]
    valid = False
    cycle, last_progress = 0, 0
    h = {n: getattr(dut, n) for n in ("s_axis_tready", "s_axis_tvalid", "s_axis_tdata",
                                      "s_axis_tlast", "m_axis_tvalid", "m_axis_tready",
                                      "m_axis_tdata", "m_axis_tlast", "rst_tx", "rst_rx")}
    ready = False
    tx_in_reset = rx_in_reset = False
    last_sent = images[-1][-1] if images and images[-1] else None
    while True:
        await RisingEdge(dut.clk)
        cycle += 1
        rst_tx, rst_rx = _int(h["rst_tx"]), _int(h["rst_rx"])
        if monitors is not None:
            monitors.sample(cycle, rst_tx, rst_rx)
        # --- source ---
        if valid and _int(h["s_axis_tready"]) and not rst_tx:
            sent[-1].append(images[img][pos])
            pos += 1
            if pos == len(images[img]):
                img, pos = img + 1, 0
                sent.append([])
            valid = False
        if rst_tx and not tx_in_reset:
            events.append(("tx_reset", cycle, len(delivered)))
            if pos:                      # the upstream restarts at the next image
                img, pos = img + 1, 0
                sent.append([])
            valid = False
        tx_in_reset = bool(rst_tx)
        if not valid and not rst_tx and img < len(images) and rng.random() >= gap \
                and (pos or cycle >= holds.get(img, 0)):
            valid = True
            data, last = images[img][pos]
            h["s_axis_tdata"].value = data
            h["s_axis_tlast"].value = int(last)
        h["s_axis_tvalid"].value = int(valid)
        # --- sink ---
        if ready and _int(h["m_axis_tvalid"]):
            delivered.append((_int(h["m_axis_tdata"]), bool(_int(h["m_axis_tlast"]))))
            last_progress = cycle
        if rst_rx and not rx_in_reset:
            events.append(("rx_reset", cycle, len(delivered)))
        rx_in_reset = bool(rst_rx)
        ready = rng.random() >= stall
        h["m_axis_tready"].value = int(ready)
        # --- done? ---
        source_done = img >= len(images)
        if source_done and delivered and delivered[-1] == last_sent and \
                cycle - last_progress > 64:
            break
        if cycle - max(last_progress, holds.get(img, 0)) > stall_limit:
            raise AssertionError(_stall_message(
                dut, cycle, stall_limit, f"{len(delivered)} beats delivered, source at "
                f"image {img} of {len(images)}"))
        if cycle > int(cfg.get("max_cycles", 10 ** 9)):
            raise AssertionError(f"run exceeded {cfg['max_cycles']} cycles")
    report["cycles"] = cycle
