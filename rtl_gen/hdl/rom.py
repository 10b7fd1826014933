"""Read-only tables (weights, thresholds, multipliers) with a registered read port.

``dout`` takes ``image.words[addr]`` on a rising edge where ``en`` is high (latency 1).
Small tables become an inline ``case`` ROM; tables larger than ``INLINE_BITS`` become a
``reg`` array initialised by ``$readmemh`` from ``<image.name>.mem`` (written beside the
Verilog by the owning block's ``write_data_files``), which Vivado and Yosys map to block
or distributed RAM. ``RomImage`` holds the contents and knows which form it takes.
"""

from pathlib import Path

from myhdl import always, block

INLINE_BITS = 4096


class RomImage:
    """The contents of one ROM: ``words`` (unsigned ints < 2**width), at least 2 deep."""

    def __init__(self, name, width, words, inline_bits=INLINE_BITS):
        words = [int(w) for w in words]
        if len(words) < 2:  # a 1-word ROM would need a 0-bit address
            words = words + [0] * (2 - len(words))
        for w in words:
            if w < 0 or w >> width:
                raise ValueError(f"ROM {name}: word {w} does not fit in {width} bits")
        self.name = name
        self.width = width
        self.words = words
        self.inline = len(words) * width <= inline_bits

    @property
    def depth(self):
        return len(self.words)

    @property
    def addr_max(self):
        """Use ``Signal(intbv(0, min=0, max=image.addr_max))`` for the address."""
        return self.depth

    @property
    def mem_file(self):
        return f"{self.name}.mem"

    @property
    def bits(self):
        return self.depth * self.width

    def write(self, folder):
        """Write the ``.mem`` file if this ROM is not inline; return the paths written."""
        if self.inline:
            return []
        digits = max(1, (self.width + 3) // 4)
        path = Path(folder) / self.mem_file
        path.write_text("".join(f"{w:0{digits}x}\n" for w in self.words))
        return [path]


@block
def rom(clk, en, addr, dout, image):
    """Registered-read ROM holding ``image`` (a :class:`RomImage`)."""
    if image.inline:
        return rom_case(clk, en, addr, dout, image)
    return rom_file(clk, en, addr, dout, image.depth, image.width, image.mem_file,
                    image.name)


@block
def rom_case(clk, en, addr, dout, image):
    """Inline ``case`` ROM (user-defined Verilog, so that every word is a constant of
    exactly ``image.width`` bits: MyHDL's tuple ROM writes words >= 2**30 one bit wider,
    which Verilator reports as WIDTHTRUNC when a word's top bit is set)."""
    contents = tuple(image.words)
    width = image.width
    qname = f"{image.name}_q"
    cases = "\n".join(f"        {i}: {qname} <= {width}'h{w:x};"
                      for i, w in enumerate(contents[:-1]))
    last = f"{width}'h{contents[-1]:x}"
    return _rom_stand_in(clk, en, addr, dout, contents, "wire")


rom_case.verilog_code = """
reg [$width-1:0] $qname;
always @(posedge $clk) begin
    if ($en) begin
        case ($addr)
$cases
        default: $qname <= $last;
        endcase
    end
end
assign $dout = $qname;
"""


@block
def rom_file(clk, en, addr, dout, depth, width, mem_file, prefix):
    """``$readmemh`` ROM (user-defined Verilog; MyHDL only sees the port directions)."""
    return _rom_stand_in(clk, en, addr, dout, [0] * depth, "reg")


rom_file.verilog_code = """
reg [$width-1:0] ${prefix}_mem [0:$depth-1];
initial $$readmemh("$mem_file", ${prefix}_mem);
always @(posedge $clk) begin
    if ($en) begin
        $dout <= ${prefix}_mem[$addr];
    end
end
"""


@block
def _rom_stand_in(clk, en, addr, dout, contents, driven):
    """What MyHDL sees of a user-defined ROM block (``rom_case``, ``rom_file``): a
    registered read of ``contents``, and the port marks without which MyHDL would turn
    every port of user-defined Verilog into an input (docs/tool-notes.md): ``dout`` driven
    (``driven``: "wire" or "reg", as the template declares it), the others read. The
    caller's ``verilog_code`` replaces it in the Verilog, so it is never converted; call
    it after every local the template names is set (MyHDL takes the caller's names when
    this block is instantiated)."""
    @always(clk.posedge)
    def rom_read():
        if en:
            dout.next = contents[int(addr)]

    dout.driven = driven
    clk.read = True
    en.read = True
    addr.read = True
    return rom_read
