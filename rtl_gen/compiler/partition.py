"""Partitioning a network across FPGAs: where it may be cut, and where it is cut.

A network is cut into K partitions of consecutive layers (of the fork-free network,
``without_forks``). **Cut rule**: a cut after layer i is legal when exactly one tensor
produced at or before i (or the network input) is read after i, and it is layer i's
output: one stream crosses, so one link carries it. A cut inside a residual block (the
skip tensor crosses too) is refused, naming the block and the nearest legal cuts.

**Plan**: the whole network is folded once (one target interval for every partition),
its pipeline built, and the blocks split by the layer they belong to
(``Pipeline.layer_of``); a fork tree whose readers all lie in a later partition goes
with them (``block_parts``), so a legal cut is crossed by exactly one stream of the
pipeline. ``rtl_gen.compiler.partition_build`` turns that stream into a link TX on
partition k and a link RX on partition k+1.

**Link load**: the crossing stream's B beats per frame (D data bits and ``tlast`` each)
are packed into link frames of at most KMAX beats (``LinkConfig.kmax``), each costing its
payload lane beats plus a header and a CRC beat, so the link needs

    link cycles = full * (lane_beats(KMAX) + 2) + (lane_beats(rest) + 2 if rest)

lane cycles per frame (full, rest = divmod(B, KMAX)); the payload efficiency is
B * D / (W * link cycles) for a W-bit lane. **System cycle model**: the frame interval of
the whole system is max(pipeline interval, every link's cycles per frame). A cut whose
link needs more than the pipeline interval is link-bound: it is reported with the factor,
and the folding is slowed to match (no partition is then faster than its link).

**Search** (``--devices``): over the frame intervals the network can have
(``budget.interval_candidates``), a bisection for the smallest one at which some choice
of K - 1 legal cuts puts every partition (its blocks plus its link ends) within its
device's budget (times ``fraction``), and no link exceeds the pipeline interval. At each
interval the cuts come from a dynamic program over the legal cuts that minimises the
largest per-device utilisation (the largest share of LUT, FF or BRAM36 of any device).
Without devices, K partitions are balanced the same way against the whole network's
total. Like ``budget.fold_for_budget``, the bisection assumes that less parallelism never
needs more resources, and does not claim a global optimum.

Link ends are not in ``resources.ESTIMATORS``: ``link_estimate`` is a structural count
(replay or receive buffer as ``memory``, CRC and control logic per lane bit), not fitted
to synthesis.
"""

import math
from dataclasses import dataclass, field

from rtl_gen.blocks.link.framing import LinkConfig
from rtl_gen.compiler.budget import DEVICES, Budget, interval_candidates, parse_budget
from rtl_gen.compiler.compile import plan
from rtl_gen.compiler.folding import frame_interval, reachable_interval
from rtl_gen.compiler.passes.without_forks import without_forks
from rtl_gen.compiler.resources import Resources, memory, pipeline_estimate
from rtl_gen.errors import QNNError, require
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT

MAX_PARTS = 16


@dataclass(frozen=True)
class LinkOptions:
    """Link parameters of every cut: lane width W (64: one Aurora 64B/66B lane), payload
    lane beats per link frame, lane latency one way (cycles; the buffers are sized for
    it)."""

    lane_bits: int = 64
    max_frame: int = 64
    lane_latency: int = 64


# --- the cut rule ---------------------------------------------------------------------
def _last_reads(net):
    last = {}
    for j, lay in enumerate(net.layers):
        for s in net.sources(lay):
            last[s] = j
    return last


def crossing(net, i):
    """Tensors produced at or before layer i (or the input) that are read after it."""
    last = _last_reads(net)
    made = [INPUT] + [lay.name for lay in net.layers[:i + 1]]
    return [t for t in made if last.get(t, -1) > i]


def legal_cuts(net):
    """Names of the layers after which ``net`` (fork-free) may be cut."""
    last = _last_reads(net)
    out, made = [], [INPUT]
    for i, lay in enumerate(net.layers[:-1]):
        made.append(lay.name)
        if [t for t in made if last.get(t, -1) > i] == [lay.name]:
            out.append(lay.name)
    return out


def _index(net, name):
    return next(i for i, lay in enumerate(net.layers) if lay.name == name)


