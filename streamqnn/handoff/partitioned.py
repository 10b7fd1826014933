"""The partitioned handoff: one complete single-device handoff per FPGA, and the chain.

``write_partitioned_handoff(pdz, folder, targets)`` takes the partition build that
``make sim PARTS=K`` simulates (``rtl_gen.compiler.partition_build.compile_partitions``:
one top per partition, ``<net>_part<k>``) and writes::

    <folder>/                  (build/handoff/<net>_parts<K>/ from the command line)
        README.md              the parts in chain order, the cuts, the lane wiring
        manifest.json          the same as data, with every part manifest's SHA-256
        partition.json         the partition build's own record (cuts, links, estimates)
        <net>_part1/ ...       a complete handoff of part 1 (``write_handoff``)
        <net>_part<K>/

Each part folder is written by the single-device ``write_handoff`` through
:class:`PartTop`, an adapter that gives a ``PartDesign`` the interface of a
``CompiledNetwork``: the part's own RTL files (byte for byte those of the build), its
ports (stream ports where it has them, the link ends' lane and status ports), the
per-layer folding of its layers, its analytic estimate (link ends by the partitioner's
count, as entries of their own) and its cycle model: the system frame interval it runs
at in the chain, its own slowest layer, its links' cycles per frame, and the first-frame
latency from its input to its output by the whole network's latency model (the link
ends, transceivers and cable are not modelled; the system simulation measures them).
Its ``lane_ends`` add one ``aurora_lane_<end>.xdc`` per link end.

The whole folder is assembled in a staging folder beside the destination and moved into
place only when every part has passed its checks.
"""

import json
import shutil
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

from rtl_gen.compiler.folding import bottleneck, frame_interval
from rtl_gen.compiler.latency import pipeline_timing
from rtl_gen.compiler.partition import crossing_links
from rtl_gen.hdl.block import SignalPort, StreamPort
from streamqnn.handoff.manifest import _git_commit, sha256, version
from streamqnn.handoff.writer import MARK, _write, check_destination, staged, \
    write_handoff
from streamqnn.handoff.xdc import AURORA_LANE_BITS, LaneEnd


def part_latencies(pdz):
    """Per partition (in order): cycles from its first input beat to its first output
    beat, by the latency model of the whole network's pipeline (``pipeline_timing``):
    the first beat taken by its first block (from ``s_axis`` or the cut before it) to
    the first beat sent by its last block (to ``m_axis`` or the cut after it)."""
    pp = pdz.plan
    pipe, part = pp.pipeline, pp.part_of_block
    t = pipeline_timing(pipe)
    K = len(pdz.parts)
    out = []
    for k in range(K):
        if k == 0:
            ib, ip = pipe.inp
            start = t.taken[(ib.name, ip)][0]
        else:
            ln, = crossing_links(pipe, part, k - 1)
            start = t.taken[(ln.dst.name, ln.dst_port)][0]
        if k == K - 1:
            ob, op = pipe.out
            end = t.sent[(ob.name, op)][0]
        else:
            ln, = crossing_links(pipe, part, k)
            end = t.sent[(ln.src.name, ln.src_port)][0]
        out.append(int(end - start))
    return out


def _lanes(bits):
    return f"{bits / AURORA_LANE_BITS:g}"


