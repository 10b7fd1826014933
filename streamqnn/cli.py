"""Command line: ``streamqnn list|generate|sim|estimate|handoff``.

A design (TOP) is a named network (``resnet_block``, ``resnet_block_down``,
``tiny_resnet``, ``resnet18``, ``alexnet``), a network spec file (.yaml/.yml/.json), or a
block configuration of the catalog (``streamqnn list`` shows them all).

``generate TOP``  write the RTL (one module per block, the top, .mem files, manifest)
``sim TOP``       generate, then simulate against the reference model and print frames
                  passed, cycles per frame and first-frame latency measured against the
                  models, simulator speed; a mismatch names the first differing layer boundary
``estimate TOP``  the folding, cycle model, first-frame latency and resource estimate
                  (no RTL written); with ``--yosys`` also the RTL, synthesized with Yosys
                  ``synth_xilinx`` one layer module at a time (parallel, cached), per
                  layer beside the analytic estimate, recorded in the design's manifest
``handoff TOP``   the Vivado handoff folder (build/handoff/<name>): the simulated RTL,
                  XDC, vivado/build.tcl, a FuseSoC core, filelist.f, manifest, README;
                  ``--part``, ``--clock-mhz``; ``--parts K`` (or ``--cut`` /
                  ``--devices``): build/handoff/<name>_parts<K>/ with one such folder
                  per FPGA (the partition build ``sim --parts`` simulates), lane
                  constraints for Aurora 64B/66B, and the chain's manifest and README

``partition TOP`` cut the network across FPGAs (``--cut LAYER,...`` or ``--devices DEV,...``
                  or ``--parts K``): the cuts, per-device resources, link load and the
                  system frame interval; ``--generate`` writes one top per partition
``sim TOP --parts K`` (or ``--cut``) simulates the partitions joined through channel
                  models (bit errors at ``--ber``, default forcing replays)

``import MODEL``  a QONNX model (Brevitas export_qonnx) to a network spec (--out), exact on
                  integer inputs; --check N compares it with qonnx's executor on N inputs

A trained design (``mnist_resnet``) simulates its held-out test images and prints each
image's class (hardware, our model, qonnx's executor), the accuracies and the logits
(the output scale recorded in the spec applied).

Folding: ``--target N`` (cycles per frame; each named design has a default), ``--budget``
(a device or lut=N,ff=N,bram=N: the fastest folding whose estimate fits) and ``--fold
LAYER=SIMD,PE`` / ``--fold LAYER=LANES`` for single layers.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from rtl_gen.blocks.catalog import catalog
from rtl_gen.compiler.budget import fold_for_budget, parse_budget
from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.compiler.folding import report
from rtl_gen.compiler.latency import pipeline_timing
from rtl_gen.compiler.partition import LinkOptions, partition
from rtl_gen.compiler.partition_build import compile_partitions
from rtl_gen.compiler.resources import pipeline_estimate
from rtl_gen.designs.random_nets import random_network
from rtl_gen.designs import DEFAULT_TARGET, DESIGNS, TRAINED, design
from rtl_gen.errors import QNNError
from rtl_gen.importer import QonnxRunner, check, import_onnx, output_logits, random_images, \
    real_input
from rtl_gen.importer.thresholds import MAX_MULTIPLIER_BITS
from rtl_gen.model.serialize import load, save
from streamqnn.handoff import HandoffCheckFailed, check_destination, check_request, \
    write_handoff
from streamqnn.handoff.parts import check_partitions, device_of, part_targets
from streamqnn.handoff.partitioned import write_partitioned_handoff
from streamqnn.handoff.manifest import analytic_estimate
from verif.estimate import layer_table, network_estimate
from verif.harness import BUILD as HBUILD
from verif.harness import SimulationFailed, simulate
from verif.lint import lint
from verif.model_checks import model_intervals
from verif.network_sim import run_network
from verif.system_sim import DEFAULT_BER, run_system, write_system

BUILD = Path("build")


def _say(msg):
    print(msg, flush=True)


def blocks():
    return {b.name: b for b in catalog()}


def network(top, seed=0):
    """The network spec for ``top`` (a named design, ``random:N`` for the random network of
    seed N as the property tests draw it, or a spec file), or None."""
    if top in DESIGNS:
        return design(top, seed)
    if top.startswith("random:"):
        n = top.split(":", 1)[1]
        if not n.isdigit():
            raise QNNError(None, f"random network '{top}' has no seed",
                           "random:N with N a non-negative integer")
        return random_network(int(n))
    if top.endswith((".yaml", ".yml", ".json")):
        if not Path(top).exists():
            raise QNNError(None, f"spec file '{top}' does not exist", "a readable file")
        return load(top)
    return None


def unknown(top):
    return QNNError(None, f"unknown design '{top}'",
                    "a network (" + ", ".join(DESIGNS) + "), random:N, a spec file (.yaml/.json), or "
                    "a block configuration (streamqnn list)")


def _target(args, net):
    if args.target:
        return args.target
    return DEFAULT_TARGET.get(net.name) or net.metadata.get("target_cycles")


def _folding(args):
    """--fold layer=SIMD,PE (or layer=LANES) options as a folding dict."""
    out = {}
    for item in args.fold or []:
        try:
            layer, val = item.split("=")
            nums = [int(v) for v in val.split(",")]
        except ValueError:
            raise QNNError(None, f"--fold {item!r} is not understood",
                           "layer=SIMD,PE for a conv/dense layer or layer=LANES") from None
        out[layer] = {"simd": nums[0], "pe": nums[1]} if len(nums) == 2 else {"lanes": nums[0]}
    return out


def _plan(args, net):
    """(net, folds, pipeline): folded for --budget, or for --target (a design's default
    target when neither is given)."""
    if getattr(args, "budget", None):
        if args.target:
            raise QNNError(net.name, "both --target and --budget given",
                           "one of them: a frame interval or a resource budget")
        budget = parse_budget(args.budget)
        _say(f"planning {net.name}: the fastest folding within {budget.describe()} "
             f"({args.budget_fraction:.0%} of it) ...")
        planned, est, target = fold_for_budget(net, budget, _folding(args),
                                               args.budget_fraction, progress=_say)
        _say(f"chosen: target {target:,} cycles per frame; estimate LUT {est.lut:,.0f}, "
             f"FF {est.ff:,.0f}, BRAM36 {est.bram36:g}")
        return planned
    target = _target(args, net)
    _say(f"planning {net.name}: folding for {target or 'no'} target cycles per frame ...")
    return plan(net, _folding(args), target)


def compile_top(top, args):
    """(CompiledNetwork) with progress; lint included."""
    net = network(top, args.seed)
    planned = _plan(args, net)
    out = Path(args.out) if getattr(args, "out", None) else BUILD / "designs" / net.name
    t0 = time.time()
    cn = compile_network(net, out, plan_=planned, progress=_say, cache=HBUILD / "rtl",
                         check=lambda rtl: lint(rtl.files, rtl.top))
    _say(f"generated {len(cn.files)} files into {out} in {time.time() - t0:.1f} s; linting ...")
    lint(cn.verilog, cn.name)
    _say(f"lint clean (verilator --lint-only -Wall -Wno-WIDTHEXPAND): {len(cn.verilog)} modules")
    return cn


def cmd_list(args):
    for name in DESIGNS:
        print(f"{name:28s} network    default target {DEFAULT_TARGET.get(name, '-')} cycles/frame")
    for name, blk in sorted(blocks().items()):
        print(f"{name:28s} {blk.kind:10s} {blk.params()}")
    return 0


def cmd_generate(args):
    if network(args.top, args.seed) is not None:
        cn = compile_top(args.top, args)
        print(f"top module {cn.name}: {cn.folder / (cn.name + '.v')}; frame interval "
              f"{cn.cycles_per_frame():,} cycles, first-frame latency "
              f"{cn.latency_cycles():,} cycles (model)")
        return 0
    blk = blocks().get(args.top)
    if blk is None:
        raise unknown(args.top)
    out = Path(args.out or BUILD / "gen" / args.top)
    rtl = blk.generate(out)
    print(f"generated {rtl.top}: {', '.join(str(f) for f in rtl.files)}")
    return 0


def cmd_estimate(args):
    target = check_request(args.part, None, None) if args.yosys else None
    net = network(args.top, args.seed)
    if net is None:
        raise unknown(args.top)
    t0 = time.time()
    _, folds, pipe = _plan(args, net)
    print(report(folds, None if args.budget else _target(args, net)))
    est, _ = pipeline_estimate(pipe)
    print(f"resources (analytic estimate): LUT {est.lut:,.0f}, FF {est.ff:,.0f}, "
          f"BRAM36 {est.bram36:g}")
    timing = pipeline_timing(pipe)
    print(f"first-frame latency {timing.latency:,} cycles (model: the pipeline's fill)")
    print(f"{len(pipe.blocks)} blocks; planned in {time.time() - t0:.1f} s")
    for layer, (fifo, analysis) in pipe.skip_fifos.items():
        print("skip FIFO " + analysis.explain())
    if args.yosys:
        cn = compile_top(args.top, args)
        ne = _yosys(cn, target, args.jobs)
        print("\n".join(layer_table(ne)))
        path = cn.folder / "manifest.json"
        man = json.loads(path.read_text())
        man["resource_estimates"] = {"part": target.part, "analytic": analytic_estimate(cn),
                                     "yosys": ne.as_dict()}
        path.write_text(json.dumps(man, indent=1, default=str))
        print(f"estimates recorded in {path} (resource_estimates)")
    return 0


def _yosys(cn, target, jobs):
    """Yosys per layer module of ``cn`` for the part's family (parallel, cached)."""
    return network_estimate(cn, HBUILD / "yosys", target.family, jobs, progress=_say)


