#!/usr/bin/env bash
# Symbolic proofs (tests/symbolic, halmos): `fast` (run inside make test) or `full` (make prove).
# halmos proves each `check_*` function for every input within the stated bounds (see the
# docstrings); a counterexample or a solver time-out fails the run. Branching queries are bounded
# by z3's resource limit, not by wall-clock time (scripts/toolchain/halmos_launch.py says why: a
# proof run under load otherwise explores infeasible paths without end). halmos lives in its own venv
# (as slither does: its pins clash with ape's), pinned with its solvers, all from PyPI; it drives
# forge build itself (forge from npm, the project's solc-js wrapper, offline).
# usage: prove.sh [fast|full] [extra halmos args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-fast}; shift || true
# fast: every proof contract but the *SlowProofs ones, and the arithmetic lemmas (about 50 s on
# 2 idle cores); full: all
case "$profile" in
  fast) budget=120s; match='(?<!Slow)Proofs$' ;;   # budget: per assertion query
  full) budget=600s; match='Proofs$' ;;
  *) echo "prove.sh: profile must be fast or full, got '$profile'" >&2; exit 2 ;;
esac
# A pass is kept by the exact inputs it read (scripts/toolchain/result_cache.py: the contracts,
# the proofs, the compiler and npm pins, the launcher, the solver program, the pinned solvers,
# this script): in make test (the fast profile) sources already proved are not proved again, and
# the kept log is printed. Any edit to any of them, extra arguments, BALLAST_PROOF_CACHE=0 or an
# empty cache (a fresh CI machine) runs the proofs whole; only a run that passed is kept. make
# prove (full) always proves.
cache_name="proofs-$profile"
cache_key=
if [ "$profile" = fast ] && [ $# -eq 0 ] && [ "${BALLAST_PROOF_CACHE:-1}" != 0 ]; then
  cache_key=$(python3 scripts/toolchain/result_cache.py key . contracts tests/symbolic foundry.toml \
    package-lock.json scripts/toolchain/prove.sh scripts/toolchain/halmos_launch.py \
    scripts/toolchain/smt_solve.py scripts/toolchain/smt-portfolio scripts/toolchain/halmos_venv.sh \
    scripts/toolchain/solc-wrapper.js)
  mkdir -p .build
  if python3 scripts/toolchain/result_cache.py get "$cache_name" "$cache_key" ".build/halmos-$profile.log"; then
    echo "symbolic proofs ($profile): these exact sources were proved before (key ${cache_key:0:16};" \
      "BALLAST_PROOF_CACHE=0 proves them again); the passing run's last lines:"
    tail -n 3 ".build/halmos-$profile.log"
    exit 0
  fi
fi
venv=.venv-halmos
bash scripts/toolchain/halmos_venv.sh  # halmos and its solvers, pinned (made once)
solc="${SOLCX_BINARY_PATH:-$HOME/.solcx}/solc-v0.8.28"
[ -x "$solc" ] || { echo "no solc wrapper at $solc: run make setup" >&2; exit 1; }
export PATH="$PWD/node_modules/.bin:$PATH" FOUNDRY_PROFILE=symbolic FOUNDRY_SOLC="$solc"
mkdir -p .build
rm -rf .build/halmos  # forge keeps artifacts of contracts since removed, and halmos would run them (5 s to rebuild)
start=$(date +%s)
rlimit=10000
# the launcher checks its bound holds (a hard query given up, easy ones solved) before any proof
"$venv/bin/python" scripts/toolchain/halmos_launch.py --branching-rlimit "$rlimit" --self-check
# and the solver program some proofs use answers with each of its solvers
"$venv/bin/python" scripts/toolchain/smt_solve.py self-check
# rlimit 10,000 per branching query: the fast proofs in 45 s on 2 idle cores (57 s with halmos'
# default 1 ms time-out), and they finish under load (with the time-out they may not)
"$venv/bin/python" scripts/toolchain/halmos_launch.py --branching-rlimit "$rlimit" \
  --forge-build-out .build/halmos/out --match-contract "$match" \
  --solver-timeout-assertion "$budget" "$@" 2>&1 | tee ".build/halmos-$profile.log"
rc=${PIPESTATUS[0]}
# the integer arithmetic that joins some of the proofs above (z3 over unbounded integers)
"$venv/bin/python" tests/symbolic/arithmetic_lemmas.py 2>&1 | tee -a ".build/halmos-$profile.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
# the vault's share maths (issue 68): mulDiv's rounding lemma, then the vault's rules with
# mulDiv summarised by it (z3; make prove only, not in make test's fast set)
if [ "$profile" = full ]; then
  "$venv/bin/python" tests/symbolic/share_maths.py 2>&1 | tee -a ".build/halmos-$profile.log"
  [ "${PIPESTATUS[0]}" -eq 0 ] || rc=1
fi
summary="symbolic proofs ($profile): $(grep -c 'PASS' ".build/halmos-$profile.log") proved, $(grep -cE 'FAIL|TIMEOUT' ".build/halmos-$profile.log") failed or timed out in $(( $(date +%s) - start )) s"
echo "$summary"
echo "$summary" >> ".build/halmos-$profile.log"  # (the last line a cached pass prints again)
if [ "$rc" -eq 0 ] && [ -n "$cache_key" ]; then
  python3 scripts/toolchain/result_cache.py put "$cache_name" "$cache_key" ".build/halmos-$profile.log" || true
fi
exit "$rc"
