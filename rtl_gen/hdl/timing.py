"""Beat timing: the cycle at which each beat moves, for the first-frame latency model.

Every block has ``beat_times(arrivals)``: given, for each input port, the cycle at which
each of its beats is offered (a numpy int array covering whole frames), it returns, for
each port, the cycle at which each beat transfers: an input port's beats when the block
takes them (never before they are offered), an output port's when they leave, assuming
the output is never stalled. The blocks describe their own schedule with the two
functions here; ``rtl_gen.compiler.latency`` chains them through a pipeline.

Everything is a max-plus recurrence: a beat moves at the earliest cycle that is both
``ready`` (its data are there) and a ``gap`` after the previous beat of the same port:

    t[0] = ready[0],   t[j] = max(ready[j], t[j-1] + gap[j])

which ``chain`` solves without a Python loop: with D[j] = gap[1] + ... + gap[j],
t[j] = D[j] + max over k <= j of (ready[k] - D[k]).
"""

import numpy as np


def chain(ready, gaps=1):
    """Cycles t of successive beats: ``t[j] = max(ready[j], t[j-1] + gaps[j])`` (a scalar
    ``gaps`` is the same for every beat; ``gaps[0]`` is ignored)."""
    ready = np.asarray(ready, dtype=np.int64)
    if np.isscalar(gaps):
        offsets = np.arange(len(ready), dtype=np.int64) * int(gaps)
    else:
        g = np.asarray(gaps, dtype=np.int64).copy()
        g[:1] = 0
        offsets = np.cumsum(g)
    return offsets + np.maximum.accumulate(ready - offsets)


def streamed(offered, latency, need=None):
    """One output beat per clock at most, output beat j ``latency`` cycles after input
    beat ``need[j]`` (``j`` itself when ``need`` is None) was taken."""
    offered = np.asarray(offered, dtype=np.int64)
    ready = offered if need is None else offered[need]
    return chain(ready + latency)


def frames_of(times, beats, what):
    """Number of whole frames of ``beats`` beats in ``times`` (a clear error otherwise)."""
    n, rem = divmod(len(times), beats)
    if rem or not n:
        raise ValueError(f"{what}: {len(times)} beat times are not whole frames of {beats}")
    return n


# --- output backpressure on a block whose whole pipeline stalls -----------------------
#
# Most blocks register every stage on ``advance``, the registered ready of their output
# skid buffer (``rtl_gen.hdl.stream.skid_buffer``), and take input only while it is high:
# when the consumer is slow, the block freezes, bubbles and all. With beat k pushed into
# the skid buffer at cycle P[k] and the consumer taking beat k at A[k]:
#
#   beat k waits in the spare register when P[k] < A[k-1], and the block is frozen on
#   cycles P[k]+1 .. A[k-1] (the registered ready is low until the beat before it left);
#   beat k is offered from max(P[k], A[k-1]) + 1.
#
# Frozen, the block runs on "virtual" time: the cycles it is not frozen. Its own schedule
# (``beat_times``, written for a block that is never stalled) holds in virtual time; an
# input offered while it is frozen is seen when it thaws. ``frozen_times`` solves that
# for a set of freezes that itself depends on the pushes: all at once from the virtual
# schedule (``_pushes``), then checked, and if need be settled, in time order (a freeze
# starting at P[k]+1 depends only on the freezes before it, so there is one solution).


def _merge(freezes):
    """Sorted, disjoint, non-adjacent (start, end) intervals (inclusive) of ``freezes``
    (an (n, 2) array sorted by start)."""
    if not len(freezes):
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a, b = freezes[:, 0], np.maximum.accumulate(freezes[:, 1])
    new = np.ones(len(a), dtype=bool)
    new[1:] = a[1:] > b[:-1] + 1           # a run of overlapping or adjacent freezes ends
    first = np.nonzero(new)[0]
    last = np.concatenate((first[1:], [len(a)])) - 1
    return a[first], b[last]


def _to_virtual(t, starts, ends):
    """Virtual time of the first not frozen cycle at or after each real cycle ``t``."""
    t = np.asarray(t, dtype=np.int64)
    if not len(starts):
        return t.copy()
    cum = np.concatenate(([0], np.cumsum(ends - starts + 1)))
    k = np.searchsorted(starts, t, side="right")          # freezes starting at or before t
    inside = (k > 0) & (t <= ends[np.maximum(k - 1, 0)])
    t = np.where(inside, ends[np.maximum(k - 1, 0)] + 1, t)
    return t - cum[k]


def _to_real(v, starts, ends):
    """Real cycle of virtual time ``v`` (the v-th cycle that is not frozen, from 0)."""
    v = np.asarray(v, dtype=np.int64)
    if not len(starts):
        return v.copy()
    lens = ends - starts + 1
    cum = np.concatenate(([0], np.cumsum(lens)))
    vstarts = starts - cum[:-1]                              # virtual time where each thaws
    return v + cum[np.searchsorted(vstarts, v, side="right")]


FAST_ROUNDS = 50


