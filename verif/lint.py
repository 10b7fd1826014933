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

from rtl_gen.blocks.catalog import catalog
from rtl_gen.compiler.compile import compile_network, plan
from rtl_gen.designs import DEFAULT_TARGET, design
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


LINT_DESIGNS = ("resnet_block", "resnet_block_down", "tiny_resnet")


def main(argv=None):
    """Lint every catalog block configuration and the small named networks (top module
    and all of its modules together). ``--all`` adds resnet18 and alexnet (slow)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    designs = LINT_DESIGNS + (("resnet18", "alexnet") if "--all" in argv else ())
    argv = [a for a in argv if a != "--all"]
    out = Path(argv[0] if argv else "build/lint")
    failures = 0
    blocks = list(catalog())
    total = len(blocks) + len(designs)
    start = time.time()
    for i, blk in enumerate(blocks, 1):
        rtl = blk.generate(out / blk.name)
        try:
            lint(rtl.files, rtl.top)
            status = "ok"
        except LintError as exc:
            failures += 1
            status = f"FAILED\n{exc}"
        print(f"[{i}/{total}] lint {blk.kind:16s} {blk.name}: {status}", flush=True)
    for j, name in enumerate(designs, len(blocks) + 1):
        t0 = time.time()
        net = design(name)
        cn = compile_network(net, out / "designs" / name,
                             plan_=plan(net, target_cycles=DEFAULT_TARGET[name]),
                             cache=out / "cache")
        try:
            lint(cn.verilog, cn.name)
            status = f"ok ({len(cn.verilog)} modules, {time.time() - t0:.0f} s)"
        except LintError as exc:
            failures += 1
            status = f"FAILED\n{exc}"
        print(f"[{j}/{total}] lint {'network':16s} {name}: {status}", flush=True)
    print(f"lint: {total - failures} clean, {failures} failed ({time.time() - start:.1f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
