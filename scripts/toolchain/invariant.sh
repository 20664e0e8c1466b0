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
# forge's build (.build/forge: out and cache, ~14 MB) is kept between checkouts under
# ~/.cache/ballast/forge-build (BALLAST_FORGE_BUILD_CACHE_DIR moves it, BALLAST_FORGE_BUILD_CACHE=0
# bypasses it): a checkout with no build of its own starts from the last one kept, and forge
# compiles again only the files whose content (or whose imports' content) differs, by its own
# content hashes (a fresh clone otherwise compiled all 107 files through the solc-js wrapper:
# 63 s alone, 346 s beside the ape suite at nice 15). A build only, never a result: every
# campaign still runs, with a new seed. Kept per node_modules location (a checkout whose
# node_modules is its own folder records it relative to the root, so any fresh clone can use
# another's build; a worktree's symlinked node_modules is recorded by its absolute path).
fcache_on=${BALLAST_FORGE_BUILD_CACHE:-1}
nm=$(realpath node_modules 2>/dev/null || echo none)
[ "$nm" = "$(pwd -P)/node_modules" ] && nm=relative
fcache="${BALLAST_FORGE_BUILD_CACHE_DIR:-$HOME/.cache/ballast/forge-build}/$(printf '%s' "$nm" | sha256sum | cut -c1-16)"
if [ "$fcache_on" != 0 ] && [ ! -f .build/forge/cache/solidity-files-cache.json ] \
    && [ -f "$fcache/latest/cache/solidity-files-cache.json" ]; then
  mkdir -p .build/forge
  if cp -r "$fcache/latest/out" "$fcache/latest/cache" .build/forge/ 2>/dev/null; then
    echo "forge build: starting from the build kept in $fcache (forge compiles what changed)"
  else
    rm -rf .build/forge/out .build/forge/cache  # a partial copy: build from nothing
  fi
fi
"$forge" test --use "$solc" --offline "$@" | tee .build/forge-invariant-$profile.log
rc=${PIPESTATUS[0]}
# keep this build for the next checkout when it compiled (the campaigns may have failed): a new
# folder, then the `latest` link renamed onto it (atomic: a reader sees the old or the new)
if [ "$fcache_on" != 0 ] && [ -f .build/forge/cache/solidity-files-cache.json ] \
    && ! grep -qE '^Error|Compiler run failed' .build/forge-invariant-$profile.log; then
  mkdir -p "$fcache"
  keep=$(mktemp -d "$fcache/build.XXXXXX")
  if cp -r .build/forge/out .build/forge/cache "$keep"/ 2>/dev/null; then
    ln -sfn "$(basename "$keep")" "$fcache/latest.$$" && mv -T "$fcache/latest.$$" "$fcache/latest"
    # earlier builds no link points to, an hour old (a reader copying one has long finished)
    find "$fcache" -mindepth 1 -maxdepth 1 -type d -name 'build.*' -mmin +60 \
      ! -name "$(readlink "$fcache/latest")" -exec rm -rf {} + 2>/dev/null || true
  else
    rm -rf "$keep"
  fi
fi
# runs of invariant campaigns and fuzzed properties (ERC4626Props.t.sol) alike; calls are the
# invariant campaigns' (a grep with no match is no failure: a run of fuzzed properties alone)
log=.build/forge-invariant-$profile.log
runs=$( { grep -o 'runs: [0-9]*' "$log" || true; } | awk '{r+=$2} END {print r+0}')
calls=$( { grep -o 'calls: [0-9]*' "$log" || true; } | awk '{c+=$2} END {print c+0}')
passed=$( { grep -c '^\[PASS\]' "$log" || true; } )
failed=$( { grep -c '^\[FAIL' "$log" || true; } )
echo "invariant suites ($profile): $passed properties passed, $failed failed; $runs runs, $calls calls in $(( $(date +%s) - start )) s"
exit "$rc"