def _regenerate(args, cn):
    """The command that regenerates the same RTL (what ``make sim`` compiles)."""
    fold = " ".join(f"--fold {f}" for f in args.fold or [])
    how = (f"--budget {args.budget} --budget-fraction {args.budget_fraction:g}"
           if args.budget else f"--target {_target(args, cn.net) or 0}")
    return f"streamqnn generate {args.top} --seed {args.seed} {how} {fold}".strip()


def cmd_handoff(args):
    target = check_request(args.part, args.clock_mhz, args.parts)   # before anything
    parts = check_partitions(args.parts)
    net = network(args.top, args.seed)
    if net is None:
        what = "a block configuration, not a network" if args.top in blocks() else \
            "an unknown design"
        raise QNNError(None, f"'{args.top}' is {what}",
                       "a network (" + ", ".join(DESIGNS) + ") or a spec file (.yaml/.json)")
    if parts > 1 or args.cut or args.devices:
        args.parts = None if args.parts in (None, "") else parts
        return cmd_handoff_parts(args, net, target)
    out = Path(args.handoff_out) if args.handoff_out else BUILD / "handoff" / net.name
    check_destination(out)
    _say(f"handoff of {net.name} for {target.part} at {target.clock_mhz:g} MHz into {out}")
    cn = compile_top(args.top, args)   # the same generation as `make sim`
    if args.no_yosys:
        ne, note = None, "not run (--no-yosys)"
    else:
        ne, note = _yosys(cn, target, args.jobs), None
    try:
        man = write_handoff(cn, out, target, ne, note, regenerate=_regenerate(args, cn),
                            progress=_say)
    except HandoffCheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    cm = man["cycle_model"]
    print(f"handoff written: {out}")
    print(f"  {len(man['rtl_sha256'])} RTL files (SHA-256 in manifest.json), "
          f"{len(man['files_sha256'])} other files; FuseSoC core {man['fusesoc_core']}")
    print(f"  {cm['frame_interval_cycles']:,} cycles per frame = "
          f"{cm['frames_per_second']:,.1f} frames/s at {target.clock_mhz:g} MHz; "
          f"first-frame latency {cm['first_frame_latency_cycles']:,} cycles")
    for check in man["checks"]:
        print(f"  checked: {check}")
    print(f"  run it: cd {out} && vivado -mode batch -source vivado/build.tcl")
    return 0


