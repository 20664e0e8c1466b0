"""Store repositories: plans with actions, approvals, job runs, each in one transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from keepers.store.db import Store
from keepers.store.models import JobRun
from keepers.store.repo import (
    create_plan,
    job_run,
    link_action_intent,
    load_plan,
    record_approval,
    set_plan_status,
)
from keepers.tx.pipeline import IntentSpec, submit_intent

ADDR = "0x" + "11" * 20


def test_plan__created_with_actions_approved_and_linked__read_back(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    plan = create_plan(
        store,
        "rebalance",
        {"nav": 10**12},
        [("allocate", {"tier": 2}), ("purchase", {"amount": 5})],
    )
    assert [a.kind for a in plan.actions] == ["allocate", "purchase"]
    record_approval(store, plan.id, "auto", None, "approved")
    intent = submit_intent(store, IntentSpec("plan-1-0", "keeper", 31337, ADDR, ADDR, "0x"))
    link_action_intent(store, plan.actions[0].id, intent.id)
    set_plan_status(store, plan.id, "pending_approval")
    again = load_plan(store, plan.id)
    assert again.status == "pending_approval"
    assert again.actions[0].intent_id == intent.id and again.actions[0].status == "submitted"
    assert [a.decision for a in again.approvals] == ["approved"]
    store.close()


def test_job_run__ok_and_failing_job__both_recorded(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    with job_run(store, "hourly-threshold") as detail:
        detail["checked"] = 3
    with pytest.raises(RuntimeError), job_run(store, "hourly-threshold"):
        raise RuntimeError("node down")
    with store.sessions() as s:
        runs = s.scalars(select(JobRun).order_by(JobRun.id)).all()
    assert [(r.status, r.detail) for r in runs] == [
        ("ok", {"checked": 3}),
        ("failed", {"error": "RuntimeError: node down"}),
    ]
    assert all(r.finished_at is not None for r in runs)
    store.close()
