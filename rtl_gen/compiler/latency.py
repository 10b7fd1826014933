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

The model assumes that no stall from downstream delays a beat that the rest of the
pipeline is waiting for. That holds for the compiler's pipelines: a window unit's ring
always has room for the rows its next output row reads (``rtl_gen.blocks.window.line_buffer``), a
width converter never refuses a beat it needs, and each skip FIFO holds what its fork
sends before the add takes the first pair (``rtl_gen.compiler.passes.size_skip_fifos``). The tests
check it against simulation: the first transfer on every internal stream and the
latency at the output, cycle for cycle.

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
    """Beat cycles of ``frames`` frames through ``pipeline`` (input beat j at cycle j)."""
    offered = {(pipeline.inp[0].name, pipeline.inp[1]):
               np.arange(frames * input_beats(pipeline), dtype=np.int64)}
    readers = {}
    for ln in pipeline.links:
        readers.setdefault((ln.src.name, ln.src_port), []).append((ln.dst.name, ln.dst_port))
    taken, sent = {}, {}
    for blk in stream_order(pipeline):
        ins = [p.name for p in blk.ports() if p.direction == "in"]
        times = blk.beat_times({p: offered[(blk.name, p)] for p in ins})
        for port in blk.ports():
            key = (blk.name, port.name)
            if port.direction == "in":
                taken[key] = times[port.name]
            else:
                sent[key] = times[port.name]
                for dst in readers.get(key, ()):
                    offered[dst] = times[port.name]
    return PipelineTiming(pipeline, frames, taken, sent)
