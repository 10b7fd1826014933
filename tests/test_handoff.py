"""The Vivado handoff (``make handoff``, ``streamqnn handoff``, ``streamqnn/handoff/``).

resnet_block in the fast suite: the folder's files and manifest, the RTL regenerated the
way ``make sim`` generates it, and from scratch in fresh processes with empty caches,
compared by SHA-256 with the manifest, Icarus and Verilator compiling a copy of the folder
with nothing else on the path, the Vivado script under tclsh with recorders (and the
recorder shown to catch each kind of mistake), FuseSoC parsing the core and rendering the
Vivado project, and every request error raised before anything is written. tiny_resnet: file-level checks
in the fast suite, the whole handoff (Yosys included) nightly. The Yosys estimates in the
manifest: tests/test_estimate_flow.py. The partitioned handoff (PARTS=2):
tests/test_handoff_parts.py.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtl_gen.designs import design
from rtl_gen.errors import QNNError
from streamqnn.cli import main
from streamqnn.handoff import DEFAULT_PART, check_request
from streamqnn.handoff.folder_checks import icarus_folder, lint_folder, verilator_folder
from streamqnn.handoff.fusesoc_core import core_name
from streamqnn.handoff.manifest import version
from streamqnn.handoff.tcl_check import check_build_tcl, tclsh
from verif.simulators import verilator_env

SEED = 1   # make sim's default seed


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _handoff(tmp, name, *extra):
    out, rtl = tmp / "handoff" / name, tmp / "rtl" / name
    argv = ["handoff", name, "--seed", str(SEED), "--out", str(rtl), "--handoff-out", str(out),
            "--jobs", "2", *extra]
    assert main(argv) == 0
    return out


@pytest.fixture(scope="module")
def rb(tmp_path_factory):
    """resnet_block's handoff folder, without Yosys (the Yosys part of the manifest is
    checked in tests/test_estimate_flow.py, which synthesizes resnet_block once for the
    fast suite; the nightly tiny_resnet handoff runs it end to end)."""
    return _handoff(tmp_path_factory.mktemp("rb"), "resnet_block", "--no-yosys")


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def test_folder_and_manifest(rb):
    man = _manifest(rb)
    for rel in ("README.md", "filelist.f", "resnet_block.core", "vivado/build.tcl",
                "constraints/clock.xdc", "constraints/reset.xdc", "constraints/ooc_io.xdc",
                "rtl/resnet_block.v"):
        assert (rb / rel).is_file(), rel
    verilog = sorted(p.relative_to(rb).as_posix() for p in (rb / "rtl").glob("*.v"))
    assert sorted((rb / "filelist.f").read_text().split()) == verilog
    assert man["design"] == "resnet_block" and man["part"] == DEFAULT_PART
    assert man["clock_mhz"] == 200 and man["clock_period_ns"] == 5.0
    cm = man["cycle_model"]
    assert cm["frame_interval_cycles"] == 4608 and cm["first_frame_latency_cycles"] == 654
    assert cm["frames_per_second"] == pytest.approx(200e6 / 4608, rel=1e-6)
    layers = [lay.name for lay in design("resnet_block", SEED).layers]
    assert list(man["folding"]) == layers
    assert list(man["resources"]["analytic"]["per_layer"]) == layers
    assert man["resources"]["yosys"] == {"skipped": "not run (--no-yosys)"}
    assert man["resources"]["analytic"]["share_of_device"]["lut"] > 0
    # every file hashed, and the hashes are right
    assert set(man["rtl_sha256"]) == {p.relative_to(rb).as_posix()
                                      for p in (rb / "rtl").iterdir()}
    others = {p.relative_to(rb).as_posix() for p in rb.rglob("*") if p.is_file()} \
        - set(man["rtl_sha256"]) - {"manifest.json", "README.md"}
    assert set(man["files_sha256"]) == others
    for rel, digest in {**man["rtl_sha256"], **man["files_sha256"]}.items():
        assert _sha(rb / rel) == digest, rel
    assert man["vivado_run"] is False and len(man["checks"]) == 3
    readme = (rb / "README.md").read_text()
    assert "vivado -mode batch -source vivado/build.tcl" in readme
    assert "Vivado itself was **not** run" in readme and "ZCU102" in readme


def test_rtl_is_what_sim_simulates(rb, tmp_path, capsys):
    """Regenerate resnet_block the way `make sim` does (``compile_top``: same planning,
    seed and RTL cache) and compare every file with the manifest's SHA-256."""
    man = _manifest(rb)
    assert main(["generate", "resnet_block", "--seed", str(SEED), "--out",
                 str(tmp_path / "sim")]) == 0
    again = {f"rtl/{f.name}": _sha(f) for f in (tmp_path / "sim").iterdir()
             if f.suffix in (".v", ".mem")}
    assert again == man["rtl_sha256"]


