"""Safe{Wallet}'s Transaction Builder batch (ballast_dev/deployment/txbuilder.py) checked
against parts nobody here wrote: the checksum against the Transaction Builder's own algorithm
run in node with ethers' keccak256 and JavaScript's JSON.stringify; the SafeTx hash (from
eth-account's EIP-712 encoder) against a real Safe 1.4.1's ``getTransactionHash``; and the
batch executed through that Safe, via a real MultiSendCallOnly 1.4.1 (npm build), with two
owners' signatures: both ownerships accepted in one transaction, or neither."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ballast_dev.deployment import txbuilder as tb
from ballast_dev.deployment.handover import ACCEPT_OWNERSHIP, Handover, handover_batch
from ballast_dev.deployment.record import DirectSteps
from ballast_dev.deployment.safe import (
    container,
    deploy_safe,
    multisend_steps,
    owner_signature,
    pack_signatures,
)

ROOT = Path(__file__).resolve().parents[3]
ZERO = "0x" + "00" * 20

# the Transaction Builder's lib/checksum.ts (safe-react-apps), in JavaScript, on ethers 5
JS_CHECKSUM = r"""
const { ethers } = require(process.argv[1] + "/node_modules/ethers");
const stringifyReplacer = (_, value) => (value === undefined ? null : value);
const serializeJSONObject = (json) => {
  if (Array.isArray(json)) return `[${json.map((el) => serializeJSONObject(el)).join(",")}]`;
  if (typeof json === "object" && json !== null) {
    let acc = "";
    const keys = Object.keys(json).sort();
    acc += `{${JSON.stringify(keys, stringifyReplacer)}`;
    for (const key of keys) acc += `${serializeJSONObject(json[key])},`;
    return `${acc}}`;
  }
  return `${JSON.stringify(json, stringifyReplacer)}`;
};
const batch = JSON.parse(require("fs").readFileSync(0, "utf8"));
const given = batch.meta.checksum;
delete batch.meta.checksum;
const serialized = serializeJSONObject({ ...batch, meta: { ...batch.meta, name: null } });
const sha = ethers.utils.solidityKeccak256(["string"], [serialized]);
process.stdout.write(JSON.stringify({ given, computed: sha }));
"""


def js_checksum(batch: dict[str, Any]) -> dict[str, str]:
    out = subprocess.run(
        ["node", "-e", JS_CHECKSUM, str(ROOT)],
        input=json.dumps(batch),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(json.loads(out.stdout))


def _calls(*targets: str) -> list[tb.SafeCall]:
    return [
        tb.SafeCall(to=t, data=bytes.fromhex(ACCEPT_OWNERSHIP[2:]), label=f"acceptOwnership {t}")
        for t in targets
    ]


def test_checksum__the_transaction_builders_own_algorithm_in_node_agrees() -> None:
    calls = _calls("0x" + "11" * 20, "0x" + "22" * 20) + [
        tb.SafeCall(to="0x" + "33" * 20, data=b"\x01\x02" * 40, value=5 * 10**17)
    ]
    batch = tb.batch_file(
        1,
        "0x" + "ab" * 20,
        calls,
        name="Ballast hand-over",
        description='accept ownerships: äöü, quotes " and \\ backslashes',
        created_at_ms=1_764_000_000_000,
    )
    got = js_checksum(batch)
    assert got["computed"] == got["given"] == batch["meta"]["checksum"]
    # an edited file no longer matches (the app warns on import)
    batch["transactions"][0]["value"] = "1"
    assert js_checksum(batch)["computed"] != batch["meta"]["checksum"]
    assert tb.checksum(batch) == js_checksum(batch)["computed"]


def test_batch_file__shape_the_app_imports() -> None:
    batch = tb.batch_file(
        31337, "0x" + "ab" * 20, _calls("0x" + "11" * 20), name="n", description="d",
        created_at_ms=1,
    )  # fmt: skip
    assert batch["version"] == "1.0" and batch["chainId"] == "31337"
    assert set(batch["meta"]) == {
        "name", "description", "txBuilderVersion", "createdFromSafeAddress",
        "createdFromOwnerAddress", "checksum",
    }  # fmt: skip
    (t,) = batch["transactions"]
    assert t == {
        "to": "0x1111111111111111111111111111111111111111",
        "value": "0",
        "data": ACCEPT_OWNERSHIP,
        "contractMethod": None,
        "contractInputsValues": None,
    }
    with pytest.raises(ValueError, match="calls: a batch needs at least one call"):
        tb.batch_file(1, ZERO, [], name="n", description="d", created_at_ms=1)


@pytest.fixture
def safe_setup(accounts: Any, chain: Any, auto: dict[str, Any], gov: Any) -> Any:
    snap = chain.snapshot()
    deployer = accounts[0]
    owners = [accounts[6], accounts[7], accounts[8]]
    safe = deploy_safe(deployer, owners, 2)
    # the canonical MultiSendCallOnly (safe-deployments' address), as the deploy uses
    multisend = container("MultiSendCallOnly").at(multisend_steps(DirectSteps(), deployer))
    sched, funder = auto["scheduler"], auto["funder"]
    for c in (sched, funder):
        c.transferOwnership(safe.address, sender=gov)
        assert c.pendingOwner() == safe.address
    yield safe, multisend, owners, (sched, funder)
    chain.restore(snap)


def _exec(safe: Any, tx: tb.SafeTransaction, tx_hash: bytes, signers: list[Any], sender: Any):
    sigs = pack_signatures({str(s.address): owner_signature(s, tx_hash) for s in signers})
    return safe.execTransaction(
        tx.to, tx.value, tx.data, tx.operation, 0, 0, 0, ZERO, ZERO, sigs, sender=sender
    )


def test_handover_batch__through_a_real_safe_and_multisend__both_accepted_at_once(
    safe_setup: Any, chain: Any, accounts: Any
) -> None:
    safe, multisend, owners, (sched, funder) = safe_setup
    h = Handover(admin=safe.address, deployer=str(accounts[0].address))
    h.safe, h.multisend = safe.address, multisend.address
    h.todo = [
        {"contract": n, "address": c.address, "call": "acceptOwnership()", "data": ACCEPT_OWNERSHIP}
        for n, c in (("RebalanceScheduler", sched), ("TxFunder", funder))
    ]
    nonce = int(safe.call_view_method("nonce"))
    made = handover_batch(h, chain.chain_id, nonce, 1_764_000_000_000)
    assert made is not None
    batch, tx, tx_hash = made
    # what an importer reads back is what we execute: one DELEGATECALL to MultiSendCallOnly
    assert tb.calls_of(batch) == [
        tb.SafeCall(c.address, bytes.fromhex(ACCEPT_OWNERSHIP[2:])) for c in (sched, funder)
    ]
    assert (tx.to, tx.operation) == (multisend.address, tb.DELEGATECALL)
    # the hash stated in the file is the Safe's own, at the nonce stated
    on_chain = bytes(
        safe.getTransactionHash(tx.to, 0, tx.data, tx.operation, 0, 0, 0, ZERO, ZERO, nonce)
    )
    assert on_chain == tx_hash
    assert f"Safe nonce {nonce}: SafeTx hash 0x{tx_hash.hex()}" in batch["meta"]["description"]
    assert js_checksum(batch)["computed"] == batch["meta"]["checksum"]
    # one owner is not enough; two are, and both calls land in one transaction
    with pytest.raises(Exception, match="GS020"):
        _exec(safe, tx, tx_hash, owners[:1], accounts[0])
    receipt = _exec(safe, tx, tx_hash, [owners[0], owners[2]], accounts[0])
    assert receipt.status == 1
    assert sched.owner() == safe.address and funder.owner() == safe.address
    assert int(safe.call_view_method("nonce")) == nonce + 1
    # the same file again: the nonce moved on, the signatures no longer count
    with pytest.raises(Exception, match="GS026|GS013|GS020"):
        _exec(safe, tx, tx_hash, [owners[0], owners[2]], accounts[0])


def test_one_call__sent_as_itself_not_through_multisend(safe_setup: Any, chain: Any) -> None:
    safe, _, owners, (sched, _) = safe_setup
    (call,) = _calls(sched.address)
    tx = tb.safe_transaction([call])
    assert (tx.to, tx.operation, tx.data) == (sched.address, tb.CALL, call.data)
    nonce = int(safe.call_view_method("nonce"))
    h = tb.safe_tx_hash(chain.chain_id, safe.address, tx, nonce)
    assert h == bytes(safe.getTransactionHash(tx.to, 0, tx.data, 0, 0, 0, 0, ZERO, ZERO, nonce))
    _exec(safe, tx, h, owners[1:], owners[0])
    assert sched.owner() == safe.address
