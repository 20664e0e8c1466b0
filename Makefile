# Ballast: every target installs what it needs first; a second run skips what is done.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PY ?= python3
VENV := $(CURDIR)/.venv
STAMPS := $(CURDIR)/.stamps
SOLC_VERSION := 0.8.28
SOLC_BIN := $(HOME)/.solcx/solc-v$(SOLC_VERSION)
export PATH := $(CURDIR)/node_modules/.bin:$(VENV)/bin:$(PATH)
# ape compiles in an isolated copy of the project under the temp dir, unless the project itself
# is in the temp dir (a clone under /tmp): then it unpacks every dependency into
# contracts/.cache, and its 500-file source scan can miss our own contracts. A temp dir of our
# own keeps the isolation wherever the clone lives; one per checkout, so that two checkouts
# (git worktrees) compiling at once do not share ape's isolated copy.
export TMPDIR := $(HOME)/.cache/ballast-tmp/$(shell printf '%s' '$(CURDIR)' | md5sum | cut -c1-10)
$(shell mkdir -p $(TMPDIR))
export APE_TEST_ARGS ?=
CONTRACTS := $(shell find contracts -name '*.sol' 2>/dev/null)

.PHONY: FORCE help setup compile abis docs slither prove halmos-venv kms-venv test test-durations test-deep test-slow test-all demo demo-crosschain lint fmt gas bench clean

help:
	@echo "make demo       run the fund on a local anvil chain the project starts itself"
	@echo "make demo-crosschain  three local chains, USDC/USDT inventory rebalanced"
	@echo "make test       run the tests (slow suites excluded; make test-slow runs them)"
	@echo "make test-durations  refresh tests/file_durations.json from the last make test"
	@echo "make test-deep  the invariant suites at 10,000 sequences each (runs and time printed)"
	@echo "make prove      symbolic proofs (halmos) of the budget, executor and escrow rules"
	@echo "make docs       build the documentation site (docs/ -> .build/site, strict: a broken link fails)"
	@echo "make slither    static-analysis gate (High/Medium findings must be triaged)"
	@echo "make abis       re-export the ABIs the keepers call (keepers/abis/) from the build"
	@echo "make lint       ruff + mypy over keepers/, ballast_dev/ and scripts/"
	@echo "make gas        rewrite the committed gas snapshot (gas-snapshot.json)"
	@echo "make bench      benchmarks (gas against baselines measured in the same run)"

# keepers/version.py: the package version (pyproject reads it) is in the installed metadata
$(STAMPS)/venv: pyproject.toml keepers/version.py
	@mkdir -p $(STAMPS)
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	bash scripts/toolchain/install_python.sh $(VENV) -e ".[dev]"
	@touch $@

$(STAMPS)/npm: package.json package-lock.json
	@mkdir -p $(STAMPS)
	npm ci --no-audit --no-fund --loglevel=error --legacy-peer-deps
	@touch $@

# The wrapper under ~/.solcx is shared by every checkout on the machine: re-point it when it
# runs another checkout's solc-js (which may since have been deleted).
SOLC_STALE := $(shell grep -qsF 'node "$(CURDIR)/scripts/toolchain/solc-wrapper.js"' $(SOLC_BIN) || echo FORCE)
$(SOLC_BIN): $(STAMPS)/npm scripts/toolchain/setup.sh scripts/toolchain/solc-wrapper.js $(SOLC_STALE)
	bash scripts/toolchain/setup.sh

FORCE:

$(STAMPS)/compile: $(STAMPS)/venv $(SOLC_BIN) ape-config.yaml $(CONTRACTS)
	rm -rf contracts/.cache
	ape compile --force
	@touch $@

setup: $(STAMPS)/venv $(STAMPS)/npm $(SOLC_BIN)
compile: setup $(STAMPS)/compile abis

# The ABIs the keepers call, from the build into keepers/abis/ (committed package data: the
# runtime wheel needs no build). Commit what it rewrites; tests/offchain/abis fails when stale.
abis: $(STAMPS)/compile
	python -m scripts.toolchain.export_abis

# The documentation site: the reference pages regenerated from the code (settings, CLI, the
# contracts' NatSpec, metrics), then the strict build (tests/offchain/docs runs the same build
# and fails when a generated page is stale; commit what this rewrites).
docs: compile
	python -m scripts.docs.gen_reference
	NO_MKDOCS_2_WARNING=1 mkdocs build --strict

# The symbolic proofs' own venv (scripts/toolchain/halmos_venv.sh): made before the suite so that
# the tests of the proofs' launcher and solver program run on a fresh clone instead of skipping.
halmos-venv:
	bash scripts/toolchain/halmos_venv.sh

# The KMS stand-in's own venv (scripts/toolchain/kms_venv.sh: LocalStack's KMS, which signs a
# DIGEST as AWS does): the aws-kms signer's tests start it on loopback.
kms-venv:
	bash scripts/toolchain/kms_venv.sh

# The ape suite, with the invariant suites, slither and the fork rehearsal beside it
# (scripts/toolchain/test.sh says why and how the exit code is kept).
test: compile halmos-venv kms-venv
	bash scripts/toolchain/test.sh

# Seconds per test file from the last `make test` (.build/test-results.xml): xdist hands the
# files to the workers longest first (tests/support/file_order.py). Commit what it rewrites.
test-durations:
	python scripts/toolchain/file_durations.py .build/test-results.xml tests/file_durations.json

# The adversarial invariant suites at depth: 10,000 sequences per suite (runs and time printed).
test-deep: setup
	bash scripts/toolchain/invariant.sh deep

prove: setup
	bash scripts/toolchain/prove.sh full
	python -m scripts.toolchain.prove_mutations  # each proof must fail on its mutation

slither: setup
	bash scripts/toolchain/slither.sh

test-slow: compile halmos-venv kms-venv
	ape test tests -m "slow and not fork" $(APE_TEST_ARGS)

test-all: compile halmos-venv kms-venv
	ape test tests -m "not bench and not fork" $(APE_TEST_ARGS)
	bash tests/fork/run.sh

demo: compile
	ape run demo

demo-crosschain: compile
	python -m scripts.demo_crosschain

# every test file that calls check_snapshot (tests/support/gaslib.py), whatever its tests are named
GAS_TESTS = $(shell grep -rl --include='test_*.py' check_snapshot tests)
gas: compile
	UPDATE_GAS_SNAPSHOT=1 ape test $(GAS_TESTS) -m "not slow and not bench"
	python -m scripts.docs.gen_reference  # docs/reference/gas.md follows the snapshots

bench: compile
	BALLAST_APE_SPEEDUPS=0 ape test tests/bench -m bench -s  # production ape: no test speed-ups

lint: setup
	ruff check keepers ballast_dev scripts tests
	ruff format --check keepers ballast_dev scripts tests
	mypy keepers ballast_dev scripts

fmt: setup
	ruff format keepers ballast_dev scripts tests
	ruff check --fix keepers ballast_dev scripts tests

clean:
	rm -rf .build .stamps .cache
