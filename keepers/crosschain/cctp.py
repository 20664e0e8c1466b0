"""CCTP V2 message codec (pure) and a local attester for local chains.

Layouts follow Circle's V2 contracts (see ICctpMessageTransmitterV2.sol and
ICctpTokenMessengerV2.sol in contracts/interfaces/external/). On a live chain Circle's
attestation service (Iris) fills in the nonce and the executed finality and signs; on local
chains `LocalCctpAttester` does the same with a local key, so the keeper code path is the one
used in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import Hash32
from eth_utils import keccak

FINALITY_FAST = 1000
FINALITY_FINALIZED = 2000


def address_to_bytes32(address: str) -> bytes:
    raw = bytes.fromhex(address.removeprefix("0x"))
    if len(raw) != 20:
        raise ValueError(f"not an address: {address!r}")
    return b"\x00" * 12 + raw


def bytes32_to_address(b: bytes) -> str:
    return "0x" + b[12:32].hex()


# A layout: each fixed field in wire order as (name, bytes, an integer or raw bytes); what
# follows the fixed part is the message's variable tail (its last field).
Layout = tuple[tuple[str, int, bool], ...]


def _decode(layout: Layout, raw: bytes, what: str) -> tuple[dict[str, int | bytes], bytes]:
    """The fixed fields of ``raw`` by ``layout`` (big-endian integers) and the tail after them;
    ValueError naming ``what`` when ``raw`` is shorter than the fixed part."""
    fixed = sum(size for _, size, _ in layout)
    if len(raw) < fixed:
        raise ValueError(f"{what} too short: {len(raw)} bytes")
    fields: dict[str, int | bytes] = {}
    at = 0
    for name, size, is_int in layout:
        chunk = raw[at : at + size]
        fields[name] = int.from_bytes(chunk, "big") if is_int else chunk
        at += size
    return fields, raw[fixed:]


def _encode(layout: Layout, message: object, tail: bytes) -> bytes:
    """``message``'s fixed fields by ``layout`` (integers big-endian), then ``tail``."""
    parts = []
    for name, size, is_int in layout:
        value = getattr(message, name)
        parts.append(value.to_bytes(size, "big") if is_int else value)
    return b"".join(parts) + tail


# MessageV2's header (MessageTransmitterV2); ``body`` follows
MESSAGE_LAYOUT: Layout = (
    ("version", 4, True),
    ("source_domain", 4, True),
    ("destination_domain", 4, True),
    ("nonce", 32, False),
    ("sender", 32, False),
    ("recipient", 32, False),
    ("destination_caller", 32, False),
    ("min_finality_threshold", 4, True),
    ("finality_threshold_executed", 4, True),
)
# BurnMessageV2 (TokenMessengerV2), the body of a burn's message; ``hook_data`` follows
BURN_BODY_LAYOUT: Layout = (
    ("version", 4, True),
    ("burn_token", 32, False),
    ("mint_recipient", 32, False),
    ("amount", 32, True),
    ("message_sender", 32, False),
    ("max_fee", 32, True),
    ("fee_executed", 32, True),
    ("expiration_block", 32, True),
)
HEADER_LENGTH = sum(size for _, size, _ in MESSAGE_LAYOUT)  # 148
BURN_BODY_LENGTH = sum(size for _, size, _ in BURN_BODY_LAYOUT)  # 228


class _Packed:
    """A CCTP message read and written by its ``LAYOUT`` of fixed fields, then the bytes of its
    field ``TAIL`` (``WHAT`` names it in the error of a short one): the message and the burn body
    it carries."""

    LAYOUT: ClassVar[Layout]
    WHAT: ClassVar[str]
    TAIL: ClassVar[str]

    @classmethod
    def decode(cls, raw: bytes) -> Self:
        fields, tail = _decode(cls.LAYOUT, raw, cls.WHAT)
        return cls(**fields, **{cls.TAIL: tail})

    def encode(self) -> bytes:
        return _encode(self.LAYOUT, self, getattr(self, self.TAIL))


@dataclass(frozen=True)
class CctpMessage(_Packed):
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

    LAYOUT: ClassVar[Layout] = MESSAGE_LAYOUT
    WHAT: ClassVar[str] = "CCTP message"
    TAIL: ClassVar[str] = "body"


@dataclass(frozen=True)
class BurnBody(_Packed):
    version: int
    burn_token: bytes
    mint_recipient: bytes
    amount: int
    message_sender: bytes
    max_fee: int
    fee_executed: int
    expiration_block: int
    hook_data: bytes

    LAYOUT: ClassVar[Layout] = BURN_BODY_LAYOUT
    WHAT: ClassVar[str] = "burn body"
    TAIL: ClassVar[str] = "hook_data"


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
