"""Shared pytest fixtures: the simulator matrix, the nightly marker and shards.

Every simulation test takes the ``sim`` fixture and so runs on Icarus and on Verilator.
A missing simulator skips its tests with the install hint, except under ``CI=true``
where it is an error: CI must never pass by skipping.

``--shard i/n`` keeps every n-th collected test from the i-th on (in node-id order), so
that n runners together run each test exactly once (``make nightly SHARD=i/n``).
"""

import os

import pytest

from verif import nightly, sharding, simulators


def pytest_addoption(parser):
    parser.addoption("--sim", action="append", default=None,
                     help="simulator(s) to run (icarus, verilator); default both")
    parser.addoption("--shard", default=None, metavar="I/N",
                     help="run only shard I of N (1 <= I <= N) of the selected tests")


def pytest_collection_modifyitems(config, items):
    text = config.getoption("shard")
    if not text:
        return
    try:
        mine = sharding.split([it.nodeid for it in items], text)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
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


@pytest.fixture
def record_run(record_property):
    """``record_run(cn, res)``: a network run's numbers into the JUnit report (the nightly
    report reads them and compares them with the committed bench tables)."""
    def record(cn, res, **extra):
        for key, value in {**nightly.run_properties(cn, res), **extra}.items():
            record_property(key, value)
    return record
