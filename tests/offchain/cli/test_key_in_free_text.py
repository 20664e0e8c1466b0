"""The signer's key in a setting that is not the signer's (issue 48): with the ape signer,
``KEEPER_REPLICA_ID=<the key, 64 hex digits, no 0x> keeper run --once`` exited 0 and stored the
key as the replica's name, and every later ``keeper status`` printed it, with a correct
environment too.

Now every setting that is not a secret refuses a private key, with or without its 0x (exit 2,
the message names the setting and shows ``<redacted>``), so nothing is stored; and what a store
written before the fix holds is redacted when it is read back and printed. The signer's own key
is put in every free-text setting with every signer kind (raw, ape keyfile, remote), the
commands an operator runs are run twice (refused, then with a correct environment reading what
the first round stored) and the key appears nowhere: stdout, stderr, the JSON log lines, the
process's file descriptors, the store's rows."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from keepers.cli import main
from keepers.core.settings import (
    SECTIONS,
    ConfigError,
    env_names,
    load_settings,
    secret_fields,
    section_class,
)
from keepers.store import models as m
from keepers.store.db import Store

# every variable of every section whose value is free text (not a secret field)
FREE_TEXT = sorted(
    {
        env_names(section_class(s), f)[0]
        for s in SECTIONS
        for f in section_class(s).model_fields
        if f not in secret_fields(section_class(s))
    }
)
KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
COMMANDS = (["run", "--once"], ["status"], ["--json", "status"], ["history"], ["review"])


def _leaks(text: str, key: str) -> bool:
    bare = key.removeprefix("0x").lower()
    return bare in (text or "").lower()


def test_free_text_settings__the_sweep_covers_replica_id_paths_and_names():
    assert len(FREE_TEXT) > 60
    assert {"KEEPER_REPLICA_ID", "KEEPER_DEPLOYMENT", "KEEPER_METRICS_HOST"} <= set(FREE_TEXT)
    assert "KEEPER_SIGNER_KEY" not in FREE_TEXT and "KEEPER_SIGNER_PASSPHRASE" not in FREE_TEXT


@pytest.mark.parametrize("shown", [KEY, KEY.removeprefix("0x"), KEY.upper().replace("0X", "0x")])
@pytest.mark.parametrize("var", FREE_TEXT)
def test_key_in_a_free_text_setting__refused_naming_the_setting_redacted(var, shown):
    section = next(
        s
        for s in SECTIONS
        if any(env_names(section_class(s), f)[0] == var for f in section_class(s).model_fields)
    )
    with pytest.raises(ConfigError) as info:
        load_settings(section, env={var: shown})
    message = str(info.value)
    assert message.startswith(f"{var}=<redacted>: "), message
    assert not _leaks(message, KEY), message


def test_key_in_a_nested_variable__refused():
    with pytest.raises(ConfigError, match=r"KEEPER_POLICY__ROLES=<redacted>"):
        load_settings("core", env={"KEEPER_POLICY__ROLES": KEY[2:]})


def test_ordinary_values__accepted():
    s = load_settings("core", env={"KEEPER_REPLICA_ID": "keeper-a1", "KEEPER_DB_URL": "sqlite://"})
    assert s.replica_id == "keeper-a1"
    # 63 or 65 hex digits are not a key: the replica id's own rules apply
    assert load_settings("core", env={"KEEPER_REPLICA_ID": "a" * 63}).replica_id == "a" * 63


def _signer_env(kind: str, key: str, address: str, chain: Any, tmp_path: Path) -> dict[str, str]:
    if kind == "raw":
        return {"KEEPER_SIGNER_KEY": key}
    if kind == "ape":
        from ballast_dev.local.keystores import write_keystore

        data = tmp_path / "ape"
        write_keystore(data, "keeper", key, "correct horse", scrypt_n=2**4)
        return {
            "KEEPER_SIGNER_KIND": "ape",
            "KEEPER_SIGNER_ALIAS": "keeper",
            "KEEPER_SIGNER_PASSPHRASE": "correct horse",
            "APE_DATA_FOLDER": str(data),
        }
    # the node signs (anvil holds the test accounts): the keeper never sees the key
    return {
        "KEEPER_SIGNER_KIND": "remote",
        "KEEPER_SIGNER_URL": chain.provider.uri,
        "KEEPER_SIGNER_ADDRESS": address,
    }


def _store_text(db_url: str) -> str:
    """Every row of every table of the store, as text."""
    store = Store(db_url)
    try:
        out = []
        with store.sessions() as s:
            for table in inspect(s.get_bind()).get_table_names():
                out += [repr(tuple(r)) for r in s.execute(text(f'SELECT * FROM "{table}"'))]
        return "\n".join(out)
    finally:
        store.close()


def _run(env: dict[str, str], args: list[str]) -> Any:
    return CliRunner(mix_stderr=False).invoke(main, args, env=env)


@pytest.mark.parametrize("kind", ["raw", "ape", "remote"])
def test_signer_key_in_every_free_text_setting__refused_stored_nowhere_printed_nowhere(
    kind, env, accounts, chain, tmp_path, capfd
):
    signer = accounts[2]
    key = signer.private_key
    base = {
        **{k: v for k, v in env.items() if k != "KEEPER_SIGNER_KEY"},
        **_signer_env(kind, key, signer.address, chain, tmp_path),
        "KEEPER_LOG_LEVEL": "INFO",
        "KEEPER_LOG_JSON": "1",
    }
    seen: list[str] = []
    # 1. the key in each free-text setting in turn (bare and with 0x, alternately): every
    #    command refuses with exit 2 naming the setting; `run --once` for every setting, the
    #    read-only commands for the settings an operator is likeliest to paste it into
    for i, var in enumerate(FREE_TEXT):
        bad = {**base, var: key if i % 2 else key.removeprefix("0x")}
        commands = COMMANDS if var in _LIKELY else COMMANDS[:1]
        for args in commands:
            r = _run(bad, list(args))
            seen.append(r.stdout + r.stderr + repr(r.exception))
            assert r.exit_code == 2, (var, args, r.stdout, r.stderr)
            assert f"{var}=<redacted>" in r.stderr, (var, args, r.stderr)
    assert not any(_leaks(s, key) for s in seen)
    assert not _leaks(_store_text(base["KEEPER_DB_URL"]), key)

    # 2. a correct environment, twice: the second round reads what the first stored
    for _round in range(2):
        for args in COMMANDS:
            r = _run(base, list(args))
            assert r.exit_code == 0, (args, r.stdout, r.stderr)
            seen.append(r.stdout + r.stderr)
            assert not _leaks(r.stdout + r.stderr, key), (args, r.stdout, r.stderr)
    fleet = json.loads(_run(base, ["--json", "status"]).stdout)["fleet"]
    assert fleet["replicas"], fleet  # the clean runs did store themselves
    assert not _leaks(_store_text(base["KEEPER_DB_URL"]), key)
    fds = capfd.readouterr()
    assert not _leaks(fds.out + fds.err, key)


# the settings an operator is likeliest to paste a key into (names and paths)
_LIKELY = {"KEEPER_REPLICA_ID", "KEEPER_DEPLOYMENT", "KEEPER_SIGNER_ADDRESS", "KEEPER_ANVIL_BIN"}


def test_store_written_before_the_fix__key_as_replica_id__redacted_on_read_back(
    env, accounts, capfd
):
    """A store where an earlier keeper ran as KEEPER_REPLICA_ID=<key>: `keeper status` and
    `keeper --json status` with a correct environment print the replica as <redacted>."""
    key = accounts[2].private_key
    bare = key.removeprefix("0x")
    assert _run(env, ["run", "--once"]).exit_code == 0  # creates the store
    store = Store(env["KEEPER_DB_URL"])
    try:
        with store.transaction() as s:
            now = dt.datetime.now(dt.UTC)
            s.add(
                m.Replica(
                    id=bare,
                    instance=f"{bare}/host/1/abcd",
                    host="host",
                    pid=1,
                    bots=["fund"],
                    started_at=now,
                    seen_at=now,
                )
            )
            s.add(
                m.Lease(
                    name="fund:old",
                    holder=f"{bare}/host/1/abcd",
                    replica=bare,
                    term=1,
                    acquired_at=now,
                    renewed_at=now,
                    expires_at=now + dt.timedelta(seconds=600),
                )
            )
    finally:
        store.close()
    text_out = _run(env, ["status"])
    json_out = _run(env, ["--json", "status"])
    for r in (text_out, json_out):
        assert r.exit_code == 0, r.stderr
        assert not _leaks(r.stdout + r.stderr, key), r.stdout
    assert "replica <redacted>" in text_out.stdout
    data = json.loads(json_out.stdout)
    assert "<redacted>" in [x["replica"] for x in data["fleet"]["replicas"]]
    assert "<redacted>" in [x["replica"] for x in data["fleet"]["leases"]]
    assert not _leaks("".join(capfd.readouterr()), key)
