"""Verilator lint of generated modules: ``verilator --lint-only -Wall -Wno-WIDTHEXPAND``.

WIDTHEXPAND is waived because MyHDL's mixed-width additions rely on Verilog's (correct)
extension rules; every other warning, WIDTHTRUNC included, is an error.
``python -m verif.lint`` (``make lint``) generates every configuration of the block
catalog and lints each module.
"""

import subprocess
import sys
import time
from pathlib import Path

from verif.simulators import verilator_binary, verilator_env

LINT_FLAGS = ["--lint-only", "-Wall", "-Wno-WIDTHEXPAND"]


class LintError(AssertionError):
    """Verilator reported warnings or errors on a generated module."""


def lint(files, top):
    """Lint ``files`` with ``top`` as top module; raise LintError with Verilator's text."""
    verilog = [str(f) for f in files if str(f).endswith(".v")]
    cmd = [verilator_binary(), *LINT_FLAGS, "--top-module", top, *verilog]
    res = subprocess.run(cmd, env=verilator_env(), capture_output=True, text=True)
    text = (res.stdout + res.stderr).strip()
    problems = [ln for ln in text.splitlines() if ln.startswith("%")]
    if res.returncode != 0 or problems:
        raise LintError(f"verilator lint of module '{top}' failed:\n" + "\n".join(problems or [text]))


def main(argv=None):
    from rtl_gen.catalog import catalog

    out = Path(argv[0] if argv else "build/lint")
    failures = 0
    blocks = list(catalog())
    start = time.time()
    for i, blk in enumerate(blocks, 1):
        rtl = blk.generate(out / blk.name)
        try:
            lint(rtl.files, rtl.top)
            status = "ok"
        except LintError as exc:
            failures += 1
            status = f"FAILED\n{exc}"
        print(f"[{i}/{len(blocks)}] lint {blk.kind:12s} {blk.name}: {status}", flush=True)
    print(f"lint: {len(blocks) - failures} clean, {failures} failed "
          f"({time.time() - start:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
