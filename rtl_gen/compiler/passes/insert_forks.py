"""Pass: a fork tree wherever a stream has several readers.

A fork block copies one stream to two, so n readers need n - 1 forks: the first fork's
second output feeds the next fork, and so on (``<layer>_fork``, ``<layer>_fork1``, ...,
named after the producing layer, or after the first reader for the pipeline input:
``<reader>_infork``, ``<reader>_infork1``, ... if that reader's own output is forked too,
so that no two forks share a module name).
Readers get the fork outputs in network order. Each fork keeps the producer's lanes (for
the pipeline input: the lanes of its first reader); readers that want other lanes get a
width converter from ``insert_width_converters``. After this pass every output port
drives exactly one link, and ``inp`` names the block port the pipeline input feeds.
"""

from rtl_gen.blocks.fork import ForkUnit
from rtl_gen.compiler.ir import Link, StreamEnd
from rtl_gen.model.netgraph import INPUT


def _readers(p):
    """Links grouped by their source port, in link order: {(src id, port): [links]}."""
    groups = {}
    for ln in p.links:
        groups.setdefault((id(ln.src), ln.src_port), []).append(ln)
    return groups


def insert_forks(p):
    groups = _readers(p).values()
    forked = {links[0].tensor for links in groups if len(links) > 1}
    for links in groups:
        src, src_port = links[0].source
        tensor = links[0].tensor
        if len(links) > 1:
            _fork_tree(p, src, src_port, tensor, links, forked)
        elif src is None:
            p.inp = (links[0].dst, links[0].dst_port)
    p.links = [ln for ln in p.links if ln.src is not None]
    return p


def _fork_tree(p, src, src_port, tensor, links, forked):
    h, w, c = p.types[tensor].shape
    first = links[0]
    layer = tensor if tensor != INPUT else p.layer_of[first.dst.name]
    role = "infork" if tensor == INPUT and layer in forked else "fork"
    at = 0 if src is None else p.blocks.index(src) + 1
    outs = [(src, src_port)]
    while len(outs) < len(links):
        blk, port = outs.pop()
        _, bits, signed = p.stream_format(StreamEnd(blk, port, tensor))
        lanes = first.dst.port(first.dst_port).lanes if blk is None else blk.port(port).lanes
        n = at - (0 if src is None else p.blocks.index(src) + 1)
        fork = p.add_block(ForkUnit(p.modname(layer, f"{role}{n}" if n else role), lanes,
                                    bits, h * w * c // lanes, signed), layer, at=at)
        at += 1
        if blk is None:
            p.inp = (fork, "s_axis")
        else:
            p.links.insert(p.links.index(first), Link(blk, port, fork, "s_axis", tensor))
        outs += [(fork, "m_axis_a"), (fork, "m_axis_b")]
    for ln, (blk, port) in zip(links, outs):
        ln.src, ln.src_port = blk, port