class PartTop:
    """A partition top (``PartDesign`` of ``pdz``) as ``write_handoff`` sees a compiled
    top; see the module docstring."""

    kind = "network"

    def __init__(self, pdz, pd, latency):
        pp = pdz.plan
        self.pdz, self.pd, self.plan = pdz, pd, pp
        self.part = pp.parts[pd.index - 1]
        self.name = pd.top
        self.folder = pdz.folder
        self.files = list(pd.files)
        K = len(pp.parts)
        self.ends = [e for e in (pd.rx, pd.tx) if e is not None]
        layers = set(self.part.layers)
        # its layers, then its link ends as entries of their own (estimates, blocks)
        self.net = SimpleNamespace(
            name=pp.net.name,
            layers=[lay for lay in pp.net.layers if lay.name in layers]
            + [SimpleNamespace(name=e.name) for e in self.ends])
        self.pipeline = replace(pd.pipeline, layer_of={**pd.pipeline.layer_of,
                                                       **{e.name: e.name for e in self.ends}})
        self.folds = {n: pp.folds[n] for n in self.part.layers}
        self._latency = latency
        self.link_in = pp.links[pd.index - 2] if pd.rx is not None else None
        self.link_out = pp.links[pd.index - 1] if pd.tx is not None else None
        parts = pdz.parts
        self.lane_ends = []
        if pd.rx is not None:
            peer = parts[pd.index - 2]
            self.lane_ends.append(LaneEnd(pd.rx.name, pd.rx.cfg.lane_bits, (
                f"RX end of cut {pd.index - 1} (the stream after layer {self.link_in.after}): "
                f"receives from part {peer.index} of {K} ({peer.top}, link end "
                f"{peer.tx.name}) and answers on its tx_lane.")))
        if pd.tx is not None:
            peer = parts[pd.index]
            self.lane_ends.append(LaneEnd(pd.tx.name, pd.tx.cfg.lane_bits, (
                f"TX end of cut {pd.index} (the stream after layer {self.link_out.after}): "
                f"sends to part {peer.index} of {K} ({peer.top}, link end {peer.rx.name}), "
                "which answers on this end's rx_lane.")))
        self.cycle_model_extra = self._cycle_extra()

    def ports(self):
        p, out = self.pd.pipeline, []
        if p.inp is not None:
            i = p.inp[0].port(p.inp[1])
            out.append(StreamPort("s_axis", "in", i.lanes, i.bits, i.signed))
        if p.out is not None:
            o = p.out[0].port(p.out[1])
            out.append(StreamPort("m_axis", "out", o.lanes, o.bits, o.signed))
        out += [SignalPort(f"{e.name}_{x.name}", x.direction, x.width)
                for e in self.ends for x in e.extra_ports()]
        return out

    def cycles_per_frame(self):
        """The system frame interval: every partition runs at the chain's pace."""
        return self.plan.system_interval

    def latency_cycles(self):
        return self._latency

    def _cycle_extra(self):
        pp = self.plan
        return {
            "frame_interval_is": "the system frame interval of the chain of "
                                 f"{len(pp.parts)} parts: max(pipeline interval, every "
                                 f"link's cycles per frame), set by the {pp.bound()}",
            "part_interval_cycles": frame_interval(self.folds),
            "pipeline_interval_cycles": pp.pipeline_interval,
            "pipeline_slowest_layer": bottleneck(pp.folds).name,
            "link_in_cycles_per_frame": self.link_in.cycles if self.link_in else None,
            "link_out_cycles_per_frame": self.link_out.cycles if self.link_out else None,
            "first_frame_latency_is": "from the first beat into this part's first layer "
                                      "(s_axis or its link RX) to the first beat out of its "
                                      "last layer (m_axis or into its link TX), by the "
                                      "whole network's latency model; the link ends, "
                                      "transceivers and cable add their own (not modelled; "
                                      "the system simulation measures the whole chain)",
        }

    def partition_record(self, simulated_by):
        """The manifest's ``partition`` entry."""
        pp, pd, K = self.plan, self.pd, len(self.plan.parts)

        def end(kind, lk, mine, peer_pd, peer_end, cut):
            if lk is None:
                return {"stream": kind}
            return {"link_end": mine.name, "cut": cut, "after_layer": lk.after,
                    "tensor": lk.tensor, "peer_part": peer_pd.index, "peer_top": peer_pd.top,
                    "peer_link_end": peer_end.name, "lane_bits": lk.cfg.lane_bits,
                    "aurora_lanes": _lanes(lk.cfg.lane_bits),
                    "lane_ports": [f"{mine.name}_{x.name}" for x in mine.extra_ports()
                                   if "lane" in x.name],
                    "status_ports": [f"{mine.name}_{x.name}" for x in mine.extra_ports()
                                     if x.name.startswith("stat_")],
                    "cycles_per_frame": lk.cycles, "constraints":
                    f"constraints/aurora_lane_{mine.name}.xdc"}

        parts = self.pdz.parts
        return {
            "network": pp.net.name,
            "index": pd.index,
            "of": K,
            "layers": list(self.part.layers),
            "cuts": list(pp.cuts),
            "device_budget": self.part.device.label if self.part.device else None,
            "input": end("s_axis", self.link_in, pd.rx, parts[pd.index - 2] if pd.rx else None,
                         parts[pd.index - 2].tx if pd.rx else None, pd.index - 1),
            "output": end("m_axis", self.link_out, pd.tx, parts[pd.index] if pd.tx else None,
                          parts[pd.index].rx if pd.tx else None, pd.index),
            "analytic_estimate_of_partitioner": vars(self.part.estimate),
            "simulated_by": simulated_by,
            "chain": "../manifest.json",
        }


