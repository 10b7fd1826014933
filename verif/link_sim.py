"""Simulate a link: a TX and an RX joined through the channel model, on either simulator.

``system_top(tx, rx)`` writes ``linksys_<name>``: the two generated link ends, the
channel model (``verif/channel/link_channel.v``) between their lanes, and the HDL
traffic (``verif/channel/link_traffic.v``); every configuration of the channel and the
traffic is an input port, so one simulator build serves every run of a link
configuration (``verif.harness.build`` caches it by the Verilog's hash). The ends' resets
are the channel's reset outputs ORed with the global reset.

``run_link(tx, rx, sim, channel, images=... | traffic=...)`` runs ``verif/tb_link.py``
and returns a :class:`LinkRun`; ``check_delivery`` is the rule a delivered stream must
follow (exactly the stream sent; across resets, at most one discontinuity per reset,
whole images delivered once and in order, and any loss reported).
"""

import hashlib
import json
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtl_gen.blocks.link.framing import LinkConfig
from rtl_gen.blocks.link.link import RX_STATUS, TX_STATUS
from verif.channel import VERILOG, ChannelConfig, TrafficConfig
from verif.harness import BUILD, SimulationFailed, build, generate
from verif.lint import lint

TB_MODULE = "verif.tb_link"
CH_PORTS = (("ch_seed", 32), ("ch_latency", 16), ("ch_err_thresh", 32),
            ("ch_err2_thresh", 32), ("ch_drop_thresh", 32), ("ch_idle_thresh", 32),
            ("ch_cc_period", 32), ("ch_cc_len", 8), ("ch_rst_a_at", 32),
            ("ch_rst_b_at", 32), ("ch_rst_len", 16))
TR_PORTS = (("tr_seed", 32), ("tr_last_thresh", 32), ("tr_gap_thresh", 32),
            ("tr_stall_thresh", 32), ("tr_max_beats", 32))
CH_COUNTERS = ("cycle", "flips_ab", "flips_ba", "drops_ab", "drops_ba", "beats_ab",
               "beats_ba")
TR_COUNTERS = (("sent", 32), ("delivered", 32), ("images", 32), ("mismatches", 32),
               ("first_bad", 32), ("lat_sum", 64), ("lat_min", 32), ("lat_max", 32),
               ("t_first_in", 32), ("t_last_out", 32))


def _decl(direction, name, width):
    rng = f"[{width - 1}:0] " if width > 1 else ""
    return f"    {direction} {rng}{name}"


