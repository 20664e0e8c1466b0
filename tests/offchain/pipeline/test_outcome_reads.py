"""``read_outcomes`` and ``last_log_id`` (keepers.tx.outcome: what a waiting keeper reads at
every poll) read through prebuilt Core statements. Here both are compared with the ORM reads
they replaced on seeded random stores: intents in every status, with and without errors and
mined attempts, step-log rows of every step (gas-funds refusals among the retries, reverts
with and without data, audit refusals with and without a rule), and every cut of
``refused_after``."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy import select

from keepers.store import models as m
from keepers.store.db import Store
from keepers.store.statuses import IntentStatus
from keepers.tx.errors import InsufficientFunds
from keepers.tx.outcome import _OF_STATUS, IntentOutcome, Outcome, last_log_id, read_outcomes
from keepers.tx.revert import RevertDecoder
from tests.support.pipeline_helpers import stored_intent

STEPS = ("build", "audit", "sign", "validate", "broadcast", "watch", "confirm")
# Error(string) "no" and a custom error's selector: what a build log's revert data may hold
DATA = (
    None,
    "0x",
    "0x08c379a0" + f"{32:064x}" + f"{2:064x}" + "6e6f".ljust(64, "0"),
    "0xdeadbeef",
)


def _plain_last_log(s: Any, intent_id: int, step: str | None = None) -> m.StepLog | None:
    q = select(m.StepLog).where(m.StepLog.intent_id == intent_id)
    if step is not None:
        q = q.where(m.StepLog.step == step)
    return s.scalars(q.order_by(m.StepLog.id.desc()).limit(1)).first()


def _plain_outcome(
    s: Any, row: m.TxIntent, decoder: RevertDecoder, refused_after: int | None
) -> IntentOutcome | None:
    """The ORM reads the Core ones replaced (keepers.tx.outcome before)."""
    kind = _OF_STATUS.get(IntentStatus(row.status))
    if kind is None:
        last = _plain_last_log(s, row.id)
        if (
            last is not None
            and last.outcome == "retry"
            and (refused_after is None or last.id > refused_after)
            and last.detail.get("error_type") == InsufficientFunds.__name__
        ):
            return IntentOutcome(row.id, Outcome.OUT_OF_GAS_FUNDS, row.status, error=row.error)
        return None
    tx_hash = None
    if row.mined_attempt_id is not None:
        attempt = s.get(m.TxAttempt, row.mined_attempt_id)
        tx_hash = attempt.tx_hash if attempt is not None else None
    revert = rule = None
    if kind is Outcome.SIMULATION_REVERTED:
        log = _plain_last_log(s, row.id, "build")
        revert = decoder.decode(log.detail.get("data")) if log is not None else None
    elif kind is Outcome.REJECTED:
        log = _plain_last_log(s, row.id, "audit")
        rule = log.detail.get("rule") if log is not None else None
    return IntentOutcome(
        row.id,
        kind,
        row.status,
        tx_hash=tx_hash,
        block=row.mined_block,
        revert=revert,
        rule=rule,
        error=row.error,
    )


def _plain_read(
    store: Store, ids: list[int], decoder: RevertDecoder, refused_after: int | None
) -> dict[int, IntentOutcome]:
    out = {}
    with store.sessions() as s:
        for row in s.scalars(select(m.TxIntent).where(m.TxIntent.id.in_(ids))).all():
            found = _plain_outcome(s, row, decoder, refused_after)
            if found is not None:
                out[row.id] = found
    return out


def _fill(store: Store, rng: random.Random) -> list[int]:
    ids = []
    for k in range(rng.randrange(1, 25)):
        intent_id = stored_intent(
            store,
            f"k{k}-{rng.randrange(10**9)}",
            rng.choice(list(IntentStatus)),
            error=rng.choice((None, "node said no")),
            mined_block=rng.choice((None, rng.randrange(10**6))),
        )
        ids.append(intent_id)
        with store.transaction() as s:
            intent = s.get(m.TxIntent, intent_id)
            assert intent is not None
            for _ in range(rng.randrange(0, 3)):
                s.add(
                    m.TxAttempt(
                        intent_id=intent.id,
                        tx_hash=f"0x{rng.randrange(16**64):064x}",
                        raw_tx="0x",
                        nonce=k,
                        max_fee_per_gas=1,
                        max_priority_fee_per_gas=1,
                        gas_limit=21_000,
                    )
                )
            s.flush()
            roll = rng.random()
            if roll < 0.4:
                attempt = s.scalars(
                    select(m.TxAttempt.id).where(m.TxAttempt.intent_id == intent.id)
                ).first()
                intent.mined_attempt_id = attempt
            elif roll < 0.5:
                intent.mined_attempt_id = 10**6  # an attempt that is not there
            for _ in range(rng.randrange(0, 6)):
                error = rng.choice((InsufficientFunds.__name__, "NodeError", None))
                s.add(
                    m.StepLog(
                        intent_id=intent.id,
                        step=rng.choice(STEPS),
                        outcome=rng.choice(("retry", "ok", "failed", "rejected")),
                        detail={
                            **({"error_type": error} if error else {}),
                            **({"data": rng.choice(DATA)} if rng.random() < 0.7 else {}),
                            **(
                                {"rule": rng.choice(("cap", "target"))}
                                if rng.random() < 0.5
                                else {}
                            ),
                        },
                    )
                )
    return ids


@pytest.mark.parametrize("seed", range(12))
def test_outcome_reads__equal_to_the_plain_orm_reads(tmp_path: Any, seed: int) -> None:
    store = Store(f"sqlite:///{tmp_path}/k.db")
    try:
        rng = random.Random(seed)
        ids = _fill(store, rng)
        decoder = RevertDecoder()
        with store.sessions() as s:
            logs = sorted(s.scalars(select(m.StepLog.id)).all())
        for refused_after in (None, 0, *logs):  # every cut: before, at and after each row
            asked = [*rng.sample(ids, rng.randrange(1, len(ids) + 1)), 10**7]  # one not there
            got = read_outcomes(store, asked, decoder, refused_after=refused_after)
            assert got == _plain_read(store, asked, decoder, refused_after)
            assert list(got) == sorted(got)
        for intent in (*ids, 10**7):
            with store.sessions() as s:
                last = _plain_last_log(s, intent)
            assert last_log_id(store, intent) == (last.id if last is not None else 0)
        assert read_outcomes(store, []) == {}
    finally:
        store.close()
