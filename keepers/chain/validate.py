"""Validate (pure): the signed raw transaction must be exactly what was built and audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.typed_transactions import TypedTransaction
from hexbytes import HexBytes


@dataclass(frozen=True)
class Expected:
    chain_id: int
    sender: str
    nonce: int
    target: str
    value: int
    data: str
    gas: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    fee_cap: int


def check_signed(raw: bytes | str, exp: Expected) -> list[str]:
    """Return the list of mismatches (empty when the transaction is the one expected)."""
    raw_b = HexBytes(raw)
    try:
        fields: dict[str, Any] = TypedTransaction.from_bytes(raw_b).as_dict()
        signer = Account.recover_transaction(raw_b)
    except Exception as err:  # noqa: BLE001 - any decoding failure is a refusal
        return [f"undecodable signed transaction: {err}"]
    problems = []

    def want(name: str, got: Any, expected: Any) -> None:
        if got != expected:
            problems.append(f"{name}: signed {got!r} != built {expected!r}")

    want("type", fields.get("type"), 2)
    want("chainId", fields.get("chainId"), exp.chain_id)
    want("sender", signer.lower(), exp.sender.lower())
    want("nonce", fields.get("nonce"), exp.nonce)
    to = fields.get("to")
    want("to", HexBytes(to).hex().lower() if to else None, HexBytes(exp.target).hex().lower())
    want("value", fields.get("value"), exp.value)
    want("data", HexBytes(fields.get("data", b"")), HexBytes(exp.data or "0x"))
    want("gas", fields.get("gas"), exp.gas)
    want("maxFeePerGas", fields.get("maxFeePerGas"), exp.max_fee_per_gas)
    want("maxPriorityFeePerGas", fields.get("maxPriorityFeePerGas"), exp.max_priority_fee_per_gas)
    if int(fields.get("maxFeePerGas", 0)) > exp.fee_cap:
        problems.append(f"maxFeePerGas {fields.get('maxFeePerGas')} above fee cap {exp.fee_cap}")
    if fields.get("accessList"):
        problems.append("unexpected access list")
    return problems
