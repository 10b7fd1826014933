"""Write ``vivado/build.tcl``: Vivado's non-project flow for one handoff folder.

Read the Verilog, the ``.mem`` files and the XDC (paths relative to the folder, found
from the script's own location, so it runs from anywhere), ``synth_design -mode
out_of_context`` for the part, then ``opt_design``, ``place_design``, ``route_design``,
with checkpoints and hierarchical utilization and timing reports in ``vivado/reports``.
Hierarchy is kept (``-flatten_hierarchy rebuilt``), so utilization is reported per
layer module. Run as ``vivado -mode batch -source vivado/build.tcl``.
"""

from pathlib import Path

REPORTS = "vivado/reports"
CHECKPOINTS = "vivado/checkpoints"


def _paths(rel_paths, indent="    "):
    items = [f"[file join $root {' '.join(Path(p).parts)}]" for p in rel_paths]
    return " \\\n".join(f"{indent}{item}" for item in items)


def build_tcl(top, part, clock_mhz, verilog, mems, xdcs):
    """The script's text; ``verilog``, ``mems``, ``xdcs``: paths relative to the folder."""
    lines = [
        f"# {top}: Vivado non-project flow of the StreamQNN handoff (generated; do not edit).",
        "# Run from anywhere: vivado -mode batch -source vivado/build.tcl",
        f"# Out of context on {part} at {clock_mhz:g} MHz: synthesized, placed and routed",
        "# without I/O buffers or a board. Reports: vivado/reports, checkpoints:",
        "# vivado/checkpoints.",
        f"set top {top}",
        f"set part {part}",
        "set root [file normalize [file join [file dirname [info script]] ..]]",
        f"set reports [file join $root {' '.join(Path(REPORTS).parts)}]",
        f"set checkpoints [file join $root {' '.join(Path(CHECKPOINTS).parts)}]",
        "file mkdir $reports $checkpoints",
        "",
        "read_verilog [list \\",
        _paths(verilog) + "]",
    ]
    if mems:
        lines += ["# ROM contents for $readmemh (found by file name during synthesis)",
                  "read_mem [list \\", _paths(mems) + "]"]
    lines += [
        "read_xdc [list \\",
        _paths(xdcs) + "]",
        "",
        "synth_design -top $top -part $part -mode out_of_context -flatten_hierarchy rebuilt",
        "write_checkpoint -force [file join $checkpoints post_synth.dcp]",
        "report_utilization -hierarchical -file [file join $reports utilization_synth_hier.rpt]",
        "report_timing_summary -file [file join $reports timing_synth.rpt]",
        "",
        "opt_design",
        "place_design",
        "route_design",
        "write_checkpoint -force [file join $checkpoints post_route.dcp]",
        "report_utilization -file [file join $reports utilization.rpt]",
        "report_utilization -hierarchical -file [file join $reports utilization_hier.rpt]",
        "report_timing_summary -max_paths 10 -file [file join $reports timing_summary.rpt]",
        "report_timing -max_paths 20 -nworst 1 -sort_by group "
        "-file [file join $reports timing_paths.rpt]",
        "",
        "set wns [get_property SLACK [get_timing_paths -max_paths 1 -nworst 1 -setup]]",
        f'puts "StreamQNN handoff: $top on $part at {clock_mhz:g} MHz: worst setup slack '
        '$wns ns (negative: the clock is not met); reports in $reports"',
        "",
    ]
    return "\n".join(lines)


def fusesoc_ooc_tcl():
    """A Tcl hook for FuseSoC's Vivado project flow: synthesize out of context (edalize
    sources it while creating the project, after the default runs exist)."""
    return ("# Sourced by the FuseSoC/edalize Vivado project flow (generated; do not edit):\n"
            "# synthesize out of context, as vivado/build.tcl does.\n"
            "set_property -name {STEPS.SYNTH_DESIGN.ARGS.MORE OPTIONS} "
            "-value {-mode out_of_context} -objects [get_runs synth_1]\n")