def system_top_text(tx, rx, top):
    """Verilog of the system top joining ``tx`` and ``rx`` (LinkTx, LinkRx)."""
    W, D = tx.cfg.lane_bits, tx.width
    ports = [_decl("input", "clk", 1), _decl("input", "rst", 1)]
    ports += [_decl("input", n, w) for n, w in CH_PORTS]
    ports += [_decl("input", "tr_enable", 1)] + [_decl("input", n, w) for n, w in TR_PORTS]
    ports += [_decl("input", "s_axis_tdata", D), _decl("input", "s_axis_tvalid", 1),
              _decl("output", "s_axis_tready", 1), _decl("input", "s_axis_tlast", 1),
              _decl("output", "m_axis_tdata", D), _decl("output", "m_axis_tvalid", 1),
              _decl("input", "m_axis_tready", 1), _decl("output", "m_axis_tlast", 1)]
    for lane in ("fwd", "rev"):
        ports += [_decl("output", f"{lane}_tx_data", W), _decl("output", f"{lane}_tx_valid", 1),
                  _decl("output", f"{lane}_tx_last", 1), _decl("output", f"{lane}_tx_ready", 1),
                  _decl("output", f"{lane}_rx_data", W), _decl("output", f"{lane}_rx_valid", 1)]
    ports += [_decl("output", "rst_tx", 1), _decl("output", "rst_rx", 1)]
    ports += [_decl("output", "tx_" + n, w) for n, w in TX_STATUS]
    ports += [_decl("output", "rx_" + n, w) for n, w in RX_STATUS]
    ports += [_decl("output", "ch_" + n, 32) for n in CH_COUNTERS]
    ports += [_decl("output", "tr_" + n, w) for n, w in TR_COUNTERS]
    tx_stats = ",\n".join(f"        .{n}(tx_{n})" for n, _ in TX_STATUS)
    rx_stats = ",\n".join(f"        .{n}(rx_{n})" for n, _ in RX_STATUS)
    names = ",\n".join("    " + p.strip().split()[-1] for p in ports)
    decls = ";\n".join(ports)
    return f"""`timescale 1ns/1ps
// {top}: link TX {tx.name} -> channel model -> link RX {rx.name}, with HDL traffic
// (simulation only; written by verif/link_sim.py).
module {top} (
{names}
);
{decls};

    wire [{D - 1}:0] g_tdata;
    wire g_tlast;
    wire g_tvalid;
    wire g_tready;
    wire [{D - 1}:0] tx_tdata = tr_enable ? g_tdata : s_axis_tdata;
    wire tx_tlast = tr_enable ? g_tlast : s_axis_tlast;
    wire tx_tvalid = tr_enable ? g_tvalid : s_axis_tvalid;
    wire tx_tready;
    wire rx_tready;
    wire g_mready;
    wire rst_a;
    wire rst_b;

    assign s_axis_tready = tx_tready & ~tr_enable;
    assign g_tready = tx_tready & tr_enable;
    assign rx_tready = tr_enable ? g_mready : m_axis_tready;
    assign rst_tx = rst_a;
    assign rst_rx = rst_b;

    {tx.name} tx (
        .clk(clk), .rst(rst | rst_a),
        .s_axis_tdata(tx_tdata), .s_axis_tvalid(tx_tvalid), .s_axis_tready(tx_tready),
        .s_axis_tlast(tx_tlast),
        .tx_lane_data(fwd_tx_data), .tx_lane_valid(fwd_tx_valid),
        .tx_lane_last(fwd_tx_last), .tx_lane_ready(fwd_tx_ready),
        .rx_lane_data(rev_rx_data), .rx_lane_valid(rev_rx_valid),
{tx_stats}
    );

    {rx.name} rx (
        .clk(clk), .rst(rst | rst_b),
        .rx_lane_data(fwd_rx_data), .rx_lane_valid(fwd_rx_valid),
        .m_axis_tdata(m_axis_tdata), .m_axis_tvalid(m_axis_tvalid),
        .m_axis_tready(rx_tready), .m_axis_tlast(m_axis_tlast),
        .tx_lane_data(rev_tx_data), .tx_lane_valid(rev_tx_valid),
        .tx_lane_last(rev_tx_last), .tx_lane_ready(rev_tx_ready),
{rx_stats}
    );

    link_channel #(.W({W})) channel (
        .clk(clk), .rst(rst), .seed(ch_seed), .latency(ch_latency),
        .err_thresh(ch_err_thresh), .err2_thresh(ch_err2_thresh),
        .drop_thresh(ch_drop_thresh), .idle_thresh(ch_idle_thresh),
        .cc_period(ch_cc_period), .cc_len(ch_cc_len), .rst_a_at(ch_rst_a_at),
        .rst_b_at(ch_rst_b_at), .rst_len(ch_rst_len),
        .a_tx_data(fwd_tx_data), .a_tx_valid(fwd_tx_valid), .a_tx_ready(fwd_tx_ready),
        .b_rx_data(fwd_rx_data), .b_rx_valid(fwd_rx_valid),
        .b_tx_data(rev_tx_data), .b_tx_valid(rev_tx_valid), .b_tx_ready(rev_tx_ready),
        .a_rx_data(rev_rx_data), .a_rx_valid(rev_rx_valid),
        .rst_a(rst_a), .rst_b(rst_b), .cycle(ch_cycle),
        .flips_ab(ch_flips_ab), .flips_ba(ch_flips_ba), .drops_ab(ch_drops_ab),
        .drops_ba(ch_drops_ba), .beats_ab(ch_beats_ab), .beats_ba(ch_beats_ba)
    );

    link_traffic #(.D({D})) traffic (
        .clk(clk), .rst(rst), .enable(tr_enable), .seed(tr_seed),
        .last_thresh(tr_last_thresh), .gap_thresh(tr_gap_thresh),
        .stall_thresh(tr_stall_thresh), .max_beats(tr_max_beats),
        .s_tdata(g_tdata), .s_tlast(g_tlast), .s_tvalid(g_tvalid), .s_tready(g_tready),
        .m_tdata(m_axis_tdata), .m_tlast(m_axis_tlast), .m_tvalid(m_axis_tvalid),
        .m_tready(g_mready),
        .sent(tr_sent), .delivered(tr_delivered), .images(tr_images),
        .mismatches(tr_mismatches), .first_bad(tr_first_bad), .lat_sum(tr_lat_sum),
        .lat_min(tr_lat_min), .lat_max(tr_lat_max), .t_first_in(tr_t_first_in),
        .t_last_out(tr_t_last_out)
    );
endmodule
"""


