"""The compiler's intermediate representation: a pipeline of configured blocks and links.

A :class:`Pipeline` is what every compiler pass takes and returns. ``blocks`` are
configured block instances (``rtl_gen.hdl.block.Block``) in the order the top module
instantiates them; ``links`` join an output port of one block to an input port of
another, and remember which tensor of the reference model they carry (and whether as
sliding windows), so that the testbench can compare every layer boundary. A link whose
``src`` is None is fed by the pipeline input (only between lowering and fork insertion:
afterwards ``inp`` names the one block port the input drives).

Module names are ``l<NN>_<layer>_<role>`` (``Pipeline.modname``): NN is the layer's
position in the network, so that the files list in network order.
"""

from dataclasses import dataclass, field

from rtl_gen.errors import QNNError


@dataclass
class Link:
    """A stream from ``src.src_port`` to ``dst.dst_port`` carrying model tensor ``tensor``
    (``window`` = (K, S, P) when it carries that tensor's sliding windows). ``src`` None:
    the pipeline input."""

    src: object
    src_port: str
    dst: object
    dst_port: str
    tensor: str
    window: tuple = None

    @property
    def source(self):
        """(block, port) of the producer (``(None, None)`` for the pipeline input)."""
        return self.src, self.src_port


@dataclass(frozen=True)
class StreamEnd:
    """The producing end of a stream: ``block.port`` (block None: the pipeline input),
    carrying ``tensor`` (as sliding windows (K, S, P) when ``window`` is set)."""

    block: object
    port: str
    tensor: str
    window: tuple = None

    def port_spec(self):
        return self.block.port(self.port)


@dataclass
class Pipeline:
    """Blocks and links of one network at one folding (see the module docstring)."""

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

    def modname(self, layer, role):
        """``l<NN>_<layer>_<role>``: NN is the layer's position in the network (1-based)."""
        index = next((i for i, lay in enumerate(self.net.layers, 1) if lay.name == layer), 0)
        return f"l{index:02d}_{layer}_{role}"

    def add_block(self, blk, layer, at=None):
        """Append ``blk`` (or insert it at position ``at``), owned by spec layer ``layer``.
        Every block is its own Verilog module named after the block: a name already in the
        pipeline is a compiler error (the pass that named it must make it unique)."""
        self.check_new_name(blk, layer)
        if at is None:
            self.blocks.append(blk)
        else:
            self.blocks.insert(at, blk)
        self.layer_of[blk.name] = layer
        return blk

    def check_new_name(self, blk, layer):
        """Refuse ``blk`` if a block of the pipeline already has its (module) name."""
        if any(b.name == blk.name for b in self.blocks):
            raise QNNError(layer, f"the compiler named two blocks '{blk.name}' (an internal "
                           "error)", "unique module names")

    def stream_format(self, end):
        """(lanes, bits, signed) of a stream end; the pipeline input's lanes are None
        (it takes the lanes of whatever reads it)."""
        if end.block is None:
            t = self.types[end.tensor]
            return None, t.bits, t.signed
        p = end.port_spec()
        return p.lanes, p.bits, p.signed
