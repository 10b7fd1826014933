"""Simulate a partitioned design: every partition top joined through channel models.

``system_top_text(pdz)`` writes ``<network>_system<K>`` (plain Verilog-2001, simulation
only): one instance ``u_part<k>`` per partition top, and per cut one channel model
(``verif/channel/link_channel.v``, full duplex: its A side is part k's link TX, its B
side part k+1's link RX) carrying the forward lane and the ACK/NAK lane back. The system
presents ``s_axis`` / ``m_axis`` like a network top, so the generic testbench
(``verif.harness.simulate``) drives it, with one probe per internal stream of every
partition (``u_part<k>.<wire>``) and golden vectors from the reference model.

The channel configuration (seed, latency, bit error rate as thresholds, drops, idles) is
read at time 0 from ``system_channel.cfg`` in the run folder (``$fscanf``), so one
simulator build serves every BER and seed. At every output ``tlast`` the system prints
each cut's link counters (``streamqnn-link`` lines in the simulator log): frames sent
and resent (replays), CRC errors at either end, NAKs, dropped frames, retrains, reported
losses, bits flipped and beats dropped by the channel.

``run_system(pdz, sim, frames, ber=...)`` returns a :class:`SystemRun`: the harness's
result, the link counters per cut, the measured frame intervals against the system cycle
model (``PartitionPlan.system_interval``) and the measured first-frame latency (no model
claims it across links).
"""

import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


from rtl_gen.hdl.block import StreamPort
from verif.channel import VERILOG, ChannelConfig
from verif.harness import simulate
from verif.lint import lint
from verif.network_sim import probes as stream_probes
from verif.network_sim import vectors

CFG_NAME = "system_channel.cfg"
CFG_FIELDS = ("ch_seed", "ch_latency", "ch_err_thresh", "ch_err2_thresh", "ch_drop_thresh",
              "ch_idle_thresh", "ch_cc_period", "ch_cc_len")
TX_COUNTERS = ("frames_sent", "frames_resent", "crc_errors", "retrains", "loss")
RX_COUNTERS = ("frames_received", "crc_errors", "naks", "frames_dropped", "retrains",
               "loss")
CH_COUNTERS = ("flips_ab", "flips_ba", "drops_ab", "drops_ba", "beats_ab", "beats_ba")
DEFAULT_BER = 2e-5        # with 64-bit lanes: about one corrupted frame in 12 of 66 beats


def _w(width):
    return f"[{width - 1}:0] " if width > 1 else ""


class SystemDesign:
    """The system as the harness sees a block: name, stream ports, files."""

    kind = "network"

    def __init__(self, pdz):
        self.pdz = pdz
        self.name = f"{pdz.name}_system{len(pdz.parts)}"
        self.net = pdz.net
        first, last = pdz.parts[0].pipeline, pdz.parts[-1].pipeline
        self.pipeline = last
        ib, ip = first.inp
        ob, op = last.out
        i, o = ib.port(ip), ob.port(op)
        self._ports = [StreamPort("s_axis", "in", i.lanes, i.bits, i.signed),
                       StreamPort("m_axis", "out", o.lanes, o.bits, o.signed)]

    def ports(self):
        return self._ports

    def port(self, name):
        return next(p for p in self._ports if p.name == name)

    def cycles_per_frame(self):
        return self.pdz.cycles_per_frame()


