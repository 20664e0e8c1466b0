"""The playbook "a venue becomes unsafe" (docs/playbooks/venue-unsafe.md) walked end to end on
the local fund, running the blocks the page marks ``<!-- example: playbook venue-unsafe -->``
as written, in order, each a bash script (``set -euo pipefail``) with the variables the
playbooks' index sets (``RECORD``, ``CONTROLLER``, ``SAFE``, ``DELAY``, ``GUARDIAN_KEY``, ...;
the test sets them from the local deployment) and the page's own (its first block, ``VENUE``,
``OTHER`` and ``TOKEN`` read from the record with jq, run before each later block): real ``cast`` (npm's
``@foundry-rs/cast-linux-amd64``), the ``keeper`` CLI, and ``python -m ballast_dev.playbooks``
from the checkout. Between the page's step 3 and its next block the owners do what the page
tells them to do in Safe{Wallet}: the test reads the batch files the page's command wrote,
checks their checksums and executes each as a Safe transaction two of the three owners sign
(the schedule, then the execute; the local timelock's delay is 0).

The local fund (tests/support/fixtures_fund.py: the local profile, 2M deposited, rebalanced)
has six venues of 15% each, so its top-3 limit (60%) leaves no room for a venue's whole
position: the first plan moves what fits and leaves the rest in the venue, which is why the
page's step 3 (the timelock raises MMF-A's limits and the top-3 limit) exists. The admin here
is the local profile's account; the Safe (alice, bob, carol, 2 of 3) is made the timelock's
proposer and executor first, as a Safe profile's deploy leaves it. The keeper runs with the
fund-bot tests' approval thresholds (no plan waits for signatures: ``keeper approve`` is walked
by the operator tests).

The fund ends with MMF-B de-listed and empty, every tier in its band, MMF-A holding the tier.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from web3 import HTTPProvider, Web3

from ballast_dev.deployment import txbuilder as tb
from tests.support.docs_examples import PLAYBOOKS, examples
from tests.support.fundbotlib import NO_APPROVAL, ROOT, local_fund_env
from tests.support.safe_web3 import exec_safe_tx, safe_at

PAGE = "venue-unsafe"
VENUE, OTHER = "MMF-B", "MMF-A"
BATCH = "raise-limits"  # the Safe batch the page's step 3 makes


def cast_bin() -> str:
    """Real cast: the project's npm package (``make setup``), else one on PATH."""
    for c in (os.environ.get("BALLAST_CAST"), str(ROOT / "node_modules/.bin/cast"),
              shutil.which("cast")):  # fmt: skip
        if c and Path(c).exists():
            return c
    pytest.fail("cast not found: run `make setup` (npm's @foundry-rs/cast-linux-amd64)")


def walked_blocks() -> list[str]:
    return [e.code for e in examples(PLAYBOOKS) if e.mark == f"playbook {PAGE}"]


def give_timelock_to_safe(fund: Any, safe: Any, admin: Any) -> None:
    """The Safe proposes and executes on the timelock (as the Safe profiles deploy it): the
    local admin schedules and executes the two grants (delay 0)."""
    t = fund.timelock
    targets = [t.address, t.address]
    datas = [
        t.grantRole.encode_input(t.PROPOSER_ROLE(), safe.address),
        t.grantRole.encode_input(t.EXECUTOR_ROLE(), safe.address),
    ]
    salt = b"\x00" * 32
    t.scheduleBatch(targets, [0, 0], datas, b"\x00" * 32, salt, 0, sender=admin)
    t.executeBatch(targets, [0, 0], datas, b"\x00" * 32, salt, sender=admin)
    assert t.hasRole(t.PROPOSER_ROLE(), safe.address)


def run_batch_as_owners(
    w3: Web3, path: Path, safe: str, owner_keys: list[str], sender: str
) -> None:
    """What the owners do with a batch file in Safe{Wallet}: import it, sign, execute."""
    batch = json.loads(path.read_text())
    assert batch["meta"]["checksum"] == tb.checksum(batch), path
    assert batch["meta"]["createdFromSafeAddress"].lower() == safe.lower()
    assert int(batch["chainId"]) == w3.eth.chain_id
    calls = tb.calls_of(batch)
    tx = tb.safe_transaction(calls)
    assert tx.operation == tb.CALL  # one call: the app sends it as itself
    receipt = exec_safe_tx(w3, safe_at(w3, safe), tx.to, tx.data, owner_keys, sender)
    assert receipt["status"] == 1, path


