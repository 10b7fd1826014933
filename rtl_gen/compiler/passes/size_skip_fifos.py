"""Pass: skip-FIFO depth by analysis: what the longer branch of a residual block absorbs.

A residual block forks one stream X into two branches that meet again at an add, which
takes one beat from each branch at a time. Before the add can take the skip beat of
pixel p, the longer (main) branch must have produced its own beat for p, and for that it
must already have swallowed more of X: every sliding window (line buffer) on the branch
needs its window's rows, and every block holds a few beats in its pipeline. The FIFO on
the shorter branch must hold that difference, or the fork stops feeding the main branch
and the block deadlocks.

Per branch, in beats of X (row_beats = beats of one row of X, lanes as at the fork):

    lag = (sum_i (K_i - P_i - 1) * S_before_i + w) * row_beats
          + sum over blocks of latency_cycles() + 2 (skid buffers)
          + sum over MVUs of one output pixel in X beats

where i runs over the branch's sliding windows and max pools, S_before_i is the product
of the strides before window i on the branch (its input rows are that many rows of X), and
w = 1 if the branch has a window at all (a window unit starts an output row only once the
rows it needs are complete, so the current row of X counts whole). The FIFO depth is

    depth = lag(long) - lag(short) + row_beats + 8

(one row and a few beats of slack, so that the fork never waits on the FIFO in steady
state and the pipeline keeps its full frame rate). Tests show the computed depth running
under random backpressure and a clearly smaller one deadlocking.
"""

from dataclasses import dataclass

from rtl_gen.blocks.add import AddUnit
from rtl_gen.blocks.fifo import Fifo
from rtl_gen.blocks.fork import ForkUnit
from rtl_gen.blocks.mvu.mvu import MVU
from rtl_gen.blocks.window.window_block import WindowBlock
from rtl_gen.compiler.ir import Link
from rtl_gen.errors import QNNError

SLACK_BEATS = 8


@dataclass
class SkipAnalysis:
    add: str
    fork: str
    branch_long: list
    branch_short: list
    lag_long: int
    lag_short: int
    row_beats: int
    depth: int

    def explain(self):
        return (f"{self.add}: main branch {' -> '.join(self.branch_long) or '(direct)'} "
                f"absorbs {self.lag_long} beats, skip branch "
                f"{' -> '.join(self.branch_short) or '(direct)'} {self.lag_short}; "
                f"FIFO depth {self.depth} = {self.lag_long} - {self.lag_short} + "
                f"{self.row_beats} (one row) + {SLACK_BEATS}")


def _geo(blk):
    return blk.geo if isinstance(blk, WindowBlock) else None


def branch_lag(blocks, fork_shape, fork_lanes):
    """Beats of the fork stream that ``blocks`` (in stream order) absorb: see module doc."""
    h, w, c = fork_shape
    row_beats = w * c // fork_lanes
    rows = 0
    stride_before = 1
    has_window = False
    extra = 0
    for blk in blocks:
        geo = _geo(blk)
        if geo is not None:
            has_window = True
            rows += max(0, geo.kernel - geo.pad - 1) * stride_before
            stride_before *= geo.stride
        if isinstance(blk, MVU):
            # one output pixel held: stride_before^2 pixels of X
            extra += stride_before * stride_before * c // fork_lanes
        lat = getattr(blk, "latency_cycles", None)
        extra += (lat() if lat else 2) + 2
    return (rows + (1 if has_window else 0)) * row_beats + extra, row_beats


def _upstream(p):
    into = {}
    for ln in p.links:
        into[(ln.dst.name, ln.dst_port)] = ln
    return into


def _branch(p, into, add_blk, port):
    """Blocks from the fork to ``add_blk.port`` (fork excluded), and the fork's link."""
    chain = []
    ln = into[(add_blk.name, port)]
    while not isinstance(ln.src, ForkUnit):
        chain.append(ln.src)
        prev = into.get((ln.src.name, "s_axis"))
        if prev is None:
            raise QNNError(p.layer_of[add_blk.name], "a skip connection does not start at "
                           "a fork of the pipeline", "an add whose two inputs come from one "
                           "tensor through two branches")
        ln = prev
    return list(reversed(chain)), ln


def size_skip_fifos(p):
    """A FIFO of the analysed depth on the shorter branch of every residual join."""
    into = _upstream(p)
    for add_blk in [b for b in p.blocks if isinstance(b, AddUnit)]:
        layer = p.layer_of[add_blk.name]
        (ba, la), (bb, lb) = _branch(p, into, add_blk, "s_axis_a"), \
            _branch(p, into, add_blk, "s_axis_b")
        if la.src is not lb.src:
            raise QNNError(layer, "its two inputs come from different forks (a skip "
                           "connection that crosses another one)",
                           "residual blocks whose branches start at one tensor")
        fork = la.src
        t = p.types[la.tensor]
        lanes = fork.port("m_axis_a").lanes
        lag_a, row_beats = branch_lag(ba, t.shape, lanes)
        lag_b, _ = branch_lag(bb, t.shape, lanes)
        long_b, short_b, short_link = (ba, bb, lb) if lag_a >= lag_b else (bb, ba, la)
        lag_long, lag_short = max(lag_a, lag_b), min(lag_a, lag_b)
        depth = max(2, lag_long - lag_short + row_beats + SLACK_BEATS)
        stem = add_blk.name[:-len("_add")] if add_blk.name.endswith("_add") else add_blk.name
        fifo = Fifo(f"{stem}_skipfifo",
                    fork.port(short_link.src_port).width, depth, lanes=lanes,
                    signed=fork.port(short_link.src_port).signed)
        place_fifo(p, short_link, fifo, layer)
        p.skip_fifos[layer] = (fifo, SkipAnalysis(
            layer, fork.name, [b.name for b in long_b], [b.name for b in short_b],
            lag_long, lag_short, row_beats, depth))
    return p


def place_fifo(p, link, fifo, layer):
    """Insert ``fifo`` into ``link`` (src -> fifo -> dst)."""
    p.check_new_name(fifo, layer)
    i = p.links.index(link)
    p.links[i:i + 1] = [Link(link.src, link.src_port, fifo, "s_axis", link.tensor, link.window),
                        Link(fifo, "m_axis", link.dst, link.dst_port, link.tensor, link.window)]
    p.blocks.insert(p.blocks.index(link.src) + 1, fifo)
    p.layer_of[fifo.name] = layer


def resize_skip_fifo(p, layer, depth):
    """Replace the skip FIFO of ``layer`` by one of ``depth`` words (for tests that show
    what a too-small FIFO does)."""
    old, analysis = p.skip_fifos[layer]
    new = Fifo(old.name + f"_d{depth}", old.width, depth, old.lanes, old.signed)
    p.blocks[p.blocks.index(old)] = new
    for ln in p.links:
        if ln.src is old:
            ln.src = new
        if ln.dst is old:
            ln.dst = new
    p.layer_of[new.name] = layer
    p.skip_fifos[layer] = (new, analysis)
    return new