def _partition_options(args):
    """The partition options of ``args`` as command-line text."""
    opts = [f"--parts {args.parts}" if args.parts else "",
            f"--cut {args.cut}" if args.cut else "",
            f"--devices {args.devices}" if args.devices else "",
            f"--lane-bits {args.lane_bits}" if args.lane_bits != 64 else "",
            f"--target {args.target}" if args.target else "",
            f"--budget-fraction {args.budget_fraction:g}" if args.budget_fraction != 1 else ""]
    opts += [f"--fold {f}" for f in args.fold or []]
    return " ".join(o for o in opts if o)


def cmd_handoff_parts(args, net, target):
    """One handoff folder per FPGA of the partition build that ``sim --parts`` simulates
    (the same plan and build helpers), in build/handoff/<net>_parts<K>/."""
    given = _split_list(args.devices)
    if given:   # a full part name selects its device for the partitioner
        args.devices = ",".join(device_of(d) for d in given)
    pp = _partition_plan(args, net)   # a QNNError (too many parts, bad cut) before any file
    K = len(pp.parts)
    out = Path(args.handoff_out) if args.handoff_out else \
        BUILD / "handoff" / f"{net.name}_parts{K}"
    check_destination(out)
    targets = part_targets(target, given, K)
    print(pp.report())
    pdz = compile_parts(args, net, pp)
    opts = _partition_options(args)
    regenerate = f"streamqnn partition {args.top} --seed {args.seed} {opts} --generate"
    simulated_by = f"streamqnn sim {args.top} --seed {args.seed} {opts}"
    if opts == f"--parts {K}" and args.seed == 1:
        simulated_by = f"make sim TOP={args.top} PARTS={K}"

    def yosys(top, t):
        return _yosys(top, t, args.jobs), None

    _say(f"handoff of {net.name} in {K} parts at {target.clock_mhz:g} MHz into {out}")
    try:
        man = write_partitioned_handoff(pdz, out, targets, None if args.no_yosys else yosys,
                                        regenerate=regenerate, simulated_by=simulated_by,
                                        progress=_say)
    except HandoffCheckFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    sc = man["system_cycle_model"]
    print(f"handoff written: {out} ({K} parts; README.md and manifest.json: the chain, "
          "cuts and lane wiring)")
    for p, pm in zip(man["parts"], man["part_manifests"]):
        print(f"  part {p['index']}: {out / p['folder']} for {p['part']}: layers "
              f"{p['first_layer']} .. {p['last_layer']}, in {p['input']}, out {p['output']}; "
              f"{len(pm['rtl_sha256'])} RTL files; {len(pm['checks'])} checks passed")
    for lk in man["links"]:
        print(f"  cut {lk['cut']} after {lk['after_layer']}: part {lk['from_part']} "
              f"{lk['tx_end']} -> part {lk['to_part']} {lk['rx_end']} "
              f"({lk['lane_bits']}-bit lane, {lk['cycles_per_frame']:,} cycles per frame)")
    print(f"  system: {sc['frame_interval_cycles']:,} cycles per frame = "
          f"{sc['frames_per_second']:,.1f} frames/s at {target.clock_mhz:g} MHz "
          f"(set by the {sc['bound']})")
    print(f"  the same RTL simulated: {simulated_by}")
    return 0


