"""ape keystores for the named test accounts (dev only: the demo and the end-to-end tests).

Writes ``<data folder>/accounts/<alias>.json`` exactly as ``ape accounts import`` does
(ape_accounts.accounts._write_and_return_account: ``json.dumps(eth_account.Account.encrypt(key,
passphrase))``), so ape's KeyfileAccount, ``keeper approve --account ALIAS`` and
``keepers.tx.signers`` all read them. The Safe owners alice, bob and carol are accounts 10, 11
and 12 of the test mnemonic (issue 15's shared design); mallory (13) is nobody's owner and
plays the attacker.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from eth_account import Account
from hexbytes import HexBytes

TEST_MNEMONIC = "test test test test test test test test test test test junk"
TEST_ACCOUNT_INDEX = {"alice": 10, "bob": 11, "carol": 12, "mallory": 13}


@functools.cache
def account_key(name: str) -> str:
    """The 0x private key of a named test account (m/44'/60'/0'/0/i of the test mnemonic).
    Kept per name: the derivation (PBKDF2 over the mnemonic, 2,048 rounds) is a pure function
    of it and was repeated for every keystore, signature and address the tests asked for."""
    if name not in TEST_ACCOUNT_INDEX:
        raise ValueError(f"no test account {name!r} (known: {', '.join(TEST_ACCOUNT_INDEX)})")
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(
        TEST_MNEMONIC, account_path=f"m/44'/60'/0'/0/{TEST_ACCOUNT_INDEX[name]}"
    )
    return "0x" + bytes(acct.key).hex()


@functools.cache
def account_address(name: str) -> str:
    return str(Account.from_key(account_key(name)).address)


def write_keystore(
    data_folder: Path,
    alias: str,
    private_key: str | bytes,
    passphrase: str,
    scrypt_n: int | None = None,
) -> Path:
    """One ape keystore. ``scrypt_n`` (a power of two) lowers scrypt's cost for tests (ape
    reads any n; its own default, eth_account's 2**18, takes about a second to decrypt)."""
    folder = Path(data_folder) / "accounts"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{alias}.json"
    doc = Account.encrypt(bytes(HexBytes(private_key)), passphrase, iterations=scrypt_n)
    path.write_text(json.dumps(doc), encoding="utf8")
    return path


def write_test_keystores(
    data_folder: Path,
    passphrase: str,
    names: tuple[str, ...] = ("alice", "bob", "carol"),
    scrypt_n: int | None = None,
) -> dict[str, str]:
    """Keystores for the named test accounts; returns {alias: checksum address}."""
    out = {}
    for name in names:
        write_keystore(data_folder, name, account_key(name), passphrase, scrypt_n)
        out[name] = account_address(name)
    return out


def approver_env(data_folder: Path, passphrase: str, names: tuple[str, ...]) -> dict[str, str]:
    """The environment a non-interactive `keeper approve PLAN --account NAME` needs for these
    keystores (the demo's approvers, end-to-end tests): ape's data folder and ape's own
    passphrase variable per alias."""
    return {
        "APE_DATA_FOLDER": str(data_folder),
        **{f"APE_ACCOUNTS_{n}_PASSPHRASE": passphrase for n in names},
    }
