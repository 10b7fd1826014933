"""Check ``vivado/build.tcl`` without Vivado: run it under ``tclsh`` with every Vivado
command replaced by a recorder, then check what it did.

The recorder (``RECORDER``, Tcl) defines each Vivado and XDC command the flow may use
(``VIVADO_COMMANDS``, ``XDC_COMMANDS``; any other unknown command is reported), checks
that every file a ``read_*`` command names exists, and applies the XDC files when
``synth_design`` opens the design, as Vivado does: ``get_ports`` must name ports of the
top (read from its Verilog; a bus with an index or ``[*]``), ``get_clocks`` a clock
created before, ``set_input_delay``/``set_output_delay`` must target inputs/outputs.
``file mkdir`` is recorded, never done; a script that deletes files or runs programs is
reported. Python then checks the recorded commands (``check_commands``): known options
with legal values, ``synth_design`` once, out of context, for the top and part of the
manifest, then ``opt_design``, ``place_design``, ``route_design`` in that order, reports
and checkpoints only after synthesis, report folders created, every ``.v``, ``.mem`` and
``.xdc`` of the folder read, and nothing else.
"""

import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from streamqnn.handoff.ports import top_ports

SEP = "\x1f"
# Options each flow command accepts (UG835), with the legal values of those we check.
VIVADO_COMMANDS = {
    "read_verilog": {"-sv": None, "-library": "*", "-quiet": None},
    "read_mem": {"-quiet": None},
    "read_xdc": {"-ref": "*", "-cells": "*", "-mode": {"default", "out_of_context"},
                 "-unmanaged": None, "-quiet": None},
    "synth_design": {"-top": "*", "-part": "*",
                     "-mode": {"default", "out_of_context"},
                     "-flatten_hierarchy": {"rebuilt", "full", "none"},
                     "-directive": "*", "-jobs": "*", "-retiming": None},
    "opt_design": {"-directive": "*"},
    "place_design": {"-directive": "*"},
    "phys_opt_design": {"-directive": "*"},
    "route_design": {"-directive": "*"},
    "write_checkpoint": {"-force": None},
    "report_utilization": {"-hierarchical": None, "-hierarchical_depth": "*", "-file": "*"},
    "report_timing_summary": {"-max_paths": "*", "-file": "*", "-delay_type": "*"},
    "report_timing": {"-max_paths": "*", "-nworst": "*", "-sort_by": {"group", "slack"},
                      "-file": "*", "-setup": None, "-hold": None},
    "get_timing_paths": {"-max_paths": "*", "-nworst": "*", "-setup": None, "-hold": None},
    "get_property": {},
}
XDC_COMMANDS = ("create_clock", "get_ports", "get_clocks", "set_input_delay",
                "set_output_delay", "set_property", "set_false_path", "set_max_delay")
# phase a command needs (0 reading, 1 synthesized, 2 optimized, 3 placed, 4 routed) and
# the phase it leads to
STEPS = {"synth_design": (0, 1), "opt_design": (1, 2), "place_design": (2, 3),
         "route_design": (3, 4)}
READS = ("read_verilog", "read_mem", "read_xdc")