def _summary(res, model, latency, frames, sim, wall, pauses=0.0, model_ends=None):
    """The PASS report; False when the measured timing is not the models' (the cycle and
    latency models assume no pauses: with random gaps and backpressure the measured
    numbers are shown without a comparison). The frame intervals are held exactly to
    ``model_ends`` (``verif.model_checks.model_intervals``: the cycle model once steady,
    the first can be longer), the latency exactly."""
    timing_ok = True
    ends = res.frame_intervals("m_axis") if len(res.frame_ends("m_axis")) >= 2 else []
    print(f"PASS: {frames} of {frames} frames bit-exact on {sim}"
          + (f" with random input gaps and backpressure ({pauses:g} per cycle)" if pauses
             else ""))
    if pauses:
        if ends:
            print(f"  cycles per frame: {ends} measured under pauses (the cycle model, "
                  f"{model}, assumes none; run without --pauses to compare)")
        print(f"  first-frame latency: {res.latency()} cycles measured under pauses "
              f"({latency} by the model, without pauses)")
    else:
        if ends:
            want = model_ends if model_ends is not None else [model] * len(ends)
            if want == [model] * len(ends):
                worst = max(abs(e - model) for e in ends) / model * 100
                print(f"  cycles per frame: {ends} measured, {model} model "
                      f"({worst:.2f} % off)")
            else:
                print(f"  cycles per frame: {ends} measured, {want} by the latency model "
                      f"(a start-up transient: the cycle model, {model}, once steady)")
            timing_ok = ends == want
        print(f"  first-frame latency: {res.latency()} cycles measured, {latency} model")
        timing_ok = timing_ok and res.latency() == latency
    speed = res.cycles_per_second
    print(f"  simulator speed: {speed:,.0f} cycles/s ({res.cycles} cycles in "
          f"{res.sim_seconds:.1f} s of simulation; {res.build_seconds:.1f} s building the "
          f"model, {wall:.1f} s in all)" if speed else f"  {res.cycles} cycles in {wall:.1f} s")
    if res.waves:
        print(f"  waveform: {res.waves}")
    if not timing_ok:
        print("FAILED: bit-exact, but the measured timing is not the compiler's model "
              "(frame interval or first-frame latency above)", file=sys.stderr)
    return timing_ok


