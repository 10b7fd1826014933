"""Lane split and join: a beat's ``lanes`` elements of ``bits`` bits as separate signals.

Element i sits in bits [(i+1)*bits-1 : i*bits] (docs/design.md section 3). Splitting uses
one tiny sub-block per lane with a constant part-select, which MyHDL converts to
``assign x = flat[LO+:W]`` (a list of shadow slices would silently convert to an
unconnected array, docs/tool-notes.md). Joining uses ``ConcatSignal``.
Rule for every generator: never index a list of signals inside a generator function
(it becomes a Verilog memory); give each lane its own sub-block instead.
"""

from myhdl import ConcatSignal, Signal, always_comb, block, intbv


def lane_signal(bits, signed=False):
    """A signal for one element: ``bits`` wide, two's complement if ``signed``."""
    if signed:
        return Signal(intbv(0, min=-(1 << (bits - 1)), max=1 << (bits - 1)))
    return Signal(intbv(0)[bits:])


def range_signal(lo, hi):
    """The narrowest signal that holds every integer in [lo, hi]."""
    if lo >= 0:
        return Signal(intbv(0)[max(1, int(hi).bit_length()):])
    bits = 1
    while -(1 << (bits - 1)) > lo or (1 << (bits - 1)) - 1 < hi:
        bits += 1
    return lane_signal(bits, signed=True)


@block
def lane_slice(flat, lo, out):
    """``out`` = ``flat[lo + len(out) - 1 : lo]`` (reinterpreted as signed if ``out`` is)."""
    width = len(out)
    if out.min is not None and out.min < 0:
        @always_comb
        def slice_signed():
            out.next = flat[lo + width:lo].signed()
        return slice_signed

    @always_comb
    def slice_unsigned():
        out.next = flat[lo + width:lo]
    return slice_unsigned


def lane_signals(lanes, bits, signed=False):
    """``lanes`` fresh element signals (see :func:`lane_signal`)."""
    return [lane_signal(bits, signed) for _ in range(lanes)]


@block
def split_lanes(flat, sigs):
    """Drive ``sigs[i]`` from lane i of ``flat`` (each ``len(sigs[i])`` bits wide)."""
    insts = []
    lo = 0
    for sig in sigs:
        insts.append(lane_slice(flat, lo, sig))
        lo += len(sig)
    return insts


@block
def join_lanes(sigs, flat):
    """Drive ``flat`` with lane i = ``sigs[i]`` (element 0 in the low bits).

    Never index a list of lane signals inside a generator: MyHDL then turns the list
    into a memory, and shadow signals of memory elements convert to nothing.
    """
    if len(sigs) == 1:
        sig = sigs[0]
        width = len(sig)

        @always_comb
        def join_one():
            flat.next = sig[width:]
        return join_one

    cat = ConcatSignal(*reversed(sigs))

    @always_comb
    def join_many():
        flat.next = cat
    return join_many
