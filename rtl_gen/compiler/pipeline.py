"""From a network spec and its folding to a pipeline of configured blocks and links.

Per layer (DESIGN.md section 4): a convolution becomes a sliding window unit and a
matrix-vector unit (a 1×1 stride-1 convolution needs no window unit), a dense layer an
MVU, a threshold a thresholding block, pooling, add and arg-max their blocks. A tensor
read by two layers goes through a fork; neighbouring blocks with different lanes are
joined by a width converter; the shorter branch of every residual block gets a FIFO
sized by ``rtl_gen.compiler.skip_fifo``. Module names are ``l<NN>_<layer>_<role>``.

Every link remembers which tensor of the reference model it carries (and whether as
sliding windows), so that the testbench can compare every layer boundary.
"""

import copy
from dataclasses import dataclass, field

from rtl_gen.blocks.add import AddUnit as AddBlock
from rtl_gen.blocks.argmax import ArgMaxUnit as ArgMaxBlock
from rtl_gen.errors import QNNError, require
from rtl_gen.blocks.fork import ForkUnit as ForkBlock
from rtl_gen.blocks.global_avg_pool import GlobalAvgPoolUnit as GapBlock
from rtl_gen.blocks.maxpool import MaxPoolUnit as MaxPoolBlock
from rtl_gen.model.infer import infer
from rtl_gen.model.netgraph import INPUT, Add, ArgMax, Conv, Dense, Fork, GlobalAvgPool, \
    MaxPool, Threshold, consumers
from rtl_gen.blocks.mvu.mvu import MVU
from rtl_gen.blocks.window.sliding_window import SlidingWindow
from rtl_gen.blocks.thresholding import Thresholding
from rtl_gen.blocks.width_converter import WidthConverter


@dataclass
class Link:
    """A stream from ``src.src_port`` to ``dst.dst_port`` carrying model tensor ``tensor``
    (``window`` = (K, S, P) when it carries that tensor's sliding windows)."""

    src: object
    src_port: str
    dst: object
    dst_port: str
    tensor: str
    window: tuple = None


@dataclass
class Stream:
    """Where a tensor's stream currently comes out: block, port, lanes."""

    block: object
    port: str
    tensor: str
    window: tuple = None

    @property
    def lanes(self):
        return self.block.port(self.port).lanes

    def fmt(self, types):
        """(bits, signed) of the stream's elements: the producing port's, which may be
        wider than the model's exact range (the model's range always fits)."""
        if self.block is None:
            t = types[self.tensor]
            return t.bits, t.signed
        p = self.block.port(self.port)
        return p.bits, p.signed


@dataclass
class Pipeline:
    name: str
    net: object
    folds: dict
    types: dict
    blocks: list = field(default_factory=list)
    links: list = field(default_factory=list)
    inp: tuple = None          # (block, port) fed by the pipeline input
    out: tuple = None          # (block, port) driving the pipeline output
    out_tensor: str = None
    layer_of: dict = field(default_factory=dict)   # block name -> spec layer
    skip_fifos: dict = field(default_factory=dict)  # add layer -> (fifo block, analysis)

    def block(self, name):
        return next(b for b in self.blocks if b.name == name)