def wiring(pdz):
    """Per cut, the lane connections through the two FPGAs' Aurora cores: the forward
    lane (data) and the reverse lane (ACK/NAK, credits, training)."""
    out = []
    for c, lk in enumerate(pdz.plan.links, 1):
        a, b = pdz.parts[c - 1], pdz.parts[c]
        t, r = a.tx.name, b.rx.name
        out.append({
            "cut": c, "after_layer": lk.after, "tensor": lk.tensor,
            "from_part": a.index, "from_top": a.top, "tx_end": t,
            "to_part": b.index, "to_top": b.top, "rx_end": r,
            "lane_bits": lk.cfg.lane_bits, "aurora_lanes": _lanes(lk.cfg.lane_bits),
            "cycles_per_frame": lk.cycles, "payload_efficiency": round(lk.efficiency, 4),
            "forward": [f"part{a.index}.{t}_tx_lane_* -> Aurora (FPGA {a.index}) s_axi_tx_* "
                        f"=> cable => Aurora (FPGA {b.index}) m_axi_rx_* -> "
                        f"part{b.index}.{r}_rx_lane_*"],
            "reverse": [f"part{b.index}.{r}_tx_lane_* -> Aurora (FPGA {b.index}) s_axi_tx_* "
                        f"=> cable => Aurora (FPGA {a.index}) m_axi_rx_* -> "
                        f"part{a.index}.{t}_rx_lane_*"],
        })
    return out


def chain_manifest(pdz, folder, part_mans, clock_mhz, regenerate, simulated_by):
    pp = pdz.plan
    folder = Path(folder)
    hz = clock_mhz * 1e6
    parts = []
    for pd, man in zip(pdz.parts, part_mans):
        pr = man["partition"]
        parts.append({
            "index": pd.index, "folder": pd.top, "top_module": pd.top,
            "part": man["part"], "device": man["device"],
            "first_layer": pr["layers"][0], "last_layer": pr["layers"][-1],
            "layers": len(pr["layers"]),
            "input": pr["input"].get("link_end") or "s_axis",
            "output": pr["output"].get("link_end") or "m_axis",
            "fusesoc_core": man["fusesoc_core"],
            "analytic_estimate": man["resources"]["analytic"]["total"],
            "manifest_sha256": sha256(folder / pd.top / "manifest.json"),
        })
    return {
        "design": pp.net.name,
        "partitioned": True,
        "parts_count": len(pp.parts),
        "generator": {"streamqnn": version(), "git_commit": _git_commit()},
        "clock_mhz": clock_mhz,
        "cuts": list(pp.cuts),
        "parts": parts,
        "links": wiring(pdz),
        "system_cycle_model": {
            "frame_interval_cycles": pp.system_interval,
            "pipeline_interval_cycles": pp.pipeline_interval,
            "bound": pp.bound(),
            "frames_per_second": round(hz / pp.system_interval, 3),
            "first_frame_latency": "not modelled across links; the system simulation "
                                   "measures it",
        },
        "notes": list(pp.notes),
        "regenerate": regenerate,
        "simulated_by": simulated_by,
        "partition_json_sha256": sha256(folder / "partition.json"),
        MARK: False,
    }