def system_top_text(pdz, top):
    parts = pdz.parts
    K = len(parts)
    sd = SystemDesign(pdz)
    si, mo = sd.port("s_axis"), sd.port("m_axis")
    L = []
    a = L.append
    a("`timescale 1ns/1ps")
    a(f"// {top}: the {K} partitions of {pdz.name} joined through channel models")
    a("// (simulation only; written by verif/system_sim.py). Channel configuration from")
    a(f"// {CFG_NAME} (read at time 0); link counters printed at every output tlast.")
    a(f"module {top} (")
    a("    clk, rst, s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast,")
    a("    m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast")
    a(");")
    a("input clk;")
    a("input rst;")
    a(f"input {_w(si.width)}s_axis_tdata;")
    a("input s_axis_tvalid;")
    a("output s_axis_tready;")
    a("input s_axis_tlast;")
    a(f"output {_w(mo.width)}m_axis_tdata;")
    a("output m_axis_tvalid;")
    a("input m_axis_tready;")
    a("output m_axis_tlast;")
    a("")
    a("/* verilator lint_off UNUSEDSIGNAL */")
    for n in CFG_FIELDS:
        a(f"reg [31:0] {n};")
    a("integer cfg_fd;")
    a("integer cfg_n;")
    a("initial begin")
    a("    ch_seed = 32'd1; ch_latency = 32'd8; ch_err_thresh = 32'd0; ch_err2_thresh = 32'd0;")
    a("    ch_drop_thresh = 32'd0; ch_idle_thresh = 32'd0; ch_cc_period = 32'd0;")
    a("    ch_cc_len = 32'd0;")
    a(f"    cfg_fd = $fopen(\"{CFG_NAME}\", \"r\");")
    a("    if (cfg_fd != 0) begin")
    a("        cfg_n = $fscanf(cfg_fd, \"%d %d %d %d %d %d %d %d\", ch_seed, ch_latency,")
    a("                        ch_err_thresh, ch_err2_thresh, ch_drop_thresh, ch_idle_thresh,")
    a("                        ch_cc_period, ch_cc_len);")
    a("        $fclose(cfg_fd);")
    a("        if (cfg_n != 8) $display(\"streamqnn-link: bad channel configuration\");")
    a("    end else begin")
    a(f"        $display(\"streamqnn-link: no {CFG_NAME}, an error-free channel\");")
    a("    end")
    a("end")
    a("")
    for k in range(K - 1):
        tx, rx = parts[k].tx, parts[k + 1].rx
        W = tx.cfg.lane_bits
        c = k + 1
        for n, w in (("fwd_data", W), ("fwd_valid", 1), ("fwd_last", 1), ("fwd_ready", 1),
                     ("fwd_out_data", W), ("fwd_out_valid", 1),
                     ("rev_data", W), ("rev_valid", 1), ("rev_last", 1), ("rev_ready", 1),
                     ("rev_out_data", W), ("rev_out_valid", 1), ("rst_a", 1), ("rst_b", 1)):
            a(f"wire {_w(w)}c{c}_{n};")
        for n in ("cycle",) + CH_COUNTERS:
            a(f"wire [31:0] c{c}_{n};")
        for e, names, src in (("tx", TX_COUNTERS, tx), ("rx", RX_COUNTERS, rx)):
            widths = dict((x.name, x.width) for x in src.extra_ports())
            for n in names + ("link_up", "far_resets"):
                a(f"wire {_w(widths['stat_' + n])}c{c}_{e}_{n};")
        a("")
    for k, pd in enumerate(parts):
        conns = ["    .clk(clk)", "    .rst(rst)"]
        if k == 0:
            conns += [f"    .s_axis_{s}(s_axis_{s})" for s in ("tdata", "tvalid", "tready",
                                                               "tlast")]
        if k == K - 1:
            conns += [f"    .m_axis_{s}(m_axis_{s})" for s in ("tdata", "tvalid", "tready",
                                                               "tlast")]
        if pd.rx is not None:
            c, r = k, pd.rx.name
            conns += [f"    .{r}_rx_lane_data(c{c}_fwd_out_data)",
                      f"    .{r}_rx_lane_valid(c{c}_fwd_out_valid)",
                      f"    .{r}_tx_lane_data(c{c}_rev_data)",
                      f"    .{r}_tx_lane_valid(c{c}_rev_valid)",
                      f"    .{r}_tx_lane_last(c{c}_rev_last)",
                      f"    .{r}_tx_lane_ready(c{c}_rev_ready)"]
            conns += [f"    .{r}_stat_{n}(c{c}_rx_{n})" for n in RX_COUNTERS + ("link_up",
                                                                              "far_resets")]
        if pd.tx is not None:
            c, t = k + 1, pd.tx.name
            conns += [f"    .{t}_tx_lane_data(c{c}_fwd_data)",
                      f"    .{t}_tx_lane_valid(c{c}_fwd_valid)",
                      f"    .{t}_tx_lane_last(c{c}_fwd_last)",
                      f"    .{t}_tx_lane_ready(c{c}_fwd_ready)",
                      f"    .{t}_rx_lane_data(c{c}_rev_out_data)",
                      f"    .{t}_rx_lane_valid(c{c}_rev_out_valid)"]
            conns += [f"    .{t}_stat_{n}(c{c}_tx_{n})" for n in TX_COUNTERS + ("link_up",
                                                                              "far_resets")]
        a(f"{pd.top} u_part{k + 1} (")
        a(",\n".join(conns))
        a(");")
        a("")
    for k in range(K - 1):
        c = k + 1
        W = parts[k].tx.cfg.lane_bits
        a(f"link_channel #(.W({W})) u_channel{c} (")
        a(f"    .clk(clk), .rst(rst), .seed(ch_seed ^ 32'd{(c * 0x9E3779B1) & 0x7FFFFFFF}),")
        a("    .latency(ch_latency[15:0]), .err_thresh(ch_err_thresh),")
        a("    .err2_thresh(ch_err2_thresh), .drop_thresh(ch_drop_thresh),")
        a("    .idle_thresh(ch_idle_thresh), .cc_period(ch_cc_period), .cc_len(ch_cc_len[7:0]),")
        a("    .rst_a_at(32'd0), .rst_b_at(32'd0), .rst_len(16'd0),")
        a(f"    .a_tx_data(c{c}_fwd_data), .a_tx_valid(c{c}_fwd_valid), "
          f".a_tx_ready(c{c}_fwd_ready),")
        a(f"    .b_rx_data(c{c}_fwd_out_data), .b_rx_valid(c{c}_fwd_out_valid),")
        a(f"    .b_tx_data(c{c}_rev_data), .b_tx_valid(c{c}_rev_valid), "
          f".b_tx_ready(c{c}_rev_ready),")
        a(f"    .a_rx_data(c{c}_rev_out_data), .a_rx_valid(c{c}_rev_out_valid),")
        a(f"    .rst_a(c{c}_rst_a), .rst_b(c{c}_rst_b), .cycle(c{c}_cycle),")
        a(", ".join(f".{n}(c{c}_{n})" for n in CH_COUNTERS))
        a(");")
        a("")
    a("always @(posedge clk) begin")
    a("    if (!rst && m_axis_tvalid && m_axis_tready && m_axis_tlast) begin")
    for k in range(K - 1):
        c = k + 1
        fields = ([f"tx_{n}" for n in TX_COUNTERS] + [f"rx_{n}" for n in RX_COUNTERS]
                  + list(CH_COUNTERS) + ["cycle"])
        fmt = " ".join(f"{f}=%0d" for f in fields)
        args = ", ".join(f"c{c}_{f}" for f in fields)
        a(f"        $display(\"streamqnn-link cut={c} {fmt}\", {args});")
    a("    end")
    a("end")
    a("/* verilator lint_on UNUSEDSIGNAL */")
    a("endmodule")
    return "\n".join(L) + "\n"