def check_cuts(net, cuts):
    """``cuts`` (layer names, in any order) as sorted layer indices of ``net``
    (fork-free); a QNNError names an unknown layer, a cut inside a residual block (with
    the block and the nearest legal cuts) or the last layer."""
    names = [lay.name for lay in net.layers]
    legal = legal_cuts(net)
    out = []
    for c in cuts:
        require(c in names, c, f"--cut names no layer of '{net.name}'",
                "a layer after which to cut: " + ", ".join(legal))
        i = names.index(c)
        require(i < len(names) - 1, c, "a cut after the last layer leaves an empty "
                "partition", "a legal cut: " + ", ".join(legal))
        if c not in legal:
            last = _last_reads(net)
            other = [t for t in crossing(net, i) if t != c]
            skip = other[0] if other else c
            before = [x for x in legal if names.index(x) < i]
            after = [x for x in legal if names.index(x) > i]
            start = names[names.index(before[-1]) + 1] if before else names[0]
            end = after[0] if after else names[-1]
            pre = start.split("_")[0]
            block = (f"'{pre}' ({start} .. {end})" if end.split("_")[0] == pre and "_" in start
                     else f"{start} .. {end}")
            reader = next(n for n in names[i + 1:] if skip in net.sources(n))
            near = ([f"after '{before[-1]}'"] if before else []) + \
                ([f"after '{after[0]}'"] if after else [])
            raise QNNError(c, f"a cut after '{c}' is inside the residual block {block}: "
                           f"besides the output of '{c}', '{skip}' (read by '{reader}') "
                           "would cross it",
                           "a cut where a single stream crosses; the nearest: "
                           + (" or ".join(near) or "none (the network has no legal cut)"))
        out.append(i)
    require(len(set(out)) == len(out), net.name, f"a layer is named twice in --cut {cuts}",
            "each cut once")
    return sorted(out)


# --- blocks to partitions ------------------------------------------------------------
def block_parts(pipe, part_of_layer):
    """{block name: partition index}: a block's layer's partition, except that a fork
    whose readers all lie in later partitions goes with the first of them."""
    part = {b.name: part_of_layer[pipe.layer_of[b.name]] for b in pipe.blocks}
    dests = {}
    for ln in pipe.links:
        dests.setdefault(ln.src.name, []).append(ln.dst.name)
    changed = True
    while changed:
        changed = False
        for b in reversed(pipe.blocks):
            if b.kind == "fork":
                first = min(part[d] for d in dests.get(b.name, [b.name]))
                if first > part[b.name]:
                    part[b.name], changed = first, True
    return part


def crossing_links(pipe, part, k):
    """The pipeline links from partition <= k to partition > k."""
    return [ln for ln in pipe.links if ln.src is not None and part[ln.src.name] <= k
            < part[ln.dst.name]]


# --- links ---------------------------------------------------------------------------
@dataclass
class CutLink:
    """The link at one cut: the stream crossing it and its load."""

    after: str            # the layer the cut follows
    tensor: str
    lanes: int
    bits: int
    signed: bool
    beats: int            # stream beats per frame
    cfg: LinkConfig

    @property
    def data_bits(self):
        """Payload bits per frame (tdata only)."""
        return self.beats * self.lanes * self.bits

    @property
    def cycles(self):
        """Lane cycles per frame: link frames of KMAX beats, each with header and CRC."""
        full, rest = divmod(self.beats, self.cfg.kmax)
        lane = full * (self.cfg.lane_beats(self.cfg.kmax) + 2)
        if rest:
            lane += self.cfg.lane_beats(rest) + 2
        return max(lane, self.beats)

    @property
    def efficiency(self):
        """Payload (tdata) bits per lane bit at line rate, for this stream."""
        return self.data_bits / (self.cfg.lane_bits * self.cycles)

    def describe(self, interval):
        return (f"after {self.after}: {self.lanes}x{self.bits}-bit stream, "
                f"{self.beats:,} beats = {self.data_bits:,} bits per frame; "
                f"{self.cfg.lane_bits}-bit lane at {self.efficiency:.1%} payload efficiency"
                f" -> {self.cycles:,} cycles per frame ({self.cycles / interval:.1%} of the "
                f"{interval:,}-cycle interval)")


def cut_link(pipe, ln, after, opts):
    port = ln.src.port(ln.src_port)
    t = pipe.types[ln.tensor]
    beats = math.prod(t.shape) // port.lanes
    cfg = LinkConfig(lane_bits=opts.lane_bits, stream_bits=port.lanes * port.bits,
                     max_frame=opts.max_frame, lane_latency=opts.lane_latency)
    return CutLink(after, ln.tensor, port.lanes, port.bits, port.signed, beats, cfg)


