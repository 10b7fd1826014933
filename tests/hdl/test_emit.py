"""The emit step: process labels dropped where nothing local is declared, and an RTL cache
key that changes whenever any source the generated Verilog depends on changes."""

import re
import shutil

import pytest

from rtl_gen.blocks.catalog import catalog
from rtl_gen.hdl.emit import PACKAGE_ROOT, drop_unused_labels, source_digest

LABELLED = """always @(posedge clk) begin: skid_regs
    if (rst == 1) begin
        a <= 0;
    end
end

always @(posedge clk) begin: row_accounting
    reg ended;
    ended = 1;
end

always @(x, y) begin: place
    z = x;
end
"""


def test_labels_dropped_only_where_nothing_is_declared():
    out = drop_unused_labels(LABELLED)
    assert "begin: skid_regs" not in out and "always @(posedge clk) begin\n" in out
    assert "begin: row_accounting\n    reg ended;" in out    # a named block keeps locals legal
    assert "always @(x, y) begin\n" in out
    assert out.count("\n") == LABELLED.count("\n")


def test_generated_blocks_keep_labels_only_for_locals(tmp_path):
    """Every catalog block: a label is left only where the next line declares a local."""
    for blk in list(catalog())[::4]:
        lines = blk.generate(tmp_path / blk.name).verilog.read_text().splitlines()
        for i, ln in enumerate(lines):
            if re.search(r"\bbegin: \w+$", ln):
                assert re.match(r"\s*(reg|integer)\b", lines[i + 1]), (blk.name, ln)


@pytest.mark.parametrize("rel", ["model/formats.py", "model/packing.py", "blocks/mvu/weights.py",
                                 "hdl/rom.py", "compiler/layer_kinds.py"])
def test_cache_key_covers_every_source(tmp_path, rel):
    """The digest behind Block.fingerprint changes when any file of the package changes,
    in subpackages too (ROM contents come from the model). Computed over a copy; nothing
    in the repository is edited."""
    copy = tmp_path / "rtl_gen"
    shutil.copytree(PACKAGE_ROOT, copy, ignore=shutil.ignore_patterns("__pycache__"))
    before = source_digest(copy)
    assert before == source_digest(PACKAGE_ROOT)
    with open(copy / rel, "a") as fh:
        fh.write("\n# changed\n")
    assert source_digest(copy) != before
    (copy / rel).unlink()
    assert source_digest(copy) != before


def test_verilog_does_not_depend_on_what_was_generated_before(tmp_path):
    """MyHDL keeps process-wide instance-name sets: without a reset before each conversion,
    a block generated after others got '_0' suffixes on its instance names."""
    blocks = list(catalog())
    first = blocks[0].generate(tmp_path / "a").verilog.read_bytes()
    for blk in blocks[1:6]:
        blk.generate(tmp_path / blk.name)
    assert blocks[0].generate(tmp_path / "b").verilog.read_bytes() == first
