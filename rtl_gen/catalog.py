"""The catalog: every block configuration that the tests exercise and ``make lint`` checks.

Tests parametrize over ``configs(kind)``, so a configuration added here is both
simulated (on both simulators) and linted.
"""

from rtl_gen.fifo import Fifo


def fifo_configs():
    return [
        Fifo("fifo_w8_d2", width=8, depth=2),
        Fifo("fifo_w13_d5", width=13, depth=5),
        Fifo("fifo_w72_d16", width=72, depth=16),
        Fifo("fifo_w32_d1024", width=32, depth=1024),
    ]


_KINDS = {
    "fifo": fifo_configs,
}


def configs(kind):
    return _KINDS[kind]()


def catalog():
    for make in _KINDS.values():
        yield from make()