def link_estimate(cfg, end):
    """Rough structural count of one link end (not fitted to synthesis): its buffer
    (replay buffer at the TX, receive slots at the RX) as ``memory``, a descriptor
    memory, and CRC/framing logic of about 4 LUT and 4 FF per lane bit plus the stream
    width twice (packing) and a fixed 400 for control and status counters."""
    words = cfg.replay_words if end == "tx" else cfg.rx_words
    b1, l1 = memory(words, cfg.lane_bits)
    b2, l2 = memory(cfg.descriptors if end == "tx" else cfg.rx_slots, 48)
    W, D = cfg.lane_bits, cfg.stream_bits
    return Resources(4 * W + 2 * D + 400 + l1 + l2, 4 * W + 2 * D + 400,
                     b1 + b2).rounded()


# --- the plan ------------------------------------------------------------------------
@dataclass
class Part:
    index: int                 # 1-based
    layers: list
    estimate: Resources
    device: Budget = None
    utilisation: float = 0.0   # the largest share of any resource of the device


@dataclass
class PartitionPlan:
    net: object                # fork-free
    folds: dict
    pipeline: object
    cuts: list                 # layer names
    parts: list
    links: list                # CutLink per cut
    part_of_block: dict
    fraction: float = 1.0
    target: int = None
    notes: list = field(default_factory=list)

    @property
    def pipeline_interval(self):
        return frame_interval(self.folds)

    @property
    def system_interval(self):
        """max(pipeline interval, every link's cycles per frame)."""
        return max([self.pipeline_interval] + [lk.cycles for lk in self.links])

    def bound(self):
        """What sets the system interval: 'pipeline' or 'link after <layer>'."""
        worst = max(self.links, key=lambda lk: lk.cycles, default=None)
        if worst is not None and worst.cycles > self.pipeline_interval:
            return f"link after {worst.after}"
        return "pipeline"

    def report(self):
        lines = [f"{self.net.name}: {len(self.parts)} partitions, cuts after "
                 + (", ".join(self.cuts) or "(none)")]
        for p in self.parts:
            e = p.estimate
            dev = (f" on {p.device.label or p.device.describe()}: {p.utilisation:.1%} of "
                   f"its largest resource{' (budget fraction %g)' % self.fraction if self.fraction < 1 else ''}"
                   if p.device else f"; {p.utilisation:.1%} of the network's largest total")
            lines.append(f"  part {p.index}: {p.layers[0]} .. {p.layers[-1]} "
                         f"({len(p.layers)} layers): LUT {e.lut:,.0f}, FF {e.ff:,.0f}, "
                         f"BRAM36 {e.bram36:g}{dev}")
        iv = self.pipeline_interval
        for lk in self.links:
            lines.append("  link " + lk.describe(iv))
        lines.append(f"  system frame interval {self.system_interval:,} cycles "
                     f"(pipeline {iv:,}; set by the {self.bound()})")
        lines.append("  first-frame latency across links: not modelled (the latency model "
                     "covers one pipeline); measured by simulation")
        lines += ["  note: " + n for n in self.notes]
        return "\n".join(lines)


def _parse_devices(devices):
    out = []
    for d in devices:
        b = parse_budget(d) if not isinstance(d, Budget) else d
        out.append(b)
    return out


def _utilisation(est, budget, fraction, total):
    if budget is None:
        shares = [getattr(est, k) / getattr(total, k) for k in ("lut", "ff", "bram36")
                  if getattr(total, k) > 0]
    else:
        shares = [getattr(est, k) / (fraction * lim) for k, lim in
                  (("lut", budget.lut), ("ff", budget.ff), ("bram36", budget.bram36))
                  if lim is not None]
    return max(shares)


