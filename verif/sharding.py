"""Shards of a test run: ``--shard i/n`` (tests/conftest.py, ``make nightly SHARD=i/n``)
keeps every n-th test from the i-th, in node-id order, so that n runners together run
each test exactly once whatever order each collected them in."""


def parse_shard(text):
    """(i, n) from "i/n" with 1 <= i <= n; ValueError with the valid form otherwise."""
    try:
        i, n = (int(v) for v in str(text).split("/"))
    except ValueError:
        i = n = 0
    if not 1 <= i <= n:
        raise ValueError(f"--shard {text!r} is not understood: give I/N with 1 <= I <= N, "
                         "e.g. 2/4")
    return i, n


def split(nodeids, shard):
    """The indices of ``nodeids`` (a list) that shard "i/n" keeps."""
    i, n = parse_shard(shard)
    order = sorted(range(len(nodeids)), key=lambda k: nodeids[k])
    return {k for rank, k in enumerate(order) if rank % n == i - 1}
