"""What a keeper's store holds, read the way a test checks a keeper process from outside: the
plans with their actions, and the pipeline's intents per idempotency key (each fund action is
``fund:<plan>:<index>``, so a count above one is an action built twice)."""

from __future__ import annotations

from sqlalchemy import func, select

from keepers.store import models as m
from keepers.store.db import Store


def plan_rows(db: str) -> list[tuple[str, str, list[tuple[int, str, int | None]]]]:
    """Every plan: (ref, status, [(action seq, action status, intent id)])."""
    store = Store(db)
    try:
        with store.sessions() as s:
            out = []
            for p in s.scalars(select(m.Plan).order_by(m.Plan.id)).all():
                acts = [(a.seq, a.status or "", a.intent_id) for a in p.actions]
                out.append((p.ref or "", str(p.status), acts))
            return out
    finally:
        store.close()


def intents_per_key(db: str) -> dict[str, int]:
    store = Store(db)
    try:
        with store.sessions() as s:
            rows = s.execute(
                select(m.TxIntent.idempotency_key, func.count(m.TxIntent.id)).group_by(
                    m.TxIntent.idempotency_key
                )
            ).all()
        return {k: int(n) for k, n in rows}
    finally:
        store.close()


def intents(db: str, key_prefix: str) -> list[dict[str, object]]:
    """The intents whose idempotency key starts with ``key_prefix``, in nonce order: key,
    sender, target, nonce, status and receipt status."""
    store = Store(db)
    try:
        with store.sessions() as s:
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
    finally:
        store.close()
