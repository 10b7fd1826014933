"""The Vivado handoff: one folder per compiled top with the simulated RTL, XDC, a Vivado
non-project script, a FuseSoC core, a file list, a manifest and a README.

``check_request`` (``parts.py``) checks the part, clock and partition count before
anything is written; ``write_handoff`` (``writer.py``) writes and checks one folder;
``write_partitioned_handoff`` (``partitioned.py``) one per FPGA of a partition build
(through the ``PartTop`` adapter) and the chain's manifest and README.
The pieces: ``ports.py`` (the top's ports from its Verilog), ``xdc.py`` (the templates
of ``constraints/``, the Aurora lane constraints of a partition's link ends included),
``vivado_tcl.py``, ``fusesoc_core.py``, ``manifest.py``, ``readme.py``, and the checks
that need no Vivado: ``folder_checks.py`` (lint, Icarus, Verilator from the folder) and
``tcl_check.py`` (the script under tclsh with recorders).
"""

from streamqnn.handoff.parts import DEFAULT_CLOCK_MHZ, DEFAULT_PART, PARTS, Target, \
    check_request
from streamqnn.handoff.tcl_check import HandoffCheckFailed
from streamqnn.handoff.writer import check_destination, write_handoff

__all__ = ["DEFAULT_CLOCK_MHZ", "DEFAULT_PART", "PARTS", "HandoffCheckFailed", "Target",
           "check_destination", "check_request", "write_handoff"]