class _Units:
    """A planned pipeline cut at every legal cut: per unit (layers between legal cuts)
    its resources, per legal cut its link."""

    def __init__(self, net, planned, opts):
        self.net, self.folds, self.pipe = planned
        names = [lay.name for lay in self.net.layers]
        self.legal = [names.index(c) for c in legal_cuts(self.net)]
        bounds = self.legal + [len(names) - 1]
        unit_of = {}
        u = 0
        for i, n in enumerate(names):
            unit_of[n] = u
            if i == bounds[u]:
                u += 1
        self.count = len(bounds)
        self.part = block_parts(self.pipe, unit_of)
        _, per = pipeline_estimate(self.pipe)
        self.res = [Resources() for _ in range(self.count)]
        for b in self.pipe.blocks:
            self.res[self.part[b.name]] = self.res[self.part[b.name]] + per[b.name]
        self.total = Resources()
        for r in self.res:
            self.total = self.total + r
        self.links = []
        for m, i in enumerate(self.legal):
            lns = crossing_links(self.pipe, self.part, m)
            assert len(lns) == 1, f"cut after {names[i]}: {len(lns)} streams cross"
            self.links.append(cut_link(self.pipe, lns[0], names[i], opts))
        self.names = names
        self.unit_of = unit_of
        self.interval = frame_interval(self.folds)

    def part_estimate(self, a, b):
        """Resources of units a..b-1 with their link ends."""
        est = Resources()
        for r in self.res[a:b]:
            est = est + r
        if a > 0:
            est = est + link_estimate(self.links[a - 1].cfg, "rx")
        if b < self.count:
            est = est + link_estimate(self.links[b - 1].cfg, "tx")
        return est.rounded()

    def best(self, budgets, fraction, fixed=None, link_limit=None):
        """(largest utilisation, unit boundaries) of the best split into len(budgets)
        parts (``fixed``: the boundaries are given), or None if none fits."""
        K, U = len(budgets), self.count
        ok_cut = [link_limit is None or lk.cycles <= link_limit for lk in self.links]

        def util(k, a, b):
            u = _utilisation(self.part_estimate(a, b), budgets[k], fraction, self.total)
            return u if budgets[k] is None or u <= 1 + 1e-12 else None

        if fixed is not None:
            us = [util(k, a, b) for k, (a, b) in enumerate(zip([0] + fixed, fixed + [U]))]
            if any(u is None for u in us) or not all(ok_cut[f - 1] for f in fixed):
                return None
            return max(us), fixed
        inf = (math.inf, None)
        best = [[inf] * (U + 1) for _ in range(K + 1)]
        best[0][0] = (0.0, [])
        for k in range(1, K + 1):
            for b in range(k, U + 1):
                if b < U and not ok_cut[b - 1]:
                    continue
                cand = inf
                for a in range(k - 1, b):
                    prev = best[k - 1][a]
                    if prev[1] is None:
                        continue
                    u = util(k - 1, a, b)
                    if u is not None and max(prev[0], u) < cand[0]:
                        cand = (max(prev[0], u), prev[1] + ([a] if a else []))
                best[k][b] = cand
        got = best[K][U]
        return None if got[1] is None else got


def _make_plan(units, bounds, budgets, fraction, target, notes):
    names = units.names
    edges = [0] + bounds + [units.count]
    part_of_layer = {n: sum(1 for b in bounds if b <= units.unit_of[n]) for n in names}
    part = block_parts(units.pipe, part_of_layer)
    parts = []
    for k in range(len(edges) - 1):
        est = units.part_estimate(edges[k], edges[k + 1])
        layers = [n for n in names if part_of_layer[n] == k]
        parts.append(Part(k + 1, layers, est, budgets[k],
                          _utilisation(est, budgets[k], fraction, units.total)))
    links = [units.links[b - 1] for b in bounds]
    return PartitionPlan(units.net, units.folds, units.pipe, [lk.after for lk in links],
                         parts, links, part, fraction, target, notes)