def write_system(pdz, check_lint=True):
    """Write the system top beside the partitions; lint the whole system once."""
    sd = SystemDesign(pdz)
    path = Path(pdz.folder) / f"{sd.name}.v"
    path.write_text(system_top_text(pdz, sd.name))
    sd.files = tuple(list(pdz.files) + list(VERILOG) + [path])
    sd.top = sd.name
    if check_lint:
        lint(sd.files, sd.name)
    return sd


def parse_counters(log_text):
    """{cut: {counter: value}} from the last ``streamqnn-link`` line of each cut."""
    out = {}
    for m in re.finditer(r"streamqnn-link cut=(\d+) (.*)", log_text):
        out[int(m.group(1))] = {k: int(v) for k, v in
                                (kv.split("=") for kv in m.group(2).split())}
    return out


@dataclass
class SystemRun:
    res: object
    model_interval: int
    counters: dict
    channel: ChannelConfig
    frames: int

    @property
    def intervals(self):
        return self.res.frame_intervals() if len(self.res.frame_ends()) >= 2 else []

    @property
    def replays(self):
        return sum(c.get("tx_frames_resent", 0) for c in self.counters.values())

    @property
    def crc_errors(self):
        return sum(c.get("rx_crc_errors", 0) + c.get("tx_crc_errors", 0)
                   for c in self.counters.values())

    def summary(self):
        lines = [f"PASS: {self.frames} of {self.frames} frames bit-exact through "
                 f"{len(self.counters)} link(s) (channel BER {self.channel.ber:g}, latency "
                 f"{self.channel.latency}, seed {self.channel.seed})"]
        for c, v in sorted(self.counters.items()):
            lines.append(f"  cut {c}: {v['tx_frames_sent']} frames sent, "
                         f"{v['tx_frames_resent']} replayed, CRC errors {v['rx_crc_errors']} "
                         f"(forward) / {v['tx_crc_errors']} (reverse), {v['rx_naks']} NAKs, "
                         f"{v['rx_frames_dropped']} dropped, {v['rx_retrains']} retrains, "
                         f"bits flipped {v['flips_ab']}/{v['flips_ba']}")
        iv = self.intervals
        verdict = ""
        if iv:
            worst = max(iv)
            verdict = (f"; {worst / self.model_interval - 1:+.2%} against the model"
                       + (" (replays under errors: not a failure)" if self.replays else ""))
        lines.append(f"  cycles per frame: {iv} measured, {self.model_interval} system model "
                     f"(max of pipeline interval and links){verdict}")
        lines.append(f"  first-frame latency: {self.res.latency()} cycles measured (no "
                     "latency model across links)")
        speed = self.res.cycles_per_second
        if speed:
            lines.append(f"  simulator speed: {speed:,.0f} cycles/s ({self.res.cycles} cycles "
                         f"in {self.res.sim_seconds:.1f} s; {self.res.build_seconds:.1f} s "
                         "building)")
        return "\n".join(lines)


