"""One entry per layer kind of the spec: how it folds, what it costs, what it lowers to.

``KINDS`` maps each layer class of ``rtl_gen.model.netgraph`` to a :class:`LayerKind`, the
one place where the compiler knows about that kind:

- ``name``: its name in folding reports and manifests ("conv", "threshold", ...);
- folding: ``fold_keys`` (``simd``/``pe`` for a layer on a matrix-vector unit, ``lanes``
  for the others), ``options`` (every (simd, pe) it can take), ``cycles`` (its cycle
  model at one folding), ``fastest`` and ``choose`` (the least parallel folding that
  meets a frame-interval target), ``check_fold`` (a user's folding, checked up front);
- ``lower``: the blocks it becomes (``rtl_gen.compiler.passes.lower`` calls it with a
  :class:`~rtl_gen.compiler.passes.lower.Lowering` to add blocks and connect streams).

The per-block models stay with the blocks: beat timing (the latency model) in
``Block.beat_times``, the resource estimate in ``rtl_gen.compiler.resources.ESTIMATORS``.
A new layer kind is its class in the model (``netgraph``, with its type rule in ``infer``
and its function in ``execute``) and one entry here.

Cycle models (cycles per frame, no stalls), with (H, W, C) the input and (Ho, Wo, Co) the
output shape:

    conv:   max(H·W·C/min(simd, C),  Ho·Wo·K·K·C/simd · Co/pe)
            (the sliding window unit's input beats; the MVU's steps)
    dense:  N/simd · Co/pe                      (N = H·W·C)
    threshold, add, fork, global average pool, arg-max:  H·W·C/lanes
    max pool:  max(H·W·C, Ho·Wo·K·K·C)/lanes

A conv's simd divides C, or (K > 1) is m·C for an m > 1 dividing K: the window unit then
takes one pixel per beat (C lanes) and emits m kernel columns per beat.
"""

from rtl_gen.blocks.add import AddUnit
from rtl_gen.blocks.argmax import ArgMaxUnit
from rtl_gen.blocks.global_avg_pool import GlobalAvgPoolUnit
from rtl_gen.blocks.maxpool import MaxPoolUnit
from rtl_gen.blocks.mvu.mvu import MVU
from rtl_gen.blocks.thresholding import Thresholding
from rtl_gen.blocks.window.sliding_window import SlidingWindow
from rtl_gen.errors import QNNError, require
from rtl_gen.model.layers import out_size
from rtl_gen.model.netgraph import Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, MaxPool, \
    Threshold


def divisors(n):
    return [d for d in range(1, n + 1) if n % d == 0]


def _elements(shape):
    return shape[0] * shape[1] * shape[2]


