#!/usr/bin/env bash
# Static-analysis gate (issue 11): slither over every production contract (contracts/, not
# contracts/test/), through crytic-compile's solc-json mode because our solc is the solc-js
# wrapper, which speaks only --standard-json. Fails on any High/Medium finding that
# scripts/toolchain/slither-triage.yaml does not explain. slither lives in its own venv: its
# pins of web3 and eth-* packages do not fit eth-ape's.
set -euo pipefail
cd "$(dirname "$0")/../.."
# A report is reused when everything it is made from is unchanged (scripts/toolchain/
# slither_cache.py: the key hashes the input below, the npm sources it imports and this script;
# the cache is ~/.cache/ballast/slither, BALLAST_SLITHER_CACHE=0 bypasses it). The gate always
# runs on the report, so a triage edit is judged at once. A miss (any contract edited, or an
# empty cache, as on a fresh CI machine) makes the venv if needed and runs slither whole.
venv=.venv-slither
mkdir -p .build
.venv/bin/python scripts/toolchain/slither_input.py .build/slither-input.json
start=$(date +%s)
rm -f .build/slither.json  # slither refuses to overwrite it, and the gate must not read a stale one
key=$(.venv/bin/python scripts/toolchain/slither_cache.py key .build/slither-input.json)
if [ "${BALLAST_SLITHER_CACHE:-1}" != 0 ] \
    && .venv/bin/python scripts/toolchain/slither_cache.py get "$key" .build/slither.json; then
  echo "slither: these sources' report from the cache (key ${key:0:16}; BALLAST_SLITHER_CACHE=0 runs slither again)"
else
  if ! [ -x "$venv/bin/slither" ]; then
    python3 -m venv "$venv"
    bash scripts/toolchain/install_python.sh "$venv" slither-analyzer==0.11.6
  fi
  # slither exits non-zero whenever it reports anything: the gate below decides
  BALLAST_SOLC_EMPTY_EVM=1 "$venv/bin/slither" .build/slither-input.json --compile-force-framework solc-json \
    --solc "${SOLCX_BINARY_PATH:-$HOME/.solcx}/solc-v0.8.28" --filter-paths node_modules \
    --exclude-informational --exclude-low --exclude-optimization \
    --json .build/slither.json > .build/slither.log 2>&1 || true
  if ! [ -s .build/slither.json ]; then
    echo "slither produced no report:" >&2; tail -30 .build/slither.log >&2; exit 1
  fi
  [ "${BALLAST_SLITHER_CACHE:-1}" = 0 ] || .venv/bin/python scripts/toolchain/slither_cache.py put "$key" .build/slither.json || true
fi
.venv/bin/python scripts/toolchain/slither_gate.py .build/slither.json scripts/toolchain/slither-triage.yaml
echo "slither: $(( $(date +%s) - start )) s"
