"""Merge the nightly regression's JUnit reports into one Markdown report.

``python -m verif.nightly_report SRC_DIR OUT_DIR`` reads every ``junit*.xml`` below
SRC_DIR (one per shard of ``make nightly SHARD=i/n``), and writes ``OUT_DIR/report.md``:
per case its outcome, wall time and the properties the test recorded (cycles measured
against the model, latency, simulator speed, seed), and a summary line. It exits 1 when a
case failed or errored, or when two shards ran the same case (the shards must split the
cases, each exactly once). Only the standard library is used, so the merge job needs no
project install.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def cases(xml_path):
    """(case id, outcome, seconds, {property: value}, message) for each testcase."""
    for tc in ET.parse(xml_path).getroot().iter("testcase"):
        cid = f"{tc.get('classname', '')}::{tc.get('name', '')}"
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            el = tc.find(tag)
            if el is not None:
                outcome = {"failure": "FAILED", "error": "ERROR", "skipped": "skipped"}[tag]
                message = (el.get("message") or "").splitlines()[0][:160] if el.get("message") else ""
                break
        props = {p.get("name"): p.get("value") for p in tc.iter("property")}
        yield cid, outcome, float(tc.get("time", 0) or 0), props, message


def merge(src, out):
    files = sorted(Path(src).rglob("junit*.xml"))
    seen, rows, problems = {}, [], []
    for f in files:
        for cid, outcome, secs, props, msg in cases(f):
            if cid in seen:
                problems.append(f"{cid} ran in two shards ({seen[cid]} and {f.parent.name})")
            seen[cid] = f.parent.name
            rows.append((cid, outcome, secs, props, msg, f.parent.name))
    keys = sorted({k for r in rows for k in r[3]})
    lines = ["# Nightly regression report", "",
             f"{len(rows)} cases from {len(files)} shard report(s): "
             f"{sum(r[1] == 'passed' for r in rows)} passed, "
             f"{sum(r[1] in ('FAILED', 'ERROR') for r in rows)} failed, "
             f"{sum(r[1] == 'skipped' for r in rows)} skipped; "
             f"{sum(r[2] for r in rows) / 60:.1f} min of test time.", ""]
    lines += [f"- {p}" for p in problems]
    lines += ["", "| case | outcome | seconds | " + " | ".join(keys) + " | shard | note |",
              "|---|---|---|" + "---|" * len(keys) + "---|---|"]
    for cid, outcome, secs, props, msg, shard in rows:
        vals = " | ".join(props.get(k, "") for k in keys)
        lines.append(f"| `{cid}` | {outcome} | {secs:.1f} | {vals} | {shard} | {msg} |")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text("\n".join(lines) + "\n")
    failed = any(r[1] in ("FAILED", "ERROR") for r in rows) or bool(problems) or not rows
    return (1 if failed else 0), out / "report.md"


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m verif.nightly_report SRC_DIR OUT_DIR", file=sys.stderr)
        return 2
    code, path = merge(*argv)
    print(f"nightly report: {path} ({'failures' if code else 'all passed'})")
    return code


if __name__ == "__main__":
    sys.exit(main())
