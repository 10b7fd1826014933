"""Folding: how many lanes each layer processes per clock, and the cycle model it implies.

A convolution or dense layer runs on a matrix-vector unit with ``simd`` input lanes and
``pe`` output channels per clock (FINN's SIMD and PE). Its cycles per frame are

    conv:  max(H·W·C_in/min(simd, C_in),  Ho·Wo·K·K·C_in/simd · C_out/pe)
           (the sliding window unit's input beats; the MVU's steps)
    dense: N/simd · C_out/pe                      (N = H·W·C of its input)

A conv's simd divides C_in, or (K > 1) is m·C_in for m > 1 dividing K: the sliding window
unit then takes one pixel per beat (C_in lanes) and emits m kernel columns per beat.

Every other layer works on the lanes of the stream it receives (``lanes``) and takes

    threshold, add, fork: H·W·C/lanes      max pool: max(H·W·C, Ho·Wo·K·K·C)/lanes
    global average pool: H·W·C/lanes      arg-max: N/lanes

cycles per frame. Where neighbouring layers use different lanes, a width converter
(max(in beats, out beats) per frame) joins them. The frame interval of the pipeline is
the slowest layer's. ``auto_fold`` picks, per layer, the least parallelism (smallest
simd·pe) that meets a target interval, so that no layer is needlessly faster than the
slowest; a layer that cannot meet it even fully unfolded is reported as the limit.
"""

from dataclasses import asdict, dataclass

from rtl_gen.errors import QNNError, require
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT, Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, \
    MaxPool, Threshold


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


@dataclass(frozen=True)
class LayerFold:
    """Lanes of one layer: ``simd`` in, ``pe`` out (equal for layers without an MVU)."""

    name: str
    kind: str
    simd: int
    pe: int
    cycles: int

    def as_dict(self):
        return asdict(self)


def _kind(lay):
    return {Conv: "conv", Dense: "dense", Threshold: "threshold", MaxPool: "maxpool",
            GlobalAvgPool: "gap", Fork: "fork", Add: "add", ArgMax: "argmax"}[type(lay)]


