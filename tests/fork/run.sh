#!/usr/bin/env bash
# Forked-chain integration tests, as operators rehearse before mainnet:
#   1. an "upstream" anvil on 127.0.0.1:8645 holds the full local deployment: deployed by
#      scripts/deploy.py the first time (its anvil state is dumped), reloaded from that dump with
#      anvil_loadState on later runs, so the upstream starts from a known snapshot;
#   2. `ape test tests/fork --network ethereum:upstream-fork:foundry` runs the keepers against an
#      ape-foundry fork of it; the tests check that nothing touched the upstream.
set -euo pipefail
cd "$(dirname "$0")/../.."
# The rehearsal network is declared as an operator declares theirs: in a user-level ape config
# (deploy/ape/rehearsal.ape-config.yaml), here in an ape data folder of its own that shares the
# installed packages and accounts; the project's ape-config.yaml declares no custom network.
real_home=${APE_DATA_FOLDER:-$HOME/.ape}
home=$PWD/.build/ape-home-rehearsal
mkdir -p "$real_home/packages" "$real_home/accounts" "$home"
ln -sfn "$real_home/packages" "$home/packages"
ln -sfn "$real_home/accounts" "$home/accounts"
cp deploy/ape/rehearsal.ape-config.yaml "$home/ape-config.yaml"
export APE_DATA_FOLDER=$home
port=8645
# The upstream's profile. local-safe.yaml (default): the admin is the Safe of alice, bob and
# carol (2 of 3) and the fund keeper moves only through the PlanExecutor, large plans with two
# owners' EIP-712 signatures; the tests act as the admin through the Safe (owners sign, the
# deployer sends). local.yaml: the admin is test account 1 and the keeper calls the controller.
profile=${FORK_PROFILE:-scripts/profiles/local-safe.yaml}
state=.build/fork-upstream-state-$(basename "$profile" .yaml).json
# the deployment record the tests and keepers read belongs to the state it was deployed with:
# kept beside it, put back on a reload (the last deploy of ANOTHER profile overwrote it)
record=scripts/deployments/ethereum-upstream.json
saved_record=${state%.json}.record.json
log=.build/fork-upstream.log
pid=
# waited for once killed: its CPU is then counted in this script's (make test's phases line)
cleanup() { [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; } || true; }
trap cleanup EXIT

if curl -s -o /dev/null "127.0.0.1:$port"; then
  echo "port $port is already in use: stop what listens there (another upstream node?)" >&2
  exit 1
fi
anvil --port $port --silent > "$log" 2>&1 & pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "127.0.0.1:$port" && break; sleep 0.1; done
kill -0 "$pid" 2>/dev/null || { echo "upstream anvil did not start:" >&2; cat "$log" >&2; exit 1; }

if ! [ -s "$state" ] || ! [ -s "$saved_record" ] || [ "$state" -ot .stamps/compile ] \
  || [ "$state" -ot "$profile" ]; then
  # first run (or contracts/profile changed): deploy into this node and keep it running; the
  # record of an earlier upstream names contracts this fresh node does not have (the deploy
  # would refuse to resume from it)
  rm -f "$record" "$saved_record"
  # bounded: a deploy that waits on the node (for example for confirmations a node that only
  # mines on demand never gives) must fail here with its log, not use up CI's time
  if ! timeout 900 ape run deploy --profile "$profile" --network ethereum:upstream:node --dump-state "$state" > "$log.deploy" 2>&1; then
    echo "deploying the upstream failed (or took over 900 s):" >&2; tail -40 "$log.deploy" >&2
    rm -f "$state"; exit 1
  fi
  cp "$record" "$saved_record"
else
  # anvil_dumpState's hex (gzip) goes back in through anvil_loadState
  python3 - "$state" $port <<'PY'
import json, sys, urllib.request
state, port = open(sys.argv[1]).read().strip(), sys.argv[2]
req = urllib.request.Request(f"http://127.0.0.1:{port}", json.dumps(
    {"jsonrpc": "2.0", "id": 1, "method": "anvil_loadState", "params": [state]}).encode(),
    {"Content-Type": "application/json"})
out = json.load(urllib.request.urlopen(req))
if out.get("result") is not True:
    sys.exit(f"anvil_loadState failed: {out}")
PY
  cp "$saved_record" "$record"
fi

# each test bounded (pytest-timeout), as in the ape suite: a hang fails with its name
run() { ape test tests/fork --network ethereum:upstream-fork:foundry -m "fork" --timeout=600 "$@"; }
# exit 3 is pytest's INTERNALERROR: here, ape-foundry failing to start the fork node (seen once
# under load when a port it picked was taken); test failures (exit 1) are never retried
rc=0; run "$@" || rc=$?
if [ $rc -eq 3 ]; then echo "fork node did not start; retrying once" >&2; rc=0; run "$@" || rc=$?; fi
exit $rc
