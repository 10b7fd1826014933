"""Merge the nightly regression's JUnit reports into one Markdown report.

``python -m verif.nightly_report SRC_DIR OUT_DIR [BASELINE.md ...]`` reads every
``junit*.xml`` below SRC_DIR (one per shard of ``make nightly SHARD=i/n``), and writes
``OUT_DIR/report.md``: per case its outcome, wall time and the properties the test
recorded (cycles measured against the model, latency, simulator speed, seed: see
:mod:`verif.nightly`), and a summary line.

The numbers are compared with the committed bench tables given as baselines (``make
nightly`` passes ``bench/nightly.md`` and ``bench/results.md``):

- a case of an earlier night's report table (``bench/nightly.md``, the same case id and,
  where the case records one, the same seed): any difference in ``cycles_per_frame``,
  ``latency``, ``cycles_model`` or ``latency_model`` is a failure; a simulator speed
  (``cycles_per_s``) more than 20 % below the baseline's is a warning in the report
  (machines are noisy);
- a case that ran a design at its default folding (``folding`` = ``default``): its
  models and measured numbers against the ``model cycles/frame`` and ``model latency``
  columns of that design's row in the Networks table (``bench/results.md``).

It exits 1 when a case failed or errored, when a number differs from a baseline, or when
two shards ran the same case (the shards must split the cases, each exactly once). Only
the standard library is used, so the merge job needs no project install.
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


EXACT = ("cycles_per_frame", "latency", "cycles_model", "latency_model")
SLOWDOWN = 0.8   # a simulator speed below this share of the baseline's is flagged


def md_tables(text):
    """Every Markdown table in ``text``: a list of rows, each {column header: cell}."""
    tables, rows, header = [], None, None
    for line in text.splitlines() + [""]:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.lstrip().startswith("|"):
            if header is not None:
                tables.append(rows)
                header = None
        elif header is None:
            header, rows = cells, []
        elif not set("".join(cells)) <= set("-: "):    # not the |---| line
            rows.append(dict(zip(header, cells)))
    return tables


def number(cell):
    """The first number of a table cell ('4,608 (0.00 %)' -> 4608.0), or None."""
    token = (cell or "").replace(",", "").replace("`", "").split(" ")[0]
    try:
        return float(token)
    except ValueError:
        return None


def baselines(paths):
    """(case id -> row of an earlier night's report, design -> Networks table row)."""
    nights, designs = {}, {}
    for path in paths:
        for table in md_tables(Path(path).read_text()):
            for row in table:
                key = row.get("case", "").strip("`")
                if key:
                    nights[key] = (row, path)
                if "design" in row and "model cycles/frame" in row:
                    designs[row["design"].strip("`")] = (row, path)
    return nights, designs


def compare(cid, props, nights, designs):
    """(failures, warnings) of one passed case against the baselines."""
    failures, warnings = [], []
    if cid in nights:
        row, path = nights[cid]
        if "seed" not in props or number(row.get("seed")) == number(props["seed"]):
            for key in EXACT:
                old, new = number(row.get(key)), number(props.get(key))
                if old is not None and new is not None and old != new:
                    failures.append(f"{cid}: {key} {new:g}, {old:g} in {path}")
            old, new = number(row.get("cycles_per_s")), number(props.get("cycles_per_s"))
            if old and new and new < SLOWDOWN * old:
                warnings.append(f"{cid}: simulator speed {new:,.0f} cycles/s, "
                                f"{old:,.0f} in {path} ({100 * (1 - new / old):.0f} % slower)")
    if props.get("folding") == "default" and props.get("design") in designs:
        row, path = designs[props["design"]]
        for key, col in (("cycles_model", "model cycles/frame"),
                         ("cycles_per_frame", "model cycles/frame"),
                         ("latency_model", "model latency"), ("latency", "model latency")):
            old, new = number(row.get(col)), number(props.get(key))
            if old is not None and new is not None and old != new:
                failures.append(f"{cid}: {key} {new:g}, {col} {old:g} in {path}")
    return failures, warnings


def merge(src, out, baseline=()):
    files = sorted(Path(src).rglob("junit*.xml"))
    nights, designs = baselines(p for p in baseline if Path(p).exists())
    seen, rows, problems, warnings = {}, [], [], []
    for f in files:
        for cid, outcome, secs, props, msg in cases(f):
            if cid in seen:
                problems.append(f"{cid} ran in two shards ({seen[cid]} and {f.parent.name})")
            seen[cid] = f.parent.name
            rows.append((cid, outcome, secs, props, msg, f.parent.name))
            if outcome == "passed":
                bad, slow = compare(cid, props, nights, designs)
                problems += bad
                warnings += slow
    keys = sorted({k for r in rows for k in r[3]})
    lines = ["# Nightly regression report", "",
             f"{len(rows)} cases from {len(files)} shard report(s): "
             f"{sum(r[1] == 'passed' for r in rows)} passed, "
             f"{sum(r[1] in ('FAILED', 'ERROR') for r in rows)} failed, "
             f"{sum(r[1] == 'skipped' for r in rows)} skipped; "
             f"{sum(r[2] for r in rows) / 60:.1f} min of test time; "
             f"{len(problems)} problem(s), {len(warnings)} warning(s).", ""]
    if baseline:
        lines += ["Baselines: " + ", ".join(str(p) for p in baseline) + ".", ""]
    lines += [f"- problem: {p}" for p in problems]
    lines += [f"- warning: {w}" for w in warnings]
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
    if len(argv) < 2:
        print("usage: python -m verif.nightly_report SRC_DIR OUT_DIR [BASELINE.md ...]",
              file=sys.stderr)
        return 2
    code, path = merge(argv[0], argv[1], argv[2:])
    print(f"nightly report: {path} ({'failures' if code else 'all passed'})")
    return code


if __name__ == "__main__":
    sys.exit(main())
