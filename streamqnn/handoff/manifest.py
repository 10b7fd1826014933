"""The handoff's ``manifest.json``: what the folder holds and what to expect of it.

Design and generator (git commit, digest of the ``rtl_gen`` sources the RTL cache is
keyed on), part and clock, per-layer folding, the cycle model (frame interval,
first-frame latency, frames per second at the clock), resource estimates (the analytic
one per layer, and Yosys per layer when it ran, each beside the part's totals) and the
SHA-256 of every file in the folder.
"""

import hashlib
import importlib.metadata
import subprocess
from pathlib import Path

from rtl_gen.compiler.folding import bottleneck
from rtl_gen.compiler.partition import link_estimate
from rtl_gen.compiler.resources import Resources, block_estimate
from rtl_gen.hdl.emit import package_digest

REPO = Path(__file__).resolve().parents[2]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _git_commit():
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def version():
    try:
        return importlib.metadata.version("streamqnn")
    except importlib.metadata.PackageNotFoundError:
        return "0.0.0"


def cycle_model(cn, clock_mhz):
    """Frame interval, first-frame latency and their meaning at ``clock_mhz`` (a
    partition top adds its own entries: ``cn.cycle_model_extra``)."""
    interval, latency = cn.cycles_per_frame(), cn.latency_cycles()
    hz = clock_mhz * 1e6
    out = {
        "frame_interval_cycles": interval,
        "first_frame_latency_cycles": latency,
        "frames_per_second": round(hz / interval, 3),
        "frame_interval_us": round(interval / hz * 1e6, 3),
        "first_frame_latency_us": round(latency / hz * 1e6, 3),
        "slowest_layer": bottleneck(cn.folds).name,
        "assumes": "no input gaps and no output backpressure (the cycle and latency models "
                   "agree with simulation cycle for cycle under these conditions)",
    }
    out.update(getattr(cn, "cycle_model_extra", {}))
    return out


def _estimate(blk):
    """A block's analytic estimate; a link end's is the partitioner's structural count
    (``partition.link_estimate``), the one its device budget was checked with."""
    if blk.kind in ("link_tx", "link_rx"):
        return link_estimate(blk.cfg, blk.kind[-2:])
    return block_estimate(blk).rounded()


def analytic_estimate(cn):
    """The compiler's analytic estimate per layer and in total (a partition's link ends
    are entries of their own, under their block names)."""
    per_block = {b.name: _estimate(b) for b in cn.pipeline.blocks}
    total = Resources()
    for r in per_block.values():
        total = total + r
    total = total.rounded()
    per_layer = {}
    for blk in cn.pipeline.blocks:
        r = per_block[blk.name]
        acc = per_layer.setdefault(cn.pipeline.layer_of[blk.name],
                                   {"lut": 0, "ff": 0, "bram36": 0.0})
        acc["lut"] += r.lut
        acc["ff"] += r.ff
        acc["bram36"] += r.bram36
    order = [lay.name for lay in cn.net.layers]
    return {"tool": "rtl_gen/compiler/resources.py (structural counts, coefficients fitted "
                    "to Yosys)",
            "per_layer": {k: per_layer[k] for k in order if k in per_layer},
            "total": {"lut": total.lut, "ff": total.ff, "bram36": total.bram36}}


def _share(used, totals):
    return {k: round(used[k] / totals[k], 4) for k in ("lut", "ff", "bram36")
            if used.get(k) is not None and totals.get(k)}


def manifest(cn, target, rtl_files, other_files, folder, yosys=None, yosys_note=None,
             partition=None):
    """The manifest dict. ``rtl_files``/``other_files``: paths inside ``folder``;
    ``yosys``: a ``verif.estimate.NetworkEstimate`` (or None, with ``yosys_note`` saying
    why)."""
    folder = Path(folder)
    analytic = analytic_estimate(cn)
    totals = target.device_totals
    resources = {"device_totals": {"device": target.device, **totals},
                 "analytic": {**analytic,
                              "share_of_device": _share(analytic["total"], totals)}}
    if yosys is not None:
        ys = yosys.as_dict()
        t = ys["total"]
        ys["share_of_device"] = _share({"lut": t["lut_equivalent"], "ff": t["ff"],
                                        "bram36": t["bram36"]}, totals)
        resources["yosys"] = ys
    else:
        resources["yosys"] = {"skipped": yosys_note or "not run"}
    rel = lambda p: Path(p).relative_to(folder).as_posix()  # noqa: E731
    return {
        "design": cn.name,
        "top_module": cn.name,
        "partition": partition,
        "generator": {"streamqnn": version(), "git_commit": _git_commit(),
                      "rtl_gen_sources_sha256": package_digest()},
        "part": target.part,
        "device": target.device,
        "part_description": target.description,
        "clock_mhz": target.clock_mhz,
        "clock_period_ns": round(target.period_ns, 4),
        "ports": [p.as_dict() for p in cn.ports()],
        "folding": {k: f.as_dict() for k, f in cn.folds.items()},
        "cycle_model": cycle_model(cn, target.clock_mhz),
        "blocks": [{"module": b.name, "kind": b.kind, "layer": cn.pipeline.layer_of[b.name]}
                   for b in cn.pipeline.blocks],
        "resources": resources,
        "rtl_sha256": {rel(f): sha256(f) for f in rtl_files},
        "files_sha256": {rel(f): sha256(f) for f in other_files},
        "vivado_run": False,
    }
