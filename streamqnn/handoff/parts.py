"""The Xilinx parts a handoff can target, the clock range, and the checks of a request.

``PARTS`` lists full Vivado part names with the device whose data-sheet totals
``rtl_gen.compiler.budget.DEVICES`` holds (so the manifest can say how full the part
would be) and the board that carries it. A device name alone (``xczu9eg``) selects its
part here. ``check_request`` raises a ``QNNError`` naming what is valid for an unknown
part, a clock outside ``CLOCK_RANGE_MHZ`` or a partition count that is not a positive
integer up to ``MAX_PARTS``, before anything is written. ``part_targets`` gives one
target per partition (each device of ``--devices`` selects its part).
"""

from dataclasses import dataclass

from rtl_gen.compiler.budget import DEVICES
from rtl_gen.compiler.partition import MAX_PARTS
from rtl_gen.errors import QNNError
from verif.estimate import yosys_family

# part -> (device of budget.DEVICES, what it is and where it is found)
PARTS = {
    "xczu9eg-ffvb1156-2-e": ("xczu9eg", "Zynq UltraScale+ MPSoC ZU9EG (ZCU102 board)"),
    "xc7z020clg400-1": ("xc7z020", "Zynq-7020 (PYNQ-Z2, Zybo Z7-20 boards)"),
    "xc7z045ffg900-2": ("xc7z045", "Zynq-7045 (ZC706 board)"),
    "xcku115-flvb2104-2-e": ("xcku115", "Kintex UltraScale KU115 (KCU1500 board)"),
    "xcvu9p-flga2104-2L-e": ("xcvu9p", "Virtex UltraScale+ VU9P (VCU118 board; Alveo U200/U250 "
                                       "and AWS F1 carry the same die)"),
}
# The ZCU102's ZU9EG: a widespread UltraScale+ evaluation board that FINN and Xilinx's
# own tutorials support, large enough for the ResNet blocks here.
DEFAULT_PART = "xczu9eg-ffvb1156-2-e"
CLOCK_RANGE_MHZ = (10.0, 800.0)
DEFAULT_CLOCK_MHZ = 200.0


@dataclass(frozen=True)
class Target:
    """A checked request: the part, its device and Yosys family, and the clock."""

    part: str
    device: str
    description: str
    family: str
    clock_mhz: float

    @property
    def period_ns(self):
        return 1000.0 / self.clock_mhz

    @property
    def device_totals(self):
        d = DEVICES[self.device]
        return {"lut": d.lut, "ff": d.ff, "bram36": d.bram36}


def _valid_parts():
    return ", ".join(f"{p} ({dev})" for p, (dev, _) in PARTS.items())


def check_part(part):
    """The full part name for ``part`` (a part of ``PARTS`` or one of their device names)."""
    text = (part or DEFAULT_PART).strip()
    if text in PARTS:
        return text
    by_device = {dev: p for p, (dev, _) in PARTS.items()}
    if text.lower() in by_device:
        return by_device[text.lower()]
    raise QNNError(None, f"unknown part '{text}'", "one of " + _valid_parts())


def check_clock(clock_mhz):
    lo, hi = CLOCK_RANGE_MHZ
    try:
        f = float(DEFAULT_CLOCK_MHZ if clock_mhz is None else clock_mhz)
    except (TypeError, ValueError):
        f = None
    if f is None or not lo <= f <= hi:
        raise QNNError(None, f"clock {clock_mhz!r} MHz is outside the supported range",
                       f"a frequency from {lo:g} to {hi:g} MHz")
    return f


def check_partitions(parts):
    """The number of FPGAs: a positive integer (1, or none, for one FPGA). Whether the
    design can be cut into that many is the partitioner's check (``partition``: at most
    one partition per legal cut plus one, ``MAX_PARTS`` in all)."""
    if parts in (None, ""):
        return 1
    text = str(parts).strip()
    k = parts if isinstance(parts, int) else int(text) if text.isdigit() else None
    if k is None or k < 1:
        raise QNNError(None, f"PARTS={parts!r} is not a number of FPGAs",
                       f"PARTS=1 (or none) for one FPGA, 2 to {MAX_PARTS} for a partitioned "
                       "design")
    if k > MAX_PARTS:
        raise QNNError(None, f"PARTS={k}: more FPGAs than a design can be cut into",
                       f"PARTS=1 to {MAX_PARTS}")
    return k


def _target(full, clock):
    device, text = PARTS[full]
    return Target(full, device, text, yosys_family(full), clock)


def check_request(part=None, clock_mhz=None, parts=None):
    """Check a handoff request; return its :class:`Target`."""
    check_partitions(parts)
    return _target(check_part(part), check_clock(clock_mhz))


def part_targets(target, devices, count):
    """One :class:`Target` per partition: ``target`` for each, except that an entry of
    ``devices`` naming a part or a device of ``PARTS`` selects that part (a budget such
    as ``lut=...`` keeps ``target``'s part)."""
    devices = list(devices or [])
    out = []
    for k in range(count):
        d = devices[k].strip() if k < len(devices) else ""
        known = d in PARTS or d.lower() in {dev for dev, _ in PARTS.values()}
        out.append(_target(check_part(d), target.clock_mhz) if known else target)
    return out


def device_of(text):
    """A ``--devices`` entry as the partitioner reads it: a full part name of ``PARTS``
    becomes its device name; anything else is passed on as it is."""
    text = text.strip()
    return PARTS[text][0] if text in PARTS else text