def _pushes(virt, stalls, outputs):
    """Freezes and output cycles for the block's virtual schedule ``virt`` (what
    ``schedule`` returned in virtual time), all at once: output beat e, pushed at
    virtual time u (its never-stalled cycle minus the output register's one), is pushed
    at real cycle u + S, S the frozen cycles before it; it freezes the block when it
    must wait in the spare register, that is when the consumer takes the beat before
    it at a cycle A > u + S, until A. So S after it is max(S, A - u): a running maximum
    over the output beats of every port in virtual-time order."""
    us, cs = [], []
    for port in outputs:
        acc = stalls.get(port)
        if acc is None or port not in virt:
            continue
        u = np.asarray(virt[port], dtype=np.int64) - 1
        prev = np.concatenate(([np.iinfo(np.int64).min // 2], acc[:len(u) - 1]))
        us.append(u)
        cs.append(prev - u)
    if not us:
        return np.zeros((0, 2), dtype=np.int64)
    u, c = np.concatenate(us), np.concatenate(cs)
    order = np.argsort(u, kind="stable")
    u, c = u[order], c[order]
    run = np.maximum.accumulate(np.maximum(c, 0))
    # frozen cycles before each beat: the freezes of the beats pushed strictly earlier
    before = np.searchsorted(u, u, side="left") - 1
    shift = np.where(before >= 0, run[np.maximum(before, 0)], 0)
    k = np.nonzero(c > shift)[0]
    fz = np.stack((u[k] + shift[k] + 1, u[k] + c[k]), axis=1)
    return fz[np.lexsort((fz[:, 1], fz[:, 0]))]


def frozen_times(schedule, arrivals, accepted, outputs, state=None):
    """Beat times of a block whose pipeline stalls as a whole on its output skid buffers.

    ``schedule(arrivals)`` is the block's own ``beat_times`` (never stalled);
    ``accepted`` maps output ports to the cycles their consumer took each beat (ports
    missing or None: never stalled); ``outputs`` lists the output ports. Returns the
    same dict as ``schedule``: input beats when taken, output beats when offered.
    ``state`` (a dict kept between calls for one block) starts from the freezes found
    last time, which a caller that calls again with later ``accepted`` mostly gets back.
    """
    stalls = {p: np.asarray(a, dtype=np.int64) for p, a in (accepted or {}).items()
              if a is not None}
    state = {} if state is None else state
    freezes = state.get("freezes", np.zeros((0, 2), dtype=np.int64))
    # Fast: all freezes at once from the virtual schedule (exact when the schedule does
    # not change with them, which it does only through inputs offered while frozen);
    # repeated until they reproduce themselves, the one solution.
    for _ in range(FAST_ROUNDS):
        starts, ends = _merge(freezes)
        virt = schedule({p: _to_virtual(t, starts, ends) for p, t in arrivals.items()})
        again = _pushes(virt, stalls, outputs)
        if np.array_equal(again, freezes):
            break
        freezes = again
    # Then settled in time order (they usually already are: one round to check).
    while True:
        starts, ends = _merge(freezes)
        virt = schedule({p: _to_virtual(t, starts, ends) for p, t in arrivals.items()})
        times, need = {}, [np.zeros((0, 2), dtype=np.int64)]
        for port, v in virt.items():
            if port not in outputs:
                times[port] = _to_real(v, starts, ends)
                continue
            push = _to_real(np.asarray(v, dtype=np.int64) - 1, starts, ends)
            acc = stalls.get(port)
            if acc is None:
                times[port] = push + 1
                continue
            prev = np.concatenate(([np.iinfo(np.int64).min // 2], acc[:len(push) - 1]))
            times[port] = np.maximum(push, prev) + 1
            k = np.nonzero(push < prev)[0]
            need.append(np.stack((push[k] + 1, prev[k]), axis=1))
        need = np.concatenate(need)
        need = need[np.lexsort((need[:, 1], need[:, 0]))]
        n = min(len(need), len(freezes))
        diff = np.nonzero((need[:n] != freezes[:n]).any(axis=1))[0]
        i = int(diff[0]) if len(diff) else n
        if i == len(need) == len(freezes):
            state["freezes"] = freezes
            return times
        # need[:i] are right: each freeze depends only on the freezes before it, which
        # agree. So is need[i] if it starts first (it replaces freezes[i] when that
        # starts as late or later); otherwise freezes[i] no longer happens. The freezes
        # after it stay as a guess, so that the settled prefix grows every round.
        if i < len(need) and (i == len(freezes) or tuple(need[i]) <= tuple(freezes[i])):
            tail = freezes[i:]
            freezes = np.concatenate((need[:i + 1], tail[tail[:, 0] > need[i, 0]]))
        else:
            freezes = np.delete(freezes, i, axis=0)


def after_taken(accepted, index):
    """One cycle after the consumer took output beat ``index[i]`` (no bound where the
    index is negative): for a buffer that has room for input beat i only once the
    consumer has taken that beat."""
    acc = np.asarray(accepted, dtype=np.int64)
    index = np.asarray(index, dtype=np.int64)
    lo = np.iinfo(np.int64).min // 2
    return np.where(index >= 0, acc[np.clip(index, 0, len(acc) - 1)] + 1, lo)


def offered_after(sent, accepted):
    """Output beats offered at ``sent`` when never stalled, each no earlier than one
    cycle after the consumer took the beat before it (a registered output stage)."""
    prev = np.concatenate(([np.iinfo(np.int64).min // 2], np.asarray(accepted)[:-1]))
    return np.maximum(sent, prev + 1)
