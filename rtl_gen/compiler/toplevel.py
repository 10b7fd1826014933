"""The top module of a pipeline: instantiates one module per block and wires the streams.

``write_top(name, blocks, links, inp, out, path)`` writes plain Verilog-2001 with the
ports ``clk``, ``rst``, ``s_axis_*`` (the pipeline input) and ``m_axis_*`` (its output).
``blocks`` are :class:`rtl_gen.hdl.block.Block` instances (each generated as its own module,
named after the block); ``links`` are (src_block, src_port, dst_block, dst_port) tuples;
``inp`` / ``out`` are (block, port) pairs. Every stream between blocks becomes four wires
named ``<src block>_<src port>_{tdata,tvalid,tready,tlast}``, so that the testbench can
watch every layer boundary. Hierarchy is kept, so Vivado reports per layer.

A block's plain ports (``extra_ports()``: a link end's lane and status ports) become top
ports ``<block>_<port>`` of the same direction and width. ``inp`` / ``out`` may be None:
a partition whose stream comes in on a link RX (or leaves on a link TX) has no ``s_axis``
(``m_axis``) ports.
"""

from pathlib import Path

from rtl_gen.hdl.block import check_module_name
from rtl_gen.errors import QNNError

SIGNALS = ("tdata", "tvalid", "tready", "tlast")


def wire_name(block, port):
    return f"{block.name}_{port}"


def _decl(width):
    return f"[{width - 1}:0] " if width > 1 else ""


def write_top(name, blocks, links, inp, out, path):
    """Write the top module ``name`` to ``path``; return the path."""
    check_module_name(name)
    by_name = {b.name: b for b in blocks}
    if len(by_name) != len(blocks):
        raise QNNError(name, "two blocks share a module name", "unique block names")
    # Which stream drives each block input, and which wire each output drives.
    src_of = {}
    used_outputs = set()
    for sb, sp, db, dp in links:
        if (db.name, dp) in src_of:
            raise QNNError(db.name, f"input {dp} is driven twice", "one link per input")
        if sb.port(sp).width != db.port(dp).width:
            raise QNNError(db.name, f"input {dp} is {db.port(dp).width} bits wide but "
                           f"{sb.name}.{sp} is {sb.port(sp).width}", "equal stream widths")
        src_of[(db.name, dp)] = wire_name(sb, sp)
        used_outputs.add((sb.name, sp))
    ib, ip = inp if inp is not None else (None, None)
    ob, op = out if out is not None else (None, None)
    if ib is not None:
        src_of[(ib.name, ip)] = "s_axis"
    names = ["clk", "rst"]
    decls = ["input clk;", "input rst;"]
    if ib is not None:
        names += ["s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "s_axis_tlast"]
        decls += [f"input {_decl(ib.port(ip).width)}s_axis_tdata;", "input s_axis_tvalid;",
                  "output s_axis_tready;", "input s_axis_tlast;"]
    if ob is not None:
        names += ["m_axis_tdata", "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"]
        decls += [f"output {_decl(ob.port(op).width)}m_axis_tdata;", "output m_axis_tvalid;",
                  "input m_axis_tready;", "output m_axis_tlast;"]
    for b in blocks:
        for x in b.extra_ports():
            names.append(f"{b.name}_{x.name}")
            decls.append(f"{'input' if x.direction == 'in' else 'output'} "
                         f"{_decl(x.width)}{b.name}_{x.name};")
    lines = [
        f"// {name}: StreamQNN pipeline top, generated; do not edit.",
        "`timescale 1ns/10ps",
        "",
        f"module {name} (",
        *[f"    {n}," for n in names[:-1]],
        f"    {names[-1]}",
        ");",
        "",
        *decls,
        "",
    ]
    for b in blocks:
        for p in b.ports():
            if p.direction != "out":
                continue
            if (b.name, p.name) not in used_outputs and (b, p.name) != (ob, op):
                raise QNNError(b.name, f"output {p.name} is not connected", "a link for it")
            w = wire_name(b, p.name)
            lines += [f"wire {_decl(p.width)}{w}_tdata;", f"wire {w}_tvalid;",
                      f"wire {w}_tready;", f"wire {w}_tlast;"]
    lines.append("")
    # The pipeline output.
    if ob is not None:
        w = wire_name(ob, op)
        lines += [f"assign m_axis_tdata = {w}_tdata;", f"assign m_axis_tvalid = {w}_tvalid;",
                  f"assign {w}_tready = m_axis_tready;", f"assign m_axis_tlast = {w}_tlast;",
                  ""]
    # Which wire carries each block input's tready back to its source.
    for b in blocks:
        conns = ["        .clk(clk)", "        .rst(rst)"]
        for p in b.ports():
            if p.direction == "in":
                src = src_of.get((b.name, p.name))
                if src is None:
                    raise QNNError(b.name, f"input {p.name} is not connected", "a link for it")
                conns += [f"        .{p.name}_tdata({src}_tdata)",
                          f"        .{p.name}_tvalid({src}_tvalid)",
                          f"        .{p.name}_tready({src}_tready)",
                          f"        .{p.name}_tlast({src}_tlast)"]
            else:
                w = wire_name(b, p.name)
                conns += [f"        .{p.name}_{s}({w}_{s})" for s in SIGNALS]
        conns += [f"        .{x.name}({b.name}_{x.name})" for x in b.extra_ports()]
        lines += [f"{b.name} u_{b.name} (", ",\n".join(conns), ");", ""]
    lines.append("endmodule")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path
