"""The approver's keystore (keepers.tx.signers.load_keystore_account) and the dev helper that
writes ape keystores (ballast_dev.local.keystores): found as ape finds them, decrypted with
ape's passphrase variable only, every failure named without the passphrase or the key."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from ballast_dev.local.keystores import (
    account_address,
    account_key,
    approver_env,
    write_keystore,
    write_test_keystores,
)
from keepers.tx.signers import (
    KeystoreError,
    NoPassphraseError,
    keystore_aliases,
    load_keystore_account,
    passphrase_variable,
)

PASS = "s3cret-passphrase-for-tests"


@pytest.fixture
def ape(tmp_path, monkeypatch):
    for var in ("APE_ACCOUNTS_alice_PASSPHRASE", "APE_ACCOUNTS_ALICE_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("KEEPER_SIGNER_PASSPHRASE", raising=False)
    folder = tmp_path / "ape"
    write_test_keystores(folder, PASS, ("alice", "bob"), scrypt_n=2**10)
    return folder


def _clean(err: BaseException, *secrets: str) -> None:
    for s in secrets:
        assert s not in str(err) and s not in repr(err)


def test_test_accounts__are_the_mnemonic_accounts_10_to_13():
    # anvil's / ape's test accounts 10, 11, 12 (the Safe owners) and 13 (nobody's owner)
    assert account_address("alice") == "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
    assert account_address("carol") == "0xFABB0ac9d68B0B445fB7357272Ff202C5651694a"
    assert account_address("mallory") == "0x1CBd3b2770909D4e10f157cABC84C7264073C9Ec"
    with pytest.raises(ValueError, match="no test account 'eve'"):
        account_key("eve")


def test_load__passphrase_from_ape_variable__the_key_of_the_keystore(ape, monkeypatch):
    monkeypatch.setenv(passphrase_variable("alice"), PASS)
    assert passphrase_variable("alice") == "APE_ACCOUNTS_alice_PASSPHRASE"
    acct = load_keystore_account("alice", data_folder=ape)
    assert acct.address == account_address("alice")
    # APE_DATA_FOLDER as ape reads it, and the upper-case spelling of the variable
    monkeypatch.delenv("APE_ACCOUNTS_alice_PASSPHRASE")
    monkeypatch.setenv("APE_ACCOUNTS_ALICE_PASSPHRASE", PASS)
    monkeypatch.setenv("APE_DATA_FOLDER", str(ape))
    assert load_keystore_account("alice").address == account_address("alice")
    assert keystore_aliases() == ["alice", "bob"]


def test_load__keeper_passphrase_is_not_an_approver_passphrase(ape, monkeypatch):
    monkeypatch.setenv("KEEPER_SIGNER_PASSPHRASE", PASS)
    with pytest.raises(NoPassphraseError, match="APE_ACCOUNTS_alice_PASSPHRASE") as info:
        load_keystore_account("alice", data_folder=ape)
    _clean(info.value, PASS)


def test_load__prompt_only_when_given(ape):
    asked = []
    acct = load_keystore_account(
        "bob", data_folder=ape, prompt=lambda alias: asked.append(alias) or PASS
    )
    assert asked == ["bob"] and acct.address == account_address("bob")


def test_load__wrong_passphrase__named_not_echoed(ape):
    with pytest.raises(KeystoreError, match="wrong passphrase for ape account 'alice'") as info:
        load_keystore_account("alice", "hunter2-wrong", data_folder=ape)
    _clean(info.value, "hunter2-wrong", PASS, account_key("alice")[2:])


@pytest.mark.parametrize("alias", ["eve", "../ape/accounts/alice", ""])
def test_load__unknown_alias__lists_the_known_ones(ape, alias):
    with pytest.raises(KeystoreError, match="known: alice, bob"):
        load_keystore_account(alias, PASS, data_folder=ape)


def test_load__not_a_keystore__refused(ape):
    (ape / "accounts" / "junk.json").write_text(json.dumps({"address": "00"}))
    (ape / "accounts" / "text.json").write_text("not json")
    for alias in ("junk", "text"):
        with pytest.raises(KeystoreError, match="is not an ape keystore"):
            load_keystore_account(alias, PASS, data_folder=ape)


def test_write_keystore__default_cost_is_eth_account_s__as_ape_writes(tmp_path):
    key = account_key("carol")
    path = write_keystore(tmp_path, "carol", key, PASS)
    doc = json.loads(path.read_text())
    assert path == tmp_path / "accounts" / "carol.json"
    assert doc == {**doc, "version": 3} and doc["crypto"]["kdf"] == "scrypt"
    assert (
        doc["crypto"]["kdfparams"]["n"] == 2**18
    )  # eth_account's default, as `ape accounts import`
    assert Account.decrypt(doc, PASS) == bytes.fromhex(key[2:])
    env = approver_env(tmp_path, PASS, ("carol",))
    assert env == {"APE_DATA_FOLDER": str(tmp_path), "APE_ACCOUNTS_carol_PASSPHRASE": PASS}
