"""The operator's deploy and hand-over as the operator walk drives them
(tests/offchain/operator/test_operator_walk.py: Sepolia's chain id on a mining anvil, the long
form a custom network).

- :func:`prepare_deploy`: what exists on the operator's chain (operator_chain.existing_chain)
  and the profile that names it by address, written where the operator keeps it;
- :func:`dry_run_deploy` and :func:`deploy`: ``ape run deploy`` as the operator runs it (the dry run
  sends and records nothing; the deploy is unattended, its passphrase from the environment,
  its record complete);
- :func:`read_handover` and :func:`execute_handover`: the hand-over from the Transaction
  Builder batch the deploy writes beside its record, as the Safe's owners do it: check the
  batch (its checksum, its calls the record's checklist, the nonce and SafeTx hash it states
  against the Safe's own ``getTransactionHash``), two owners sign the hash off-line, any
  account with gas sends ``execTransaction``; the Safe then owns every contract of the list.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from eth_account import Account
from web3 import Web3
from web3.logs import DISCARD

from ballast_dev.deployment import txbuilder as tb
from ballast_dev.local.keystores import account_address, account_key
from tests.support.ape_home import run_deploy
from tests.support.operator_chain import (
    GUARDIAN,
    KEEPER,
    OWNERS,
    PASSPHRASE,
    SENDER,
    existing_chain,
    key,
    operator_profile,
    send_all,
)
from tests.support.safe_web3 import owner_signatures, safe_at
from tests.support.web3_views import at


@dataclass(frozen=True)
class OperatorDeploy:
    """A deploy the operator is about to run: the network (``ethereum:<name>:node``), the
    profile and record arguments, the record's path, and the stablecoin already on the
    chain."""

    network: str
    args: tuple[str, ...]
    record: Path
    cash: str


def prepare_deploy(w3: Web3, name: str, profile: Path, record: Path) -> OperatorDeploy:
    """Deploy :func:`operator_chain.existing_chain`'s assets on ``w3``'s chain and write the
    profile naming them by address to ``profile`` (network ``name``; the Safe's owners alice,
    bob and carol; the test keys' keeper and guardian)."""
    cash, feed, funds = existing_chain(w3)
    owners = [account_address(n) for n in OWNERS]
    keeper, guardian = (Account.from_key(key(i)).address for i in (KEEPER, GUARDIAN))
    profile.write_text(
        yaml.safe_dump(operator_profile(name, cash, feed, funds, owners, keeper, guardian))
    )
    return OperatorDeploy(
        f"ethereum:{name}:node", ("--profile", str(profile), "--record", str(record)), record, cash
    )


def dry_run_deploy(home: Path, d: OperatorDeploy) -> subprocess.CompletedProcess[str]:
    """``ape run deploy --dry-run`` (deploy.md step 4) by the ``deployer`` account of
    ``home``: it succeeds, prints the hand-over's 4 calls and writes no record. Once more if
    ape's fixed 20 s wait for the fork's anvil ran out (not configurable in ape 0.8: a loaded
    machine can miss it; the dry run sends nothing)."""
    dry = run_deploy(home, d.network, "deployer", "--dry-run", *d.args, real=True)
    if dry.returncode != 0 and "(RPCTimeoutError)" in dry.stdout:
        dry = run_deploy(home, d.network, "deployer", "--dry-run", *d.args, real=True)
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert "4 call(s) the admin must make" in dry.stdout and not d.record.exists()
    return dry


def deploy(
    home: Path, d: OperatorDeploy, chain_id: int
) -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    """The unattended deploy (``--autosign``, the passphrase in ape's variable): it succeeds,
    never prints the passphrase, and its record is complete for ``chain_id``. The process and
    the record."""
    real = run_deploy(
        home, d.network, "deployer", "--autosign", *d.args, passphrase=PASSPHRASE, real=True
    )
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
    assert PASSPHRASE not in real.stdout + real.stderr
    data = json.loads(d.record.read_text())
    assert data["complete"] is True and data["chain_id"] == chain_id
    return real, data


@dataclass(frozen=True)
class Handover:
    """The hand-over batch as the owners read it: the Safe, the PlanExecutor answering to it,
    the record's checklist, the batch's file and its one Safe transaction at ``nonce`` with its
    SafeTx hash."""

    safe: Any
    executor: Any
    todo: list[dict[str, Any]]
    batch_path: Path
    batch: dict[str, Any]
    tx: tb.SafeTransaction
    nonce: int
    tx_hash: bytes


def read_handover(
    w3: Web3, data: dict[str, Any], record: Path, stdout: str, chain_id: int
) -> Handover:
    """What each owner checks before signing (deploy.md step 7): the admin is the Safe of
    alice, bob and carol (2 of 3) and the PlanExecutor answers to it; the checklist is 4
    ``acceptOwnership()``; the batch beside ``record`` (said in the deploy's ``stdout``) has
    its checksum, the Safe's address and chain id, the checklist's calls, and states the nonce
    and the SafeTx hash the Safe itself computes, as the deploy's output does."""
    safe = safe_at(w3, data["safe"])
    assert sorted(safe.functions.getOwners().call()) == sorted(account_address(n) for n in OWNERS)
    assert safe.functions.getThreshold().call() == 2
    executor = at(w3, "PlanExecutor", data["automation"]["plan_executor"])
    assert executor.functions.safe().call() == safe.address
    todo = data["handover"]["todo"]
    assert [t["call"] for t in todo] == ["acceptOwnership()"] * 4
    batch_path = record.with_name(record.stem + ".safe-batch.json")
    assert f"batch written to {batch_path}" in stdout
    batch = json.loads(batch_path.read_text())
    assert batch["chainId"] == str(chain_id) and batch["meta"]["checksum"] == tb.checksum(batch)
    assert batch["meta"]["createdFromSafeAddress"] == safe.address
    calls = tb.calls_of(batch)
    assert [(c.to, "0x" + c.data.hex()) for c in calls] == [(t["address"], t["data"]) for t in todo]
    tx = tb.safe_transaction(calls, data["safe_multisend"])
    nonce = safe.functions.nonce().call()
    tx_hash = bytes(
        safe.functions.getTransactionHash(
            tx.to, 0, tx.data, tx.operation, 0, 0, 0, tb.ZERO, tb.ZERO, nonce
        ).call()
    )
    assert f"Safe nonce {nonce}: SafeTx hash 0x{tx_hash.hex()}" in batch["meta"]["description"]
    assert f"Safe nonce {nonce}, SafeTx hash 0x{tx_hash.hex()}" in stdout
    return Handover(safe, executor, todo, batch_path, batch, tx, nonce, tx_hash)


def execute_handover(w3: Web3, h: Handover) -> None:
    """Alice and carol sign the SafeTx hash off-line, the test's SENDER (any account with gas:
    the owners send nothing) sends ``execTransaction``; it succeeds and the Safe owns every
    contract of the checklist."""
    sigs = owner_signatures(h.tx_hash, [account_key("alice"), account_key("carol")])
    tx = h.tx
    (receipt,) = send_all(
        w3,
        key(SENDER),
        [h.safe.functions.execTransaction(
            tx.to, 0, tx.data, tx.operation, 0, 0, 0, tb.ZERO, tb.ZERO, sigs)],
    )  # fmt: skip
    assert len(h.safe.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)) == 1
    for t in h.todo:
        assert at(w3, t["contract"], t["address"]).functions.owner().call() == h.safe.address
