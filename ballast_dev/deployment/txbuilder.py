"""Safe{Wallet}'s formats for the calls the project leaves to the admin Safe: a Transaction
Builder batch file, and the one Safe transaction it becomes.

**The batch file** is what the Transaction Builder app imports ("Transactions Batch", format
version 1.0): ``chainId``, ``createdAt`` (ms), ``meta`` (name, description, builder version, the
Safe it is for, and a checksum) and ``transactions`` (to, value, data; no ABI, so the app shows
the raw calldata). The checksum is the app's own (safe-react-apps, tx-builder's
``lib/checksum.ts``): keccak256 of a canonical serialisation of the file with ``meta.name`` set
to null and without ``meta.checksum`` (objects as their sorted key list followed by each value
and a comma, JSON scalars as ``JSON.stringify`` writes them). A file whose checksum does not
match still imports, with a warning; ours match (a test recomputes it with ethers in node).

**The Safe transaction.** The app sends a batch of one call as that call (CALL), and several
as one DELEGATECALL to MultiSendCallOnly 1.4.1 with the calls packed (operation, to, value,
data length, data per call): all of them or none. :func:`safe_transaction` gives that
transaction and :func:`safe_tx_hash` its EIP-712 hash at a Safe nonce (computed with
eth-account's typed-data encoder; the test checks it against the Safe's own
``getTransactionHash``), which the description states so that owners can check what their
wallet shows before they sign.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

from keepers.core.signatures import safe_typed_hash

# MultiSendCallOnly 1.4.1 at its canonical address (safe-deployments: the same on every chain
# Safe supports); deployed there on a local chain (deployment/canonical_safe.py)
MULTISEND_CALL_ONLY = "0x9641d764fc13c8B624c04430C7356C1C7C8102e2"
TX_BUILDER_VERSION = "1.18.0"
CALL, DELEGATECALL = 0, 1
ZERO = "0x" + "00" * 20


@dataclass(frozen=True)
class SafeCall:
    to: str
    data: bytes
    value: int = 0
    label: str = ""  # what a person reads: "RebalanceScheduler.acceptOwnership()"


@dataclass(frozen=True)
class SafeTransaction:
    """One Safe transaction (no refund, no gas token: what Safe{Wallet} proposes)."""

    to: str
    value: int
    data: bytes
    operation: int


def _js(value: Any) -> str:
    """``JSON.stringify`` of a scalar or a list of strings, as JavaScript writes it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _serialise(obj: Any) -> str:
    if isinstance(obj, list):
        return "[" + ",".join(_serialise(x) for x in obj) + "]"
    if isinstance(obj, dict):
        keys = sorted(obj)  # JavaScript's default sort: by UTF-16 code units (ASCII keys here)
        return "{" + _js(keys) + "".join(_serialise(obj[k]) + "," for k in keys) + "}"
    return _js(obj)


def checksum(batch: dict[str, Any]) -> str:
    """The Transaction Builder's checksum of ``batch`` (its ``meta.checksum`` ignored)."""
    meta = {k: v for k, v in batch["meta"].items() if k != "checksum"}
    target = {**batch, "meta": {**meta, "name": None}}
    return "0x" + keccak(text=_serialise(target)).hex()


def batch_file(
    chain_id: int,
    safe: str,
    calls: Sequence[SafeCall],
    *,
    name: str,
    description: str,
    created_at_ms: int,
) -> dict[str, Any]:
    """The batch file for ``calls`` from ``safe`` on ``chain_id``, checksummed."""
    if not calls:
        raise ValueError("calls: a batch needs at least one call")
    batch: dict[str, Any] = {
        "version": "1.0",
        "chainId": str(chain_id),
        "createdAt": int(created_at_ms),
        "meta": {
            "name": name,
            "description": description,
            "txBuilderVersion": TX_BUILDER_VERSION,
            "createdFromSafeAddress": to_checksum_address(safe),
            "createdFromOwnerAddress": "",
        },
        "transactions": [
            {
                "to": to_checksum_address(c.to),
                "value": str(int(c.value)),
                "data": "0x" + bytes(c.data).hex(),
                "contractMethod": None,
                "contractInputsValues": None,
            }
            for c in calls
        ],
    }
    batch["meta"]["checksum"] = checksum(batch)
    return batch


def calls_of(batch: dict[str, Any]) -> list[SafeCall]:
    """The calls of a batch file (what an importer reads back)."""
    return [
        SafeCall(
            to=to_checksum_address(t["to"]),
            data=bytes.fromhex(str(t.get("data") or "0x").removeprefix("0x")),
            value=int(t.get("value") or 0),
        )
        for t in batch["transactions"]
    ]


def multisend_calldata(calls: Sequence[SafeCall]) -> bytes:
    """``multiSend(bytes)`` of ``calls``, each packed as operation (CALL) | to | value | data
    length | data."""
    packed = b"".join(
        bytes([CALL])
        + bytes.fromhex(to_checksum_address(c.to)[2:])
        + int(c.value).to_bytes(32, "big")
        + len(c.data).to_bytes(32, "big")
        + bytes(c.data)
        for c in calls
    )
    return keccak(text="multiSend(bytes)")[:4] + encode(["bytes"], [packed])


def safe_transaction(
    calls: Sequence[SafeCall], multisend: str = MULTISEND_CALL_ONLY
) -> SafeTransaction:
    """The Safe transaction Safe{Wallet} makes of a batch: one call as itself, several as one
    DELEGATECALL to MultiSendCallOnly."""
    if len(calls) == 1:
        c = calls[0]
        return SafeTransaction(to_checksum_address(c.to), int(c.value), bytes(c.data), CALL)
    return SafeTransaction(
        to_checksum_address(multisend), 0, multisend_calldata(calls), DELEGATECALL
    )


def safe_tx_hash(chain_id: int, safe: str, tx: SafeTransaction, nonce: int) -> bytes:
    """The EIP-712 hash the Safe's owners sign for ``tx`` at ``nonce`` (Safe 1.3+ domain:
    chainId and the Safe's address)."""
    return safe_typed_hash(
        chain_id,
        safe,
        "SafeTx",
        [
            {"name": "to", "type": "address"},
            {"name": "value", "type": "uint256"},
            {"name": "data", "type": "bytes"},
            {"name": "operation", "type": "uint8"},
            {"name": "safeTxGas", "type": "uint256"},
            {"name": "baseGas", "type": "uint256"},
            {"name": "gasPrice", "type": "uint256"},
            {"name": "gasToken", "type": "address"},
            {"name": "refundReceiver", "type": "address"},
            {"name": "nonce", "type": "uint256"},
        ],
        {
            "to": tx.to,
            "value": tx.value,
            "data": tx.data,
            "operation": tx.operation,
            "safeTxGas": 0,
            "baseGas": 0,
            "gasPrice": 0,
            "gasToken": ZERO,
            "refundReceiver": ZERO,
            "nonce": nonce,
        },
    )


def describe(
    purpose: str, calls: Sequence[SafeCall], tx: SafeTransaction, nonce: int, tx_hash: bytes
) -> str:
    """The batch's description: what it does, and the Safe transaction owners should see."""
    how = (
        "one CALL"
        if tx.operation == CALL
        else f"one DELEGATECALL to MultiSendCallOnly {tx.to} ({len(calls)} calls, all or none)"
    )
    what = "; ".join(c.label or f"{c.to} 0x{c.data[:4].hex()}" for c in calls)
    return (
        f"{purpose}: {what}. Executed as {how} at Safe nonce {nonce}: SafeTx hash 0x{tx_hash.hex()}"
    )
