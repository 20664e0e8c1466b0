"""CCTP V2 message codec (pure) and a local attester for local chains.

Layouts follow Circle's V2 contracts (see ICctpMessageTransmitterV2.sol and
ICctpTokenMessengerV2.sol in contracts/interfaces/external/). On a live chain Circle's
attestation service (Iris) fills in the nonce and the executed finality and signs; on local
chains `LocalCctpAttester` does the same with a local key, so the keeper code path is the one
used in production.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils import keccak

HEADER_LENGTH = 148
BURN_BODY_LENGTH = 228
FINALITY_FAST = 1000
FINALITY_FINALIZED = 2000


def address_to_bytes32(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return b"\x00" * 12 + raw


def bytes32_to_address(b: bytes) -> str:
    return "0x" + b[12:32].hex()


@dataclass(frozen=True)
class CctpMessage:
    version: int
    source_domain: int
    destination_domain: int
    nonce: bytes
    sender: bytes
    recipient: bytes
    destination_caller: bytes
    min_finality_threshold: int
    finality_threshold_executed: int
    body: bytes

    @classmethod
    def decode(cls, raw: bytes) -> CctpMessage:
        if len(raw) < HEADER_LENGTH:
            raise ValueError(f"CCTP message too short: {len(raw)} bytes")

        def u32(i: int) -> int:
            return int.from_bytes(raw[i : i + 4], "big")

        return cls(
            version=u32(0),
            source_domain=u32(4),
            destination_domain=u32(8),
            nonce=raw[12:44],
            sender=raw[44:76],
            recipient=raw[76:108],
            destination_caller=raw[108:140],
            min_finality_threshold=u32(140),
            finality_threshold_executed=u32(144),
            body=raw[HEADER_LENGTH:],
        )

    def encode(self) -> bytes:
        def u32(v: int) -> bytes:
            return v.to_bytes(4, "big")

        return (
            u32(self.version)
            + u32(self.source_domain)
            + u32(self.destination_domain)
            + self.nonce
            + self.sender
            + self.recipient
            + self.destination_caller
            + u32(self.min_finality_threshold)
            + u32(self.finality_threshold_executed)
            + self.body
        )


@dataclass(frozen=True)
class BurnBody:
    version: int
    burn_token: bytes
    mint_recipient: bytes
    amount: int
    message_sender: bytes
    max_fee: int
    fee_executed: int
    expiration_block: int
    hook_data: bytes

    @classmethod
    def decode(cls, raw: bytes) -> BurnBody:
        if len(raw) < BURN_BODY_LENGTH:
            raise ValueError(f"burn body too short: {len(raw)} bytes")

        def u256(i: int) -> int:
            return int.from_bytes(raw[i : i + 32], "big")

        return cls(
            version=int.from_bytes(raw[0:4], "big"),
            burn_token=raw[4:36],
            mint_recipient=raw[36:68],
            amount=u256(68),
            message_sender=raw[100:132],
            max_fee=u256(132),
            fee_executed=u256(164),
            expiration_block=u256(196),
            hook_data=raw[BURN_BODY_LENGTH:],
        )

    def encode(self) -> bytes:
        def u256(v: int) -> bytes:
            return v.to_bytes(32, "big")

        return (
            self.version.to_bytes(4, "big")
            + self.burn_token
            + self.mint_recipient
            + u256(self.amount)
            + self.message_sender
            + u256(self.max_fee)
            + u256(self.fee_executed)
            + u256(self.expiration_block)
            + self.hook_data
        )


@dataclass(frozen=True)
class Attested:
    message: bytes
    attestation: bytes

    @property
    def nonce(self) -> bytes:
        return self.message[12:44]


# Blocks after which a locally attested burn expires (Circle sets expirationBlock so that an
# unreceived message must be re-attested; about a day of blocks here, never 0).
DEFAULT_EXPIRY_BLOCKS = 7_200


class LocalCctpAttester:
    """Local/test stand-in for Circle's attestation service. It fills in every field Iris
    fills in: the nonce (unique per source domain, transaction and log index, as Iris does
    per burn), the executed finality, the executed fee and the expiration block (never 0,
    as on a real network: `expiration_block`, or `expiry_blocks` past `destination_block`),
    and signs keccak256(message) with a local key (threshold 1). For local chains only."""

    def __init__(
        self, private_key: bytes | str, expiry_blocks: int = DEFAULT_EXPIRY_BLOCKS
    ) -> None:
        if expiry_blocks <= 0:
            raise ValueError(f"expiry_blocks must be positive, got {expiry_blocks}")
        self.account: LocalAccount = Account.from_key(private_key)
        self.expiry_blocks = expiry_blocks

    @property
    def address(self) -> str:
        return self.account.address

    def attest(
        self,
        raw_message: bytes,
        tx_hash: bytes,
        log_index: int,
        finality: int = FINALITY_FINALIZED,
        fee_executed: int = 0,
        destination_block: int = 0,
        expiration_block: int | None = None,
    ) -> Attested:
        msg = CctpMessage.decode(raw_message)
        nonce = keccak(
            msg.source_domain.to_bytes(4, "big") + tx_hash + log_index.to_bytes(32, "big")
        )
        body = msg.body
        if len(body) >= BURN_BODY_LENGTH:  # a burn: Iris fills the fee and the expiry in
            burn = BurnBody.decode(body)
            body = BurnBody(
                burn.version,
                burn.burn_token,
                burn.mint_recipient,
                burn.amount,
                burn.message_sender,
                burn.max_fee,
                fee_executed,
                destination_block + self.expiry_blocks
                if expiration_block is None
                else expiration_block,
                burn.hook_data,
            ).encode()
        filled = CctpMessage(
            msg.version,
            msg.source_domain,
            msg.destination_domain,
            nonce,
            msg.sender,
            msg.recipient,
            msg.destination_caller,
            msg.min_finality_threshold,
            finality,
            body,
        ).encode()
        return Attested(filled, self.sign(filled))

    def sign(self, message: bytes) -> bytes:
        signed = self.account.unsafe_sign_hash(Hash32(keccak(message)))
        return bytes(signed.signature)