class LayerKind:
    """A layer without a matrix-vector unit: it works on the lanes of the stream it reads
    (``simd == pe == lanes``, a divisor of C). Subclasses add ``lower`` and, where the
    defaults do not describe them, the cycle model and folding choice."""

    name = None
    fold_keys = frozenset({"lanes"})

    # --- folding -------------------------------------------------------------------------
    def options(self, lay, tin, tout):
        """Every (simd, pe) the layer can take."""
        return [(d, d) for d in divisors(tin.shape[2])]

    def cycles(self, lay, tin, tout, simd, pe):
        """Cycles per frame at (simd, pe)."""
        return _elements(tin.shape) // simd

    def in_lanes(self, lay, fold, tin):
        """Lanes of the stream the layer reads at ``fold``."""
        return fold.simd

    def check_fold(self, lay, tin, tout, given):
        valid = divisors(tin.shape[2])
        require(given["lanes"] in valid, lay.name, f"lanes={given['lanes']!r} does not "
                f"divide C={tin.shape[2]}", "one of " + ", ".join(map(str, valid)))

    def fastest(self, lay, tin, tout, given):
        """The fewest cycles per frame the layer can take (with what ``given`` fixes), or
        None for a layer that is never the reason to unfold another one."""
        lanes = given.get("lanes", tin.shape[2])
        return self.cycles(lay, tin, tout, lanes, lanes)

    def choose(self, lay, tin, tout, given, inputs, target):
        """(simd, pe) for ``target`` (None: no target), ``given`` the user's folding and
        ``inputs`` the lanes of the streams the layer reads (None where not known yet).
        Here: the user's lanes, else the inherited lanes if they meet ``target``, else the
        fewest lanes dividing C that do (at least the inherited ones)."""
        if "lanes" in given:
            return given["lanes"], given["lanes"]
        return self._stream_lanes(lay, tin, tout, inputs[0], target)

    def _stream_lanes(self, lay, tin, tout, inherited, target):
        c = tin.shape[2]

        def meets(d):
            return target is None or self.cycles(lay, tin, tout, d, d) <= target

        if inherited and c % inherited == 0 and meets(inherited):
            return inherited, inherited
        cands = [d for d in divisors(c) if meets(d)]
        if not cands:
            return c, c
        above = [d for d in cands if d >= (inherited or 1)]
        lanes = min(above) if above else max(cands)
        return lanes, lanes

    # --- lowering ------------------------------------------------------------------------
    def lower(self, lw, lay, fold):
        """Add the layer's blocks to the pipeline through ``lw`` (a ``Lowering``)."""
        raise QNNError(lay.name, f"no hardware for a {type(lay).__name__} layer",
                       ", ".join(sorted(k.__name__ for k, v in KINDS.items()
                                        if type(v).lower is not LayerKind.lower)))

    def _one_block(self, lw, lay, fold, make):
        """Lower to one block ``make(name, src_end, bits, signed)`` reading input 0."""
        src = lw.source(lay, 0)
        _, bits, signed = lw.fmt(src)
        blk = lw.add(make(lw.tin(lay), bits, signed), lay)
        lw.connect(src, blk, "s_axis")
        lw.produce(lay, blk, "m_axis")


class MvuKind(LayerKind):
    """A layer on a matrix-vector unit: ``simd`` input lanes, ``pe`` output channels."""

    fold_keys = frozenset({"simd", "pe"})

    def simds(self, lay, tin):
        raise NotImplementedError

    def widest_plain_simd(self, lay, tin):
        """The largest simd that needs no kernel-column window mode."""
        raise NotImplementedError

    def simd_problem(self, lay, tin, simd):
        raise NotImplementedError

    def options(self, lay, tin, tout):
        return [(s, p) for s in self.simds(lay, tin) for p in divisors(tout.shape[2])]

    def check_fold(self, lay, tin, tout, given):
        simds, pes = self.simds(lay, tin), divisors(tout.shape[2])
        if "simd" in given:
            require(given["simd"] in simds, lay.name, self.simd_problem(lay, tin, given["simd"]),
                    "one of " + ", ".join(map(str, simds)))
        if "pe" in given:
            require(given["pe"] in pes, lay.name, f"PE={given['pe']!r} does not divide "
                    f"C_out={tout.shape[2]}", "one of " + ", ".join(map(str, pes)))

    def fastest(self, lay, tin, tout, given):
        return min(self.cycles(lay, tin, tout, s, p) for s, p in self.options(lay, tin, tout)
                   if given.get("simd", s) == s and given.get("pe", p) == p)

    def best(self, lay, tin, tout, target, inherited):
        """The least parallel (simd, pe) meeting ``target``; among equals, one without the
        window unit's kernel-column mode (simd > C_in needs M RAM banks and a rotator),
        then the one with the fewest output lanes (narrow streams downstream), then the
        one whose simd matches the incoming stream's lanes (no width converter)."""
        wide = self.widest_plain_simd(lay, tin)
        options = [(s * p, s > wide, p, s != inherited, s, p)
                   for s, p in self.options(lay, tin, tout)
                   if self.cycles(lay, tin, tout, s, p) <= target]
        if not options:
            return max(self.simds(lay, tin)), tout.shape[2]
        *_, s, p = min(options)
        return s, p

    def choose(self, lay, tin, tout, given, inputs, target):
        s0, p0 = self.best(lay, tin, tout, target, inputs[0]) if target else (1, 1)
        return given.get("simd", s0), given.get("pe", p0)


