"""Parallel CRCs for the link layer: a whole W-bit lane beat per clock.

A CRC register update is linear over GF(2): ``next = A * state ^ B * data (^ c)``.
``CrcSpec.matrices(data_bits)`` finds A and B by running the bit-serial definition on unit
vectors at generation time, and :func:`crc_xor` emits each output bit as the XOR of the
state and data bits it depends on (user-defined Verilog: ``assign out = {^(data & mask) ^
^(state & mask), ...}``, which synthesis maps to LUT trees of depth about log6 of the
terms).

Two CRCs are used (``rtl_gen/blocks/link/framing.py`` states where):

- ``CRC32``: IEEE 802.3, the one ``zlib.crc32`` computes (reflected polynomial 0xEDB88320,
  register preset to all ones, result inverted). A lane beat is fed as its bytes in
  little-endian order, each byte least significant bit first, which for a reflected CRC is
  simply bit 0, 1, ..., W-1 of the beat: ``crc32_words(words, W) == zlib.crc32(b"".join(
  w.to_bytes(W // 8, "little") for w in words))`` (the tests check it for every frame).
- ``CRC8``: polynomial x^8 + x^2 + x + 1 (0x07, not reflected, preset 0, no inversion), the
  header check over the header's upper 56 bits, most significant bit first.
"""

from dataclasses import dataclass

from myhdl import always_comb, block


@dataclass(frozen=True)
class CrcSpec:
    """A CRC: ``width`` bits, ``poly`` (normal form without the top bit, or the reflected
    form when ``reflected``), register preset ``init``, result XORed with ``xorout``."""

    width: int
    poly: int
    reflected: bool
    init: int
    xorout: int

    @property
    def mask(self):
        return (1 << self.width) - 1

    def step_bit(self, reg, bit):
        """One bit of the serial definition."""
        if self.reflected:
            fb = (reg ^ bit) & 1
            reg >>= 1
            return reg ^ self.poly if fb else reg
        fb = ((reg >> (self.width - 1)) ^ bit) & 1
        reg = (reg << 1) & self.mask
        return reg ^ self.poly if fb else reg

    def step_word(self, reg, word, bits):
        """Feed a ``bits``-bit word: LSB first when reflected, MSB first otherwise."""
        order = range(bits) if self.reflected else range(bits - 1, -1, -1)
        for i in order:
            reg = self.step_bit(reg, (word >> i) & 1)
        return reg

    def of_words(self, words, bits):
        """CRC of a sequence of ``bits``-bit words (preset, fed, final XOR)."""
        reg = self.init
        for w in words:
            reg = self.step_word(reg, w, bits)
        return reg ^ self.xorout

    def matrices(self, data_bits):
        """(A, B): ``A[i]`` = state bits, ``B[i]`` = data bits that output bit i XORs."""
        a_cols = [self.step_word(1 << j, 0, data_bits) for j in range(self.width)]
        b_cols = [self.step_word(0, 1 << j, data_bits) for j in range(data_bits)]
        a = [[j for j in range(self.width) if a_cols[j] >> i & 1] for i in range(self.width)]
        b = [[j for j in range(data_bits) if b_cols[j] >> i & 1] for i in range(self.width)]
        return a, b


CRC32 = CrcSpec(width=32, poly=0xEDB88320, reflected=True, init=0xFFFFFFFF,
                xorout=0xFFFFFFFF)
CRC8 = CrcSpec(width=8, poly=0x07, reflected=False, init=0, xorout=0)


def crc32_words(words, bits):
    """IEEE CRC-32 of lane beats of ``bits`` bits (equal to zlib.crc32 of their
    little-endian bytes)."""
    return CRC32.of_words(words, bits)


def xor_terms(spec, data_bits, state=True, preset=None):
    """Per output bit: (state bit indices, data bit indices, constant bit).

    ``state`` False: the register starts from the constant ``preset`` (the spec's own
    preset when None), folded into the constant bit; no state input is needed."""
    a, b = spec.matrices(data_bits)
    const = 0
    if not state:
        const = spec.step_word(spec.init if preset is None else preset, 0, data_bits)
    return [(a[i] if state else [], b[i], const >> i & 1) for i in range(spec.width)]


def verilog_xor(terms, state_name, data_name, state_bits, data_bits):
    """``{bit_{n-1}, ..., bit_0}``: the Verilog expression of one parallel update, each
    bit the reduction XOR of the masked state and data (``^(data & 64'h...)``: the same
    XOR trees for synthesis, and a few vector operations per bit for a simulator rather
    than one per term, which makes Icarus several times faster)."""
    exprs = []
    for s_idx, d_idx, const in reversed(terms):
        parts = []
        if s_idx:
            mask = sum(1 << j for j in s_idx)
            parts.append(f"(^({state_name} & {state_bits}'h{mask:x}))")
        if d_idx:
            mask = sum(1 << j for j in d_idx)
            parts.append(f"(^({data_name} & {data_bits}'h{mask:x}))")
        if not parts:
            exprs.append("1'b1" if const else "1'b0")
            continue
        text = " ^ ".join(parts)
        exprs.append(f"~({text})" if const else f"({text})")
    return "{" + ",\n    ".join(exprs) + "}"


@block
def crc_xor(data, crc_out, spec, crc_in=None):
    """``crc_out`` = the CRC register after feeding ``data`` (one word) to ``crc_in``, or
    to the spec's preset when ``crc_in`` is None; combinational (XOR trees)."""
    bits = len(data)
    terms = xor_terms(spec, bits, state=crc_in is not None)
    state_sig = crc_in if crc_in is not None else data  # only named when used
    return _crc_stand_in(data, crc_out, spec, bits, crc_in, terms, state_sig)


@block
def _crc_stand_in(data, crc_out, spec, bits, crc_in, terms, state_sig):
    """What MyHDL sees of the user-defined XOR trees (a behavioural model, never
    converted), with the port marks user-defined Verilog needs (docs/tool-notes.md)."""
    expr = verilog_xor(terms, "$state_sig", "$data", spec.width, bits)

    if crc_in is not None:
        @always_comb
        def crc_model():
            crc_out.next = spec.step_word(int(crc_in), int(data), bits)
        crc_in.read = True
    else:
        @always_comb
        def crc_model():
            crc_out.next = spec.step_word(spec.init, int(data), bits)

    crc_out.driven = "wire"
    data.read = True
    _crc_stand_in.verilog_code = f"assign $crc_out = {expr};\n"
    return crc_model
