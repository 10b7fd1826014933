"""Shared pytest fixtures: the simulator matrix and the nightly marker.

Every simulation test takes the ``sim`` fixture and so runs on Icarus and on Verilator.
A missing simulator skips its tests with the install hint, except under ``CI=true``
where it is an error: CI must never pass by skipping.
"""

import os

import pytest

from verif import simulators


def pytest_addoption(parser):
    parser.addoption("--sim", action="append", default=None,
                     help="simulator(s) to run (icarus, verilator); default both")


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