class ConvKind(MvuKind):
    name = "conv"

    def simds(self, lay, tin):
        cin = tin.shape[2]
        return divisors(cin) + [m * cin for m in divisors(lay.kernel) if m > 1]

    def widest_plain_simd(self, lay, tin):
        return tin.shape[2]

    def simd_problem(self, lay, tin, simd):
        return (f"SIMD={simd!r} neither divides C_in={tin.shape[2]} nor is m*C_in for an "
                f"m > 1 dividing K={lay.kernel}")

    def cycles(self, lay, tin, tout, simd, pe):
        h, w, cin = tin.shape
        ho, wo, cout = tout.shape
        k = lay.kernel
        return max(h * w * cin // min(simd, cin),
                   ho * wo * (k * k * cin // simd) * (cout // pe))

    def in_lanes(self, lay, fold, tin):
        """C_in lanes in the window unit's kernel-column mode (simd = m·C_in)."""
        return min(fold.simd, tin.shape[2])

    def lower(self, lw, lay, fold):
        """A sliding window unit (none for a 1×1 stride-1 convolution) and an MVU."""
        tin, tout = lw.tin(lay), lw.types[lay.name]
        src = lw.source(lay, 0)
        geometry = (lay.kernel, lay.stride, lay.pad)
        if geometry != (1, 1, 0):
            _, bits, signed = lw.fmt(src)
            swu = lw.add(SlidingWindow(lw.modname(lay, "swu"), tin.shape, *geometry, bits,
                                       self.in_lanes(lay, fold, tin), out_lanes=fold.simd,
                                       signed=signed), lay)
            lw.connect(src, swu, "s_axis")
            src = lw.end(swu, "m_axis", src.tensor, window=geometry)
        _, bits, signed = lw.fmt(src)
        mvu = lw.add(MVU(lw.modname(lay, "mvu"), lay.weights, lay.weight_format, bits,
                         fold.simd, fold.pe, pixels=tout.shape[0] * tout.shape[1],
                         groups=lay.groups, in_signed=signed), lay)
        lw.connect(src, mvu, "s_axis")
        lw.produce(lay, mvu, "m_axis")


class DenseKind(MvuKind):
    name = "dense"

    def simds(self, lay, tin):
        return divisors(_elements(tin.shape))

    def widest_plain_simd(self, lay, tin):
        return _elements(tin.shape)

    def simd_problem(self, lay, tin, simd):
        return f"SIMD={simd!r} does not divide the input length N={_elements(tin.shape)}"

    def cycles(self, lay, tin, tout, simd, pe):
        return (_elements(tin.shape) // simd) * (tout.shape[2] // pe)

    def lower(self, lw, lay, fold):
        self._one_block(lw, lay, fold, lambda tin, bits, signed: MVU(
            lw.modname(lay, "mvu"), lay.weights, lay.weight_format, bits, fold.simd, fold.pe,
            pixels=1, in_signed=signed))


class ThresholdKind(LayerKind):
    name = "threshold"

    def lower(self, lw, lay, fold):
        self._one_block(lw, lay, fold, lambda tin, bits, signed: Thresholding(
            lw.modname(lay, "thresh"), lay.thresholds, lay.neg, in_bits=bits,
            in_signed=signed, pe=fold.simd, pixels=tin.shape[0] * tin.shape[1]))


class MaxPoolKind(LayerKind):
    name = "maxpool"

    def cycles(self, lay, tin, tout, simd, pe):
        h, w, c = tin.shape
        ho = out_size(h, lay.kernel, lay.stride, lay.pad)
        wo = out_size(w, lay.kernel, lay.stride, lay.pad)
        return max(h * w * c, ho * wo * lay.kernel * lay.kernel * c) // simd

    def lower(self, lw, lay, fold):
        """On codes, or on signed accumulators (before a threshold)."""
        self._one_block(lw, lay, fold, lambda tin, bits, signed: MaxPoolUnit(
            lw.modname(lay, "maxpool"), tin.shape, lay.kernel, lay.stride, lay.pad, bits,
            fold.simd, signed))


class GlobalAvgPoolKind(LayerKind):
    name = "gap"

    def lower(self, lw, lay, fold):
        self._one_block(lw, lay, fold, lambda tin, bits, signed: GlobalAvgPoolUnit(
            lw.modname(lay, "gap"), tin.shape, bits, fold.simd, signed))


class AddKind(LayerKind):
    """The residual join. Its lanes are chosen by cost, whatever the order of its inputs:
    of the two inputs' lanes, the fewest that meet the target (one width converter at
    most, on the other input, and no layer downstream unfolded beyond need); if neither
    does, the fewest lanes that do, at least the wider input's."""

    name = "add"

    def choose(self, lay, tin, tout, given, inputs, target):
        if "lanes" in given:
            return given["lanes"], given["lanes"]
        c = tin.shape[2]
        known = sorted({x for x in inputs if x and c % x == 0})
        meets = [x for x in known
                 if target is None or self.cycles(lay, tin, tout, x, x) <= target]
        if meets:
            return meets[0], meets[0]
        return self._stream_lanes(lay, tin, tout, max(known, default=None), target)

    def lower(self, lw, lay, fold):
        tin = lw.tin(lay)
        sa, sb = lw.source(lay, 0), lw.source(lay, 1)
        (_, a_bits, a_signed), (_, b_bits, b_signed) = lw.fmt(sa), lw.fmt(sb)
        blk = lw.add(AddUnit(lw.modname(lay, "add"), fold.simd, a_bits, a_signed, b_bits,
                             b_signed, tin.shape[2], tin.shape[0] * tin.shape[1],
                             mul_a=_mul(lay.mul[0]), mul_b=_mul(lay.mul[1])), lay)
        lw.connect(sa, blk, "s_axis_a")
        lw.connect(sb, blk, "s_axis_b")
        lw.produce(lay, blk, "m_axis")


class ArgMaxKind(LayerKind):
    name = "argmax"

    def fastest(self, lay, tin, tout, given):
        return None  # takes the lanes it is given; never the reason for another layer

    def choose(self, lay, tin, tout, given, inputs, target):
        lanes = given.get("lanes", inputs[0] or 1)
        return lanes, lanes

    def lower(self, lw, lay, fold):
        self._one_block(lw, lay, fold, lambda tin, bits, signed: ArgMaxUnit(
            lw.modname(lay, "argmax"), _elements(tin.shape), bits, fold.simd, signed))


class ForkKind(LayerKind):
    """An explicit Fork layer: folded like any stream layer; the compiler removes it before
    lowering (``without_forks``) and inserts fork blocks wherever a tensor has several
    readers (``rtl_gen.compiler.passes.insert_forks``)."""

    name = "fork"


def _mul(m):
    return list(m) if isinstance(m, (list, tuple)) else int(m)


KINDS = {Conv: ConvKind(), Dense: DenseKind(), Threshold: ThresholdKind(),
         MaxPool: MaxPoolKind(), GlobalAvgPool: GlobalAvgPoolKind(), Fork: ForkKind(),
         Add: AddKind(), ArgMax: ArgMaxKind()}


def kind_of(lay):
    """The :class:`LayerKind` of a spec layer."""
    kind = KINDS.get(type(lay))
    if kind is None:
        raise QNNError(getattr(lay, "name", None), f"{type(lay).__name__} is not a layer "
                       "kind the compiler knows", ", ".join(k.__name__ for k in KINDS))
    return kind
