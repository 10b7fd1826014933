"""Folding: how many lanes each layer processes per clock, and the cycle model it implies.

A convolution or dense layer runs on a matrix-vector unit with ``simd`` input lanes and
``pe`` output channels per clock (FINN's SIMD and PE); every other layer works on the
lanes of the stream it receives (``lanes``). Each layer kind states its foldings and its
cycle model in ``rtl_gen.compiler.layer_kinds`` (the formulas are in its docstring).
Where neighbouring layers use different lanes, a width converter (max(in beats, out
beats) per frame) joins them. The frame interval of the pipeline is the slowest layer's.
``fold_network`` picks, per layer, the least parallelism (smallest simd·pe) that meets a
target interval, so that no layer is needlessly faster than the slowest; a layer that
cannot meet it even fully unfolded is reported as the limit.
"""

from dataclasses import asdict, dataclass

from rtl_gen.compiler.layer_kinds import kind_of
from rtl_gen.errors import QNNError, require
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT


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
        kind = kind_of(lay)
        require(isinstance(given, dict) and bool(given) and set(given) <= kind.fold_keys,
                lay.name, f"folding {given!r} is not understood for a {kind.name} layer",
                " and/or ".join(sorted(kind.fold_keys)) + " (integers)")
        kind.check_fold(lay, types[net.sources(lay)[0]], types[lay.name], given)


def _io(net, types, lay):
    return types[net.sources(lay)[0]], types[lay.name]


def reachable_interval(net, user=None):
    """The smallest frame interval any folding reaches (with ``user``'s fixed layers):
    the slowest layer at its fastest."""
    types = infer(net)
    user = user or {}
    cycles = [kind_of(lay).fastest(lay, *_io(net, types, lay), user.get(lay.name) or {})
              for lay in net.layers]
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
        kind = kind_of(lay)
        tin, tout = _io(net, types, lay)
        srcs = net.sources(lay)
        simd, pe = kind.choose(lay, tin, tout, user.get(lay.name, {}),
                               [out_lanes[s] for s in srcs], target_cycles)
        fold = LayerFold(lay.name, kind.name, simd, pe, kind.cycles(lay, tin, tout, simd, pe))
        folds[lay.name] = fold
        out_lanes[lay.name] = pe
        if INPUT in srcs and out_lanes[INPUT] is None:
            # the pipeline input streams at the lanes of its first reader
            out_lanes[INPUT] = kind.in_lanes(lay, fold, tin)
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
