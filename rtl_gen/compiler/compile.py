"""Compile a network spec into a folder of Verilog: one module per block, and a top.

``compile_network(net, folder, folding=None, target_cycles=None)`` checks the spec,
folds it, builds the pipeline (``build_pipeline``: the passes of
``rtl_gen.compiler.passes`` in sequence), writes every block's
module and ``.mem`` files and the top module ``<network name>.v``, plus
``manifest.json`` (blocks, folding, cycle model, first-frame latency model, skip-FIFO
analysis). Every error in
the spec or the folding is raised as a QNNError before any file is written.
"""

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from rtl_gen.errors import QNNError
from rtl_gen.hdl.block import StreamPort, check_module_name
from rtl_gen.hdl.emit import copy_rtl, generate_cached
from rtl_gen.model.infer import infer
from rtl_gen.compiler.folding import fold_network, frame_interval, report
from rtl_gen.compiler.latency import pipeline_timing
from rtl_gen.compiler.passes.insert_forks import insert_forks
from rtl_gen.compiler.passes.insert_width_converters import insert_width_converters
from rtl_gen.compiler.passes.lower import lower
from rtl_gen.compiler.passes.size_skip_fifos import size_skip_fifos
from rtl_gen.compiler.passes.without_forks import without_forks
from rtl_gen.compiler.toplevel import write_top


@dataclass
class CompiledNetwork:
    """A generated pipeline: behaves like a block (``name``, ``ports()``, ``port()``) for
    the simulation harness."""

    name: str
    net: object
    folds: dict
    pipeline: object
    folder: Path
    files: list = field(default_factory=list)
    gen_seconds: float = 0.0
    _timing: object = field(default=None, repr=False)

    kind = "network"

    def ports(self):
        p = self.pipeline
        ib, ip = p.inp
        ob, op = p.out
        i, o = ib.port(ip), ob.port(op)
        return [StreamPort("s_axis", "in", i.lanes, i.bits, i.signed),
                StreamPort("m_axis", "out", o.lanes, o.bits, o.signed)]

    def port(self, name):
        return next(p for p in self.ports() if p.name == name)

    def cycles_per_frame(self):
        return frame_interval(self.folds)

    def timing(self):
        """The first-frame beat timing model (``rtl_gen.compiler.latency``), computed once."""
        if self._timing is None:
            self._timing = pipeline_timing(self.pipeline)
        return self._timing

    def latency_cycles(self):
        """First-frame latency by the model: first input beat to first output beat."""
        return self.timing().latency

    @property
    def verilog(self):
        return [f for f in self.files if f.suffix == ".v"]

    @property
    def data_files(self):
        return [f for f in self.files if f.suffix != ".v"]


PASSES = (insert_forks, insert_width_converters, size_skip_fifos)


def build_pipeline(net, folds):
    """The pipeline of ``net`` (no Fork layers) at ``folds``: lowered, then every pass of
    ``PASSES`` in turn."""
    p = lower(net, folds)
    for run_pass in PASSES:
        p = run_pass(p)
    return p


def plan(net, folding=None, target_cycles=None):
    """Check, fold and build the pipeline without writing anything: (net, folds, pipeline)."""
    infer(net)   # every spec error first, named by the layer as the user wrote it
    net = without_forks(net)
    check_module_name(net.name)
    folds = fold_network(net, folding, target_cycles)
    return net, folds, build_pipeline(net, folds)


def compile_network(net, folder, folding=None, target_cycles=None, progress=None, plan_=None,
                    cache=None, check=None):
    """Generate the network's RTL into ``folder``; return a :class:`CompiledNetwork`.
    With ``cache`` (a folder), each block's module is generated once per configuration
    there and copied (``check(rtl)``, e.g. lint, runs on fresh ones)."""
    t0 = time.time()
    net, folds, pipe = plan_ or plan(net, folding, target_cycles)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    n = len(pipe.blocks)
    for i, blk in enumerate(pipe.blocks, 1):
        if progress:
            progress(f"[{i}/{n}] generating {blk.name} ({blk.kind})")
        if cache is not None:
            rtl = copy_rtl(generate_cached(blk, cache, check), folder)
        else:
            rtl = blk.generate(folder)
        files += list(rtl.files)
    top = write_top(net.name, pipe.blocks,
                    [(ln.src, ln.src_port, ln.dst, ln.dst_port) for ln in pipe.links],
                    pipe.inp, pipe.out, folder / f"{net.name}.v")
    files.append(top)
    cn = CompiledNetwork(net.name, net, folds, pipe, folder, files, time.time() - t0)
    (folder / "manifest.json").write_text(json.dumps(manifest(cn), indent=1, default=str))
    return cn


def manifest(cn):
    p = cn.pipeline
    try:
        latency = cn.latency_cycles()
        first_beats = {k: v[0] for k, v in cn.timing().per_block().items()}
    except QNNError as exc:       # a pipeline that deadlocks has no latency: say why
        latency, first_beats = None, str(exc)
    return {
        "top": cn.name,
        "interval_cycles": cn.cycles_per_frame(),
        "first_frame_latency_cycles": latency,
        "first_beat_cycles": first_beats,
        "folding": {k: f.as_dict() for k, f in cn.folds.items()},
        "blocks": [{"module": b.name, "kind": b.kind, "layer": p.layer_of[b.name],
                    "params": b.params()} for b in p.blocks],
        "links": [{"from": f"{ln.src.name}.{ln.src_port}", "to": f"{ln.dst.name}.{ln.dst_port}",
                   "tensor": ln.tensor, "window": ln.window} for ln in p.links],
        "skip_fifos": {k: a.explain() for k, (_, a) in p.skip_fifos.items()},
        "files": [f.name for f in cn.files],
        "generation_seconds": round(cn.gen_seconds, 2),
        "folding_report": report(cn.folds),
    }