def _cli(args, build, cwd):
    env = dict(os.environ, STREAMQNN_BUILD=str(build), PYTHONHASHSEED="0")
    res = subprocess.run([sys.executable, "-m", "streamqnn.cli", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]


def test_rtl_regenerated_from_scratch_is_identical(tmp_path):
    """A handoff and a regeneration, each in a fresh process with an empty RTL cache of
    its own: the same bytes (the RTL is a function of the design, seed and folding, not of
    what a cache or an earlier run left)."""
    _cli(["handoff", "resnet_block", "--seed", str(SEED), "--no-yosys", "--out",
          str(tmp_path / "rtl1"), "--handoff-out", str(tmp_path / "h")], tmp_path / "b1",
         tmp_path)
    _cli(["generate", "resnet_block", "--seed", str(SEED), "--out", str(tmp_path / "rtl2")],
         tmp_path / "b2", tmp_path)
    man = _manifest(tmp_path / "h")
    again = {f"rtl/{f.name}": _sha(f) for f in (tmp_path / "rtl2").iterdir()
             if f.suffix in (".v", ".mem")}
    assert again == man["rtl_sha256"]


def test_compiles_from_the_folder_alone(rb, tmp_path, sim):
    """A copy of the folder, elsewhere, with nothing else on the path: Icarus compiles it
    (and loads every ROM file at time 0); Verilator lints it clean and builds its model."""
    copy = tmp_path / "copy"
    shutil.copytree(rb, copy)
    if sim == "icarus":
        assert "compiles" in icarus_folder(copy, "resnet_block")
    else:
        assert "clean" in lint_folder(copy, "resnet_block")
        assert "compiled" in verilator_folder(copy, "resnet_block")


needs_tclsh = pytest.mark.skipif(tclsh() is None, reason="tclsh not installed")


@needs_tclsh
def test_vivado_script_under_tclsh(rb):
    rec = check_build_tcl(rb, "resnet_block", DEFAULT_PART)
    assert rec.problems == []
    flow = [c[0] for c in rec.commands if not c[0].startswith(("xdc_", "file_"))]
    steps = [c for c in flow if c.endswith("_design")]
    assert steps == ["synth_design", "opt_design", "place_design", "route_design"]
    assert flow[:2] == ["read_verilog", "read_xdc"]
    clock = next(c for c in rec.commands if c[0] == "xdc_create_clock")
    assert clock[1:3] == ["-period", "5.000"]
    delays = [c for c in rec.commands if c[0] in ("xdc_set_input_delay", "xdc_set_output_delay")]
    assert len(delays) == 3   # data inputs, data outputs, reset


def _mutated(rb, tmp_path, rel, old, new):
    copy = tmp_path / "m"
    shutil.copytree(rb, copy)
    path = copy / rel
    text = path.read_text()
    assert old in text, (rel, old)
    path.write_text(text.replace(old, new, 1))
    return check_build_tcl(copy, "resnet_block", DEFAULT_PART).problems


@needs_tclsh
@pytest.mark.parametrize("rel,old,new,expected", [
    ("constraints/ooc_io.xdc", "m_axis_tready}", "m_axis_ready}", "the top has no port m_axis_ready"),
    ("constraints/ooc_io.xdc", "s_axis_tdata[*]", "s_axis_tdata", "32-bit bus"),
    ("constraints/ooc_io.xdc", "{s_axis_tready", "{s_axis_tvalid", "which is an input"),
    ("constraints/reset.xdc", "get_clocks clk", "get_clocks clk2", "get_clocks clk2: no such"),
    ("constraints/clock.xdc", "-period 5.000", "-period -1", "not a positive number"),
    ("vivado/build.tcl", "opt_design\nplace_design\nroute_design",
     "opt_design\nroute_design\nplace_design", "route_design out of order"),
    ("vivado/build.tcl", "synth_design -top", "synth_desing -top", "not a Vivado command: synth_desing"),
    ("vivado/build.tcl", "-mode out_of_context", "-mode ooc", "synth_design -mode ooc"),
    ("vivado/build.tcl", "rtl resnet_block.v]", "rtl resnet_blok.v]", "file not found"),
    ("vivado/build.tcl", "    [file join $root rtl resnet_block.v]]",
     "    ]", "read_verilog misses rtl/resnet_block.v"),
    ("vivado/build.tcl", "file mkdir $reports $checkpoints", "file mkdir $checkpoints",
     "which the script does not create"),
    ("vivado/build.tcl", "route_design\n", "route_design\nexec rm -rf /tmp/x\n", "calls exec"),
])
def test_tcl_recorder_catches(rb, tmp_path, rel, old, new, expected):
    problems = _mutated(rb, tmp_path, rel, old, new)
    assert any(expected in p for p in problems), problems


def _fusesoc(args, cwd):
    env = verilator_env()
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return subprocess.run([str(Path(sys.executable).parent / "fusesoc"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def test_fusesoc_parses_core_and_renders_vivado(rb, tmp_path):
    """The real fusesoc parses the core; edalize renders the Vivado project (offline) with
    every file, the part and the out-of-context hook; the sim target runs on Icarus and the
    lint target on Verilator."""
    name = core_name("resnet_block", version())
    res = _fusesoc(["--cores-root", str(rb), "core", "show", name], tmp_path)
    assert res.returncode == 0, res.stderr
    res = _fusesoc(["--cores-root", str(rb), "run", "--setup", "--target", "synth", name],
                   tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    work = next((tmp_path / "build").glob("*/synth-vivado"))
    project = (work / f"{name.replace(':', '_')}.tcl").read_text()
    assert f"set_property part {DEFAULT_PART} [current_project]" in project
    for f in (rb / "rtl").glob("*.v"):
        assert f"rtl/{f.name}}}" in project, f.name
    for f in (rb / "constraints").glob("*.xdc"):
        assert f"read_xdc {{" in project and f"constraints/{f.name}}}" in project
    assert "vivado/fusesoc_ooc.tcl}" in project
    for target in ("sim", "lint"):
        res = _fusesoc(["--cores-root", str(rb), "run", "--target", target, name], tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.parametrize("argv,message", [
    (["--part", "xc7a35t"], "unknown part 'xc7a35t' (valid: one of xczu9eg-ffvb1156-2-e"),
    (["--clock-mhz", "900"], "outside the supported range (valid: a frequency from 10 to 800"),
    (["--clock-mhz", "5"], "outside the supported range"),
    (["--parts", "0"], "is not a number of FPGAs"),
    (["--parts", "3"], "3 partitions, but it has only 1 legal cuts (b1_add)"),
])
def test_request_errors_before_anything_is_written(tmp_path, capsys, argv, message):
    out = tmp_path / "h"
    assert main(["handoff", "resnet_block", "--out", str(tmp_path / "rtl"),
                 "--handoff-out", str(out), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "rtl").exists()


def test_design_errors(tmp_path, capsys):
    out = tmp_path / "h"
    for top, message in (("no_such_net", "'no_such_net' is an unknown design (valid: a "
                                          "network (resnet_block"),
                         ("fifo_w32_d1024", "is a block configuration, not a network"),
                         ("missing.yaml", "spec file 'missing.yaml' does not exist")):
        assert main(["handoff", top, "--handoff-out", str(out)]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["handoff", "resnet_block", "--handoff-out", str(foreign),
                 "--out", str(tmp_path / "rtl")]) == 2
    assert "is not a StreamQNN handoff" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "keep me"


def test_parts_table():
    assert check_request().part == DEFAULT_PART
    assert check_request("xcvu9p", 300).part == "xcvu9p-flga2104-2L-e"
    t = check_request("xc7z020clg400-1", "100", "1")
    assert (t.family, t.period_ns, t.device) == ("xc7", 10.0, "xc7z020")
    with pytest.raises(QNNError, match="outside the supported range"):
        check_request(clock_mhz="fast")


def test_tiny_resnet_files(tmp_path):
    """tiny_resnet without Yosys (the full run is nightly): the folder checks passed while
    writing it (lint, Icarus, tclsh), the manifest matches its files."""
    out = _handoff(tmp_path, "tiny_resnet", "--no-yosys", "--clock-mhz", "150")
    man = _manifest(out)
    assert man["clock_mhz"] == 150 and man["resources"]["yosys"] == {"skipped":
                                                                    "not run (--no-yosys)"}
    assert man["cycle_model"]["frame_interval_cycles"] == 36864
    assert len(man["rtl_sha256"]) == len(list((out / "rtl").iterdir()))
    assert "create_clock -period 6.667" in (out / "constraints" / "clock.xdc").read_text()
    assert any("tclsh" in c for c in man["checks"])
    # its ROM files: read by the Vivado script, and rendered by FuseSoC as read_mem
    mems = sorted(p.name for p in (out / "rtl").glob("*.mem"))
    assert mems and all(f"rtl {m}]" in (out / "vivado" / "build.tcl").read_text() for m in mems)
    name = core_name("tiny_resnet", version())
    res = _fusesoc(["--cores-root", str(out), "run", "--setup", "--target", "synth", name],
                   tmp_path)
    assert res.returncode == 0, res.stderr
    project = next((tmp_path / "build").glob("*/synth-vivado")) / f"{name.replace(':', '_')}.tcl"
    assert sorted(re.findall(r"read_mem \{(\S+)\}", project.read_text())) == mems


@pytest.mark.nightly
def test_tiny_resnet_full(tmp_path, sim):
    out = _handoff(tmp_path, "tiny_resnet")
    man = _manifest(out)
    assert man["resources"]["yosys"]["total"]["lut"] > 0
    assert check_build_tcl(out, "tiny_resnet", DEFAULT_PART).problems == []
    if sim == "icarus":
        icarus_folder(out, "tiny_resnet")
    else:
        verilator_folder(out, "tiny_resnet")
    res = _fusesoc(["--cores-root", str(out), "run", "--setup", "--target", "synth",
                    core_name("tiny_resnet", version())], tmp_path)
    assert res.returncode == 0, res.stderr