def mvu_cycles(lay, tin, tout, simd, pe):
    """Cycles per frame of a conv/dense layer at (simd, pe)."""
    if isinstance(lay, Conv):
        h, w, cin = tin.shape
        ho, wo, cout = tout.shape
        k = lay.kernel
        return max(h * w * cin // min(simd, cin), ho * wo * (k * k * cin // simd) * (cout // pe))
    n = tin.shape[0] * tin.shape[1] * tin.shape[2]
    return (n // simd) * (tout.shape[2] // pe)


def stream_cycles(lay, tin, lanes):
    """Cycles per frame of a layer without an MVU working on ``lanes`` lanes."""
    h, w, c = tin.shape
    beats = h * w * c // lanes
    if isinstance(lay, MaxPool):
        from rtl_gen.model.layers import out_size
        ho = out_size(h, lay.kernel, lay.stride, lay.pad)
        wo = out_size(w, lay.kernel, lay.stride, lay.pad)
        return max(beats, ho * wo * lay.kernel * lay.kernel * c // lanes)
    return beats


def mvu_choices(lay, tin, tout):
    """Valid (simd, pe) lists, simd ascending: simd divides C_in (conv, the window's
    channel groups) or N (dense); pe divides C_out. A conv with K > 1 may also take
    simd = m*C_in for m > 1 dividing K (the window unit's kernel-column parallel mode: one
    pixel per input beat, m kernel columns per window beat)."""
    if isinstance(lay, Conv):
        cin, k = tin.shape[2], lay.kernel
        simds = divisors(cin) + [m * cin for m in divisors(k) if m > 1]
    else:
        simds = divisors(tin.shape[0] * tin.shape[1] * tin.shape[2])
    return simds, divisors(tout.shape[2])


def _check_user_folds(net, types, user):
    """Every user-given folding names a layer of ``net`` and valid keys and values for it."""
    names = {lay.name for lay in net.layers}
    for name in user:
        if name not in names:
            raise QNNError(name, "folding given for a layer that is not in the network",
                           ", ".join(sorted(names)))
    for lay in net.layers:
        given = user.get(lay.name)
        if given is None:
            continue
        tin, tout = types[net.sources(lay)[0]], types[lay.name]
        mvu = isinstance(lay, (Conv, Dense))
        keys = {"simd", "pe"} if mvu else {"lanes"}
        require(isinstance(given, dict) and bool(given) and set(given) <= keys, lay.name,
                f"folding {given!r} is not understood for a {_kind(lay)} layer",
                " and/or ".join(sorted(keys)) + " (integers)")
        if not mvu:
            valid = divisors(tin.shape[2])
            require(given["lanes"] in valid, lay.name, f"lanes={given['lanes']!r} does not "
                    f"divide C={tin.shape[2]}", "one of " + ", ".join(map(str, valid)))
            continue
        simds, pes = mvu_choices(lay, tin, tout)
        if "simd" in given:
            if isinstance(lay, Conv):
                what = (f"SIMD={given['simd']!r} neither divides C_in={tin.shape[2]} nor is "
                        f"m*C_in for an m > 1 dividing K={lay.kernel}")
            else:
                what = f"SIMD={given['simd']!r} does not divide the input length N={max(simds)}"
            require(given["simd"] in simds, lay.name, what,
                    "one of " + ", ".join(map(str, simds)))
        if "pe" in given:
            require(given["pe"] in pes, lay.name, f"PE={given['pe']!r} does not divide "
                    f"C_out={tout.shape[2]}", "one of " + ", ".join(map(str, pes)))


def _best_mvu(lay, tin, tout, target, inherited=None):
    """The least parallel (simd, pe) meeting ``target``; among equals, one without the
    window unit's kernel-column mode (simd > C_in needs M RAM banks and a rotator), then
    the one with the fewest output lanes (narrow streams downstream), then the one whose
    simd matches the incoming stream's lanes (no width converter)."""
    simds, pes = mvu_choices(lay, tin, tout)
    wide = tin.shape[2] if isinstance(lay, Conv) else max(simds)
    options = [(s * p, s > wide, p, s != inherited, s, p) for s in simds for p in pes
               if mvu_cycles(lay, tin, tout, s, p) <= target]
    if not options:
        return simds[-1], pes[-1]
    *_, s, p = min(options)
    return s, p


def _stream_lanes(lay, tin, inherited, target):
    """Inherited lanes, or the fewest lanes dividing C that meet the target."""
    c = tin.shape[2]
    if inherited and c % inherited == 0 and (
            target is None or stream_cycles(lay, tin, inherited) <= target):
        return inherited
    cands = [d for d in divisors(c) if target is None or stream_cycles(lay, tin, d) <= target]
    if not cands:
        return c
    above = [d for d in cands if d >= (inherited or 1)]
    return min(above) if above else max(cands)


def fastest_cycles(lay, tin, tout, given=None):
    """The fewest cycles per frame ``lay`` can take (with what ``given`` fixes of it)."""
    given = given or {}
    if isinstance(lay, (Conv, Dense)):
        simds, pes = mvu_choices(lay, tin, tout)
        simds = [given["simd"]] if "simd" in given else simds
        pes = [given["pe"]] if "pe" in given else pes
        return min(mvu_cycles(lay, tin, tout, s, p) for s in simds for p in pes)
    if isinstance(lay, ArgMax):
        return None  # takes the lanes it is given; never the reason for another layer
    lanes = given.get("lanes", tin.shape[2])
    return stream_cycles(lay, tin, lanes)


def reachable_interval(net, user=None):
    """The smallest frame interval any folding reaches (with ``user``'s fixed layers):
    the slowest layer at its fastest."""
    types = infer(net)
    user = user or {}
    cycles = [fastest_cycles(lay, types[net.sources(lay)[0]], types[lay.name],
                             user.get(lay.name)) for lay in net.layers]
    return max(c for c in cycles if c is not None)


def fold_network(net, user=None, target_cycles=None):
    """Folding of every layer: {name: LayerFold}.

    ``user`` maps layer names to {"simd": s, "pe": p} (MVU layers) or {"lanes": l};
    what it does not fix is chosen for ``target_cycles`` (cycles per frame), or fully
    folded (simd = pe = 1) when no target is given. A target below what the network can
    reach (``reachable_interval``: its slowest layer at its fastest, or a slower layer
    the user fixed) is raised to it, so that no layer is unfolded beyond the pace of the
    slowest.
    """
    user = dict(user or {})
    types = infer(net)
    _check_user_folds(net, types, user)
    if target_cycles:
        target_cycles = max(target_cycles, reachable_interval(net, user))
    folds = {}
    out_lanes = {INPUT: None}
    for lay in net.layers:
        srcs = net.sources(lay)
        tin, tout = types[srcs[0]], types[lay.name]
        given = user.get(lay.name, {})
        if isinstance(lay, (Conv, Dense)):
            if given:
                s0, p0 = _best_mvu(lay, tin, tout, target_cycles, out_lanes[srcs[0]]) \
                    if target_cycles else (1, 1)
                simd, pe = given.get("simd", s0), given.get("pe", p0)
            elif target_cycles:
                simd, pe = _best_mvu(lay, tin, tout, target_cycles, out_lanes[srcs[0]])
            else:
                simd, pe = 1, 1
            cyc = mvu_cycles(lay, tin, tout, simd, pe)
        else:
            if isinstance(lay, Add):
                inherited = out_lanes[srcs[1]]  # the main branch sets the lanes
            else:
                inherited = out_lanes[srcs[0]]
            if "lanes" in given:
                lanes = given["lanes"]
            elif isinstance(lay, ArgMax):
                lanes = inherited or 1
            else:
                lanes = _stream_lanes(lay, tin, inherited, target_cycles)
            simd = pe = lanes
            cyc = stream_cycles(lay, tin, lanes)
        folds[lay.name] = LayerFold(lay.name, _kind(lay), simd, pe, cyc)
        out_lanes[lay.name] = pe
    return folds


def frame_interval(folds):
    """Cycles per frame of the whole pipeline: the slowest layer's."""
    return max(f.cycles for f in folds.values())


def bottleneck(folds):
    return max(folds.values(), key=lambda f: f.cycles)


def auto_fold(net, target_cycles, user=None):
    """Folding for ``target_cycles`` per frame; returns (folds, achieved interval)."""
    require(isinstance(target_cycles, int) and target_cycles >= 1, net.name,
            f"target of {target_cycles!r} cycles per frame", "a positive integer")
    folds = fold_network(net, user, target_cycles)
    return folds, frame_interval(folds)


def report(folds, target=None):
    """A text table of the folding choice."""
    lines = [f"{'layer':24s} {'kind':10s} {'SIMD':>5s} {'PE':>5s} {'cycles/frame':>13s}"]
    worst = frame_interval(folds)
    for f in folds.values():
        mark = "  <- slowest" if f.cycles == worst else ""
        lines.append(f"{f.name:24s} {f.kind:10s} {f.simd:5d} {f.pe:5d} {f.cycles:13,d}{mark}")
    tail = f"frame interval {worst:,} cycles"
    if target:
        tail += f" (target {target:,}: {'met' if worst <= target else 'not reachable'})"
    lines.append(tail)
    return "\n".join(lines)