def tiers_in_band(fund: Any) -> list[tuple[int, int, int]]:
    s = fund.lens.fundState(fund.controller.address)
    return [
        (int(r), int(t.minBps), int(t.maxBps)) for r, t in zip(s.tierRatioBps, s.tiers, strict=True)
    ]


def test_playbook_venue_unsafe__walked_as_written__venue_empty_delisted_tiers_in_band(
    safe: Any, fresh: Any, chain: Any, accounts: Any, alice: Any, bob: Any, tmp_path: Path
) -> None:
    started = time.monotonic()
    fund = fresh
    setup, *blocks = walked_blocks()
    assert len(blocks) == 5, "the page's walked blocks changed: update this walk"
    assert f"VENUE={VENUE}" in setup and f"OTHER={OTHER}" in setup
    give_timelock_to_safe(fund, safe, accounts[1])
    record = {**fund.addresses(), "chain_id": chain.chain_id, "safe": safe.address}
    record_path = tmp_path / "ethereum-local.json"
    record_path.write_text(json.dumps(record, default=str))
    token = record["assets"][VENUE]
    cast = cast_bin()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "REBALANCE_"))},
        **local_fund_env(chain, record_path, f"sqlite:///{tmp_path}/keeper.db"),
        **NO_APPROVAL,
        "KEEPER_SIGNER_KEY": accounts[2].private_key,
        # the playbooks' variables (docs/playbooks/index.md) and the page's own
        "ETH_RPC_URL": chain.provider.uri,
        "RECORD": str(record_path),
        "CONTROLLER": record["controller"],
        "VAULT": record["vault"],
        "TIMELOCK": record["timelock"],
        "SAFE": safe.address,
        "DELAY": str(fund.timelock.getMinDelay()),
        "GUARDIAN_KEY": accounts[3].private_key,
        "PATH": os.pathsep.join(
            [str(Path(cast).parent), str(Path(sys.executable).parent), os.environ.get("PATH", "")]
        ),  # fmt: skip
        "PYTHONPATH": str(ROOT),  # `python -m ballast_dev.playbooks` from the checkout
    }
    held = fund.assets[VENUE].balanceOf(fund.controller)
    assert held > 0

    def run(i: int) -> str:
        script = setup + "\n" + blocks[i]
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)  # fmt: skip
        assert r.returncode == 0, f"block {i + 1}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r.stdout

    # 1. the guardian freezes the venue
    run(0)
    assert fund.controller.assetParams(token).cap == 0
    # 2. the keeper moves out what the tier's limits let it: part of it stays
    out = run(1)
    left = fund.assets[VENUE].balanceOf(fund.controller)
    assert 0 < left < held, out
    # 3. the page's generator writes the timelock batches; the owners run them
    run(2)
    w3 = Web3(HTTPProvider(chain.provider.uri))
    owners = [alice.private_key, bob.private_key]
    for step in ("schedule", "execute"):
        path = tmp_path / "batches" / f"{BATCH}.{step}.json"
        run_batch_as_owners(w3, path, safe.address, owners, accounts[8].private_key)
    assert fund.controller.assetParams(record["assets"][OTHER]).maxConcentrationBps == 3500
    assert fund.controller.riskParams().maxTop3Bps == 7000
    # 4. the keeper moves the rest
    run(3)
    assert fund.assets[VENUE].balanceOf(fund.controller) <= 10**6  # dust: a millionth or less
    # 5. the guardian de-lists it
    out = run(4)
    assert token not in list(fund.controller.assetList())
    bands = tiers_in_band(fund)
    assert all(lo <= r <= hi for r, lo, hi in bands), (bands, out)
    print(f"playbook {PAGE} walked in {time.monotonic() - started:.1f} s")
