"""FIFO: bit-exact pass-through on both simulators, with gaps, backpressure and a full
FIFO; one beat per clock when nothing stalls; the watchdog; clear errors."""

import random

import pytest

from rtl_gen import QNNError
from rtl_gen.blocks.catalog import configs
from rtl_gen.blocks.fifo import Fifo
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
