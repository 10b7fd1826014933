"""The ports of a top module, read from its Verilog (not from the generator's own data),
so that the constraints and the checks are tied to what the file really declares.

``top_ports(path, top)`` returns ``[Port(name, direction, width)]`` in declaration order;
``clock_and_reset`` picks ``clk`` and ``rst`` (the convention of every StreamQNN block,
docs/design.md section 3) and fails clearly when the top lacks them.
"""

import re
from dataclasses import dataclass

from rtl_gen.errors import QNNError

_MODULE = re.compile(r"^\s*module\s+(\w+)\b(.*?)^\s*endmodule\b", re.S | re.M)
_DECL = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?"
                   r"(\w+)\s*;", re.M)


@dataclass(frozen=True)
class Port:
    name: str
    direction: str   # "input" or "output"
    width: int

    def xdc(self):
        """The port as an XDC ``get_ports`` pattern (a bus as ``name[*]``)."""
        return f"{self.name}[*]" if self.width > 1 else self.name


def top_ports(path, top):
    """Ports of module ``top`` declared in the Verilog file ``path``."""
    text = open(path).read()
    body = next((m.group(2) for m in _MODULE.finditer(text) if m.group(1) == top), None)
    if body is None:
        raise QNNError(top, f"module '{top}' not found in {path}", "the generated top module")
    ports = [Port(m.group(4), m.group(1), abs(int(m.group(2)) - int(m.group(3))) + 1
                  if m.group(2) else 1) for m in _DECL.finditer(body)]
    if not ports:
        raise QNNError(top, f"no port declarations found in {path}", "input/output ports")
    return ports


def clock_and_reset(ports, top):
    """The clock and reset ports (``clk``, ``rst``) of a top."""
    names = {p.name: p for p in ports}
    for name in ("clk", "rst"):
        if name not in names or names[name].direction != "input" or names[name].width != 1:
            raise QNNError(top, f"the top has no 1-bit input '{name}'",
                           "a StreamQNN top with ports clk and rst")
    return names["clk"], names["rst"]
