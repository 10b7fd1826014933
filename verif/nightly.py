"""What the nightly regression draws and records per case.

``seed()`` is the night's seed: ``STREAMQNN_NIGHTLY_SEED`` if set, else today's date as
``YYYYMMDD``, so every night draws fresh random networks and lint configurations and a
rerun the same day replays them. The seed is recorded with every case that uses it.

``run_properties(cn, res)`` is what a network run records in the JUnit report (and so in
``build/nightly/report.md``): simulator, design, frames, measured frame interval and
first-frame latency beside the compiler's models, and simulator speed.
:mod:`verif.nightly_report` compares these with the committed ``bench/`` tables.
"""

import datetime
import os


def seed():
    """The night's seed (``STREAMQNN_NIGHTLY_SEED``, default today's ``YYYYMMDD``)."""
    text = os.environ.get("STREAMQNN_NIGHTLY_SEED")
    if text is None:
        return int(datetime.date.today().strftime("%Y%m%d"))
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"STREAMQNN_NIGHTLY_SEED={text!r}: expected an integer") from None


def draw(k):
    """The ``k``-th seed of the night (a 31-bit integer)."""
    return (seed() * 1000 + k) % 2 ** 31


def run_properties(cn, res):
    """Name -> value of one network run: measured against the models where measured."""
    props = {"sim": res.sim, "design": cn.name,
             "frames": len(res.frame_ends()),
             "cycles_model": cn.cycles_per_frame(),
             "latency_model": cn.latency_cycles(),
             "latency": res.latency()}
    intervals = res.frame_intervals()
    if intervals:
        props["cycles_per_frame"] = max(intervals)
    if res.cycles_per_second:
        props["cycles_per_s"] = round(res.cycles_per_second)
    return props
