"""Command line: ``streamqnn generate|sim|lint|list``.

``streamqnn sim TOP`` generates the named design, simulates it against the reference
model (with random input gaps and backpressure unless ``--no-pauses``) and prints a
summary: frames passed, measured cycles per frame against the cycle model, latency
and simulator speed. Named designs are the block catalog's configurations for now;
networks (``resnet_block`` …) arrive with the network compiler.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from rtl_gen.errors import QNNError


def designs():
    """Name -> block instance for every design ``sim`` and ``generate`` accept."""
    from rtl_gen.catalog import catalog

    return {b.name: b for b in catalog()}


def find_design(name):
    known = designs()
    if name not in known:
        raise QNNError(None, f"unknown design '{name}'",
                       "one of " + ", ".join(sorted(known)) +
                       " (networks such as resnet_block come with the network compiler)")
    return known[name]


def cmd_list(args):
    for name, blk in sorted(designs().items()):
        print(f"{name:28s} {blk.kind:10s} {blk.params()}")
    return 0


def cmd_generate(args):
    blk = find_design(args.top)
    out = Path(args.out or f"build/gen/{args.top}")
    t0 = time.time()
    rtl = blk.generate(out)
    print(f"generated {rtl.top}: {', '.join(str(f) for f in rtl.files)} "
          f"({time.time() - t0:.2f} s)")
    return 0


def cmd_sim(args):
    from verif.harness import SimulationFailed, simulate

    blk = find_design(args.top)
    rng = np.random.default_rng(args.seed)
    print(f"[1/3] generating {blk.name} ({blk.kind}) ...", flush=True)
    inputs = blk.random_inputs(rng, args.frames)
    expected = blk.reference(inputs)
    print(f"[2/3] building and simulating on {args.sim}, {args.frames} frames "
          f"({'no pauses' if args.no_pauses else 'random gaps and backpressure'}) ...",
          flush=True)
    t0 = time.time()
    pause = 0.0 if args.no_pauses else 0.2
    try:
        res = simulate(blk, args.sim, inputs, expected, gap=pause, stall=pause, seed=args.seed,
                       waves=args.waves, label="cli")
        # A second, pause-free run measures throughput against the cycle model.
        timing = res if args.no_pauses else simulate(blk, args.sim, inputs, expected,
                                                     seed=args.seed, label="cli-timing")
    except SimulationFailed as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    wall = time.time() - t0
    out_port = next(p.name for p in blk.ports() if p.direction == "out")
    frames = len(next(iter(expected.values())))
    print(f"[3/3] {frames} of {frames} frames passed (bit-exact on {args.sim})")
    ends = timing.frame_ends(out_port)
    if len(ends) >= 2:
        print(f"      frame interval: {timing.frame_intervals(out_port)} cycles measured")
    print(f"      latency: {timing.latency()} cycles; {timing.cycles} cycles in "
          f"{wall:.1f} s ({(res.cycles + timing.cycles) / wall:.0f} cycles/s incl. build)")
    if res.waves:
        print(f"      waveform: {res.waves}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="streamqnn", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="list the named designs")
    g = sub.add_parser("generate", help="write a design's Verilog")
    g.add_argument("top")
    g.add_argument("--out")
    s = sub.add_parser("sim", help="simulate a design against the reference model")
    s.add_argument("top")
    s.add_argument("--sim", default="verilator", choices=["verilator", "icarus"])
    s.add_argument("--frames", type=int, default=2)
    s.add_argument("--seed", type=int, default=1)
    s.add_argument("--waves", action="store_true")
    s.add_argument("--no-pauses", action="store_true")
    args = ap.parse_args(argv)
    try:
        return {"list": cmd_list, "generate": cmd_generate, "sim": cmd_sim}[args.cmd](args)
    except QNNError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
