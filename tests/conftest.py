"""Shared pytest fixtures: the simulator matrix, the nightly marker and shards.

Every simulation test takes the ``sim`` fixture and so runs on Icarus and on Verilator.
A missing simulator skips its tests with the install hint, except under ``CI=true``
where it is an error: CI must never pass by skipping.

``--shard i/n`` keeps every n-th collected test from the i-th on (in node-id order), so
that n runners together run each test exactly once (``make nightly SHARD=i/n``).
"""

import os

import pytest

from verif import simulators


def pytest_addoption(parser):
    parser.addoption("--sim", action="append", default=None,
                     help="simulator(s) to run (icarus, verilator); default both")
    parser.addoption("--shard", default=None, metavar="I/N",
                     help="run only shard I of N (1 <= I <= N) of the selected tests")


def _shard(text):
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        raise pytest.UsageError(f"--shard {text!r} is not understood: give I/N with "
                                "1 <= I <= N, e.g. 2/4")
    return i, n


def pytest_collection_modifyitems(config, items):
    text = config.getoption("shard")
    if not text:
        return
    i, n = _shard(text)
    order = sorted(range(len(items)), key=lambda k: items[k].nodeid)
    mine = {k for rank, k in enumerate(order) if rank % n == i - 1}
    config.hook.pytest_deselected(items=[it for k, it in enumerate(items) if k not in mine])
    items[:] = [it for k, it in enumerate(items) if k in mine]


def pytest_generate_tests(metafunc):
    if "sim" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("sim") or list(simulators.SIMULATORS)
        metafunc.parametrize("sim", chosen, indirect=True)


@pytest.fixture
def sim(request):
    name = request.param
    try:
        simulators.check(name)
    except simulators.SimulatorMissing as exc:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"simulator {name} missing under CI: {exc}")
        pytest.skip(str(exc))
    return name