class _Builder:
    def __init__(self, net, folds, prefix_width=2):
        self.p = Pipeline(net.name, net, folds, infer(net))
        self.net = net
        self.index = {lay.name: i + 1 for i, lay in enumerate(net.layers)}
        self.width = prefix_width
        self.pending = {}  # tensor -> list of Streams still to hand out (fork outputs)

    def modname(self, layer, role):
        idx = self.index.get(layer, 0)
        return f"l{idx:0{self.width}d}_{layer}_{role}"

    def add_block(self, blk, layer):
        self.p.blocks.append(blk)
        self.p.layer_of[blk.name] = layer
        return blk

    def connect(self, stream, blk, port):
        if stream.block is None:  # the pipeline input
            self.p.inp = (blk, port)
        else:
            self.p.links.append(Link(stream.block, stream.port, blk, port, stream.tensor,
                                     stream.window))

    def convert(self, stream, lanes, layer):
        """The stream with ``lanes`` lanes, through a width converter if needed."""
        if stream.lanes == lanes:
            return stream
        t = self.p.types[stream.tensor]
        elems = t.shape[0] * t.shape[1] * t.shape[2]
        bits, signed = stream.fmt(self.p.types)
        blk = self.add_block(WidthConverter(self.modname(layer, f"wconv{stream.lanes}to{lanes}"),
                                            stream.lanes, lanes, bits, elems, signed), layer)
        self.connect(stream, blk, "s_axis")
        return Stream(blk, "m_axis", stream.tensor)

    def produce(self, tensor, blk, port):
        """Register the stream of ``tensor``; fork it if several layers read it."""
        readers = consumers(self.net, tensor) if tensor != INPUT else \
            [lay.name for lay in self.net.layers if INPUT in self.net.sources(lay)]
        stream = Stream(blk, port, tensor)
        if not readers:  # read by nobody: the pipeline output
            self.p.out, self.p.out_tensor = (blk, port), tensor
            return
        outs = [stream]
        n = 0
        while len(outs) < len(readers):
            src = outs.pop()
            t = self.p.types[tensor]
            lanes = src.lanes if src.block is not None else self.input_lanes()
            beats = t.shape[0] * t.shape[1] * t.shape[2] // lanes
            layer = tensor if tensor != INPUT else readers[0]
            bits, signed = src.fmt(self.p.types)
            fork = self.add_block(ForkBlock(self.modname(layer, f"fork{n}" if n else "fork"),
                                            lanes, bits, beats, signed), layer)
            if src.block is None:
                self.p.inp = (fork, "s_axis")
            else:
                self.connect(src, fork, "s_axis")
            outs += [Stream(fork, "m_axis_a", tensor), Stream(fork, "m_axis_b", tensor)]
            n += 1
        self.pending[tensor] = dict(zip(readers, outs))

    def input_lanes(self):
        first = [lay for lay in self.net.layers if INPUT in self.net.sources(lay)]
        return self.in_lanes_of(first[0])

    def in_lanes_of(self, lay):
        """Lanes of the stream a layer reads: its simd, except for a conv whose simd is
        m*C_in (the window unit's kernel-column parallel mode reads C_in lanes)."""
        simd = self.p.folds[lay.name].simd
        if isinstance(lay, Conv):
            return min(simd, self.p.types[self.net.sources(lay)[0]].shape[2])
        return simd

    def take(self, tensor, reader):
        return self.pending[tensor][reader]

    def build(self):
        net, types, folds = self.net, self.p.types, self.p.folds
        self.produce(INPUT, None, None)
        for lay in net.layers:
            srcs = net.sources(lay)
            f = folds[lay.name]
            tin = types[srcs[0]]
            tout = types[lay.name]
            if isinstance(lay, Conv):
                s = self._in(srcs[0], lay.name, self.in_lanes_of(lay))
                k, st, pd = lay.kernel, lay.stride, lay.pad
                if (k, st, pd) != (1, 1, 0):
                    bits, _ = s.fmt(types)
                    swu = self.add_block(SlidingWindow(self.modname(lay.name, "swu"), tin.shape,
                                                       k, st, pd, bits, self.in_lanes_of(lay),
                                                       out_lanes=f.simd), lay.name)
                    self.connect(s, swu, "s_axis")
                    s = Stream(swu, "m_axis", srcs[0], (k, st, pd))
                bits, signed = s.fmt(types)
                mvu = self.add_block(MVU(self.modname(lay.name, "mvu"), lay.weights,
                                         lay.weight_format, bits, f.simd, f.pe,
                                         pixels=tout.shape[0] * tout.shape[1],
                                         groups=lay.groups, in_signed=signed), lay.name)
                self.connect(s, mvu, "s_axis")
                self.produce(lay.name, mvu, "m_axis")
            elif isinstance(lay, Dense):
                s = self._in(srcs[0], lay.name, f.simd)
                bits, signed = s.fmt(types)
                mvu = self.add_block(MVU(self.modname(lay.name, "mvu"), lay.weights,
                                         lay.weight_format, bits, f.simd, f.pe, pixels=1,
                                         in_signed=signed), lay.name)
                self.connect(s, mvu, "s_axis")
                self.produce(lay.name, mvu, "m_axis")
            elif isinstance(lay, Threshold):
                s = self._in(srcs[0], lay.name, f.simd)
                bits, signed = s.fmt(types)
                blk = self.add_block(Thresholding(
                    self.modname(lay.name, "thresh"), lay.thresholds, lay.neg,
                    in_bits=bits, in_signed=signed, pe=f.simd,
                    pixels=tin.shape[0] * tin.shape[1]), lay.name)
                self.connect(s, blk, "s_axis")
                self.produce(lay.name, blk, "m_axis")
            elif isinstance(lay, MaxPool):
                require(not tin.signed, lay.name, "max pool on signed accumulators is not "
                        "supported in hardware", "max pool on activation codes")
                s = self._in(srcs[0], lay.name, f.simd)
                blk = self.add_block(MaxPoolBlock(self.modname(lay.name, "maxpool"), tin.shape,
                                                  lay.kernel, lay.stride, lay.pad,
                                                  s.fmt(types)[0], f.simd), lay.name)
                self.connect(s, blk, "s_axis")
                self.produce(lay.name, blk, "m_axis")
            elif isinstance(lay, GlobalAvgPool):
                s = self._in(srcs[0], lay.name, f.simd)
                bits, signed = s.fmt(types)
                blk = self.add_block(GapBlock(self.modname(lay.name, "gap"), tin.shape, bits,
                                              f.simd, signed), lay.name)
                self.connect(s, blk, "s_axis")
                self.produce(lay.name, blk, "m_axis")
            elif isinstance(lay, Add):
                sa = self._in(srcs[0], lay.name, f.simd)
                sb = self._in(srcs[1], lay.name, f.simd)
                (a_bits, a_signed), (b_bits, b_signed) = sa.fmt(types), sb.fmt(types)
                blk = self.add_block(AddBlock(
                    self.modname(lay.name, "add"), f.simd, a_bits, a_signed, b_bits,
                    b_signed, tin.shape[2], tin.shape[0] * tin.shape[1],
                    mul_a=_mul(lay.mul[0]), mul_b=_mul(lay.mul[1])), lay.name)
                self.connect(sa, blk, "s_axis_a")
                self.connect(sb, blk, "s_axis_b")
                self.produce(lay.name, blk, "m_axis")
            elif isinstance(lay, ArgMax):
                s = self._in(srcs[0], lay.name, f.simd)
                n = tin.shape[0] * tin.shape[1] * tin.shape[2]
                bits, signed = s.fmt(types)
                blk = self.add_block(ArgMaxBlock(self.modname(lay.name, "argmax"), n, bits,
                                                 f.simd, signed), lay.name)
                self.connect(s, blk, "s_axis")
                self.produce(lay.name, blk, "m_axis")
            else:  # pragma: no cover - infer() rejects unknown layers
                raise QNNError(lay.name, f"no hardware for {type(lay).__name__}", "")
        require(self.p.out is not None, net.name, "the network has no output layer",
                "a last layer that no other layer reads")
        return self.p

    def _in(self, tensor, reader, lanes):
        s = self.take(tensor, reader)
        if s.block is None:
            return s
        return self.convert(s, lanes, reader)


def _mul(m):
    return list(m) if isinstance(m, (list, tuple)) else int(m)


def without_forks(net):
    """The same network with explicit Fork layers removed (readers of a Fork read its
    source): the compiler inserts forks wherever a tensor has several readers."""
    from rtl_gen.model.netgraph import Network

    alias = {}
    layers = []
    for lay in net.layers:
        srcs = [alias.get(x, x) for x in net.sources(lay)]
        if isinstance(lay, Fork):
            alias[lay.name] = srcs[0]
            continue
        lay = copy.copy(lay)
        if isinstance(lay, Add):
            lay.inputs = tuple(srcs)
        else:
            lay.input = srcs[0]
        layers.append(lay)
    return Network(net.name, net.input_shape, net.input_bits, layers)


def build_pipeline(net, folds):
    """The pipeline (blocks and links, skip FIFOs included) for ``net`` at ``folds``."""
    from rtl_gen.compiler.skip_fifo import insert_skip_fifos

    p = _Builder(without_forks(net), folds).build()
    insert_skip_fifos(p)
    return p


__all__ = ["Pipeline", "Link", "build_pipeline", "without_forks"]
