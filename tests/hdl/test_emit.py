"""The emit step: process labels dropped where nothing local is declared, clocked processes
merged, and an RTL cache key that changes whenever any source the generated Verilog depends
on changes."""

import re
import shutil

import pytest

from rtl_gen.blocks.catalog import catalog
from rtl_gen.hdl.emit import PACKAGE_ROOT, drop_unused_labels, merge_clocked_processes, \
    source_digest

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


MODULES = """module a (input clk);
always @(posedge clk) begin
    x <= 1;
end


always @(posedge clk) begin: keep
    reg t;
    t = x;
    y <= t;
end


always @(posedge clk) begin
    if ((x == 1) && (y != 0) && (z >= 2)) begin
        q <= 0;
    end
end


assign w = x;
always @(posedge clk) begin
    v = 1;
end
endmodule
module b (input clk);
always @(posedge clk) begin
    m <= 1;
end
endmodule
"""


def test_clocked_processes_of_non_blocking_assignments_merge_per_module():
    """One always @(posedge clk) per module for the processes that only make non-blocking
    assignments, each a begin ... end in its order; a labelled process, one with a blocking
    assignment, and other modules' processes are left where they are."""
    out = merge_clocked_processes(MODULES)
    a, b = out.split("endmodule")[:2]
    assert a.count("always @(posedge clk) begin\n") == 2      # the merged one and 'v = 1'
    merged = a[a.index("always @(posedge clk) begin\n"):]
    assert merged.index("x <= 1;") < merged.index("q <= 0;") < merged.index("assign w")
    assert "begin: keep\n    reg t;" in a and "    v = 1;\n" in a
    assert b == MODULES.split("endmodule")[1]                  # a single process: untouched
    assert merge_clocked_processes(out) == out


def test_generated_modules_have_one_clocked_process_of_non_blocking_assignments(tmp_path):
    """Every catalog block: at most one unlabelled always @(posedge clk) per module."""
    for blk in list(catalog())[::4]:
        text = blk.generate(tmp_path / blk.name).verilog.read_text()
        for module in text.split("endmodule")[:-1]:
            assert module.count("always @(posedge clk) begin\n") <= 1, blk.name
