"""EIP-1559 (type 2) transactions encoded, signed, decoded and recovered directly with rlp and
libsecp256k1 (coincurve): byte-identical to eth_account's output, ~10x faster, which matters
when every intent is signed and then independently re-checked by Validate."""

from __future__ import annotations

from typing import Any

import rlp
from coincurve import PrivateKey, PublicKey
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes

TYPE_1559 = b"\x02"


def _unsigned_fields(tx: dict[str, Any]) -> list[Any]:
    return [
        int(tx["chainId"]),
        int(tx["nonce"]),
        int(tx["maxPriorityFeePerGas"]),
        int(tx["maxFeePerGas"]),
        int(tx["gas"]),
        bytes(HexBytes(tx["to"])),
        int(tx.get("value", 0)),
        bytes(HexBytes(tx.get("data") or b"")),
        [],  # access list
    ]


def sign_1559(tx: dict[str, Any], key: PrivateKey) -> bytes:
    """Sign a type-2 transaction dict (eth_account field names); returns the raw bytes."""
    fields = _unsigned_fields(tx)
    msg_hash = keccak(TYPE_1559 + rlp.encode(fields))
    sig = key.sign_recoverable(msg_hash, hasher=None)  # r(32) s(32) recid(1), RFC 6979
    r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    return TYPE_1559 + rlp.encode([*fields, v, r, s])


def decode_1559(raw: bytes) -> tuple[dict[str, Any], str]:
    """Decode a signed type-2 transaction; returns (fields, recovered sender address)."""
    raw = bytes(raw)
    if not raw or raw[:1] != TYPE_1559:
        raise ValueError(f"not an EIP-1559 transaction (type byte {raw[:1].hex() or 'none'})")
    items = rlp.decode(raw[1:])
    if not isinstance(items, list) or len(items) != 12:
        raise ValueError("malformed EIP-1559 transaction")
    ints = [int.from_bytes(b, "big") for b in items[:5]]
    chain_id, nonce, tip, max_fee, gas = ints
    to, value, data, access_list = items[5], int.from_bytes(items[6], "big"), items[7], items[8]
    v, r, s = (int.from_bytes(b, "big") for b in items[9:12])
    if v > 1:
        raise ValueError(f"bad signature parity {v}")
    unsigned = [chain_id, nonce, tip, max_fee, gas, to, value, data, access_list]
    msg_hash = keccak(TYPE_1559 + rlp.encode(unsigned))
    sig = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v])
    pub = PublicKey.from_signature_and_message(sig, msg_hash, hasher=None)
    sender = to_checksum_address(keccak(pub.format(compressed=False)[1:])[-20:])
    fields = {
        "type": 2,
        "chainId": chain_id,
        "nonce": nonce,
        "maxPriorityFeePerGas": tip,
        "maxFeePerGas": max_fee,
        "gas": gas,
        "to": "0x" + to.hex() if to else None,
        "value": value,
        "data": "0x" + data.hex(),
        "accessList": access_list,
    }
    return fields, sender
