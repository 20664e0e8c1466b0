"""``PlanStore.get`` (a plan with its actions and approvals as plain rows, ``PlanRow``),
``PlanStore.with_status`` (plans' own columns, ``PlanHead``) and ``PlanStore.in_flight`` (every
waiting plan's legs, followed through their intents) read through prebuilt Core statements.
Here each is compared with the ORM read it replaced, column by column, on seeded random
stores: plans proposed, waiting, decided and finished (another keeper's plan beside them),
actions sent (their intents in every status), done and failed, approvals signed and not,
several plans of which only one is asked for."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from sqlalchemy import select

from keepers.fund.plan_docs import action_from_dict
from keepers.fund.plan_reads import ActionRow, ApprovalRow, PlanRow
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.inflight import InFlight, remaining
from keepers.fund.planning.triggers import manual_trigger
from keepers.fund.records import (
    APPROVED,
    EXECUTED,
    KIND,
    PENDING_APPROVAL,
    WAITING,
    PlanStore,
    _leg,
)
from keepers.store import models as m
from keepers.store.db import Store
from keepers.store.repo import create_plan
from keepers.store.statuses import IntentStatus
from tests.support.pipeline_helpers import stored_intent

ASSET = "0x" + "ab" * 20


def _plain_get(store: Store, ref: str) -> m.Plan | None:
    """The ORM read ``get`` replaced: the row and its two relationships, in one session."""
    with store.reads() as s:
        row = s.scalars(select(m.Plan).where(m.Plan.ref == ref)).first()
        if row is not None:
            _ = list(row.actions), list(row.approvals)
        return row


def _plain_in_flight(store: Store, exclude: str | None = None) -> list[InFlight]:
    """The ORM read ``in_flight`` replaced: the waiting plans, each one's actions lazily
    loaded, and one query per plan for its intents' statuses."""
    out = []
    with store.sessions() as s:
        rows = s.scalars(
            select(m.Plan)
            .where(m.Plan.kind == KIND, m.Plan.status.in_(WAITING))
            .order_by(m.Plan.id)
        ).all()
        for row in rows:
            if row.ref is None or row.ref == exclude:
                continue
            intents = [a.intent_id for a in row.actions if a.intent_id is not None]
            status_of = (
                dict(
                    s.execute(
                        select(m.TxIntent.id, m.TxIntent.status).where(m.TxIntent.id.in_(intents))
                    ).all()
                )
                if intents
                else {}
            )
            legs = []
            for a in sorted(row.actions, key=lambda a: a.seq):
                action = action_from_dict(a.payload["action"])
                status = None if a.intent_id is None else status_of.get(a.intent_id)
                legs.append((action, _leg(a, status)))
            out.append(InFlight(row.ref, str(row.status), remaining(legs)))
    return out


def _plain_with_status(store: Store, *statuses: str) -> list[m.Plan]:
    """The ORM read ``with_status`` replaced (rows without their children)."""
    with store.sessions() as s:
        return list(
            s.scalars(
                select(m.Plan)
                .where(m.Plan.kind == KIND, m.Plan.status.in_(statuses))
                .order_by(m.Plan.id)
            ).all()
        )


def _same_plan(got: PlanRow, plain: m.Plan) -> None:
    _same(got, plain, m.Plan)
    assert [a.seq for a in got.actions] == sorted(a.seq for a in plain.actions)
    for a, b in zip(got.actions, plain.actions, strict=True):
        _same(a, b, m.Action)
    assert len(got.approvals) == len(plain.approvals)
    for a, b in zip(got.approvals, sorted(plain.approvals, key=lambda x: x.id), strict=True):
        _same(a, b, m.Approval)


def _columns(model: Any) -> list[str]:
    return list(model.__table__.c.keys())


def _same(got: Any, plain: Any, model: Any) -> None:
    for name in _columns(model):
        assert getattr(got, name) == getattr(plain, name), (model.__name__, name)


def _plan(rng: random.Random, k: int) -> Plan:
    n = rng.randrange(1, 7)
    return Plan(
        id=f"{k:02d}{rng.randrange(16**14):014x}",
        created_at=1_800_000_000 + rng.randrange(10**6),
        triggers=(manual_trigger("test", f"case {k}"),),
        actions=tuple(
            Action(
                ActionType.PURCHASE,
                rng.randrange(1, 10**30),
                1,
                "L3 under band",
                to_tier=2,
                asset=ASSET,
            )
            for _ in range(n)
        ),
    )


