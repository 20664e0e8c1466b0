"""What a keeper's store holds, read the way a test checks a keeper process from outside: the
plans with their actions, and the pipeline's intents per idempotency key (each fund action is
``fund:<plan>:<index>``, so a count above one is an action built twice)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepers.store import models as m
from keepers.store.db import Store, is_sqlite

# One Store per PostgreSQL database for the whole test process: a test that polls the store
# every 0.2 s (the replicas') otherwise built an engine, opened a connection (a backend process
# forked by the server) and read the schema revision on every poll.
_PG_READERS: dict[str, Store] = {}


@contextmanager
def reading(db: str) -> Iterator[Session]:
    """A session on ``db`` for a test's read from outside the keeper. PostgreSQL: the engine is
    kept (its databases are never dropped, tests/support/pg.py). SQLite: opened and closed
    around each read, since an open connection would keep the ``-wal`` file that a keeper's
    clean stop removes (test_keeper_run_stop asserts it is gone)."""
    if is_sqlite(db):
        store = Store(db)
        try:
            with store.sessions() as s:
                yield s
        finally:
            store.close()
        return
    store = _PG_READERS.get(db)
    if store is None:
        store = _PG_READERS[db] = Store(db)
    with store.sessions() as s:
        yield s


def plan_rows(db: str) -> list[tuple[str, str, list[tuple[int, str, int | None]]]]:
    """Every plan: (ref, status, [(action seq, action status, intent id)])."""
    with reading(db) as s:
        out = []
        for p in s.scalars(select(m.Plan).order_by(m.Plan.id)).all():
            acts = [(a.seq, a.status or "", a.intent_id) for a in p.actions]
            out.append((p.ref or "", str(p.status), acts))
        return out


def intents_per_key(db: str) -> dict[str, int]:
    with reading(db) as s:
        rows = s.execute(
            select(m.TxIntent.idempotency_key, func.count(m.TxIntent.id)).group_by(
                m.TxIntent.idempotency_key
            )
        ).all()
    return {k: int(n) for k, n in rows}


def intents(db: str, key_prefix: str) -> list[dict[str, object]]:
    """The intents whose idempotency key starts with ``key_prefix``, in nonce order: key,
    sender, target, nonce, status and receipt status."""
    with reading(db) as s:
        rows = s.scalars(
            select(m.TxIntent)
            .where(m.TxIntent.idempotency_key.like(f"{key_prefix}%"))
            .order_by(m.TxIntent.nonce)
        ).all()
        return [
            {
                "key": r.idempotency_key,
                "sender": r.sender,
                "target": r.target,
                "nonce": r.nonce,
                "status": r.status,
                "receipt_status": r.receipt_status,
            }
            for r in rows
        ]
