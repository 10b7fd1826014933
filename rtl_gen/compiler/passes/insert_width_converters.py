"""Pass: a width converter on every link whose producer's lanes differ from its reader's.

The converter (``<reader layer>_wconv<in>to<out>``, with ``_<port>`` appended when the
reader has several stream inputs, e.g. ``l07_add7_wconv1to4_a`` and ``..._b`` for an add
both of whose inputs need one) is placed just before the reader and carries the producer's element format (bits, signedness). Streams of sliding windows never
need one (a window unit and its MVU are lowered with matching lanes).
"""

from rtl_gen.blocks.width_converter import WidthConverter
from rtl_gen.compiler.ir import Link


def insert_width_converters(p):
    for ln in list(p.links):
        have, want = ln.src.port(ln.src_port), ln.dst.port(ln.dst_port)
        if have.lanes == want.lanes:
            continue
        assert ln.window is None, f"lanes differ on a window stream into {ln.dst.name}"
        layer = p.layer_of[ln.dst.name]
        h, w, c = p.types[ln.tensor].shape
        role = f"wconv{have.lanes}to{want.lanes}"
        if ln.dst_port != "s_axis":    # one of several inputs (an add's s_axis_a / _b)
            role += "_" + ln.dst_port.removeprefix("s_axis_")
        wconv = p.add_block(WidthConverter(p.modname(layer, role),
                                           have.lanes, want.lanes, have.bits, h * w * c,
                                           have.signed), layer, at=p.blocks.index(ln.dst))
        i = p.links.index(ln)
        p.links[i:i + 1] = [Link(ln.src, ln.src_port, wconv, "s_axis", ln.tensor),
                            Link(wconv, "m_axis", ln.dst, ln.dst_port, ln.tensor)]
    return p