RECORDER = r"""
set ::records {}
set ::problems {}
set ::clocks {}
set ::xdc_files {}
set ::in_xdc ""
proc record {args} { lappend ::records $args }
proc problem {msg} {
    if {$::in_xdc ne ""} { set msg "[file tail $::in_xdc]: $msg" }
    lappend ::problems $msg
}
rename file _tcl_file
proc file {sub args} {
    switch -- $sub {
        mkdir { foreach d $args { record file_mkdir [_tcl_file normalize $d] }; return "" }
        delete - copy - rename - link - attributes {
            problem "the script changes files: file $sub $args"; return "" }
        default { return [_tcl_file $sub {*}$args] }
    }
}
foreach c {exec open cd socket source} {
    rename $c _tcl_$c
    proc $c {args} [list problem "the script calls $c"]
}
proc unknown {cmd args} { problem "not a Vivado command: $cmd"; return "" }

proc _files {cmd args} {
    set files {}
    foreach a $args {
        if {[string match -* $a]} { continue }
        foreach f $a {
            if {![_tcl_file isfile $f]} { problem "$cmd: file not found: $f" }
            lappend files [_tcl_file normalize $f]
        }
    }
    return $files
}
foreach c {read_verilog read_mem} {
    proc $c {args} "record $c {*}\[_files $c {*}\$args\]"
}
proc read_xdc {args} {
    set fs [_files read_xdc {*}$args]
    foreach f $fs { lappend ::xdc_files $f }
    record read_xdc {*}$fs
}
proc synth_design {args} {
    record synth_design {*}$args
    foreach f $::xdc_files {
        set ::in_xdc $f
        _tcl_source $f
        set ::in_xdc ""
    }
}
foreach c {opt_design place_design phys_opt_design route_design write_checkpoint
           report_utilization report_timing_summary report_timing} {
    proc $c {args} "if {\$::in_xdc ne {}} { problem {$c in a constraint file} }; record $c {*}\$args"
}
proc get_timing_paths {args} { record get_timing_paths {*}$args; return timing_path:0 }
proc get_property {args} { record get_property {*}$args; return 0.000 }

# XDC: objects are "port:<name>" / "clock:<name>" strings
proc get_ports {args} {
    if {$::in_xdc eq ""} { record get_ports {*}$args }
    set out {}
    foreach pattern [concat {*}$args] {
        if {[regexp {^([A-Za-z_]\w*)(\[(\*|\d+)\])?$} $pattern -> name - index]} {
            if {![dict exists $::ports $name]} {
                problem "get_ports $pattern: the top has no port $name"; continue
            }
            set width [lindex [dict get $::ports $name] 1]
            if {$index eq "" && $width > 1} {
                problem "get_ports $pattern: $name is a $width-bit bus, name it $name\[*\]"
            } elseif {$index ne "" && $width == 1} {
                problem "get_ports $pattern: $name is one bit, it has no index"
            } elseif {$index ne "" && $index ne "*" && $index >= $width} {
                problem "get_ports $pattern: index out of range (width $width)"
            }
            lappend out port:$name
        } else {
            problem "get_ports: pattern not understood: $pattern"
        }
    }
    if {$out eq {}} { problem "get_ports $args matches no port" }
    return $out
}
proc get_clocks {args} {
    set out {}
    foreach name [concat {*}$args] {
        if {$name ni $::clocks} { problem "get_clocks $name: no such clock (create it first)" }
        lappend out clock:$name
    }
    return $out
}
proc _opt {argv opt} {
    set i [lsearch -exact $argv $opt]
    if {$i < 0} { return "" }
    return [lindex $argv [expr {$i + 1}]]
}
proc create_clock {args} {
    record xdc_create_clock {*}$args
    set period [_opt $args -period]
    if {![string is double -strict $period] || $period <= 0} {
        problem "create_clock: period $period is not a positive number"
    }
    set target [lindex $args end]
    if {[llength $target] != 1 || ![string match port:* $target]} {
        problem "create_clock: the clock must be on one port of the top"
    }
    set name [_opt $args -name]
    if {$name eq ""} { set name [string range $target 5 end] }
    lappend ::clocks $name
}
proc _delay {cmd dir args} {
    record xdc_$cmd {*}$args
    set clock [_opt $args -clock]
    if {![string match clock:* $clock]} { problem "$cmd: -clock $clock is not a clock object" }
    set value [lindex $args end-1]
    if {![string is double -strict $value]} { problem "$cmd: delay $value is not a number" }
    foreach obj [lindex $args end] {
        set name [string range $obj 5 end]
        if {![string match port:* $obj]} { problem "$cmd: $obj is not a port"; continue }
        set d [lindex [dict get $::ports $name] 0]
        if {$d ne $dir} { problem "$cmd on $name, which is an $d" }
        if {$name in $::clock_ports} { problem "$cmd on the clock port $name" }
    }
}
proc set_input_delay {args} { _delay set_input_delay input {*}$args }
proc set_output_delay {args} { _delay set_output_delay output {*}$args }
foreach c {set_property set_false_path set_max_delay} {
    proc $c {args} "record xdc_$c {*}\$args"
}
"""


class HandoffCheckFailed(AssertionError):
    """A generated handoff file failed a check (a bug in the generator, not in the input)."""


@dataclass
class TclCheck:
    """What the recorded run of ``build.tcl`` did, and the problems found."""

    commands: list
    problems: list = field(default_factory=list)

    def summary(self):
        flow = [c[0] for c in self.commands if not c[0].startswith(("xdc_", "file_"))]
        xdc = [c for c in self.commands if c[0].startswith("xdc_")]
        return (f"{len(flow)} Vivado commands ({', '.join(dict.fromkeys(flow))}), "
                f"{len(xdc)} constraints applied")


def tclsh():
    return shutil.which("tclsh")


def _driver(script, ports):
    pdict = " ".join(f"{p.name} {{{p.direction} {p.width}}}" for p in ports)
    clocks = " ".join(p.name for p in ports if p.name == "clk")
    return (f"set ::ports [dict create {pdict}]\nset ::clock_ports {{{clocks}}}\n" + RECORDER
            + f"\n_tcl_source {{{script}}}\n"
            + 'foreach r $::records { puts "REC\\x1f[join $r \\x1f]" }\n'
            + 'foreach p $::problems { puts "PROBLEM\\x1f$p" }\n')


