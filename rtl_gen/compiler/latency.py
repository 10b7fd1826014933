"""First-frame latency model of a pipeline: every block's beat timing, chained.

The pipeline input offers beat j of frame 0 at cycle j (a source that never pauses).
Block by block in stream order, ``Block.beat_times`` (``rtl_gen.hdl.timing``) turns the
cycles at which a block's input beats are offered into the cycles at which it takes them
and sends its output beats; a link offers its consumer the beats when its producer sends
them (the consumer may take them later: an MVU re-reading its buffer for NF-1 folds, an
add waiting for its other input). Summed up, this is the pipeline's fill: each window
unit waits for the input rows its first output row reads, each MVU for a pixel's SF beats,
the global pool and the arg-max for the whole frame, all at the rate the layers upstream
deliver.

Stalls from downstream are part of the model. Most blocks (MVU, thresholding, add,
fork, global pool, arg-max: ``Block.stalls_whole``) advance every register on their
output skid buffer's registered ready: a consumer that does not take a beat freezes the
whole block, bubbles included, and the block is late by the frozen cycles from then on
(``rtl_gen.hdl.timing.frozen_times``); the random networks found it where an add stalls
the projection MVU of a residual block that runs ahead of the main branch, and where an
MVU re-reading its buffer stalls the thresholding before it. A FIFO or a width converter
keeps taking input while its output waits, until it is full; a window unit's ring always
has room for the rows its next output row reads (``rtl_gen.blocks.window.line_buffer``)
and its consumer takes its beats as they come. ``pipeline_timing`` first runs every
block as if never stalled, then again with the cycles at which each block's consumers
took its beats in the round before, until nothing moves. The tests check it against
simulation: the first transfer on every internal stream and the latency at the output,
cycle for cycle.

``latency = (cycle of the first output beat) - (cycle of the first input beat)``.
"""

from dataclasses import dataclass

import numpy as np

from rtl_gen.errors import QNNError


@dataclass
class PipelineTiming:
    """Beat cycles of every port of every block for the first ``frames`` frames."""

    pipeline: object
    frames: int
    taken: dict   # (block name, input port) -> cycles its beats were taken
    sent: dict    # (block name, output port) -> cycles its beats left

    @property
    def latency(self):
        """Cycles from the first input beat taken to the first output beat sent."""
        (ib, ip), (ob, op) = self.pipeline.inp, self.pipeline.out
        return int(self.sent[(ob.name, op)][0] - self.taken[(ib.name, ip)][0])

    def link_first(self):
        """Cycle of the first transfer on every internal stream, keyed like the
        testbench's probes (``<producer>_<port>``): when the consumer takes it."""
        return {f"{ln.src.name}_{ln.src_port}": int(self.taken[(ln.dst.name, ln.dst_port)][0])
                for ln in self.pipeline.links}

    def frame_intervals(self):
        """Cycles between the last output beats of consecutive frames (the model's
        steady state, to be compared with the cycle model)."""
        ob, op = self.pipeline.out
        t = self.sent[(ob.name, op)]
        per = len(t) // self.frames
        ends = t[per - 1::per]
        return [int(b - a) for a, b in zip(ends, ends[1:])]

    def per_block(self):
        """{block: (first output beat, last output beat of frame 0)}, in stream order."""
        rows = {}
        for blk in stream_order(self.pipeline):
            port = next(p for p in blk.ports() if p.direction == "out")
            t = self.sent[(blk.name, port.name)]
            rows[blk.name] = (int(t[0]), int(t[len(t) // self.frames - 1]))
        return rows

    def report(self):
        """A text table: per block, when its first output beat and its frame 0 leave."""
        lines = [f"{'block':32s} {'first beat':>11s} {'frame 0 done':>13s}"]
        for name, (first, last) in self.per_block().items():
            lines.append(f"{name:32s} {first:11,d} {last:13,d}")
        lines.append(f"first-frame latency {self.latency:,} cycles")
        return "\n".join(lines)


def stream_order(pipeline):
    """The blocks in an order where every block comes after all of its producers."""
    producers = {b.name: set() for b in pipeline.blocks}
    for ln in pipeline.links:
        producers[ln.dst.name].add(ln.src.name)
    order, done = [], set()
    pending = list(pipeline.blocks)
    while pending:
        ready = [b for b in pending if producers[b.name] <= done]
        if not ready:
            raise QNNError(pipeline.name, "the pipeline has a cycle: blocks "
                           + ", ".join(b.name for b in pending) + " feed each other",
                           "an acyclic network")
        for b in ready:
            order.append(b)
            done.add(b.name)
        pending = [b for b in pending if b.name not in done]
    return order


def input_beats(pipeline):
    """Beats of one frame at the pipeline input."""
    h, w, c = pipeline.net.input_shape
    ib, ip = pipeline.inp
    return h * w * c // ib.port(ip).lanes


def pipeline_timing(pipeline, frames=1):
    """Beat cycles of ``frames`` frames through ``pipeline`` (input beat j at cycle j).

    First every block as if nothing downstream ever stalled it; then, round after round,
    every block again with the cycles at which its consumers took its output beats in
    the round before (``Block.stalled_beat_times``), until no beat moves: the consumers'
    cycles only ever grow, so the rounds settle on the schedule the hardware follows."""
    accepted, states = {}, {b.name: {} for b in pipeline.blocks}
    for _ in range(MAX_ROUNDS):
        taken, sent = _one_round(pipeline, frames, accepted, states)
        now = {(ln.src.name, ln.src_port): taken[(ln.dst.name, ln.dst_port)]
               for ln in pipeline.links}
        if now.keys() == accepted.keys() and all(np.array_equal(now[k], accepted[k])
                                                 for k in now):
            return PipelineTiming(pipeline, frames, taken, sent)
        accepted = now
    raise QNNError(pipeline.name, f"the latency model found no schedule in {MAX_ROUNDS} "
                   "rounds: some block waits for a full buffer that waits for it (a "
                   "deadlock, such as a skip FIFO too small for its residual block)",
                   "a pipeline that does not deadlock")


# Rounds before the model gives up (a deadlocked pipeline never settles). Measured: at
# most 21 on 400 random networks, 2 to 5 on the named designs.
MAX_ROUNDS = 200


def _one_round(pipeline, frames, accepted, states):
    offered = {(pipeline.inp[0].name, pipeline.inp[1]):
               np.arange(frames * input_beats(pipeline), dtype=np.int64)}
    readers = {}
    for ln in pipeline.links:
        readers.setdefault((ln.src.name, ln.src_port), []).append((ln.dst.name, ln.dst_port))
    taken, sent = {}, {}
    for blk in stream_order(pipeline):
        ins = [p.name for p in blk.ports() if p.direction == "in"]
        outs = {p.name: accepted.get((blk.name, p.name)) for p in blk.ports()
                if p.direction == "out" and (blk.name, p.name) in accepted}
        times = blk.stalled_beat_times({p: offered[(blk.name, p)] for p in ins}, outs,
                                       states[blk.name])
        for port in blk.ports():
            key = (blk.name, port.name)
            if port.direction == "in":
                taken[key] = times[port.name]
            else:
                sent[key] = times[port.name]
                for dst in readers.get(key, ()):
                    offered[dst] = times[port.name]
    return taken, sent
