"""Partitions as pipelines and RTL: one top per FPGA.

``split(pp)`` turns a :class:`~rtl_gen.compiler.partition.PartitionPlan` into one
:class:`~rtl_gen.compiler.ir.Pipeline` per partition: the blocks of its layers
(``pp.part_of_block``), and at each cut the one crossing stream ``src -> dst`` becomes
``src -> LinkTx`` on partition k and ``LinkRx -> dst`` on partition k+1 (a
``link_pair`` named ``l<NN>_<layer>_link``, ``_tx`` / ``_rx``, NN and layer those of the
layer the cut follows). A partition's ``inp`` / ``out`` is the network's input / output
or None where a link end takes its place.

``compile_partitions(pp, folder, ...)`` writes every block's module and one top per
partition, ``<network>_part<k>.v`` (a complete FPGA design: ``s_axis`` or a link RX in,
``m_axis`` or a link TX out; the link end's lane and status ports are top ports
``<link block>_<port>``, see ``lane_ports`` in ``rtl_gen.blocks.link.link``), and
``partition.json`` (cuts, links, folding, estimates, system cycle model).
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtl_gen.blocks.link.link import link_pair
from rtl_gen.compiler.ir import Link, Pipeline
from rtl_gen.compiler.partition import crossing_links
from rtl_gen.compiler.toplevel import write_top
from rtl_gen.hdl.emit import copy_rtl, generate_cached


@dataclass
class PartDesign:
    """One partition: its pipeline, top module name and the link ends it holds."""

    index: int
    pipeline: object
    top: str
    rx: object = None        # LinkRx feeding it (None: the network input)
    tx: object = None        # LinkTx it ends in (None: the network output)
    path: Path = None
    files: list = field(default_factory=list)   # its modules, .mem files and top


@dataclass
class PartitionedDesign:
    name: str
    plan: object
    parts: list
    folder: Path = None
    files: list = field(default_factory=list)
    gen_seconds: float = 0.0

    @property
    def net(self):
        return self.plan.net

    @property
    def verilog(self):
        return [f for f in self.files if f.suffix == ".v"]

    @property
    def data_files(self):
        return [f for f in self.files if f.suffix != ".v"]

    def cycles_per_frame(self):
        """The system cycle model: max(pipeline interval, every link's cycles)."""
        return self.plan.system_interval


def split(pp):
    """One Pipeline per partition of ``pp`` (see the module docstring)."""
    pipe, part = pp.pipeline, pp.part_of_block
    K = len(pp.parts)
    pairs = []
    for k, lk in enumerate(pp.links):
        ln, = crossing_links(pipe, part, k)
        tx, rx = link_pair(pipe.modname(lk.after, "link"), lk.lanes, lk.bits,
                           signed=lk.signed, lane_bits=lk.cfg.lane_bits,
                           max_frame=lk.cfg.max_frame, lane_latency=lk.cfg.lane_latency)
        pairs.append((ln, tx, rx))
    out = []
    for k in range(K):
        blocks = [b for b in pipe.blocks if part[b.name] == k]
        names = {b.name for b in blocks}
        links = [ln for ln in pipe.links if ln.src is not None and ln.src.name in names
                 and ln.dst.name in names]
        layer_of = {b.name: pipe.layer_of[b.name] for b in blocks}
        rx = tx = None
        out_tensor = pipe.out_tensor
        if k > 0:
            ln, _, rx = pairs[k - 1]
            blocks.insert(0, rx)
            links.insert(0, Link(rx, "m_axis", ln.dst, ln.dst_port, ln.tensor, ln.window))
            layer_of[rx.name] = pp.links[k - 1].after
        if k < K - 1:
            ln, tx, _ = pairs[k]
            blocks.append(tx)
            links.append(Link(ln.src, ln.src_port, tx, "s_axis", ln.tensor, ln.window))
            layer_of[tx.name] = pp.links[k].after
            out_tensor = ln.tensor
        p = Pipeline(f"{pp.net.name}_part{k + 1}", pp.net, pp.folds, pipe.types, blocks,
                     links, pipe.inp if k == 0 else None, pipe.out if k == K - 1 else None,
                     out_tensor, layer_of,
                     {a: v for a, v in pipe.skip_fifos.items() if v[0].name in names})
        out.append(PartDesign(k + 1, p, p.name, rx, tx))
    return out


def compile_partitions(pp, folder, cache=None, check=None, progress=None):
    """Generate every partition's blocks and top into ``folder``; return a
    :class:`PartitionedDesign`."""
    t0 = time.time()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    parts = split(pp)
    files = []
    for pd in parts:
        p = pd.pipeline
        for i, blk in enumerate(p.blocks, 1):
            if progress:
                progress(f"[part {pd.index}: {i}/{len(p.blocks)}] generating {blk.name} "
                         f"({blk.kind})")
            rtl = (copy_rtl(generate_cached(blk, cache, check), folder) if cache is not None
                   else blk.generate(folder))
            files += [f for f in rtl.files if f not in files]
            pd.files += [f for f in rtl.files if f not in pd.files]
        pd.path = write_top(pd.top, p.blocks,
                            [(ln.src, ln.src_port, ln.dst, ln.dst_port) for ln in p.links],
                            p.inp, p.out, folder / f"{pd.top}.v")
        files.append(pd.path)
        pd.files.append(pd.path)
    pdz = PartitionedDesign(pp.net.name, pp, parts, folder, files, time.time() - t0)
    (folder / "partition.json").write_text(json.dumps(manifest(pdz), indent=1, default=str))
    return pdz


def manifest(pdz):
    pp = pdz.plan
    return {
        "network": pp.net.name,
        "cuts": pp.cuts,
        "pipeline_interval_cycles": pp.pipeline_interval,
        "system_interval_cycles": pp.system_interval,
        "bound": pp.bound(),
        "latency": "not modelled across links; measured by simulation",
        "parts": [{"top": pd.top, "layers": pp.parts[pd.index - 1].layers,
                   "estimate": vars(pp.parts[pd.index - 1].estimate),
                   "device": pp.parts[pd.index - 1].device.label
                   if pp.parts[pd.index - 1].device else None,
                   "link_in": pd.rx.name if pd.rx else None,
                   "link_out": pd.tx.name if pd.tx else None,
                   "lane_ports": [f"{e.name}_{x.name}" for e in (pd.rx, pd.tx) if e
                                  for x in e.extra_ports()],
                   "blocks": [b.name for b in pd.pipeline.blocks]} for pd in pdz.parts],
        "links": [{"after": lk.after, "tensor": lk.tensor, "lanes": lk.lanes,
                   "bits": lk.bits, "beats_per_frame": lk.beats,
                   "data_bits_per_frame": lk.data_bits, "cycles_per_frame": lk.cycles,
                   "payload_efficiency": round(lk.efficiency, 4), **lk.cfg.as_dict()}
                  for lk in pp.links],
        "folding": {k: f.as_dict() for k, f in pp.folds.items()},
        "notes": pp.notes,
        "generation_seconds": round(pdz.gen_seconds, 2),
    }