def _fill(plans: PlanStore, rng: random.Random) -> list[str]:
    refs = []
    # another keeper's plan in the same table (the cross-chain bot's): never one of the fund's
    create_plan(plans.store, "crosschain_rebalance", {}, [("move", {"amount": "1"})])
    for k in range(rng.randrange(1, 6)):
        p = _plan(rng, k)
        plans.save_new(p, "proposed", {"risk": [], "note": rng.choice(("", "x", None))})
        refs.append(p.id)
        if rng.random() < 0.7:
            plans.update(p.id, PENDING_APPROVAL, approval={"deadline": 1_900_000_000})
            for j in range(rng.randrange(0, 4)):
                signed = rng.random() < 0.5
                plans.add_approval(
                    p.id,
                    f"0x{rng.randrange(16**40):040x}",
                    rng.random() < 0.8,
                    1_800_000_000 + j,
                    "two",
                    note=rng.choice(("", "ok")),
                    signature="0x" + "11" * 65 if signed else None,
                    plan_hash="0x" + "22" * 32 if signed else None,
                )
            if rng.random() < 0.5:
                plans.update(p.id, APPROVED)
                for seq in range(len(p.actions)):
                    roll = rng.random()
                    if roll < 0.4:
                        ok = rng.random() < 0.8
                        plans.record_action(
                            p.id, seq, "done" if ok else "failed", result={"success": ok}
                        )
                    elif roll < 0.8:
                        intent = stored_intent(
                            plans.store, f"fund:{p.id}:{seq}", rng.choice(list(IntentStatus))
                        )
                        plans.record_action(
                            p.id, seq, rng.choice(("submitted", "aborted")), intent_id=intent
                        )
                if rng.random() < 0.5:
                    plans.finish(p.id, EXECUTED, 1_800_000_100, rng.randrange(10**9))
    return refs


@pytest.mark.parametrize("seed", range(12))
def test_get__equal_to_the_plain_orm_read(tmp_path: Any, seed: int) -> None:
    store = Store(f"sqlite:///{tmp_path}/k.db")
    try:
        plans = PlanStore(store)
        rng = random.Random(seed)
        refs = _fill(plans, rng)
        for ref in refs:
            got, plain = plans.get(ref), _plain_get(store, ref)
            assert isinstance(got, PlanRow) and plain is not None
            _same_plan(got, plain)
            assert plans.find(ref[:8]) == got
            assert plans.plan(ref) == plans.plan_of(plain)
        assert plans.get("0" * 16) is None and _plain_get(store, "0" * 16) is None
        for exclude in (None, *refs[:2]):
            assert plans.in_flight(exclude) == _plain_in_flight(store, exclude)
        for statuses in ((PENDING_APPROVAL,), (APPROVED,), WAITING, (EXECUTED, "blocked"), ()):
            plain_rows = _plain_with_status(store, *statuses)
            for view in (False, True):
                rows = plans.with_status(*statuses, view=view)
                assert [r.ref for r in rows] == [r.ref for r in plain_rows]
                for got, plain in zip(rows, plain_rows, strict=True):
                    _same(got, plain, m.Plan)
                    assert not hasattr(got, "actions")  # as the ORM row: not loaded, not empty
    finally:
        store.close()


def test_rows__hold_every_column_of_their_table() -> None:
    """A column a migration adds must be added to its row (a read would fail on it)."""
    for row, model in ((PlanRow, m.Plan), (ActionRow, m.Action), (ApprovalRow, m.Approval)):
        names = [f.name for f in dataclasses.fields(row) if f.name not in ("actions", "approvals")]
        assert names == _columns(model), row.__name__


def test_get__a_changed_row_changes_nothing_stored(tmp_path: Any) -> None:
    store = Store(f"sqlite:///{tmp_path}/k.db")
    try:
        plans = PlanStore(store)
        (ref,) = _fill(PlanStore(store), random.Random(7))[:1]
        got = plans.get(ref)
        assert got is not None
        got.status, got.payload["plan"] = "executed", None
        got.actions.clear()
        again = plans.get(ref)
        assert again is not None and again != got
        _same(again, _plain_get(store, ref), m.Plan)
        assert again.actions
    finally:
        store.close()