class _RTL:
    def __init__(self, sd, cfg_file):
        self.top = sd.top
        self.files = tuple(sd.files)
        self.data_files = tuple(f for f in sd.files if not str(f).endswith(".v")) + \
            (cfg_file,)


def run_system(pdz, sim, frames=2, seed=1, ber=DEFAULT_BER, latency=16, channel_seed=None,
               gap=0.0, stall=0.0, watch=True, label="system", progress=None, system=None):
    """Simulate the partitioned design ``pdz`` through channel models on ``sim``."""
    sd = system or write_system(pdz)
    ch = ChannelConfig(latency=latency, ber=ber, seed=seed if channel_seed is None
                       else channel_seed)
    lane_bits = pdz.parts[0].tx.cfg.lane_bits
    inp = ch.inputs(lane_bits)
    tmp = Path(tempfile.mkdtemp(prefix="syscfg-"))
    cfg_file = tmp / CFG_NAME
    cfg_file.write_text(" ".join(str(int(inp[n])) for n in CFG_FIELDS) + "\n")
    inputs, expected, outs = vectors(sd, frames, seed)
    pr = []
    if watch:
        for pd in pdz.parts:
            view = type("PartView", (), {"pipeline": pd.pipeline})()
            for p in stream_probes(view, outs):
                pr.append(dict(p, prefix=f"u_part{pd.index}.{p['prefix']}"))
    limit = 8 * sd.cycles_per_frame() + 40000
    t0 = time.time()
    res = simulate(sd, sim, inputs, expected, gap=gap, stall=stall, seed=seed,
                   stall_limit=limit, rtl=_RTL(sd, cfg_file), label=label, probes=pr,
                   progress=progress)
    log = res.run_dir / "sim.log"
    counters = parse_counters(log.read_text() if log.exists() else "")
    run = SystemRun(res, sd.cycles_per_frame(), counters, ch, frames)
    run.wall = time.time() - t0
    return run


__all__ = ["SystemDesign", "SystemRun", "run_system", "system_top_text", "write_system",
           "parse_counters", "DEFAULT_BER"]