def chain_readme(man):
    net, K = man["design"], man["parts_count"]
    rows = "\n".join(
        f"| {p['index']} | [`{p['folder']}/`]({p['folder']}/README.md) | `{p['part']}` | "
        f"{p['first_layer']} .. {p['last_layer']} ({p['layers']}) | `{p['input']}` | "
        f"`{p['output']}` |" for p in man["parts"])
    links = []
    for lk in man["links"]:
        links.append(
            f"- **cut {lk['cut']}**, after layer `{lk['after_layer']}` ({lk['lane_bits']}-bit "
            f"lane = {lk['aurora_lanes']} Aurora 64B/66B lane(s), {lk['cycles_per_frame']:,} "
            f"lane cycles per frame, {lk['payload_efficiency']:.1%} payload): part "
            f"{lk['from_part']}'s `{lk['tx_end']}` sends, part {lk['to_part']}'s "
            f"`{lk['rx_end']}` receives.\n"
            f"  - forward (data): `{lk['forward'][0]}`\n"
            f"  - reverse (ACK/NAK, credits, training): `{lk['reverse'][0]}`")
    sc = man["system_cycle_model"]
    notes = "".join(f"\n- {n}" for n in man["notes"])
    return f"""# {net}: Vivado handoff in {K} parts (one FPGA each)

Generated by StreamQNN {man['generator']['streamqnn']} (commit
`{man['generator']['git_commit'] or 'unknown'}`). Each sub-folder is a complete
single-FPGA handoff (RTL, XDC, `vivado/build.tcl`, FuseSoC core, manifest, README) of one
partition top; its RTL is byte for byte what `{man['simulated_by']}` simulates. Regenerate
the same RTL with `{man['regenerate']}`.

## The parts, in chain order

| part | folder | Xilinx part | layers | input | output |
|---|---|---|---|---|---|
{rows}

Cuts after: {', '.join(f'`{c}`' for c in man['cuts'])}.

## The links

Each cut is one full-duplex link: a `LinkTx` on the sending FPGA and a `LinkRx` on the
receiving one, each on its FPGA's Aurora 64B/66B core (duplex, streaming user interface,
one core per FPGA and cut). Lane ports are named from their own FPGA's side (`tx_lane_*`
what it sends, `rx_lane_*` what it receives), so both ends connect to their core the same
way: `tx_lane_data/valid/last` to `s_axi_tx_tdata/tvalid/tlast`, `tx_lane_ready` from
`s_axi_tx_tready`, `rx_lane_data/valid` from `m_axi_rx_tdata/tvalid`, `clk` from
`user_clk_out`; `channel_up` is for monitoring only (do not reset on it). Each part
folder's `constraints/aurora_lane_<end>.xdc` has the port-by-port mapping.

{chr(10).join(links)}

## System cycle model

One frame every {sc['frame_interval_cycles']:,} cycles ({sc['frames_per_second']:,.1f}
frames/s at {man['clock_mhz']:g} MHz; pipeline {sc['pipeline_interval_cycles']:,}, set by
the {sc['bound']}). First-frame latency across links is not modelled; each part's
manifest gives the latency of its own layers, and the system simulation measures the
whole chain.{notes}

## Files

| path | what |
|---|---|
| `<part folder>/` | one complete handoff per FPGA (see its README) |
| `manifest.json` | the parts, cuts, links and their wiring, the system cycle model, each part manifest's SHA-256 |
| `partition.json` | the partition build's record (cuts, links, folding, estimates) |

Vivado itself was **not** run. Each part folder was checked on its own (Verilator lint,
Icarus, `vivado/build.tcl` under tclsh with recorders: every constraint, the lane ports'
included, names a port or clock of that part's top); its README lists the checks.
"""


def write_partitioned_handoff(pdz, folder, targets, yosys=None, regenerate=None,
                              simulated_by=None, progress=None):
    """Write the partitioned handoff of ``pdz`` (a ``PartitionedDesign``) into ``folder``;
    ``targets``: one ``parts.Target`` per partition; ``yosys``: None, or a function of a
    :class:`PartTop` and its target returning ``(NetworkEstimate or None, note)``.
    Returns the chain manifest dict."""
    folder = Path(folder)
    check_destination(folder)
    say = progress or (lambda _m: None)
    clocks = {t.clock_mhz for t in targets}
    assert len(clocks) == 1 and len(targets) == len(pdz.parts)
    with staged(folder) as stage:
        lat = part_latencies(pdz)
        mans = []
        for pd, target, latency in zip(pdz.parts, targets, lat):
            top = PartTop(pdz, pd, latency)
            say(f"part {pd.index} of {len(pdz.parts)}: {pd.top} for {target.part}")
            ne, note = yosys(top, target) if yosys else (None, "not run (--no-yosys)")
            mans.append(write_handoff(top, stage / pd.top, target, ne, note,
                                      partition=top.partition_record(simulated_by),
                                      regenerate=regenerate, progress=progress))
        shutil.copyfile(Path(pdz.folder) / "partition.json", stage / "partition.json")
        man = chain_manifest(pdz, stage, mans, clocks.pop(), regenerate, simulated_by)
        man["part_manifests"] = mans
        _write(stage / "manifest.json", json.dumps({k: v for k, v in man.items()
                                                    if k != "part_manifests"},
                                                   indent=1, default=str) + "\n")
        _write(stage / "README.md", chain_readme(man))
    return man
