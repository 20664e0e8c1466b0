"""Small repositories over the store for the bots: plans with their actions, approvals, job runs.

Each function is one DB transaction. Transaction intents have their own API in
keepers.tx.pipeline (submit_intent / submit_intents).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from keepers.store.db import Store
from keepers.store.models import Action, Approval, JobRun, Plan, utcnow
from keepers.store.statuses import PLAN, transition


def create_plan(
    store: Store,
    kind: str,
    payload: dict[str, Any],
    actions: Sequence[tuple[str, dict[str, Any]]],
    trigger: str | None = None,
) -> Plan:
    """A plan and its ordered actions, recorded together."""
    with store.transaction() as s:
        plan = Plan(kind=kind, payload=payload, trigger=trigger, status=PLAN.start("proposed"))
        s.add(plan)
        s.flush()
        for seq, (akind, apayload) in enumerate(actions):
            s.add(Action(plan_id=plan.id, seq=seq, kind=akind, payload=apayload))
    return load_plan(store, plan.id)


def load_plan(store: Store, plan_id: int) -> Plan:
    with store.sessions() as s:
        plan = s.scalars(
            select(Plan)
            .where(Plan.id == plan_id)
            .options(selectinload(Plan.actions), selectinload(Plan.approvals))
        ).one()
        return plan


def set_plan_status(store: Store, plan_id: int, status: str) -> None:
    with store.transaction() as s:
        plan = s.get(Plan, plan_id, with_for_update=True)
        if plan is None:
            raise LookupError(f"no plan {plan_id}")
        transition(PLAN, plan, status)


def link_action_intent(
    store: Store, action_id: int, intent_id: int, status: str = "submitted"
) -> None:
    """Point an action at the transaction intent that carries it out."""
    with store.transaction() as s:
        action = s.get(Action, action_id, with_for_update=True)
        if action is None:
            raise LookupError(f"no action {action_id}")
        action.intent_id = intent_id
        action.status = status


def record_approval(
    store: Store, plan_id: int, tier: str, approver: str | None, decision: str, reason: str = ""
) -> Approval:
    with store.transaction() as s:
        approval = Approval(
            plan_id=plan_id,
            tier=tier,
            approver=approver,
            decision=decision,
            reason=reason,
            decided_at=utcnow() if decision != "pending" else None,
        )
        s.add(approval)
    return approval


@contextmanager
def job_run(store: Store, job: str) -> Iterator[dict[str, Any]]:
    """Record one run of a scheduled job: ``running`` at start, then ``ok`` or ``failed`` with
    the error; the yielded dict becomes the run's detail."""
    with store.transaction() as s:
        run = JobRun(job=job, status="running", detail={})
        s.add(run)
    detail: dict[str, Any] = {}
    status = "ok"
    try:
        yield detail
    except BaseException as err:
        status = "failed"
        detail["error"] = f"{type(err).__name__}: {err}"
        raise
    finally:
        with store.transaction() as s:
            row = s.get(JobRun, run.id)
            assert row is not None
            row.status = status
            row.finished_at = utcnow()
            row.detail = dict(detail)
