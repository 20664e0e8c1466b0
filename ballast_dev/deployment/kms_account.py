"""An ape account whose key is in AWS KMS, for the deploy (`ape run deploy --aws-kms KEY`):
every transaction the deploy sends is signed through keepers.tx.kms.AwsKmsSigner (Sign with
MessageType=DIGEST, low s, the recovery id found by recovery, a signature that recovers to
another address refused), so the deployer needs no key on the deploy host.

Transactions are hashed as ape's own keyfile accounts hash them (eth-account's
``serializable_unsigned_transaction_from_dict``: contract creations, access lists and legacy
transactions too) and the signature set on the transaction the way ape's accounts set it
(typed: the y-parity; legacy: EIP-155's v)."""

from __future__ import annotations

from typing import Any

from ape.api import AccountAPI, TransactionAPI
from ape.types import AddressType, MessageSignature, TransactionSignature
from eth_account._utils.legacy_transactions import (
    Transaction,
    UnsignedTransaction,
    serializable_unsigned_transaction_from_dict,
)
from eth_account._utils.signing import to_eth_v
from eth_account.messages import SignableMessage, encode_defunct
from eth_account.typed_transactions import TypedTransaction
from pydantic import ConfigDict

from keepers.tx.kms import AwsKmsSigner


class KmsAccount(AccountAPI):
    """ape's AccountAPI over an AwsKmsSigner (the signer checks every signature it makes)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    signer: Any  # AwsKmsSigner

    @property
    def alias(self) -> str:
        return f"aws-kms:{self.signer.key_id}"

    @property
    def address(self) -> AddressType:
        return AddressType(self.signer.address)

    def sign_raw_msghash(self, msghash: Any) -> MessageSignature:
        sig = self.signer.sign_hash(bytes(msghash))
        return MessageSignature(v=sig[64], r=sig[:32], s=sig[32:64])

    def sign_message(self, msg: Any, **signer_options: Any) -> MessageSignature | None:
        if isinstance(msg, str):
            msg = encode_defunct(text=msg)
        elif isinstance(msg, bytes):
            msg = encode_defunct(primitive=msg)
        if not isinstance(msg, SignableMessage):
            return None  # ape tries the next way (as its keyfile accounts do)
        sig = self.signer.sign_message(msg)
        return MessageSignature(v=sig[64], r=sig[:32], s=sig[32:64])

    def sign_transaction(self, txn: TransactionAPI, **signer_options: Any) -> TransactionAPI:
        data = txn.model_dump(mode="json", by_alias=True, exclude={"sender"})
        unsigned = serializable_unsigned_transaction_from_dict(data)
        v_raw, r, s = self.signer.sign_digest(bytes(unsigned.hash()))
        if isinstance(unsigned, TypedTransaction):
            v = v_raw
        elif isinstance(unsigned, Transaction):  # EIP-155: the chain id in v
            v = to_eth_v(v_raw, unsigned.v)
        elif isinstance(unsigned, UnsignedTransaction):
            v = to_eth_v(v_raw, None)
        else:  # pragma: no cover - eth-account returns one of the three
            raise TypeError(f"unknown transaction type {type(unsigned).__name__}")
        txn.signature = TransactionSignature(v=v, r=r.to_bytes(32, "big"), s=s.to_bytes(32, "big"))
        return txn


def kms_account(key_id: str) -> KmsAccount:
    """The deploy's `--aws-kms KEY`: region from AWS_REGION (else boto3's AWS_DEFAULT_REGION),
    a VPC or stand-in endpoint from AWS_ENDPOINT_URL_KMS, credentials from boto3's chain."""
    import os

    signer = AwsKmsSigner(
        key_id,
        region=os.environ.get("AWS_REGION") or None,
        setting="--aws-kms",
        region_setting="AWS_REGION",
    )
    return KmsAccount(signer=signer)
