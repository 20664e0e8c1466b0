"""The three signers drive the same pipeline: raw key (covered everywhere), an ape account
keyfile with its passphrase from the env, and a remote JSON-RPC eth_signTransaction signer
(anvil answers it for its unlocked accounts, standing in for a separate signing service).

The first keyfile test writes the keyfile at eth_account's own scrypt cost (n = 2**18, the file
`ape accounts import` writes: about 0.8 s of CPU to write and again to read here); the others
write it at n = 2**10 (`FAST_N`), which the signer reads the same way (the file names its n):
what they check is the passphrase and the folder, not the cost."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from keepers.core.settings import KeeperSettings
from keepers.store.models import TxIntent
from keepers.tx.signers import ApeAccountSigner, RemoteSigner, signer_from_settings
from tests.support.pipeline_helpers import (
    SENDER,
    SENDER_KEY,
    hit_spec,
    make_pipeline,
    make_settings,
)

FAST_N = 2**10  # scrypt's cost parameter for the keyfiles whose cost is not what is checked


def _run_one(tmp_path, anvil, counter, signer, ident):
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address), signer=signer
    )
    intent = pipe.submit(hit_spec(counter, ident))
    pipe.run(until_idle=True, max_seconds=30)
    with pipe.store.sessions() as s:
        status = s.get(TxIntent, intent.id).status  # type: ignore[union-attr]
    pipe.store.close()
    assert status == "confirmed"
    assert counter.functions.hits(ident).call() == 1


def test_remote_signer__anvil_eth_signTransaction__intent_confirmed(tmp_path, anvil, counter):
    _run_one(tmp_path, anvil, counter, RemoteSigner(anvil.url, SENDER), 9001)


def test_ape_account_signer__keyfile_and_env_passphrase__intent_confirmed(
    tmp_path, anvil, counter, monkeypatch
):
    data = tmp_path / "ape"
    (data / "accounts").mkdir(parents=True)
    keyfile = Account.encrypt(SENDER_KEY, "s3cret")  # the format `ape accounts import` writes
    (data / "accounts" / "keeper.json").write_text(json.dumps(keyfile))
    monkeypatch.setenv("KEEPER_SIGNER_PASSPHRASE", "s3cret")
    signer = ApeAccountSigner("keeper", data_folder=data)
    assert signer.address == SENDER
    _run_one(tmp_path, anvil, counter, signer, 9002)


def test_ape_account_signer__wrong_passphrase__refused(tmp_path):
    data = tmp_path / "ape"
    (data / "accounts").mkdir(parents=True)
    (data / "accounts" / "k.json").write_text(
        json.dumps(Account.encrypt(SENDER_KEY, "right", iterations=FAST_N))
    )
    with pytest.raises(ValueError):
        ApeAccountSigner("k", "wrong", data_folder=data)


def test_signer_from_settings__remote_without_url__config_error_names_field():
    from keepers.core.settings import ConfigError, load_settings

    with pytest.raises(ConfigError, match="signer_url"):
        load_settings(signer_kind="remote")
    s = KeeperSettings(signer_kind="remote", signer_url="http://127.0.0.1:1", signer_address=SENDER)
    assert isinstance(signer_from_settings(s), RemoteSigner)


def test_ape_account_signer__no_folder_given__reads_ape_data_folder_without_ape(
    tmp_path, monkeypatch
):
    """The runtime finds ape's keyfiles where ape does (APE_DATA_FOLDER, else ~/.ape) without
    importing ape, which is a dev-only dependency now."""
    data = tmp_path / "ape-data"
    (data / "accounts").mkdir(parents=True)
    (data / "accounts" / "k.json").write_text(
        json.dumps(Account.encrypt(SENDER_KEY, "pw", iterations=FAST_N))
    )
    monkeypatch.setenv("APE_DATA_FOLDER", str(data))
    assert ApeAccountSigner("k", "pw").address == SENDER
    monkeypatch.delenv("APE_DATA_FOLDER")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".ape").symlink_to(data)
    assert ApeAccountSigner("k", "pw").address == SENDER
