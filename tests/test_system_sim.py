"""Partitioned designs simulated through channel models: bit-exact against the model with
every internal stream of every partition watched, replays under bit errors, and the
system frame interval met without errors."""

import pytest

from rtl_gen.compiler.partition import partition
from rtl_gen.compiler.partition_build import compile_partitions
from rtl_gen.designs.networks import DEFAULT_TARGET, design
from verif.harness import BUILD
from verif.lint import lint
from verif.system_sim import run_system, write_system


def parts_of(name, sub, **kw):
    """Partitions of ``name`` generated into a folder of this module's own (``make sim``
    and the handoff tests write ``<name>_parts<K>`` with another seed's weights)."""
    pp = partition(design(name), target_cycles=DEFAULT_TARGET[name], **kw)
    pdz = compile_partitions(pp, BUILD / "designs" / f"{name}_system_{sub}", cache=BUILD / "rtl",
                             check=lambda rtl: lint(rtl.files, rtl.top))
    return pdz, write_system(pdz)


def test_resnet_block_down_user_cut(sim):
    """A user cut after the add (before the last thresholding): without errors the
    system interval is met exactly; with errors still bit-exact, replays counted."""
    pdz, sd = parts_of("resnet_block_down", "cut_add", cuts=["b1_add"])
    if sim == "icarus":   # slow with a probe per stream: the run with errors only
        noisy = run_system(pdz, sim, frames=2, seed=1, ber=2e-5, system=sd, label="ber")
        assert noisy.replays > 0 and noisy.crc_errors > 0, noisy.summary()
        return
    clean = run_system(pdz, sim, frames=2, seed=2, ber=0.0, system=sd, label="clean")
    assert clean.replays == 0 and clean.crc_errors == 0
    assert clean.intervals == [pdz.cycles_per_frame()], clean.summary()
    assert clean.res.probe_first, "no internal stream was probed"
    noisy = run_system(pdz, sim, frames=2, seed=1, ber=2e-5, system=sd, label="ber")
    assert noisy.replays > 0 and noisy.crc_errors > 0, noisy.summary()


@pytest.mark.parametrize("parts", [2, 3])
def test_tiny_resnet_partitions_with_errors_verilator(parts):
    """tiny_resnet over 2 and 3 partitions (balanced cuts), bit errors forcing replays."""
    pdz, sd = parts_of("tiny_resnet", f"parts{parts}", parts=parts)
    run = run_system(pdz, "verilator", frames=2, seed=3, ber=2e-5, system=sd)
    assert len(run.counters) == parts - 1
    assert run.replays > 0, run.summary()
    assert run.intervals and run.res.latency() > 0


@pytest.mark.nightly
def test_resnet18_three_partitions_one_frame_nightly():
    """ResNet-18 at its default folding in three balanced partitions, one 224x224 frame
    through channel models with bit errors: bit-exact at every layer boundary."""
    pdz, sd = parts_of("resnet18", "parts3", parts=3)
    run = run_system(pdz, "verilator", frames=1, seed=4, ber=1e-6, system=sd)
    assert len(run.counters) == 2 and run.res.latency() > 0, run.summary()
