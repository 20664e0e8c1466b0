"""Signers: raw key (local chains), ape account keyfile, remote JSON-RPC eth_signTransaction,
an AWS KMS key (keepers.tx.kms).

Every signer takes an EIP-1559 transaction dict with integer fields (``type``, ``chainId``,
``nonce``, ``to``, ``value``, ``data``, ``gas``, ``maxFeePerGas``, ``maxPriorityFeePerGas``)
and returns the signed raw transaction bytes. Validate checks the result independently.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Protocol

from coincurve import PrivateKey
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3 import HTTPProvider

from keepers.core.errors import ConfigError, DomainError
from keepers.tx.errors import NodeError
from keepers.tx.txcodec import sign_1559


class Signer(Protocol):
    address: str

    def sign_transaction(self, tx: dict[str, Any]) -> bytes: ...


class RawKeySigner:
    """A private key in memory: for local chains and tests only."""

    def __init__(self, private_key: str | bytes) -> None:
        account: LocalAccount = Account.from_key(private_key)
        self.address: str = str(account.address)
        self._key = PrivateKey(bytes(account.key))

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        if int(tx.get("type", 2)) != 2:
            raise ValueError("only EIP-1559 (type 2) transactions are signed")
        return sign_1559(tx, self._key)


def ape_data_folder() -> Path:
    """ape's data folder as ape itself finds it (``APE_DATA_FOLDER``, else ``~/.ape``), without
    importing ape: the runtime does not depend on it."""
    env = os.environ.get("APE_DATA_FOLDER")
    return Path(env) if env else Path.home() / ".ape"


class ApeAccountSigner(RawKeySigner):
    """An ape account (``ape accounts generate/import``): the keyfile
    ``<ape data folder>/accounts/<alias>.json`` decrypted with a passphrase from the env."""

    def __init__(
        self, alias: str, passphrase: str | None = None, data_folder: Path | None = None
    ) -> None:
        if data_folder is None:
            data_folder = ape_data_folder()
        keyfile = Path(data_folder) / "accounts" / f"{alias}.json"
        if not keyfile.exists():
            raise FileNotFoundError(f"ape account {alias!r} not found at {keyfile}")
        if passphrase is None:
            passphrase = os.environ.get("KEEPER_SIGNER_PASSPHRASE") or os.environ.get(
                f"APE_ACCOUNTS_{alias}_PASSPHRASE"
            )
        if passphrase is None:
            raise ConfigError(f"no passphrase for ape account {alias!r} (KEEPER_SIGNER_PASSPHRASE)")
        key = Account.decrypt(json.loads(keyfile.read_text()), passphrase)
        super().__init__(key)
        self.alias = alias


class KeystoreError(DomainError):
    """An approver's keystore cannot be used: unknown alias (the message lists the known
    ones), not a keystore, or a wrong passphrase (never echoed). Exit 1."""


class NoPassphraseError(ConfigError):
    """No passphrase in the environment and no terminal to ask on (exit 2, naming the
    variable)."""


def passphrase_variable(alias: str) -> str:
    """ape's own variable for an account's passphrase (``KeyfileAccount.unlock``): the alias
    as written, ``APE_ACCOUNTS_alice_PASSPHRASE``."""
    return f"APE_ACCOUNTS_{alias}_PASSPHRASE"


def keystore_aliases(data_folder: Path | None = None) -> list[str]:
    """The ape accounts (keyfile aliases) in the data folder, as ``ape accounts list`` shows."""
    folder = Path(data_folder if data_folder is not None else ape_data_folder()) / "accounts"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.is_dir() else []


def load_keystore_account(
    alias: str,
    passphrase: str | None = None,
    data_folder: Path | None = None,
    prompt: Any = None,
) -> LocalAccount:
    """The key of an ape keyfile account, for signing messages (an approver's EIP-712
    approval), without importing ape. The passphrase: given, else ape's variable
    ``APE_ACCOUNTS_<alias>_PASSPHRASE`` (also upper-case), else ``prompt(alias)`` (a hidden
    terminal prompt, given by the caller only when stdin is a terminal), else
    NoPassphraseError naming the variable. KEEPER_SIGNER_PASSPHRASE (the keeper's hot key)
    is never used here. No error message holds the passphrase or the key."""
    folder = Path(data_folder if data_folder is not None else ape_data_folder())
    keyfile = folder / "accounts" / f"{alias}.json"
    if not alias or "/" in alias or not keyfile.is_file():
        known = keystore_aliases(folder)
        raise KeystoreError(
            f"no ape account {alias!r} in {folder / 'accounts'} (known: "
            f"{', '.join(known) or 'none'}; add one with `ape accounts import {alias}`; "
            "APE_DATA_FOLDER sets the folder)"
        )
    try:
        doc = json.loads(keyfile.read_text())
        if not isinstance(doc, dict) or "crypto" not in doc and "Crypto" not in doc:
            raise ValueError("no crypto section")
    except ValueError as err:
        raise KeystoreError(f"{keyfile} is not an ape keystore ({type(err).__name__})") from None
    var = passphrase_variable(alias)
    if passphrase is None:
        passphrase = os.environ.get(var) or os.environ.get(var.upper())
    if passphrase is None and prompt is not None:
        passphrase = prompt(alias)
    if passphrase is None:
        raise NoPassphraseError(
            f"no passphrase for ape account {alias!r}: set {var} or run in a terminal"
        )
    try:
        key = Account.decrypt(doc, passphrase)
    except ValueError:  # MAC mismatch: the message must not carry what was typed
        raise KeystoreError(f"wrong passphrase for ape account {alias!r} ({keyfile})") from None
    return Account.from_key(key)


class RemoteSigner:
    """Keys live in a separate signing service that answers JSON-RPC eth_signTransaction
    (anvil does for its unlocked accounts; so do geth/clef-style signers)."""

    def __init__(self, url: str, address: str, timeout_s: float = 10.0) -> None:
        self.address = address
        self._provider = HTTPProvider(url, request_kwargs={"timeout": timeout_s})

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        payload = {
            "from": self.address,
            "to": to_checksum_address(tx["to"]),  # what a signing UI shows its user
            "data": HexBytes(tx.get("data", b"")).to_0x_hex(),
            **{
                k: hex(int(tx[k]))
                for k in (
                    "value",
                    "gas",
                    "nonce",
                    "chainId",
                    "maxFeePerGas",
                    "maxPriorityFeePerGas",
                )
            },
            "type": "0x2",
        }
        resp = self._provider.make_request("eth_signTransaction", [payload])  # type: ignore[arg-type]
        if "error" in resp:
            err = resp["error"]
            raise NodeError(f"remote signer refused: {err}", None, None)
        result = resp["result"]
        raw = result["raw"] if isinstance(result, dict) else result
        return bytes(HexBytes(raw))


def signer_from_settings(settings: Any) -> Signer:
    """Build the configured signer (KEEPER_SIGNER_KIND = raw | ape | remote | aws-kms)."""
    kind = settings.signer_kind
    if kind == "aws-kms":
        from keepers.tx.kms import AwsKmsSigner

        return AwsKmsSigner(
            settings.signer_kms_key_id,
            region=settings.signer_kms_region,
            endpoint_url=settings.signer_kms_endpoint_url,
            max_attempts=settings.signer_kms_max_attempts,
            backoff_s=settings.signer_kms_backoff_s,
            timeout_s=settings.rpc_timeout_s,
            expected_address=settings.signer_address,
        )
    if kind == "raw":
        if settings.signer_key is None:
            raise ConfigError("signer_key (KEEPER_SIGNER_KEY) is required for a raw-key signer")
        return RawKeySigner(settings.signer_key.get_secret_value())
    if kind == "ape":
        pw = settings.signer_passphrase.get_secret_value() if settings.signer_passphrase else None
        return ApeAccountSigner(settings.signer_alias, pw)
    return RemoteSigner(settings.signer_url, settings.signer_address, settings.rpc_timeout_s)
