"""The off-chain cost budget's books (a real SQLite store): a finished plan's fill cost is
booked with its final status in one transaction, net costs below 0 book nothing, the windows
count by the chain's clock, and the keeper's budget rule names the setting that is spent."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.triggers import DAY
from keepers.fund.records import APPROVED, EXECUTED, PARTIAL, PENDING_APPROVAL, PROPOSED, PlanStore
from keepers.fund.sizing import SizingStage
from keepers.store.db import Store

T0 = 1_767_571_200
M = 10**6


def _approved(plans: PlanStore, ref: str) -> None:
    plans.save_new(_plan(ref), PROPOSED, {})
    plans.update(ref, PENDING_APPROVAL)
    plans.update(ref, APPROVED)


def _plan(ref: str) -> Plan:
    leg = Action(ActionType.ALLOCATE, 50_000 * M, 1, "deploy", from_tier=0, to_tier=1)
    return Plan(ref, T0, (), (leg,))


@pytest.fixture
def plans(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path}/keeper.db")
    yield PlanStore(store)
    store.close()


def test_finish__cost_booked_with_the_status__windows_by_chain_time(plans):
    for i, (cost, at) in enumerate(
        [(3_000 * M, T0), (-500 * M, T0 + 60), (2_000 * M, T0 + 2 * DAY)]
    ):
        _approved(plans, f"p{i}")
        plans.finish(f"p{i}", EXECUTED if i != 1 else PARTIAL, at, cost, report={"x": 1})
    assert plans.get("p0").status == EXECUTED and plans.get("p0").payload["cost"] == str(3_000 * M)
    assert plans.get("p1").payload["cost"] == str(-500 * M)  # the plan keeps its net figure
    now = T0 + 2 * DAY + 10
    assert plans.cost_since(now - DAY) == 2_000 * M
    assert plans.cost_since(now - 30 * DAY) == 5_000 * M  # a gain books 0, not -500


def test_finish__illegal_transition__nothing_booked(plans):
    _approved(plans, "q")
    plans.finish("q", EXECUTED, T0, 1_000 * M)
    with pytest.raises(Exception, match="executed"):
        plans.finish("q", PARTIAL, T0 + 1, 9_000 * M)  # executed is final
    assert plans.cost_since(T0 - DAY) == 1_000 * M


@pytest.mark.parametrize(
    ("day", "month", "spent"),
    [
        (0, 0, None),
        (9_999 * M, 9_999 * M, None),  # 9.999 bps of a 10M NAV
        (10_000 * M, 10_000 * M, "REBALANCE_COST_BUDGET_DAILY=10"),
        (0, 60_000 * M, "REBALANCE_COST_BUDGET_30D=60"),
    ],
)
def test_budget_spent__the_first_window_at_its_limit_is_named(day, month, spent):
    stage = SimpleNamespace(cfg=PlanningConfig(), cost_spent=lambda now: (day, month))
    why = SizingStage.budget_spent(stage, 10_000_000 * M, T0)  # type: ignore[arg-type]
    if spent is None:
        assert why is None
    else:
        assert why is not None and spent in why and "bps of NAV" in why


def test_costs_since__one_query__same_sums_as_cost_since_at_every_edge(plans):
    """The sizing's one query for both windows gives what ``cost_since`` gives for each,
    at every boundary (a fill booked exactly at ``since`` counts)."""
    for i, (cost, at) in enumerate(
        [(3_000 * M, T0), (-500 * M, T0 + 60), (2_000 * M, T0 + DAY), (7 * M, T0 + 31 * DAY)]
    ):
        _approved(plans, f"c{i}")
        plans.finish(f"c{i}", EXECUTED if i != 1 else PARTIAL, at, cost, report={})
    edges = [T0 - 1, T0, T0 + 1, T0 + 60, T0 + DAY, T0 + DAY + 1, T0 + 31 * DAY, T0 + 40 * DAY]
    for a in edges:
        for b in edges:
            assert plans.costs_since(a, b) == (plans.cost_since(a), plans.cost_since(b)), (a, b)
    assert plans.costs_since() == ()


def test_last_job_details__one_query__each_the_newest_finished_run_as_last_job_detail(plans):
    """The sizing's failed-leg records of every asset and side in one query: each job's
    newest finished run (by id, as ``last_job_detail``), none for a job never run."""
    from keepers.store import models as m

    for i, job in enumerate(["failed_leg:A:buy", "failed_leg:B:sell", "failed_leg:A:buy"] * 2):
        plans.record_job_run(job, T0 + (10 - i), {"n": i})  # newest by id, not by time
    with plans.store.transaction() as s:  # a run not finished is not the last one
        s.add(m.JobRun(job="failed_leg:A:buy", status="running", detail={"n": "running"}))
    jobs = ["failed_leg:A:buy", "failed_leg:B:sell", "failed_leg:C:buy", "other"]
    plans.record_job_run("other", T0, {"n": "other"})
    got = plans.last_job_details(jobs)
    assert got == {j: plans.last_job_detail(j) for j in jobs if plans.last_job_detail(j)}
    assert got["failed_leg:A:buy"] == {"n": 5} and "failed_leg:C:buy" not in got
    assert plans.last_job_details([]) == {}
