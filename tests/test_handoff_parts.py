"""The partitioned Vivado handoff (``make handoff TOP=tiny_resnet PARTS=2``,
``streamqnn/handoff/partitioned.py``).

One handoff of tiny_resnet in two parts (without Yosys) is written once per test session
and checked: the chain folder (README, manifest with the parts in order, the cut and the
lane wiring, partition.json) and one complete single-device folder per FPGA; each part's
RTL byte for byte the files ``make sim TOP=tiny_resnet PARTS=2`` hands to the simulator
(the system sim's own build, captured); each
part folder alone linted and compiled by Icarus and Verilator; its Vivado script under
tclsh with every port of its top (the lane ports included) constrained exactly once;
FuseSoC parsing every core and rendering a part's Vivado project; bad partition requests
refused with a QNNError before anything is written. The C++ build of each part's
Verilator model runs nightly.
"""

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rtl_gen.blocks.link.link import lane_ports
from rtl_gen.compiler.compile import plan
from rtl_gen.compiler.latency import pipeline_timing
from rtl_gen.designs import DEFAULT_TARGET, design
from streamqnn import cli
from streamqnn.cli import main
from streamqnn.handoff import DEFAULT_PART, check_request
from streamqnn.handoff.folder_checks import icarus_folder, lint_folder, verilator_folder
from streamqnn.handoff.fusesoc_core import core_name
from streamqnn.handoff.manifest import version
from streamqnn.handoff.ports import Port, top_ports
from streamqnn.handoff.tcl_check import check_build_tcl, tclsh
from streamqnn.handoff.xdc import LaneEnd, render_constraints
from verif.simulators import verilator_env

SEED = 1   # make sim's default seed
NET = "tiny_resnet"
TOPS = [f"{NET}_part1", f"{NET}_part2"]
CUT = "s2b1_add"   # the balanced cut of two parts at tiny_resnet's default target


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _manifest(folder):
    return json.loads((Path(folder) / "manifest.json").read_text())


