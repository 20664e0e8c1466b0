"""Configuration refuses bad values naming the field; the store migrates itself, keeps one
intent per idempotency key and refuses a second SQLite process naming the holder.

Its worker processes are forked from the tests' preloaded server (tests/support/worker_fork.py: the
worker's own main, a process of its own); the entry point `python -m keepers.tx.worker` itself runs
in tests/offchain/pipeline/test_worker_policy.py and in test_pipeline_crash.py's stray-crash and
SIGKILL tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from sqlalchemy import inspect, text

from keepers.core.settings import ConfigError, load_settings
from keepers.store.db import HEAD_REVISION, Store
from keepers.tx.pipeline import IntentSpec, submit_intent, submit_intents
from tests.support.pipeline_helpers import ROOT, SENDER
from tests.support.worker_fork import fork_worker


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KEEPER_CONFIRMATIONS_DEFAULT": "0"}, "KEEPER_CONFIRMATIONS_DEFAULT='0'"),
        ({"KEEPER_GAS_MARGIN_BPS": "lots"}, "KEEPER_GAS_MARGIN_BPS='lots'"),
        ({"KEEPER_DB_URL": "mysql://x"}, "KEEPER_DB_URL='mysql://x'"),
        ({"KEEPER_FEE_BUMP_BPS": "1000"}, "KEEPER_FEE_BUMP_BPS='1000'"),
        ({"KEEPER_NONCE_RECHECK_S": "-1"}, "KEEPER_NONCE_RECHECK_S='-1'"),
        ({"KEEPER_SIGNER_KIND": "hsm"}, "KEEPER_SIGNER_KIND='hsm'"),
        (
            {
                "KEEPER_POLICY": '{"roles": {"keeper": {"allowed": [{"contract": "0x12", '
                '"selector": "0xebf6e91d"}]}}}'
            },
            "KEEPER_POLICY[roles.keeper.allowed.0.contract]='0x12'",
        ),
    ],
)
def test_config__bad_value__refuses_naming_variable(monkeypatch, env, named):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert named in str(err.value)


def test_worker__bad_config__exits_2_naming_field(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
    env.update(KEEPER_DB_URL=f"sqlite:///{tmp_path}/k.db", KEEPER_REPLACE_AFTER_BLOCKS="-3")
    out = fork_worker(env, "--until-idle", timeout=60)
    assert out.returncode == 2
    assert "KEEPER_REPLACE_AFTER_BLOCKS='-3'" in out.stderr
    assert not (tmp_path / "k.db").exists()  # refused before touching anything


def _alembic_cfg() -> Any:
    from alembic.config import Config

    from keepers.store.db import MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def test_store__fresh_sqlite__migrated_to_head_with_all_tables(tmp_path, real_store_migrations):
    # Alembic itself, not the suite's template copy (tests/support/store_template.py)
    from alembic.script import ScriptDirectory

    store = Store(f"sqlite:///{tmp_path}/k.db")
    tables = set(inspect(store.engine).get_table_names())
    assert {
        "plans",
        "actions",
        "approvals",
        "tx_intents",
        "tx_attempts",
        "step_log",
        "job_runs",
        "nonce_allocators",
        "alembic_version",
    } <= tables
    with store.engine.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        head = ScriptDirectory.from_config(_alembic_cfg()).get_current_head()
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
    assert head == HEAD_REVISION  # a new migration moves the store's fast path too
    store.close()
    Store(f"sqlite:///{tmp_path}/k.db").close()  # migrating again is a no-op


def test_store__at_head__opens_without_alembic_behind_head__migrated(
    tmp_path, real_store_migrations
):
    """A store at the head revision opens without loading Alembic (a keeper start's cost); one
    behind is upgraded as before."""
    url = f"sqlite:///{tmp_path}/k.db"
    Store(url).close()
    probe = (
        "import sys; from keepers.store.db import Store; Store(sys.argv[1]).close(); "
        "print(any(m == 'alembic' or m.startswith('alembic.') for m in sys.modules))"
    )
    opened = subprocess.run(
        [sys.executable, "-c", probe, url], capture_output=True, text=True, check=True
    )
    assert opened.stdout.strip() == "False", opened.stderr[-1000:]

    from keepers.store.db import downgrade, make_engine, stored_revision

    engine = make_engine(url)
    downgrade(engine, "0006")
    assert stored_revision(engine) == "0006"
    engine.dispose()
    upgraded = subprocess.run(
        [sys.executable, "-c", probe, url], capture_output=True, text=True, check=True
    )
    assert upgraded.stdout.strip() == "True"
    engine = make_engine(url)
    assert stored_revision(engine) == HEAD_REVISION
    engine.dispose()


def test_submit__same_idempotency_key__returns_first_intent(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    spec = IntentSpec("effect-1", "keeper", 31337, SENDER, SENDER, "0x", value=1)
    first = submit_intent(store, spec)
    again = submit_intent(store, IntentSpec("effect-1", "keeper", 31337, SENDER, SENDER, "0x", 2))
    many = submit_intents(
        store, [spec, IntentSpec("effect-2", "keeper", 31337, SENDER, SENDER, "0x")]
    )
    assert again.id == first.id and again.value == 1
    assert many[0].id == first.id and many[1].id != first.id
    store.close()


def test_sqlite_store__second_process__refused_naming_holder_pid(tmp_path):
    db = tmp_path / "k.db"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from keepers.store.db import Store; "
            f"s = Store('sqlite:///{db}', exclusive=True); print('locked', flush=True); time.sleep(60)",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
        env.update(
            KEEPER_DB_URL=f"sqlite:///{db}",
            KEEPER_SIGNER_KEY="0x" + "11" * 32,
            KEEPER_RPC_URL="http://127.0.0.1:9",
        )
        started = time.monotonic()
        out = fork_worker(env, "--until-idle", timeout=60)
        assert out.returncode == 3
        assert f"in use by pid {holder.pid}" in out.stderr
        assert time.monotonic() - started < 30
    finally:
        holder.kill()
        holder.wait()


def test_migrations__head__match_the_models(tmp_path):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from keepers.store.models import Base

    store = Store(f"sqlite:///{tmp_path}/k.db")
    with store.engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), Base.metadata)
    store.close()
    # SQLite reports our decorated types as their impl types; anything else is real drift
    assert [d for d in diff if not (isinstance(d, list) and d[0][0] == "modify_type")] == []


def test_worker_import__pipeline_and_store__do_not_load_ape():
    code = (
        "import sys, keepers.tx.worker, keepers.store.repo; "
        "print(any(m == 'ape' or m.startswith('ape.') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
