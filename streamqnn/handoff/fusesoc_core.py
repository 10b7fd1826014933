"""Write the handoff's FuseSoC core file (CAPI2, ``<design>.core``).

The core lists the same files as ``filelist.f`` and ``vivado/build.tcl``: the Verilog
(``verilogSource``), the ``.mem`` files (``mem``: edalize's Vivado backend reads them
with ``read_mem``; ``copyto`` puts them where a simulator's ``$readmemh`` looks) and the
XDC. Targets:

- ``synth``: Vivado synthesis out of context for the part (``pnr: none``: an
  out-of-context design has no pins, so no bitstream; ``vivado/build.tcl`` also places
  and routes);
- ``sim``: Icarus (default) or Verilator (``--tool verilator``: lint, since the handoff
  carries no testbench; add yours as a fileset to simulate);
- ``lint``: Verilator with the project's lint bar.
"""

import yaml

LINT_OPTIONS = ["-Wall", "-Wno-WIDTHEXPAND"]


class _Dumper(yaml.SafeDumper):
    """Writes repeated lists out in full (no ``&id001`` anchors): easier to read."""

    def ignore_aliases(self, data):
        return True


def core_name(top, version):
    """The core's VLNV name."""
    return f"streamqnn:designs:{top}:{version}"


def core_text(top, part, version, verilog, mems, xdcs, ooc_tcl):
    """The ``.core`` file's text; paths relative to the folder that holds it."""
    mem_files = [{m: {"copyto": m.split("/")[-1]}} for m in mems]
    filesets = {"rtl": {"files": list(verilog), "file_type": "verilogSource"}}
    if mem_files:
        filesets["mem"] = {"files": mem_files, "file_type": "mem"}
    filesets["constraints"] = {"files": list(xdcs), "file_type": "xdc"}
    filesets["vivado_ooc"] = {"files": [ooc_tcl], "file_type": "tclSource"}
    design = ["rtl"] + (["mem"] if mem_files else [])
    core = {
        "name": core_name(top, version),
        "description": f"{top}: StreamQNN streaming QNN pipeline (generated RTL, the bytes "
                       "that were simulated)",
        "filesets": filesets,
        "targets": {
            "default": {"filesets": design, "toplevel": top},
            "synth": {
                "description": f"Vivado synthesis out of context for {part}",
                "default_tool": "vivado",
                "filesets": design + ["constraints", "vivado_ooc"],
                "toplevel": top,
                "tools": {"vivado": {"part": part, "synth": "vivado", "pnr": "none"}},
            },
            "sim": {
                "description": "Icarus (default) or Verilator; no testbench included",
                "default_tool": "icarus",
                "filesets": design,
                "toplevel": top,
                "tools": {"icarus": {"iverilog_options": ["-g2005"]},
                          "verilator": {"mode": "lint-only",
                                        "verilator_options": LINT_OPTIONS}},
            },
            "lint": {
                "description": "verilator --lint-only -Wall -Wno-WIDTHEXPAND",
                "default_tool": "verilator",
                "filesets": design,
                "toplevel": top,
                "tools": {"verilator": {"mode": "lint-only",
                                        "verilator_options": LINT_OPTIONS}},
            },
        },
    }
    return "CAPI=2:\n" + yaml.dump(core, Dumper=_Dumper, sort_keys=False, width=100)
