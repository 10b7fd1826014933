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