def partition(net, cuts=None, devices=None, parts=None, target_cycles=None, folding=None,
              fraction=1.0, opts=None, progress=None):
    """Plan the partitions of ``net``: at ``cuts`` (layer names), or automatically for
    ``devices`` (device names or budgets, one per partition) or ``parts`` partitions
    (balanced). With devices, the fastest interval whose partitions fit (see the module
    docstring); otherwise the folding for ``target_cycles``. Returns a
    :class:`PartitionPlan`; every error is a QNNError, before anything is written."""
    opts = opts or LinkOptions()
    infer(net)
    flat = without_forks(net)
    require(0 < fraction <= 1, net.name, f"budget fraction {fraction!r}", "a number in (0, 1]")
    legal = legal_cuts(flat)
    fixed_idx = check_cuts(flat, cuts) if cuts else None
    budgets = _parse_devices(devices) if devices else None
    K = (len(fixed_idx) + 1 if fixed_idx is not None else
         len(budgets) if budgets else parts)
    require(isinstance(K, int) and K >= 1, net.name, "no partitioning asked for",
            "--cut LAYER,..., --devices DEV,DEV,... or a number of partitions")
    require(K <= MAX_PARTS, net.name, f"{K} partitions", f"at most {MAX_PARTS}")
    if budgets and fixed_idx is not None:
        require(len(budgets) == K, net.name, f"{len(budgets)} devices for {K} partitions "
                f"({len(fixed_idx)} cuts)", f"{K} devices, one per partition")
    require(K <= len(legal) + 1, net.name, f"{K} partitions, but it has only "
            f"{len(legal)} legal cuts ({', '.join(legal) or 'none'})",
            f"at most {len(legal) + 1} partitions")
    if budgets is None:
        budgets = [None] * K
    legal_idx = [_index(flat, c) for c in legal]
    fixed = [legal_idx.index(i) + 1 for i in fixed_idx] if fixed_idx is not None else None
    notes = []

    def at(target):
        units = _Units(flat, plan(net, folding, target), opts)
        return units

    if all(b is None for b in budgets):
        units = at(target_cycles)
        got = units.best(budgets, fraction, fixed)
        pp = _make_plan(units, got[1], budgets, fraction, target_cycles, notes)
        worst = max(pp.links, key=lambda lk: lk.cycles, default=None)
        if worst is not None and worst.cycles > pp.pipeline_interval:
            notes.append(f"the link after {worst.after} is link-bound: {worst.cycles:,} "
                         f"cycles per frame against the pipeline's {pp.pipeline_interval:,} "
                         f"({worst.cycles / pp.pipeline_interval:.2f}x); the folding is "
                         f"slowed to match (target {worst.cycles:,})")
            units = at(worst.cycles)
            got = units.best(budgets, fraction, fixed)
            pp = _make_plan(units, got[1], budgets, fraction, worst.cycles, notes)
        return pp
    return _search(net, flat, budgets, fraction, fixed, folding, opts, notes, progress, at)


def _search(net, flat, budgets, fraction, fixed, folding, opts, notes, progress, at):
    floor = reachable_interval(flat, folding)
    cands = [c for c in interval_candidates(flat) if c >= floor]
    tried = {}

    def attempt(i, links):
        key = (i, links)
        if key not in tried:
            if ("u", i) not in tried:
                tried[("u", i)] = at(cands[i])
            units = tried[("u", i)]
            tried[key] = (units, units.best(budgets, fraction, fixed,
                                            units.interval if links else None))
            if progress:
                got = tried[key][1]
                progress(f"  target {cands[i]:>12,d}: interval {units.interval:,}, "
                         + (f"largest utilisation {got[0]:.1%}" if got else "no split fits")
                         + (" (links within the interval)" if links else ""))
        return tried[key]

    def bisect(links, lo=0):
        hi = len(cands) - 1
        if attempt(hi, links)[1] is None:
            return None
        while lo < hi:
            mid = (lo + hi) // 2
            if attempt(mid, links)[1] is not None:
                hi = mid
            else:
                lo = mid + 1
        return hi

    names = ", ".join(b.label or b.describe() for b in budgets)
    first = bisect(False)
    if first is None:
        units = attempt(len(cands) - 1, False)[0]
        least = min(_utilisation(units.total, b, fraction, units.total) for b in budgets)
        raise QNNError(net.name, f"does not fit {len(budgets)} device(s) ({names}) with any "
                       f"folding{' and the given cuts' if fixed else ''} (slowest folding: "
                       f"LUT {units.total.lut:,.0f}, FF {units.total.ff:,.0f}, BRAM36 "
                       f"{units.total.bram36:g} in all, {least:.0%} of the largest device)",
                       "more or larger devices, a larger --budget-fraction"
                       + (", or other cuts" if fixed else ""))
    units, got = attempt(first, False)
    pp = _make_plan(units, got[1], budgets, fraction, cands[first], [])
    over = [lk for lk in pp.links if lk.cycles > pp.pipeline_interval]
    if not over:
        return pp
    chosen = bisect(True, first)
    for lk in over:
        notes.append(f"at the fastest fitting folding ({pp.pipeline_interval:,} cycles per "
                     f"frame) the link after {lk.after} is link-bound: {lk.cycles:,} cycles "
                     f"per frame ({lk.cycles / pp.pipeline_interval:.2f}x)")
    if chosen is None:
        notes.append("no folding makes every link keep up: the system runs at the link's "
                     "pace")
        pp.notes = notes
        return pp
    units, got = attempt(chosen, True)
    notes.append(f"the folding is slowed to match: pipeline interval "
                 f"{units.interval:,} cycles")
    return _make_plan(units, got[1], budgets, fraction, cands[chosen], notes)


__all__ = ["DEVICES", "LinkOptions", "PartitionPlan", "CutLink", "Part", "block_parts",
           "check_cuts", "crossing", "crossing_links", "legal_cuts", "link_estimate",
           "partition"]
