"""Automatic folding for a resource budget: the fastest pipeline whose estimate fits.

A budget is a LUT, FF and/or block-RAM (RAMB36) count, given directly or as one of the
Xilinx devices in ``DEVICES`` (the totals of their data sheets). ``fold_for_budget``
searches the frame-interval target of ``rtl_gen.compiler.folding.auto_fold``: the
intervals a network can have are the cycle counts its layers can take (every
(SIMD, PE) of every MVU layer, every lane count of the other layers) from the reachable
one up (``reachable_interval``), and the search is a bisection over them for the smallest one whose pipeline, estimated with
``rtl_gen.compiler.resources.pipeline_estimate``, fits every given limit. Less
parallelism rarely needs more of a resource in the estimate's terms (small steps: a width
converter appearing or going, ROM words packing differently into block RAM), so the
bisection takes the fitting interval it finds and reports the estimate it checked; it does
not claim a global optimum. When even the slowest folding does not fit, every interval is
tried before the budget is refused.

``fraction`` (default 1.0) leaves headroom: the pipeline must fit that share of each
limit (place and route rarely closes timing on a device filled to the last LUT).
"""

from dataclasses import dataclass

from rtl_gen.compiler.compile import plan
from rtl_gen.compiler.folding import frame_interval, reachable_interval
from rtl_gen.compiler.layer_kinds import kind_of
from rtl_gen.compiler.passes.without_forks import without_forks
from rtl_gen.compiler.resources import Resources, pipeline_estimate
from rtl_gen.errors import QNNError, require
from rtl_gen.model.infer import infer

# Device totals (LUT, FF, RAMB36) from the Xilinx data sheets (DS190, DS891, DS923).
DEVICES = {
    "xc7z020": Resources(53_200, 106_400, 140),
    "xc7z045": Resources(218_600, 437_200, 545),
    "xczu9eg": Resources(274_080, 548_160, 912),
    "xcku115": Resources(663_360, 1_326_720, 2_160),
    "xcvu9p": Resources(1_182_240, 2_364_480, 2_160),
}
KEYS = {"lut": "lut", "luts": "lut", "ff": "ff", "ffs": "ff", "bram": "bram36",
        "bram36": "bram36"}


@dataclass(frozen=True)
class Budget:
    """Limits per resource (None: no limit on that resource)."""

    lut: float = None
    ff: float = None
    bram36: float = None
    label: str = ""

    def fits(self, est, fraction=1.0):
        return all(limit is None or getattr(est, key) <= fraction * limit
                   for key, limit in (("lut", self.lut), ("ff", self.ff),
                                      ("bram36", self.bram36)))

    def describe(self):
        parts = [f"{k.upper() if k != 'bram36' else 'BRAM36'} {v:,.0f}"
                 for k, v in (("lut", self.lut), ("ff", self.ff), ("bram36", self.bram36))
                 if v is not None]
        return (f"{self.label}: " if self.label else "") + ", ".join(parts)


def parse_budget(text):
    """``xcvu9p`` (a device of ``DEVICES``) or ``lut=200000,ff=300000,bram=400`` (any
    subset) as a :class:`Budget`; a clear error otherwise."""
    text = str(text).strip()
    if text.lower() in DEVICES:
        d = DEVICES[text.lower()]
        return Budget(d.lut, d.ff, d.bram36, text.lower())
    limits = {}
    for item in filter(None, text.split(",")):
        key, _, val = item.partition("=")
        key = KEYS.get(key.strip().lower())
        try:
            num = float(val.replace("_", ""))
        except ValueError:
            num = None
        require(key is not None and num is not None and num > 0 and key not in limits,
                None, f"budget item {item!r} is not understood",
                "a device (" + ", ".join(DEVICES) + ") or lut=N,ff=N,bram=N with positive "
                "numbers, each resource at most once")
        limits[key] = num
    require(bool(limits), None, f"empty budget {text!r}",
            "a device (" + ", ".join(DEVICES) + ") or lut=N,ff=N,bram=N")
    return Budget(limits.get("lut"), limits.get("ff"), limits.get("bram36"))


def interval_candidates(net):
    """Every frame interval the automatic folding can produce for ``net`` (ascending):
    the cycle counts of each layer over its possible foldings."""
    types = infer(net)
    found = set()
    for lay in net.layers:
        kind, tin, tout = kind_of(lay), types[net.sources(lay)[0]], types[lay.name]
        found.update(kind.cycles(lay, tin, tout, s, p) for s, p in kind.options(lay, tin, tout))
    return sorted(found)


def fold_for_budget(net, budget, folding=None, fraction=1.0, progress=None):
    """The plan (net, folds, pipeline) with the smallest frame interval whose estimate
    fits ``budget`` (a :class:`Budget` or its text); returns (plan, estimate, target)."""
    if not isinstance(budget, Budget):
        budget = parse_budget(budget)
    require(0 < fraction <= 1, net.name, f"budget fraction {fraction!r}",
            "a number in (0, 1]")
    infer(net)
    flat = without_forks(net)
    floor = reachable_interval(flat, folding)
    cands = [c for c in interval_candidates(flat) if c >= floor]
    tried = {}

    def attempt(i):
        if i not in tried:
            planned = plan(net, folding, cands[i])
            est, _ = pipeline_estimate(planned[2])
            tried[i] = (planned, est)
            if progress:
                progress(f"  target {cands[i]:>12,d} cycles: interval "
                         f"{frame_interval(planned[1]):,}, LUT {est.lut:,.0f}, FF "
                         f"{est.ff:,.0f}, BRAM36 {est.bram36:g}"
                         f"{'' if budget.fits(est, fraction) else '  (over budget)'}")
        return tried[i]

    hi = len(cands) - 1
    if not budget.fits(attempt(hi)[1], fraction):
        # Block RAM is not monotone in the folding (ROM words pack differently): before
        # giving up, try every interval, slowest first.
        if progress:
            progress("  the slowest folding does not fit; trying every interval")
        hi = next((i for i in reversed(range(hi)) if budget.fits(attempt(i)[1], fraction)),
                  None)
        if hi is None:
            least = {k: min(getattr(e, k) for _, e in tried.values())
                     for k in ("lut", "ff", "bram36")}
            raise QNNError(net.name, f"does not fit {budget.describe()} with any folding "
                           f"({len(tried)} tried; the least any needs: LUT "
                           f"{least['lut']:,.0f}, FF {least['ff']:,.0f}, BRAM36 "
                           f"{least['bram36']:g})", "a larger budget, or the network split "
                           "across several FPGAs")
    lo = 0
    while lo < hi:
        mid = (lo + hi) // 2
        if budget.fits(attempt(mid)[1], fraction):
            hi = mid
        else:
            lo = mid + 1
    planned, est = attempt(hi)
    return planned, est, cands[hi]