def _fmt_logits(v):
    return "[" + ", ".join(f"{x:.4g}" for x in v) + "]"


def _classes(net, outs, labels=None, qonnx=None, sim="rtl"):
    """Per frame: the class (hardware = the model's output it was checked against beat by
    beat), the model's logits with the recorded output scale applied, and (trained
    designs) the label and qonnx's class; then the accuracies."""
    meta = net.metadata
    right = {"rtl": 0, "model": 0, "qonnx": 0}
    for i, o in enumerate(outs):
        logits, _, _, _ = output_logits(net, o)
        model_cls = int(np.argmax(logits))
        rtl_cls = int(np.asarray(o[meta["argmax"]]).reshape(-1)[0]) if "argmax" in meta \
            else model_cls
        line = f"  image {i}: class {rtl_cls} ({sim})"
        if labels is not None:
            q_cls = qonnx[i]
            line = (f"  image {i}: label {labels[i]}, class {rtl_cls} ({sim}), {model_cls} "
                    f"(model), {q_cls} (qonnx)")
            right["rtl"] += rtl_cls == labels[i]
            right["model"] += model_cls == labels[i]
            right["qonnx"] += q_cls == labels[i]
            if not rtl_cls == model_cls == q_cls:
                line += "  DISAGREE"
        print(line + f"; logits {_fmt_logits(logits)}")
    if labels is not None:
        n = len(outs)
        agree = all(int(np.asarray(o[meta["argmax"]]).reshape(-1)[0]) == q
                    for o, q in zip(outs, qonnx)) if "argmax" in meta else True
        print(f"accuracy over {n} test images: {right['rtl'] / n:.2%} ({sim}), "
              f"{right['model'] / n:.2%} (our model), {right['qonnx'] / n:.2%} (qonnx "
              f"executor); the three agree image by image: {'yes' if agree else 'NO'}")
        return agree
    return True


def _split_list(text):
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def _partition_plan(args, net):
    """The PartitionPlan for --cut / --devices / --parts (QNNError before any file)."""
    cuts = _split_list(getattr(args, "cut", None))
    devices = _split_list(getattr(args, "devices", None))
    parts = getattr(args, "parts", None)
    if parts is not None and (parts < 1 or (devices and parts != len(devices))
                              or (cuts and parts != len(cuts) + 1)):
        raise QNNError(net.name, f"--parts {parts} disagrees with the cuts or devices given",
                       "K >= 1, K devices, or K - 1 cuts")
    opts = LinkOptions(lane_bits=getattr(args, "lane_bits", 64) or 64)
    target = None if devices else _target(args, net)
    _say(f"partitioning {net.name}: "
         + (f"cuts after {', '.join(cuts)}" if cuts else
            f"automatic over {', '.join(devices)}" if devices else f"{parts} balanced parts")
         + (f", folding for {target:,} cycles per frame" if target else "") + " ...")
    return partition(net, cuts=cuts or None, devices=devices or None,
                     parts=parts, target_cycles=target, folding=_folding(args),
                     fraction=args.budget_fraction, opts=opts)


