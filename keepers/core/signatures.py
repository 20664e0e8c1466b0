"""One signature-recovery rule for the keeper, the same as the contracts': OpenZeppelin's
``ECDSA.tryRecover(bytes32, bytes)`` (5.x, which the PlanExecutor counts approvals with).

A signature counts only when:

- it is exactly 65 bytes, r|s|v (a 64-byte EIP-2098 short signature, or 66+ bytes, is refused:
  OpenZeppelin 5.x returns ``InvalidSignatureLength``);
- s is in the lower half of the curve order (the high-s twin of a valid signature is refused:
  ``InvalidSignatureS``);
- v is 27 or 28 (0/1, the raw recovery id some libraries and wallets return, is refused here
  as on chain, where ``ecrecover`` answers nothing for it; `normalise_v` turns it into 27/28
  at intake, where the keeper records a signature an owner pasted);
- ``ecrecover`` gives an address (r and s non-zero and below the order, r on the curve).

`try_recover` says who signed or why nothing counts; nothing else in the keeper recovers a
signer of an approval. A property test feeds random and malformed encodings to this rule and
to the executor on a local chain and asserts they agree on every one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_keys import keys
from eth_utils import keccak, to_checksum_address

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
HALF_N = SECP256K1_N // 2  # OpenZeppelin: s <= 0x7FFF...20A0


@dataclass(frozen=True)
class Recovered:
    """`signer` (checksummed) when the signature counts; else None and `reason` says why."""

    signer: str | None
    reason: str = ""


def try_recover(digest: bytes, signature: bytes) -> Recovered:
    """Who signed the 32-byte `digest` with `signature`, by OpenZeppelin's rule."""
    if len(digest) != 32:
        raise ValueError(f"digest must be 32 bytes, got {len(digest)}")
    n = len(signature)
    if n != 65:
        hint = (
            " (an EIP-2098 short signature: ask the signer for the 65-byte r|s|v form)"
            if n == 64
            else ""
        )
        return Recovered(None, f"expected 65 bytes r|s|v, got {n}{hint}")
    if not any(signature):
        return Recovered(None, "the zero signature: no signer")
    r = int.from_bytes(signature[0:32], "big")
    s = int.from_bytes(signature[32:64], "big")
    v = signature[64]
    if s > HALF_N:
        return Recovered(
            None,
            "high-s signature (the malleable twin of a valid one): the executor counts only "
            "s in the lower half of the curve order (OpenZeppelin ECDSA)",
        )
    if v not in (27, 28):
        why = (
            "v is 0/1 (a raw recovery id): the executor counts only v 27/28; "
            "add 27 to the last byte"
            if v in (0, 1)
            else f"v is {v}: the executor counts only v 27/28"
        )
        return Recovered(None, why)
    if not (0 < r < SECP256K1_N and 0 < s < SECP256K1_N):
        return Recovered(None, "r or s is zero or not below the curve order: no signer")
    try:
        key = keys.Signature(vrs=(v - 27, r, s)).recover_public_key_from_msg_hash(digest)
    except Exception:  # r is not the x of a curve point: ecrecover answers nothing
        return Recovered(None, "no signer recovers from it (r is not on the curve)")
    return Recovered(to_checksum_address(key.to_canonical_address()))


def recover(digest: bytes, signature: bytes) -> str | None:
    """The signer, or None when the signature does not count (`try_recover` says why)."""
    return try_recover(digest, signature).signer


def normalise_v(signature: bytes) -> tuple[bytes, bool]:
    """A 65-byte signature with v 0/1 as the same signature with v 27/28 (and True); any other
    input unchanged (and False). For intake only: the counting rule itself refuses v 0/1."""
    if len(signature) == 65 and signature[64] in (0, 1):
        return signature[:64] + bytes([signature[64] + 27]), True
    return signature, False


def safe_typed_hash(
    chain_id: int, safe: str, primary: str, fields: list[dict[str, str]], message: dict[str, Any]
) -> bytes:
    """The EIP-712 hash of `message` (of type `primary`, its `fields`) in a Safe's domain (Safe
    1.3+: chainId and the Safe's address, no name or version): what the Safe's owners sign for
    a SafeTx (ballast_dev.deployment.txbuilder.safe_tx_hash) and for a SafeMessage
    (keepers.fund.planning.plan_approval.safe_message_hash)."""
    from eth_account.messages import encode_typed_data

    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            primary: fields,
        },
        "primaryType": primary,
        "domain": {"chainId": chain_id, "verifyingContract": to_checksum_address(safe)},
        "message": message,
    }
    signable = encode_typed_data(full_message=typed)
    return keccak(b"\x19\x01" + signable.header + signable.body)