@dataclass
class LinkSystem:
    """The files and top module of one TX/RX pair's system."""

    top: str
    files: list
    cfg: LinkConfig
    width: int


def system_top(tx, rx, check_lint=True):
    """Generate (cached) both ends and the system top; lint the whole system."""
    if tx.params() != {**rx.params()}:
        raise ValueError(f"{tx.name} and {rx.name} have different parameters")
    rtl_tx, rtl_rx = generate(tx, check_lint), generate(rx, check_lint)
    top = f"linksys_{tx.name}"
    text = system_top_text(tx, rx, top)
    folder = BUILD / "linksys"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{top}.v"
    if not path.exists() or path.read_text() != text:
        tmp = path.with_suffix(f".{time.time_ns()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    files = [rtl_tx.verilog, rtl_rx.verilog, *VERILOG, path]
    if check_lint:      # once per content of all the files
        digest = hashlib.sha256(b"".join(Path(f).read_bytes() for f in files)).hexdigest()
        stamp = folder / f"{top}.lint"
        if not stamp.exists() or stamp.read_text() != digest:
            lint(files, top)
            stamp.write_text(digest)
    return LinkSystem(top, files, tx.cfg, tx.width)


@dataclass
class LinkRun:
    """What one link simulation measured."""

    sim: str
    cycles: int
    status: dict
    report: dict
    run_dir: Path
    sim_seconds: float = 0.0
    events: list = field(default_factory=list)

    def stat(self, name):
        return self.status.get(name)

    @property
    def delivered(self):
        return [(d, bool(last)) for d, last in self.report.get("delivered", [])]

    @property
    def sent(self):
        return [[(d, bool(last)) for d, last in img] for img in self.report.get("sent", [])]


def run_link(tx, rx, sim, channel=None, images=None, traffic=None, gap=0.0, stall=0.0,
             seed=0, monitor=True, stall_limit=None, label="link", max_cycles=None,
             dump=False, holds=None):
    """Simulate ``tx`` -> channel -> ``rx`` on ``sim``.

    Either ``images`` (lists of (tdata, tlast) beats; Python drives and records them, with
    input ``gap`` and consumer ``stall`` probabilities) or ``traffic`` (a
    :class:`TrafficConfig` with ``beats`` > 0: the HDL source and checker); ``holds``
    ({image index: cycle}) keeps the Python source from starting an image early. ``monitor``
    checks every frame on both lanes with zlib (a Python step per clock). Raises
    :class:`SimulationFailed` with the testbench's message (a wrong beat, the watchdog)."""
    from cocotb_tools.runner import get_runner

    channel = channel or ChannelConfig()
    system = system_top(tx, rx)
    build_dir = build(sim, system.files, system.top)
    runs = BUILD / "runs" / sim / system.top
    runs.mkdir(parents=True, exist_ok=True)
    run_dir = Path(tempfile.mkdtemp(prefix=f"{label}-", dir=runs))
    inputs = channel.inputs(system.cfg.lane_bits)
    inputs.update((traffic or TrafficConfig()).inputs())
    if stall_limit is None:
        stall_limit = max(20000, 40 * system.cfg.replay_timeout)
    conf = {
        "link": system.cfg.as_dict(), "inputs": inputs, "monitor": bool(monitor),
        "traffic": "hdl" if traffic is not None else "python", "seed": seed, "gap": gap,
        "stall": stall, "stall_limit": stall_limit, "report": str(run_dir / "report.json"),
        "channel": channel.as_dict(), "dump": bool(dump),
        "holds": {str(k): int(v) for k, v in (holds or {}).items()},
    }
    if max_cycles:
        conf["max_cycles"] = max_cycles
    if traffic is None:
        conf["images"] = [[[int(d), int(bool(last))] for d, last in img] for img in images]
    elif traffic.beats <= 0:
        raise ValueError("HDL traffic needs a number of beats")
    cfg_path = run_dir / "link_config.json"
    cfg_path.write_text(json.dumps(conf))
    failure = None
    t0 = time.time()
    try:
        get_runner(sim).test(test_module=TB_MODULE, hdl_toplevel=system.top,
                             build_dir=build_dir, hdl_toplevel_lang="verilog",
                             test_dir=run_dir, results_xml=str(run_dir / "results.xml"),
                             extra_env={"STREAMQNN_LINK_CONFIG": str(cfg_path)},
                             log_file=run_dir / "sim.log", seed=seed)
    except (SystemExit, RuntimeError) as exc:
        failure = exc
    seconds = time.time() - t0
    path = run_dir / "report.json"
    report = json.loads(path.read_text()) if path.exists() else None
    if report is None or not report.get("ok"):
        msg = report.get("message") if report else None
        if not msg:
            log = run_dir / "sim.log"
            tail = log.read_text()[-3000:] if log.exists() else "(no log)"
            msg = f"link simulation on {sim} failed ({failure!r}); log tail:\n{tail}"
        raise SimulationFailed(f"[{sim}] link {tx.name} -> {rx.name}: {msg}\n"
                               f"(seed {channel.seed}, run folder: {run_dir})")
    return LinkRun(sim, report.get("cycles", 0), report.get("status", {}), report, run_dir,
                   seconds, report.get("events", []))


class DeliveryError(AssertionError):
    """The delivered stream breaks the link's promise."""


def check_delivery(sent, delivered, resets=0, losses_reported=0, tx_reset=False,
                   both_reset=False):
    """The rule for a delivered stream (lists of (tdata, tlast)).

    ``sent``: the images as the TX accepted them (one abandoned by its upstream at a TX
    reset ends without tlast). With no reset, ``delivered`` must be exactly the sent
    beats. Across ``resets`` resets: the delivered beats follow the sent stream with at
    most one discontinuity per reset, each one jumping forward to the first beat of a
    later image (never into the middle of one, never backwards: nothing duplicated,
    nothing out of order); an image whose start was delivered but not its end (a cut)
    needs a reported loss (``losses_reported`` > 0) unless both ends were reset together,
    and so do whole images skipped, unless the TX end was reset (images it had taken in
    are lost with its own state, which its side knows); everything sent after the last
    discontinuity is delivered.
    Returns a summary; raises :class:`DeliveryError`."""
    i, p = 0, 0
    jumps, cuts, skipped = 0, 0, 0
    for n, beat in enumerate(delivered):
        if i < len(sent) and p < len(sent[i]) and sent[i][p] == beat:
            p += 1
            if p == len(sent[i]) and beat[1]:
                i, p = i + 1, 0
            continue
        start = i + 1 if p else i
        j = next((j for j in range(start, len(sent)) if sent[j][0] == beat), None)
        where = f"delivered beat {n} (image {i}, beat {p} expected next)"
        if j is None:
            raise DeliveryError(f"{where}: 0x{beat[0]:x} is neither the next beat sent nor the "
                                "first beat of a later image (corrupted, duplicated or out of "
                                "order)")
        jumps += 1
        if p:
            cuts += 1             # image i: its start delivered, its end not
        skipped += j - start
        if jumps > resets:
            raise DeliveryError(f"{where}: a discontinuity (to image {j}) with "
                                f"{'no' if not resets else f'only {resets}'} reset(s)")
        i, p = j, 1
        if p == len(sent[i]) and beat[1]:
            i, p = i + 1, 0
    complete = i == len(sent) or (i == len(sent) - 1 and p == len(sent[i]))
    if not complete:
        raise DeliveryError(f"stream incomplete: {i} of {len(sent)} images delivered, "
                            f"{p} beats of the next")
    unreported = (cuts if not both_reset else 0) + (skipped if not tx_reset else 0)
    if unreported and not losses_reported:
        raise DeliveryError(f"{cuts} image(s) cut and {skipped} skipped across a reset, "
                            "and no loss was reported")
    return {"jumps": jumps, "cuts": cuts, "skipped": skipped}