def record(folder, top):
    """Run ``folder/vivado/build.tcl`` under tclsh with the recorders: a :class:`TclCheck`
    with the recorder's own problems (not yet the order checks)."""
    folder = Path(folder).resolve()
    exe = tclsh()
    if exe is None:
        raise FileNotFoundError("tclsh not found (Debian package tcl)")
    ports = top_ports(folder / "rtl" / f"{top}.v", top)
    with tempfile.TemporaryDirectory() as tmp:   # run from elsewhere: paths must not
        drv = Path(tmp) / "driver.tcl"           # depend on the working folder
        drv.write_text(_driver(folder / "vivado" / "build.tcl", ports))
        res = subprocess.run([exe, str(drv)], cwd=tmp, capture_output=True, text=True,
                             timeout=60)
    if res.returncode != 0:
        return TclCheck([], [f"tclsh failed: {res.stderr.strip()[-1500:]}"])
    commands, problems = [], []
    for line in res.stdout.splitlines():
        kind, _, rest = line.partition(SEP)
        if kind == "REC":
            commands.append(rest.split(SEP))
        elif kind == "PROBLEM":
            problems.append(rest)
    return TclCheck(commands, problems)


def _options(cmd, argv, problems):
    """{option: value} of a recorded command, checked against VIVADO_COMMANDS."""
    spec = VIVADO_COMMANDS[cmd]
    opts, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-"):
            if a not in spec:
                problems.append(f"{cmd}: unknown option {a}")
                i += 1
                continue
            legal = spec[a]
            if legal is None:
                opts[a] = True
                i += 1
                continue
            val = argv[i + 1] if i + 1 < len(argv) else None
            if val is None or (legal != "*" and val not in legal):
                problems.append(f"{cmd} {a} {val}: not a legal value"
                                + (f" ({', '.join(sorted(legal))})" if legal != "*" else ""))
            opts[a] = val
            i += 2
        else:
            opts.setdefault("", []).append(a)
            i += 1
    return opts


def check_commands(rec, folder, top, part):
    """Order, options and files of the recorded commands; returns the problem list."""
    folder = Path(folder).resolve()
    problems = list(rec.problems)
    phase, synths = 0, 0
    made = set()
    read = {c: [] for c in READS}
    reports_after_route = set()
    for cmd, *argv in rec.commands:
        if cmd == "file_mkdir":
            made.add(Path(argv[0]))
            continue
        if cmd.startswith("xdc_"):
            continue
        if cmd not in VIVADO_COMMANDS:
            problems.append(f"{cmd}: not a command the flow may use")
            continue
        opts = _options(cmd, argv, problems)
        if cmd in READS:
            if phase != 0:
                problems.append(f"{cmd} after synth_design")
            read[cmd] += [Path(f) for f in opts.get("", [])]
        elif cmd in STEPS:
            need, nxt = STEPS[cmd]
            if phase != need:
                problems.append(f"{cmd} out of order (synth_design, opt_design, place_design, "
                                "route_design)")
            phase = max(phase, nxt)
        elif phase == 0:
            problems.append(f"{cmd} before synth_design")
        if cmd == "synth_design":
            synths += 1
            for opt, want in (("-top", top), ("-part", part), ("-mode", "out_of_context")):
                if opts.get(opt) != want:
                    problems.append(f"synth_design {opt} {opts.get(opt)} (expected {want})")
        if "-file" in opts:
            parent = Path(opts["-file"]).parent
            if parent not in made and not parent.is_dir():
                problems.append(f"{cmd} writes into {parent}, which the script does not create")
        if phase == 4 and cmd in ("report_utilization", "report_timing_summary"):
            reports_after_route.add(cmd + (" -hierarchical" if "-hierarchical" in opts else ""))
    if synths != 1:
        problems.append(f"synth_design runs {synths} times (expected once)")
    if phase != 4:
        problems.append("the flow does not reach route_design")
    for need in ("report_utilization -hierarchical", "report_timing_summary"):
        if need not in reports_after_route:
            problems.append(f"no {need} after route_design")
    for cmd, pattern in (("read_verilog", "rtl/*.v"), ("read_mem", "rtl/*.mem"),
                         ("read_xdc", "constraints/*.xdc")):
        want = {p.resolve() for p in folder.glob(pattern)}
        got = set(read[cmd])
        if len(read[cmd]) != len(got):
            problems.append(f"{cmd} reads a file twice")
        for f in sorted(want - got):
            problems.append(f"{cmd} misses {f.relative_to(folder)}")
        for f in sorted(got - want):
            problems.append(f"{cmd} reads {f}, which is not {pattern} of the folder")
    if not any(c[0] == "xdc_create_clock" for c in rec.commands):
        problems.append("no clock is created by the constraints")
    return problems


def check_build_tcl(folder, top, part):
    """Record and check ``folder/vivado/build.tcl``; return the :class:`TclCheck`
    (``problems`` empty when it passes)."""
    rec = record(folder, top)
    rec.problems = check_commands(rec, folder, top, part)
    return rec
