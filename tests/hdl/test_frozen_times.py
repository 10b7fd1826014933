"""The latency model's backpressure rule (``rtl_gen.hdl.timing.frozen_times``) against a
cycle-by-cycle Python model of what the blocks build: a pipeline whose every register,
input handshake included, advances on the registered ready of its output skid buffer
(``rtl_gen.hdl.stream.skid_buffer``, its rules copied line by line), fed by a source that
offers beats at given cycles and drained by a consumer that is ready on random cycles.

Given the consumer's transfer cycles, the model must give every input beat's cycle and
the cycle each output beat is offered from, exactly; the consumer then takes it on the
first cycle from there on where it is ready. This is the mechanism the random networks
found (seeds 45 and 68 of ``tests/compiler/test_generality.py``): a pipeline stalled by
its consumer keeps its bubbles, so it is later than "one beat per clock once the consumer
is ready again".
"""

import numpy as np
import pytest

from rtl_gen.hdl.timing import chain, frozen_times


def simulate(offered, depth, ready, nf=1):
    """Cycle model: input beat i offered from cycle ``offered[i]``; ``nf`` output beats per
    input beat (the MVU's re-read folds: one per clock, the block refusing input during
    the nf-1 extra steps); each step's result reaches the skid buffer ``depth`` advancing
    cycles after its step. Returns input cycles, consumer cycles."""
    stages = [None] * depth                 # step results in flight (None: bubble)
    out_valid = spare_valid = False
    in_ready = True
    i, fold, taken, acc = 0, 0, [], []
    k_out = 0
    total = len(offered) * nf
    for t in range(10 ** 6):
        if k_out == total:
            return np.array(taken), np.array(acc)
        advance = in_ready
        if out_valid and ready[t]:
            acc.append(t)
            k_out += 1
        step = None
        if advance:
            if fold > 0:
                step, fold = 1, (fold + 1) % nf
            elif i < len(offered) and offered[i] <= t:
                taken.append(t)
                step, fold, i = 1, 1 % nf, i + 1
        push = (stages[-1] if depth else step) if advance else None
        # the skid buffer, as rtl_gen.hdl.stream.skid_buffer
        if ready[t] or not out_valid:
            if spare_valid:
                out_valid = True
            else:
                out_valid = push is not None
            spare_valid = False
            in_ready = True
        elif push is not None:
            spare_valid = True
            in_ready = False
        else:
            in_ready = not spare_valid
        if advance and depth:
            stages = [step] + stages[:-1]
    raise AssertionError("the cycle model did not finish")


def schedule(depth, nf):
    """The block's own beat timing, never stalled (as ``MVU.beat_times`` with SF = 1)."""
    def times(arrivals):
        offered = np.asarray(arrivals["s_axis"], dtype=np.int64)
        gaps = np.full(len(offered), nf, dtype=np.int64)
        taken = chain(offered, gaps)
        steps = (taken[:, None] + np.arange(nf)).ravel()
        return {"s_axis": taken, "m_axis": steps + depth + 1}
    return times


@pytest.mark.parametrize("depth, nf, busy", [(0, 1, 0.5), (3, 1, 0.3), (3, 1, 0.8),
                                              (5, 3, 0.5), (2, 4, 0.9), (6, 2, 0.2)])
@pytest.mark.parametrize("seed", range(4))
def test_frozen_times_exact_against_cycle_model(depth, nf, busy, seed):
    rng = np.random.default_rng(seed)
    n = 60
    offered = np.cumsum(rng.integers(0, 4, n)) + 1          # bursts and gaps
    ready = rng.random(10 ** 6) >= busy
    taken, acc = simulate(offered, depth, ready, nf)
    got = frozen_times(schedule(depth, nf), {"s_axis": offered}, {"m_axis": acc},
                       ["m_axis"])
    assert got["s_axis"].tolist() == taken.tolist()
    ready_at = np.nonzero(ready)[0]
    first_ready = ready_at[np.searchsorted(ready_at, got["m_axis"])]
    assert first_ready.tolist() == acc.tolist()


def test_without_stalls_nothing_moves():
    offered = np.arange(0, 40, 3)
    own = schedule(2, 2)({"s_axis": offered})
    got = frozen_times(schedule(2, 2), {"s_axis": offered}, {"m_axis": own["m_axis"]},
                       ["m_axis"])
    assert all(np.array_equal(got[p], own[p]) for p in own)