def _write(tmp):
    out = tmp / "handoff" / f"{NET}_parts2"
    assert main(["handoff", NET, "--parts", "2", "--seed", str(SEED), "--no-yosys",
                 "--out", str(tmp / "rtl"), "--handoff-out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def hp(tmp_path_factory, request):
    """The two-part handoff, written once per session (under pytest-xdist the first
    worker writes it into the session's shared temporary folder, the other waits)."""
    worker = getattr(request.config, "workerinput", {}).get("workerid")
    if worker is None:
        return _write(tmp_path_factory.mktemp("parts"))
    shared = tmp_path_factory.getbasetemp().parent / "handoff_parts"
    shared.mkdir(exist_ok=True)
    with open(shared / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "done"
        if not done.exists():
            _write(shared)
            done.write_text("ok")
    return shared / "handoff" / f"{NET}_parts2"


def test_chain_folder(hp):
    man = _manifest(hp)
    assert sorted(p.name for p in hp.iterdir()) == sorted(
        ["README.md", "manifest.json", "partition.json"] + TOPS)
    assert man["design"] == NET and man["parts_count"] == 2 and man["cuts"] == [CUT]
    assert man["vivado_run"] is False
    assert [p["folder"] for p in man["parts"]] == TOPS
    assert [(p["input"], p["output"]) for p in man["parts"]] == [
        ("s_axis", f"l12_{CUT}_link_tx"), (f"l12_{CUT}_link_rx", "m_axis")]
    lk, = man["links"]
    assert (lk["from_part"], lk["tx_end"], lk["to_part"], lk["rx_end"]) == (
        1, f"l12_{CUT}_link_tx", 2, f"l12_{CUT}_link_rx")
    assert lk["forward"][0].startswith(f"part1.l12_{CUT}_link_tx_tx_lane_* -> Aurora")
    assert lk["forward"][0].endswith(f"part2.l12_{CUT}_link_rx_rx_lane_*")
    assert lk["reverse"][0].endswith(f"part1.l12_{CUT}_link_tx_rx_lane_*")
    pj = json.loads((hp / "partition.json").read_text())
    assert pj["cuts"] == man["cuts"] and [p["top"] for p in pj["parts"]] == TOPS
    assert man["partition_json_sha256"] == _sha(hp / "partition.json")
    sc = man["system_cycle_model"]
    assert sc["frame_interval_cycles"] == pj["system_interval_cycles"] == 36864
    for p in man["parts"]:
        assert p["manifest_sha256"] == _sha(hp / p["folder"] / "manifest.json")
        assert p["part"] == DEFAULT_PART
    readme = (hp / "README.md").read_text()
    assert "make sim TOP=tiny_resnet PARTS=2" in readme and "s_axi_tx_tready" in readme
    assert readme.index(TOPS[0]) < readme.index(TOPS[1])


def test_part_folders_and_manifests(hp):
    """Every part folder is a complete single-device handoff: files, hashes, the folding
    of its own layers, its analytic estimate as the partitioner counted it, its cycle
    model; the parts' latencies add up to the whole network's latency model."""
    net, folds, pipe = plan(design(NET, SEED), None, DEFAULT_TARGET[NET])
    layers = [lay.name for lay in net.layers]
    seen, latency = [], 0
    for k, top in enumerate(TOPS, 1):
        f = hp / top
        man = _manifest(f)
        end = f"l12_{CUT}_link_{'tx' if k == 1 else 'rx'}"
        for rel in ("README.md", "filelist.f", f"{top}.core", "vivado/build.tcl",
                    "constraints/clock.xdc", "constraints/reset.xdc",
                    "constraints/ooc_io.xdc", f"constraints/aurora_lane_{end}.xdc",
                    f"rtl/{top}.v"):
            assert (f / rel).is_file(), (top, rel)
        assert sorted((f / "filelist.f").read_text().split()) == sorted(
            p.relative_to(f).as_posix() for p in (f / "rtl").glob("*.v"))
        for rel, digest in {**man["rtl_sha256"], **man["files_sha256"]}.items():
            assert _sha(f / rel) == digest, rel
        assert set(man["rtl_sha256"]) == {p.relative_to(f).as_posix()
                                          for p in (f / "rtl").iterdir()}
        pr = man["partition"]
        assert (man["design"], pr["index"], pr["of"], pr["cuts"]) == (top, k, 2, [CUT])
        assert list(man["folding"]) == pr["layers"]
        assert set(pr["layers"]) <= set(layers)
        seen += pr["layers"]
        assert list(man["resources"]["analytic"]["per_layer"]) == pr["layers"] + [end]
        assert man["resources"]["analytic"]["total"] == pr["analytic_estimate_of_partitioner"]
        cm = man["cycle_model"]
        assert cm["frame_interval_cycles"] == 36864
        assert cm["part_interval_cycles"] == max(folds[n].cycles for n in pr["layers"])
        assert (cm["link_in_cycles_per_frame"] is None) == (k == 1)
        latency += cm["first_frame_latency_cycles"]
        links = {p["name"] for p in man["ports"] if p["name"].startswith(end)}
        assert links == {p.name for p in top_ports(f / "rtl" / f"{top}.v", top)
                         if p.name.startswith(end)}
        assert len(links) == 6 + (7 if k == 1 else 8)   # lane ports, status counters
        readme = (f / "README.md").read_text()
        assert f"part {k} of 2 of {NET}" in readme and "make sim TOP=tiny_resnet PARTS=2" \
            in readme and f"aurora_lane_{end}.xdc" in readme
    assert seen == layers   # the parts cover the network, in order
    assert latency == pipeline_timing(pipe).latency


def _files(paths):
    return {Path(p).name: _sha(p) for p in paths}


def test_rtl_is_what_sim_simulates(hp, tmp_path, monkeypatch):
    """``make sim TOP=tiny_resnet PARTS=2`` (``streamqnn sim --parts 2``) with the
    simulator run captured: every part's RTL in the handoff is byte for byte a file of
    the system it simulates."""
    captured = {}

    def fake_run_system(pdz, sim, **kw):
        captured["files"] = kw["system"].files
        return type("Run", (), {"summary": lambda self: "captured"})()

    monkeypatch.setattr(cli, "run_system", fake_run_system)
    assert main(["sim", NET, "--parts", "2", "--seed", str(SEED),
                 "--out", str(tmp_path / "sim")]) == 0
    simulated = _files(captured["files"])
    for top in TOPS:
        rtl = {Path(rel).name: d for rel, d in _manifest(hp / top)["rtl_sha256"].items()}
        assert {n: simulated.get(n) for n in rtl} == rtl, top
    # the regenerate command runs the same plan and build helpers (cli.compile_parts)
    assert _manifest(hp)["regenerate"] == \
        f"streamqnn partition {NET} --seed {SEED} --parts 2 --generate"


def test_part_folders_compile_alone(hp, tmp_path, sim):
    """Each part folder copied alone: Icarus compiles it and loads its ROM files;
    Verilator lints it clean and turns it into its C++ model (compiled nightly)."""
    for top in TOPS:
        copy = tmp_path / top
        shutil.copytree(hp / top, copy)
        if sim == "icarus":
            assert "compiles" in icarus_folder(copy, top)
        else:
            assert "clean" in lint_folder(copy, top)
            assert "generated" in verilator_folder(copy, top, build=False)


@pytest.mark.skipif(tclsh() is None, reason="tclsh not installed")
def test_part_scripts_under_tclsh(hp):
    """Each part's vivado/build.tcl passes the recorder, and every port of its top but
    the clock is constrained exactly once: the lane ports by their Aurora constraints,
    the stream and status ports as out-of-context I/O, the reset."""
    for k, top in enumerate(TOPS, 1):
        rec = check_build_tcl(hp / top, top, DEFAULT_PART)
        assert rec.problems == [], (top, rec.problems)
        constrained = []
        for cmd, *argv in rec.commands:
            if cmd in ("xdc_set_input_delay", "xdc_set_output_delay"):
                constrained += [o.removeprefix("port:") for o in argv[-1].split()]
        ports = top_ports(hp / top / "rtl" / f"{top}.v", top)
        assert sorted(constrained) == sorted(p.name for p in ports if p.name != "clk"), top
        end = f"l12_{CUT}_link_{'tx' if k == 1 else 'rx'}"
        lane = (hp / top / "constraints" / f"aurora_lane_{end}.xdc").read_text()
        comments = [ln for ln in lane.splitlines() if ln.startswith("#")]
        lane_constrained = [o for cmd, *argv in rec.commands
                            if cmd in ("xdc_set_input_delay", "xdc_set_output_delay")
                            for o in argv[-1].split()
                            if o.removeprefix("port:").startswith(f"{end}_")
                            and "lane" in o]
        assert sorted(lane_constrained) == sorted(f"port:{end}_{p.name}"
                                                  for p in lane_ports(64))
        for p in lane_ports(64):   # each documented with the Aurora signal it connects to
            line = next(ln for ln in comments if f" {end}_{p.name}" in ln)
            assert ("s_axi_tx_" if p.name.startswith("tx") else "m_axi_rx_") in line, line
        for signal in ("s_axi_tx_tdata", "s_axi_tx_tvalid", "s_axi_tx_tready",
                       "s_axi_tx_tlast", "m_axi_rx_tdata", "m_axi_rx_tvalid",
                       "user_clk_out", "channel_up"):
            assert signal in lane, signal
        ooc = (hp / top / "constraints" / "ooc_io.xdc").read_text()
        assert "lane_" not in ooc and f"{end}_stat_link_up" in ooc


def _fusesoc(args, cwd):
    env = verilator_env()
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env["PATH"]
    return subprocess.run([str(Path(sys.executable).parent / "fusesoc"), *args], cwd=cwd,
                          env=env, capture_output=True, text=True, timeout=600)


def test_fusesoc_parses_part_cores(hp, tmp_path):
    """FuseSoC finds and parses both cores under the chain folder; edalize renders part
    2's Vivado project with its lane constraints."""
    names = [core_name(top, version()) for top in TOPS]
    for name in names:
        res = _fusesoc(["--cores-root", str(hp), "core", "show", name], tmp_path)
        assert res.returncode == 0, res.stdout + res.stderr
    res = _fusesoc(["--cores-root", str(hp), "run", "--setup", "--target", "synth",
                    names[1]], tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    work = next((tmp_path / "build").glob("*/synth-vivado"))
    project = (work / f"{names[1].replace(':', '_')}.tcl").read_text()
    assert f"constraints/aurora_lane_l12_{CUT}_link_rx.xdc}}" in project


def test_middle_part_constraints(tmp_path):
    """A middle partition (a link RX in, a link TX out) has no stream port of its own:
    the empty out-of-context input constraint is written as a comment, the lane ports of
    both ends go to their own Aurora files, nothing else names them."""
    ends = [LaneEnd("c1_link_rx", 64, "RX end of cut 1"),
            LaneEnd("c2_link_tx", 64, "TX end of cut 2")]
    ports = [Port("clk", "input", 1), Port("rst", "input", 1)] + [
        Port(f"{e.name}_{p.name}", "input" if p.direction == "in" else "output", p.width)
        for e in ends for p in lane_ports(64)] + [Port("c1_link_rx_stat_naks", "output", 32)]
    paths = render_constraints(ports, "mid", check_request(), tmp_path, link_ends=ends)
    assert [p.name for p in paths] == ["clock.xdc", "reset.xdc", "ooc_io.xdc",
                                       "aurora_lane_c1_link_rx.xdc",
                                       "aurora_lane_c2_link_tx.xdc"]
    ooc = (tmp_path / "ooc_io.xdc").read_text()
    assert "\n# no such ports on this top: set_input_delay" in ooc
    assert "[get_ports {c1_link_rx_stat_naks[*]}]" in ooc and "lane" not in ooc
    for e in ends:
        text = (tmp_path / f"aurora_lane_{e.name}.xdc").read_text()
        assert f"{{{e.name}_tx_lane_data[*] {e.name}_tx_lane_valid {e.name}_tx_lane_last}}" \
            in text and e.role in text


@pytest.mark.parametrize("argv,message", [
    (["--parts", "12"], "12 partitions, but it has only 10 legal cuts"),
    (["--parts", "17"], "PARTS=17: more FPGAs than a design can be cut into (valid: PARTS=1 "
                        "to 16)"),
    (["--parts", "two"], "PARTS='two' is not a number of FPGAs"),
    (["--parts", "0"], "is not a number of FPGAs"),
    (["--cut", "s1b1_conv2"], "inside the residual block 's1b1'"),
    (["--cut", "nope"], "--cut names no layer of 'tiny_resnet'"),
    (["--parts", "3", "--cut", CUT], "--parts 3 disagrees with the cuts or devices given"),
    (["--parts", "2", "--part", "xc7a35t"], "unknown part 'xc7a35t'"),
])
def test_bad_partition_requests(tmp_path, capsys, argv, message):
    out, rtl = tmp_path / "h", tmp_path / "rtl"
    assert main(["handoff", NET, "--no-yosys", "--out", str(rtl), "--handoff-out", str(out),
                 *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err, err
    assert not out.exists() and not rtl.exists()


@pytest.mark.nightly
def test_part_models_build_nightly(hp, tmp_path):
    """The C++ build of each part's Verilator model from its folder alone."""
    for top in TOPS:
        copy = tmp_path / top
        shutil.copytree(hp / top, copy)
        assert "compiled" in verilator_folder(copy, top)