def compile_parts(args, net, pp):
    out = Path(args.out) if getattr(args, "out", None) else \
        BUILD / "designs" / f"{net.name}_parts{len(pp.parts)}"
    t0 = time.time()
    pdz = compile_partitions(pp, out, cache=HBUILD / "rtl",
                             check=lambda rtl: lint(rtl.files, rtl.top), progress=_say)
    for pd in pdz.parts:
        lint(pdz.verilog, pd.top)
    _say(f"generated {len(pdz.files)} files into {out} in {time.time() - t0:.1f} s; "
         f"partition tops {', '.join(pd.top for pd in pdz.parts)} lint clean")
    return pdz


def cmd_partition(args):
    net = network(args.top, args.seed)
    if net is None:
        raise unknown(args.top)
    if not (args.cut or args.devices or args.parts):
        raise QNNError(net.name, "no partitioning asked for",
                       "--cut LAYER,..., --devices DEV,DEV,... or --parts K")
    pp = _partition_plan(args, net)
    print(pp.report())
    if args.generate:
        pdz = compile_parts(args, net, pp)
        for pd in pdz.parts:
            ends = [e.name for e in (pd.rx, pd.tx) if e is not None]
            print(f"  {pd.path}" + (f" (lane and status ports of {', '.join(ends)})"
                                    if ends else ""))
    return 0


def cmd_sim_parts(args, net):
    pp = _partition_plan(args, net)
    print(pp.report())
    pdz = compile_parts(args, net, pp)
    sd = write_system(pdz)
    ber = DEFAULT_BER if args.ber is None else args.ber
    frames = max(1, args.frames)
    _say(f"simulating {sd.name} on {args.sim}: {frames} frames through {len(pp.links)} "
         f"channel model(s) at BER {ber:g} ...")
    run = run_system(pdz, args.sim, frames=frames, seed=args.seed, ber=ber,
                     gap=args.pauses, stall=args.pauses, progress=_say, system=sd)
    print(run.summary())
    return 0


# Frames `sim` runs when --frames is not given: a trained design's test images take about a
# minute on Verilator at this count; the other designs two frames.
TRAINED_SIM_FRAMES = 100


def cmd_sim(args):
    net = network(args.top, args.seed)
    if args.frames is None:
        args.frames = TRAINED_SIM_FRAMES if args.top in TRAINED else 2
    frames = max(1, args.frames)
    if net is not None and ((args.parts or 1) > 1 or args.cut):
        try:
            return cmd_sim_parts(args, net)
        except SimulationFailed as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    if args.ber is not None:
        raise QNNError(args.top, "--ber without --parts or --cut",
                       "a partitioned simulation (--parts K or --cut LAYER,...)")
    try:
        if net is not None:
            cn = compile_top(args.top, args)
            images = labels = qonnx = None
            if args.top in TRAINED:
                images, labels = TRAINED[args.top].test_set()
                frames = min(frames, len(images))
                images, labels = list(images[:frames]), labels[:frames].tolist()
                _say(f"running {frames} test images through qonnx's executor ...")
                runner = QonnxRunner(TRAINED[args.top].onnx)
                got = runner.many([real_input(net, x) for x in images])
                scale = np.asarray(net.metadata["output"]["scale"])
                zp = np.asarray(net.metadata["output"]["zero_point"])
                qonnx = [int(np.argmax(np.round(g / scale + zp))) for g in got]
            _say(f"simulating {cn.name} on {args.sim}: {frames} "
                 f"{'test images' if images is not None else 'frames'}"
                 f"{', random gaps and backpressure' if args.pauses else ''} "
                 "(the first run of a configuration compiles the simulator model) ...")
            t0 = time.time()
            outs = []
            res = run_network(cn, args.sim, frames=frames, seed=args.seed, gap=args.pauses,
                              stall=args.pauses, waves=args.waves, label="cli", progress=_say,
                              images=images, outputs=outs)
            timing_ok = _summary(res, cn.cycles_per_frame(), cn.latency_cycles(), frames,
                                 args.sim, time.time() - t0, args.pauses,
                                 model_intervals(cn, frames) if frames >= 2 else None)
            if "output" in cn.net.metadata:
                agree = _classes(cn.net, outs, labels, qonnx, args.sim)
                return 0 if agree and timing_ok else 1
            return 0 if timing_ok else 1
        blk = blocks().get(args.top)
        if blk is None:
            raise unknown(args.top)
        rng = np.random.default_rng(args.seed)
        inputs = blk.random_inputs(rng, max(frames, 2))
        expected = blk.reference(inputs)
        _say(f"simulating block {blk.name} on {args.sim} ...")
        t0 = time.time()
        res = simulate(blk, args.sim, inputs, expected, gap=args.pauses, stall=args.pauses,
                       seed=args.seed, waves=args.waves, label="cli", progress=_say)
        model = blk.model_frame_cycles(inputs)
        out_port = next(p.name for p in blk.ports() if p.direction == "out")
        versus = (f"measured under pauses (the cycle model, {model}, assumes none)"
                  if args.pauses else f"measured, {model} model")
        print(f"PASS: {len(inputs['s_axis'] if 's_axis' in inputs else [])} frames bit-exact "
              f"on {args.sim}; frame intervals {res.frame_intervals(out_port)} {versus}; "
              f"{res.cycles} cycles in {time.time() - t0:.1f} s")
        return 0
    except SimulationFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1


