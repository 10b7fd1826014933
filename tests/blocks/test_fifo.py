"""FIFO: bit-exact pass-through on both simulators, with gaps, backpressure and a full
FIFO; one beat per clock when nothing stalls; the watchdog; clear errors."""

import random

import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.blocks.fifo import Fifo
from rtl_gen.hdl.block import StreamPort
from rtl_gen.hdl.emit import GeneratedRTL
from verif.harness import SimulationFailed, simulate

FIFOS = configs("fifo")


def frames_for(width, seed, count=6):
    """Frames of varied length (1-beat frames too) that contain every value for narrow
    widths, and zeros, all-ones and random words for wide ones."""
    rng = random.Random(seed)
    top = (1 << width) - 1
    words = list(range(top + 1)) if width <= 8 else [0, top] + [rng.getrandbits(width)
                                                               for _ in range(200)]
    rng.shuffle(words)
    lengths = [1, 2, 37] + [rng.randint(1, 60) for _ in range(count - 3)]
    frames, i = [], 0
    while i < len(words) or len(frames) < count:
        n = lengths[len(frames) % len(lengths)]
        frame = [words[(i + k) % len(words)] for k in range(n)]
        frames.append(frame)
        i += n
    return frames


@pytest.mark.parametrize("fifo", FIFOS, ids=lambda f: f.name)
@pytest.mark.parametrize("gap,stall", [(0.3, 0.3), (0.05, 0.85), (0.7, 0.0)],
                         ids=["random", "fills-up", "starved"])
def test_fifo_random_pauses(fifo, sim, gap, stall):
    frames = frames_for(fifo.width, seed=fifo.depth)
    simulate(fifo, sim, {"s_axis": frames}, {"m_axis": frames}, gap=gap, stall=stall,
             seed=7, label="pauses")


@pytest.mark.parametrize("fifo", FIFOS, ids=lambda f: f.name)
def test_fifo_full_throughput(fifo, sim):
    frames = frames_for(fifo.width, seed=3)
    res = simulate(fifo, sim, {"s_axis": frames}, {"m_axis": frames}, label="throughput")
    # Back to back: each frame end follows the previous one by exactly its length.
    assert res.frame_intervals() == [fifo.cycles_per_frame(len(f)) for f in frames[1:]]
    assert res.latency() == fifo.latency
    assert res.ports["s_axis"]["lasts"][-1] - res.ports["s_axis"]["first"] + 1 == \
        sum(len(f) for f in frames), "input side did not take one beat per clock"


def test_fifo_mismatch_is_reported(sim):
    fifo = FIFOS[0]
    frames = frames_for(fifo.width, seed=1)
    wrong = [list(f) for f in frames]
    wrong[2][1] ^= 1
    with pytest.raises(SimulationFailed, match=r"m_axis frame 2 beat 1 .*expected"):
        simulate(fifo, sim, {"s_axis": frames}, {"m_axis": wrong}, label="mismatch")


def test_fifo_tlast_and_beat_count_errors_are_reported(sim):
    """tlast where the block sends none, and output beats beyond the expected ones, each
    fail the run with a message saying which."""
    fifo = FIFOS[0]
    frames = frames_for(fifo.width, seed=1)
    split = frames[:2] + [frames[2][:10], frames[2][10:]] + frames[3:]
    with pytest.raises(SimulationFailed,
                       match=r"m_axis frame 2 has more than 10 beats, expected 10 \(tlast "
                             r"misplaced\)"):
        simulate(fifo, sim, {"s_axis": frames}, {"m_axis": split}, label="tlast")
    with pytest.raises(SimulationFailed, match=r"m_axis sent \d+ beats more than expected"):
        simulate(fifo, sim, {"s_axis": frames}, {"m_axis": frames[:-1]}, label="extra")


BAD_STREAM = """`timescale 1ns/10ps
// A one-beat buffer that withdraws its waiting beat on the third cycle it waits: every
// beat still leaves, in order and intact, but tvalid drops before the transfer.
module bad_stream (clk, rst, s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast,
                   m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast);
input clk, rst, s_axis_tvalid, s_axis_tlast, m_axis_tready;
input [7:0] s_axis_tdata;
output s_axis_tready, m_axis_tvalid, m_axis_tlast;
output [7:0] m_axis_tdata;
reg [7:0] data; reg last, full; reg [1:0] waited;
assign s_axis_tready = !full;
assign m_axis_tvalid = full && waited != 2;
assign m_axis_tdata = data;
assign m_axis_tlast = last;
always @(posedge clk) begin
    if (rst) begin
        full <= 0; waited <= 0;
    end else if (full) begin
        if (m_axis_tvalid && m_axis_tready) begin full <= 0; waited <= 0; end
        else waited <= waited + 1;
    end else if (s_axis_tvalid) begin
        data <= s_axis_tdata; last <= s_axis_tlast; full <= 1;
    end
end
endmodule
"""


