# StreamQNN: make help lists the targets. The first call creates .venv by itself.
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.streamqnn-installed
TOP     ?= resnet_block
SIM     ?= verilator
FRAMES  ?=
SEED    ?= 1
WAVES   ?= 0
JOBS    ?= 2
SHARD   ?=
PART    ?=
CLOCK_MHZ ?=
PARTS   ?= 1
BER     ?=
# MyHDL orders some statements by Python set iteration: a fixed hash seed makes the
# generated Verilog byte-identical from run to run (simulator builds are cached on it).
export PYTHONHASHSEED := 0

.PHONY: help setup tools test nightly sim lint bench clean handoff estimate

help:
	@echo "StreamQNN targets:"
	@echo "  make test                 fast test suite on Icarus and Verilator (sets up .venv, installs iverilog)"
	@echo "  make sim TOP=<design>     generate + simulate a design against the reference model"
	@echo "                            [SIM=verilator|icarus] [FRAMES=n] [WAVES=1] [SEED=n]"
	@echo "                            [PARTS=k [BER=x]]: k partitions through channel models"
	@echo "  make lint                 verilator --lint-only -Wall -Wno-WIDTHEXPAND on every catalog module"
	@echo "  make bench                measure cycles and Yosys resources, write bench/results.md"
	@echo "  make nightly              the long regression (tests marked nightly), Verilator;"
	@echo "                            [SHARD=i/n] one shard of it; report in build/nightly/"
	@echo "  make handoff TOP=<design> Vivado handoff folder build/handoff/<design>: the simulated RTL,"
	@echo "                            XDC, vivado/build.tcl, FuseSoC core, manifest"
	@echo "                            [PART=<xilinx part>] [CLOCK_MHZ=f] [SEED=n]"
	@echo "                            [PARTS=k]: build/handoff/<design>_parts<k>, one folder per FPGA"
	@echo "  make estimate TOP=<design> Yosys synth_xilinx per layer module (parallel, cached)"
	@echo "                            beside the analytic estimate [PART=<xilinx part>]"
	@echo "  make clean                remove build/ (keep .venv); make distclean also removes .venv"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e .
	@touch $@

setup: $(STAMP)

tools: $(STAMP)
	@$(PY) -m verif.simulators --install

test: tools
	$(PY) -m pytest -n $(JOBS) --junitxml=build/test-report.xml tests

NIGHTLY_XML := build/nightly/junit$(if $(SHARD),-shard-$(subst /,-of-,$(SHARD)),).xml
nightly: tools
	@mkdir -p build/nightly
	$(PY) -m pytest -n $(JOBS) -m nightly --sim verilator $(if $(SHARD),--shard $(SHARD),) \
		--junitxml=$(NIGHTLY_XML) tests; status=$$?; \
		$(PY) -m verif.nightly_report build/nightly build/nightly bench/nightly.md bench/results.md; \
		status2=$$?; [ $$status -ne 0 ] && exit $$status; exit $$status2

sim: tools
	$(PY) -m streamqnn.cli sim $(TOP) --sim $(SIM) $(if $(FRAMES),--frames $(FRAMES),) --seed $(SEED) $(if $(filter 1,$(WAVES)),--waves,) $(if $(PARTS),--parts $(PARTS),) $(if $(BER),--ber $(BER),)

lint: $(STAMP)
	$(PY) -m verif.lint build/lint

bench: tools
	$(PY) -m verif.bench bench/results.md

handoff: tools
	$(PY) -m streamqnn.cli handoff $(TOP) --seed $(SEED) --parts $(PARTS) --jobs $(JOBS) $(if $(PART),--part $(PART),) $(if $(CLOCK_MHZ),--clock-mhz $(CLOCK_MHZ),)

estimate: $(STAMP)
	$(PY) -m streamqnn.cli estimate $(TOP) --yosys --seed $(SEED) --jobs $(JOBS) $(if $(PART),--part $(PART),)

clean:
	rm -rf build .pytest_cache

distclean: clean
	rm -rf $(VENV) *.egg-info
