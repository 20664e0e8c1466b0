"""Three keeper replicas against a real PostgreSQL server: every intent executed exactly once.

The server is a throwaway cluster started by the test itself (see pg.py); the test is skipped,
with the reason, only where PostgreSQL cannot be installed or started.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from keepers.store.db import Store
from keepers.store.models import StepLog, TxIntent
from keepers.tx.pipeline import submit_intent
from tests.support.pg import PostgresUnavailable, ThrowawayPostgres
from tests.support.pipeline_helpers import ROOT, hit_spec, worker_env

_ids = itertools.count(50_000)


@pytest.fixture(scope="module")
def postgres() -> Iterator[ThrowawayPostgres]:
    try:
        pg = ThrowawayPostgres()
        pg.start()
    except PostgresUnavailable as err:
        pytest.skip(f"PostgreSQL unavailable: {err}")
    yield pg
    pg.stop()


@pytest.fixture
def pg_url(postgres: ThrowawayPostgres) -> Iterator[str]:
    """A fresh database per test."""
    name = f"keeper_{int(time.time() * 1000)}"
    admin = Store(postgres.url, run_migrations=False)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.close()
    yield postgres.url.rsplit("/", 1)[0] + "/" + name


def _replicas(tmp_path: Any, anvil: Any, counter: Any, url: str, n_intents: int) -> None:
    ids = [next(_ids) for _ in range(n_intents)]
    store = Store(url)
    for i in ids:
        submit_intent(store, hit_spec(counter, i))
    count_before = counter.functions.count().call()
    # small batches so that the replicas really contend for the same rows
    env = worker_env(url, anvil.url, counter.address, tmp_path, KEEPER_BATCH_SIZE="8")
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "keepers.tx.worker", "--until-idle", "--max-seconds", "300"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=330)
        assert p.returncode == 0, err[-2000:]

    with store.sessions() as s:
        statuses = Counter(s.scalars(select(TxIntent.status)).all())
        steps = s.execute(select(StepLog.intent_id, StepLog.step, StepLog.worker)).all()
        nonces = s.scalars(select(TxIntent.nonce)).all()
    store.close()
    assert statuses == {"confirmed": n_intents}
    assert counter.functions.count().call() == count_before + n_intents
    assert all(counter.functions.hits(i).call() == 1 for i in ids)
    # one Build (one nonce) and one final Confirm per intent, by whichever replica claimed it;
    # Sign/Broadcast may repeat for a replacement at the same nonce
    per_step = Counter((i, st) for i, st, _ in steps if st in ("build", "confirm"))
    assert set(per_step.values()) == {1}
    assert len(set(nonces)) == n_intents
    workers = Counter(w for _, st, w in steps if w is not None)
    assert len(workers) >= 2, f"work was not shared: {workers}"


def test_replicas__three_workers_500_intents__each_exactly_once(tmp_path, anvil, counter, pg_url):
    """About 15 s here, so it stays in the normal suite (no smaller stand-in needed)."""
    _replicas(tmp_path, anvil, counter, pg_url, 500)


def test_audit_on_postgres__daily_notional_cap__enforced_under_advisory_lock(
    tmp_path, anvil, counter, pg_url
):
    from tests.support.pipeline_helpers import make_pipeline, make_settings

    settings = make_settings(
        pg_url, anvil.url, counter.address, role={"max_value_wei": 1000, "daily_notional_cap": 1500}
    )
    pipe = make_pipeline(settings)
    a, b = (next(_ids) for _ in range(2))
    first = pipe.submit(hit_spec(counter, a, value=1000))
    over = pipe.submit(hit_spec(counter, b, value=600))
    pipe.run(until_idle=True, max_seconds=60)
    with pipe.store.sessions() as s:
        assert s.get(TxIntent, first.id).status == "confirmed"  # type: ignore[union-attr]
        assert "daily-notional-cap" in (s.get(TxIntent, over.id).error or "")  # type: ignore[union-attr]
    pipe.store.close()