class HandWritten:
    """A hand-written module as the harness takes a block: a name and stream ports."""

    def __init__(self, name, ports):
        self.name, self._ports = name, ports

    def ports(self):
        return self._ports

    def port(self, name):
        return next(p for p in self._ports if p.name == name)


def test_stream_contract_break_is_reported(sim, tmp_path):
    """Data right, order right, but tvalid withdrawn before the transfer: the run fails
    naming the port and the cycle."""
    verilog = tmp_path / "bad_stream.v"
    verilog.write_text(BAD_STREAM)
    blk = HandWritten("bad_stream", [StreamPort("s_axis", "in", 1, 8),
                                     StreamPort("m_axis", "out", 1, 8)])
    frames = frames_for(8, seed=4)
    with pytest.raises(SimulationFailed, match=r"block 'bad_stream': m_axis broke the stream "
                                               r"contract at cycle \d+: tvalid dropped"):
        simulate(blk, sim, {"s_axis": frames}, {"m_axis": frames}, stall=0.5, seed=3,
                 rtl=GeneratedRTL("bad_stream", verilog), label="contract")
    # without backpressure the beat never waits, so the same module passes
    simulate(blk, sim, {"s_axis": frames}, {"m_axis": frames},
             rtl=GeneratedRTL("bad_stream", verilog), label="contract-ok")


EARLY_OUT = """`timescale 1ns/10ps
// Sends its one output beat (the first input beat) at once, then takes one more input
// beat every EVERY cycles: the rest of a frame a network does not use.
module early_outEVERY (clk, rst, s_axis_tdata, s_axis_tvalid, s_axis_tready, s_axis_tlast,
                       m_axis_tdata, m_axis_tvalid, m_axis_tready, m_axis_tlast);
input clk, rst, s_axis_tvalid, s_axis_tlast, m_axis_tready;
input [7:0] s_axis_tdata;
output s_axis_tready, m_axis_tvalid, m_axis_tlast;
output [7:0] m_axis_tdata;
reg [7:0] data; reg full, sent; reg [9:0] slow;
assign s_axis_tready = !full && (!sent || slow == EVERY);
assign m_axis_tvalid = full;
assign m_axis_tdata = data;
assign m_axis_tlast = 1'b1;
always @(posedge clk) begin
    if (rst) begin
        full <= 0; sent <= 0; slow <= 0;
    end else begin
        slow <= (slow == EVERY) ? 0 : slow + 1;
        if (full && m_axis_tready) full <= 0;
        if (s_axis_tvalid && s_axis_tready && !sent) begin
            data <= s_axis_tdata; full <= 1; sent <= 1;
        end
    end
end
endmodule
"""


def test_input_taken_after_the_last_output(sim, tmp_path):
    """Every output sent while input is still being read: the run waits for the rest of
    the input; input that is never taken fails under the watchdog, which says so."""
    for every, ok in ((50, True), (600, False)):
        verilog = tmp_path / f"early_out{every}.v"
        verilog.write_text(EARLY_OUT.replace("EVERY", str(every)))
        blk = HandWritten(f"early_out{every}", [StreamPort("s_axis", "in", 1, 8),
                                                StreamPort("m_axis", "out", 1, 8)])
        run = dict(inputs={"s_axis": [[7, 1, 2, 3, 4, 5, 6, 9]]}, outputs={"m_axis": [[7]]},
                   rtl=GeneratedRTL(blk.name, verilog), stall_limit=500, label="early")
        if ok:
            res = simulate(blk, sim, **run)
            assert res.ports["s_axis"]["beats"] == 8 and res.cycles > 7 * every
        else:
            with pytest.raises(SimulationFailed,
                               match=rf"watchdog: block 'early_out{every}' sent every output "
                                     r"but stopped taking input for 500 cycles .*inputs "
                                     r"s_axis: 1 of 8 beats accepted"):
                simulate(blk, sim, **run)


def test_fifo_watchdog_names_block(sim):
    fifo = FIFOS[0]
    frames = frames_for(fifo.width, seed=2)
    with pytest.raises(SimulationFailed, match=rf"watchdog: block '{fifo.name}' stalled"):
        simulate(fifo, sim, {"s_axis": frames}, {"m_axis": frames + [[1, 2, 3]]},
                 stall_limit=200, label="watchdog")


@pytest.mark.parametrize("kwargs,match", [
    (dict(name="f", width=0, depth=4), r"layer 'f': FIFO width.*valid: an integer from 1"),
    (dict(name="f", width=8, depth=1), r"FIFO depth.*valid: an integer from 2"),
    (dict(name="f", width=8, depth=2.5), r"FIFO depth"),
    (dict(name="wire", width=8, depth=4), r"Verilog keyword"),
    (dict(name="3fifo", width=8, depth=4), r"not a usable Verilog module name"),
])
def test_fifo_bad_parameters(kwargs, match, tmp_path):
    with pytest.raises(QNNError, match=match):
        Fifo(**kwargs).generate(tmp_path)
    assert not list(tmp_path.glob("*.v"))
