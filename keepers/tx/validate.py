"""Validate (pure): the signed raw transaction must be exactly what was built and audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hexbytes import HexBytes

from keepers.tx.txcodec import decode_1559


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
    try:
        fields, signer = decode_1559(bytes(HexBytes(raw)))
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
    want("to", fields["to"], exp.target.lower())
    want("value", fields.get("value"), exp.value)
    want("data", fields["data"], HexBytes(exp.data or "0x").to_0x_hex())
    want("gas", fields.get("gas"), exp.gas)
    want("maxFeePerGas", fields.get("maxFeePerGas"), exp.max_fee_per_gas)
    want("maxPriorityFeePerGas", fields.get("maxPriorityFeePerGas"), exp.max_priority_fee_per_gas)
    if int(fields.get("maxFeePerGas", 0)) > exp.fee_cap:
        problems.append(f"maxFeePerGas {fields.get('maxFeePerGas')} above fee cap {exp.fee_cap}")
    if fields.get("accessList"):
        problems.append("unexpected access list")
    return problems
