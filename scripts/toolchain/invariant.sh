#!/usr/bin/env bash
# Adversarial invariant suites (tests/invariant, forge): `fast` (make test) or `deep`
# (make test-deep: 10,000 sequences per suite). forge and the solc-js wrapper come from the
# project's own set-up (npm, scripts/toolchain/setup.sh); nothing is downloaded.
# usage: invariant.sh [fast|deep] [extra forge args...]
set -euo pipefail
cd "$(dirname "$0")/../.."
profile=${1:-fast}; shift || true
case "$profile" in
  fast) export FOUNDRY_PROFILE=default ;;
  deep) export FOUNDRY_PROFILE=deep ;;
  *) echo "invariant.sh: profile must be fast or deep, got '$profile'" >&2; exit 2 ;;
esac
solc="${SOLCX_BINARY_PATH:-$HOME/.solcx}/solc-v0.8.28"
[ -x "$solc" ] || { echo "no solc wrapper at $solc: run make setup" >&2; exit 1; }
forge=node_modules/.bin/forge
[ -x "$forge" ] || { echo "no forge at $forge: run make setup (npm ci)" >&2; exit 1; }
mkdir -p .build
start=$(date +%s)
"$forge" test --use "$solc" --offline "$@" | tee .build/forge-invariant-$profile.log
rc=${PIPESTATUS[0]}
# runs of invariant campaigns and fuzzed properties (ERC4626Props.t.sol) alike; calls are the
# invariant campaigns' (a grep with no match is no failure: a run of fuzzed properties alone)
log=.build/forge-invariant-$profile.log
runs=$( { grep -o 'runs: [0-9]*' "$log" || true; } | awk '{r+=$2} END {print r+0}')
calls=$( { grep -o 'calls: [0-9]*' "$log" || true; } | awk '{c+=$2} END {print c+0}')
passed=$( { grep -c '^\[PASS\]' "$log" || true; } )
failed=$( { grep -c '^\[FAIL' "$log" || true; } )
echo "invariant suites ($profile): $passed properties passed, $failed failed; $runs runs, $calls calls in $(( $(date +%s) - start )) s"
exit "$rc"
