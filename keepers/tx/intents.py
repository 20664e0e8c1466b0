"""Intents asked for: what a keeper hands the transaction pipeline (``IntentSpec``) and its
recording as a ``pending`` TxIntent row, idempotent by key (``submit_intent``,
``submit_intents``). Separate from the pipeline's state machine (keepers.tx.pipeline, which
re-exports these names): recording an intent needs only the store, no node, signer or claim,
and every bot submits through here or through ``Pipeline.submit``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from keepers.store.db import Store
from keepers.store.models import StepLog, utcnow
from keepers.store.rows import INTENTS, IntentRow, load_intents
from keepers.store.statuses import INTENT
from keepers.store.statuses import IntentStatus as S

# step-log rows are written with Core on the session's connection (the pipeline's batches too):
# through the Session a statement on a mapped table is run as an ORM bulk statement
STEPLOG_INSERT = insert(StepLog.__table__)  # type: ignore[arg-type]


@dataclass(frozen=True)
class IntentSpec:
    """What a keeper asks for. ``idempotency_key`` names the effect: asking twice returns the
    first intent."""

    idempotency_key: str
    role: str
    chain_id: int
    sender: str
    target: str
    calldata: str
    value: int = 0
    notional: int | None = None
    fee_policy: dict[str, int] = field(default_factory=dict)


def _new_intent(spec: IntentSpec) -> dict[str, Any]:
    return {
        "idempotency_key": spec.idempotency_key,
        "kind": "call",
        "role": spec.role,
        "chain_id": spec.chain_id,
        "sender": spec.sender.lower(),
        "target": spec.target.lower(),
        "calldata": spec.calldata,
        "value": spec.value,
        "notional": spec.value if spec.notional is None else spec.notional,
        "fee_policy": dict(spec.fee_policy),
        "status": INTENT.start(S.PENDING).value,
    }


# the inserted rows are matched to their specs by idempotency key, not by order: SQLite can
# then insert the batch in one statement (with parameter order asked, one row per statement)
_INTENT_INSERT = insert(INTENTS).returning(*INTENTS.c)


def submit_intent(store: Store, spec: IntentSpec) -> IntentRow:
    """Insert an intent in its own transaction; an existing idempotency key wins."""
    return submit_intents(store, [spec])[0]


def submit_intents(store: Store, specs: list[IntentSpec]) -> list[IntentRow]:
    """Insert many intents in one transaction (e.g. all actions of a plan) and return them as
    stored (plain rows: keepers.store.rows). Keys that already exist return their first
    intent. On a concurrent insert of the same key, falls back to one transaction per
    intent. Written with Core, the rows in one INSERT .. RETURNING."""
    keys = [sp.idempotency_key for sp in specs]
    with store.sessions() as s:
        existing = {
            it.idempotency_key: it
            for it in load_intents(
                s.connection(), select(INTENTS).where(INTENTS.c.idempotency_key.in_(keys))
            )
        }
    fresh: dict[str, IntentRow] = {}
    try:
        with store.transaction() as s:
            new: dict[str, dict[str, Any]] = {}
            for sp in specs:
                if sp.idempotency_key not in existing and sp.idempotency_key not in new:
                    new[sp.idempotency_key] = _new_intent(sp)
            if new:
                conn = s.connection()
                inserted = conn.execute(_INTENT_INSERT, list(new.values())).mappings().all()
                fresh = {r["idempotency_key"]: IntentRow(r) for r in inserted}
                now = utcnow()
                conn.execute(
                    STEPLOG_INSERT,
                    [
                        {"intent_id": it.id, "step": "submit", "outcome": "ok", "detail": {},
                         "worker": None, "at": now}
                        for it in fresh.values()
                    ],
                )  # fmt: skip
    except IntegrityError:
        if len(specs) > 1:
            return [submit_intent(store, sp) for sp in specs]
        found = _by_key(store, specs[0].idempotency_key)
        assert found is not None
        return [found]
    return [existing.get(k) or fresh[k] for k in keys]


def _by_key(store: Store, key: str) -> IntentRow | None:
    with store.sessions() as s:
        found = load_intents(
            s.connection(), select(INTENTS).where(INTENTS.c.idempotency_key == key)
        )
    return found[0] if found else None