def cmd_import(args):
    res = import_onnx(args.model, name=args.name, argmax=not args.no_argmax,
                      max_multiplier_bits=args.max_multiplier_bits)
    net = res.net
    print(f"imported {args.model}: network '{net.name}', input {net.input_shape} "
          f"({'signed' if net.input_signed else 'unsigned'} {net.input_bits}-bit), "
          f"{len(net.layers)} layers")
    for note in res.notes:
        print("  " + note)
    for lay in net.layers:
        print(f"  {lay.name:10s} {type(lay).__name__:13s} from ONNX node "
              f"{net.metadata['onnx_nodes'].get(lay.name, '-')}")
    out = net.metadata["output"]
    print(f"  output: '{out['tensor']}', logits = scale * (q - zero_point) with scale "
          f"{_fmt_logits(out['scale'][:4])}{' ...' if len(out['scale']) > 4 else ''}")
    if args.out:
        save(net, args.out)
        print(f"wrote {args.out}")
    if args.check:
        _say(f"checking against qonnx's executor on {args.check} random inputs ...")
        images = random_images(net, args.check, args.seed)
        rep = check(args.model, net, images, progress=_say)
        for i in range(min(3, rep.images)):
            print(f"  input {i}: class {rep.ours_classes[i]} (ours), "
                  f"{rep.qonnx_classes[i]} (qonnx); logits {_fmt_logits(rep.ours_logits[i])}")
        print(rep.summary())
        return 0 if rep.ok else 1
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="streamqnn", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the named designs and block configurations")

    def common(p):
        p.add_argument("top", help="design name, spec file or block configuration")
        p.add_argument("--target", type=int, help="frame-interval target (cycles) for the "
                       "automatic folding")
        p.add_argument("--fold", action="append", metavar="LAYER=SIMD,PE",
                       help="fix a layer's folding (repeatable)")
        p.add_argument("--budget", metavar="DEVICE|lut=N,ff=N,bram=N",
                       help="fold for the fastest interval whose estimate fits this budget "
                       "(devices: xc7z020, xc7z045, xczu9eg, xcku115, xcvu9p)")
        p.add_argument("--budget-fraction", type=float, default=1.0, metavar="F",
                       help="use at most this share of the budget (default 1.0)")
        p.add_argument("--seed", type=int, default=1, help="weights/inputs seed")

    g = sub.add_parser("generate", help="write a design's RTL")
    common(g)
    g.add_argument("--out", help="output folder (default build/designs/<name>)")
    e = sub.add_parser("estimate", help="folding, cycle model and resources (--yosys: "
                       "per layer with Yosys too)")
    common(e)
    e.add_argument("--yosys", action="store_true", help="also generate the RTL and run Yosys "
                   "synth_xilinx per layer module (parallel, cached by module hash)")

    def target_options(p):
        p.add_argument("--part", help="Xilinx part (default xczu9eg-ffvb1156-2-e); its "
                       "family selects the Yosys cells")
        p.add_argument("--jobs", type=int, default=None, help="parallel Yosys processes "
                       "(default: one per core)")

    target_options(e)
    e.add_argument("--out", help="with --yosys: RTL folder (default build/designs/<name>)")
    h = sub.add_parser("handoff", help="write the Vivado handoff folder (RTL, XDC, Tcl, "
                       "FuseSoC core, manifest)")
    common(h)
    target_options(h)
    h.add_argument("--clock-mhz", type=float, default=None,
                   help="clock frequency in MHz (default 200, range 10-800)")
    h.add_argument("--parts", default=None, help="number of FPGAs (default 1): K > 1 "
                   "writes one handoff folder per partition (balanced cuts, as sim --parts)")
    h.add_argument("--out", help="RTL folder (default build/designs/<name>)")
    h.add_argument("--handoff-out", help="handoff folder (default build/handoff/<name>)")
    h.add_argument("--no-yosys", action="store_true", help="skip the Yosys estimate")
    s = sub.add_parser("sim", help="generate and simulate against the reference model")
    common(s)
    s.add_argument("--out", help="output folder (default build/designs/<name>)")
    s.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    s.add_argument("--frames", type=int, default=None,
                   help=f"frames (test images of a trained design) to simulate; default 2, "
                   f"{TRAINED_SIM_FRAMES} for a trained design")
    s.add_argument("--waves", action="store_true", help="keep a waveform file")
    s.add_argument("--pauses", type=float, default=0.0,
                   help="probability of an input gap / output stall per cycle (default 0)")

    def part_options(p):
        p.add_argument("--cut", metavar="LAYER,...", help="cut after each named layer")
        p.add_argument("--devices", metavar="DEV,...", help="one device per partition: "
                       "automatic cuts, the fastest folding that fits")
        p.add_argument("--lane-bits", type=int, default=64,
                       help="link lane width (default 64: one Aurora 64B/66B lane)")

    part_options(s)
    part_options(h)
    s.add_argument("--parts", type=int, default=None,
                   help="simulate K partitions joined through channel models")
    s.add_argument("--ber", type=float, default=None,
                   help=f"channel bit error rate (default {DEFAULT_BER:g}: forces replays)")
    pa = sub.add_parser("partition", help="cut a network across FPGAs: cuts, resources, "
                        "link load, system frame interval")
    common(pa)
    part_options(pa)
    pa.add_argument("--parts", type=int, default=None, help="K balanced partitions")
    pa.add_argument("--generate", action="store_true", help="write one top per partition")
    pa.add_argument("--out", help="output folder (default build/designs/<name>_parts<K>)")
    i = sub.add_parser("import", help="a QONNX model to a network spec (exact on integers)")
    i.add_argument("model", help="an .onnx file (QONNX, as Brevitas export_qonnx writes it)")
    i.add_argument("--out", help="write the spec here (.yaml/.yml/.json)")
    i.add_argument("--name", help="network name (default: the file's stem)")
    i.add_argument("--check", type=int, default=0, metavar="N",
                   help="compare with qonnx's executor on N random integer inputs")
    i.add_argument("--seed", type=int, default=1, help="seed of the --check inputs")
    i.add_argument("--no-argmax", action="store_true", help="no ArgMax layer at the end")
    i.add_argument("--max-multiplier-bits", type=int, default=MAX_MULTIPLIER_BITS,
                   help="widest residual multiplier allowed (default %(default)s)")
    args = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "generate": cmd_generate, "sim": cmd_sim,
                "estimate": cmd_estimate, "import": cmd_import, "handoff": cmd_handoff,
                "partition": cmd_partition}[args.cmd](args)
    except QNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
