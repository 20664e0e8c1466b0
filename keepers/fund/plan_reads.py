"""The reads a fund keeper makes of its store on every tick, by prebuilt SQLAlchemy Core
statements on a connection the caller opens (``Store.connection``, so the caller chooses how
the transaction begins): a plan with its actions and approvals, the plans in some statuses,
the legs of the plans still to land with their intents' statuses, and a job's newest finished
run.

The ORM read the same rows at several times the cost of the queries: a ``Session`` set up
and torn down, each statement built and its cache key computed anew at every call, the ORM's
compile step and identity map, and two lazy loads per plan. A keeper tick reads the plan it
advances about nine times and the waiting plans several times
(docs/development/performance.md). The rows here are plain objects (``PlanRow``, ``PlanHead``,
``ActionRow``, ``ApprovalRow``), or SQLAlchemy's ``Row``, whose attributes are the columns;
changing one changes nothing stored (writes go through ``PlanStore``'s transactions).
tests/offchain/fund/test_plan_reads.py and test_job_reads.py compare each read with the ORM
read it replaced, column by column, on seeded random stores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, func, select

from keepers.store import models as m


@dataclass(slots=True)
class ActionRow:
    """An ``actions`` row as read (models.Action's columns)."""

    id: int
    plan_id: int
    seq: int
    kind: str
    status: str
    payload: dict[str, Any]
    intent_id: int | None


@dataclass(slots=True)
class ApprovalRow:
    """An ``approvals`` row as read (models.Approval's columns)."""

    id: int
    plan_id: int
    tier: str
    approver: str | None
    decision: str
    reason: str | None
    decided_at: dt.datetime | None
    created_at: dt.datetime
    signature: str | None
    plan_hash: str | None


@dataclass(slots=True)
class PlanHead:
    """A ``plans`` row as read (models.Plan's columns), without its actions and approvals
    (a listing's row: reading ``actions`` raises AttributeError)."""

    id: int
    ref: str | None
    kind: str
    status: str
    trigger: str | None
    payload: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime
    deployment: str | None


@dataclass(slots=True)
class PlanRow(PlanHead):
    """A ``plans`` row with its actions (by ``seq``) and approvals (oldest first), all read in
    one transaction."""

    actions: list[ActionRow] = field(default_factory=list)
    approvals: list[ApprovalRow] = field(default_factory=list)


# a plan row as a caller reads it: one read here, or an ORM row (a listing, a decision)
AnyPlanRow = PlanHead | m.Plan

_PLANS: Any = m.Plan.__table__
_ACTIONS: Any = m.Action.__table__
_APPROVALS: Any = m.Approval.__table__
_INTENTS: Any = m.TxIntent.__table__
_JOBS: Any = m.JobRun.__table__

_PLAN_BY_REF = select(_PLANS).where(_PLANS.c.ref == bindparam("ref"))
_KIND_IN = (
    _PLANS.c.kind == bindparam("kind"),
    _PLANS.c.status.in_(bindparam("statuses", expanding=True)),
)
_PLANS_IN = select(_PLANS).where(*_KIND_IN).order_by(_PLANS.c.id)
_ACTIONS_OF = select(_ACTIONS).where(_ACTIONS.c.plan_id == bindparam("id")).order_by(_ACTIONS.c.seq)
_APPROVALS_OF = (
    select(_APPROVALS).where(_APPROVALS.c.plan_id == bindparam("id")).order_by(_APPROVALS.c.id)
)
_PLAN_KEYS_IN = (
    select(_PLANS.c.id, _PLANS.c.ref, _PLANS.c.status).where(*_KIND_IN).order_by(_PLANS.c.id)
)
# every action of those plans, by plan and seq, with its intent's status (None: not sent)
_LEGS_IN = (
    select(
        _ACTIONS.c.plan_id,
        _ACTIONS.c.status,
        _ACTIONS.c.payload,
        _ACTIONS.c.intent_id,
        _INTENTS.c.status.label("intent_status"),
    )
    .select_from(
        _ACTIONS.join(_PLANS, _ACTIONS.c.plan_id == _PLANS.c.id).outerjoin(
            _INTENTS, _ACTIONS.c.intent_id == _INTENTS.c.id
        )
    )
    .where(*_KIND_IN)
    .order_by(_ACTIONS.c.plan_id, _ACTIONS.c.seq)
)


def _newest_done(column: Any, newest_first: Any) -> Any:
    """The newest finished run's ``column`` of the job bound as ``job``, by ``newest_first``."""
    return (
        select(column)
        .where(_JOBS.c.job == bindparam("job"), _JOBS.c.status == "done")
        .order_by(newest_first.desc())
        .limit(1)
    )


_NEWEST_DETAIL = _newest_done(_JOBS.c.detail, _JOBS.c.id)
# the newest finished run of each job bound in ``jobs`` (by id)
_NEWEST_DETAILS = select(_JOBS.c.job, _JOBS.c.detail).where(
    _JOBS.c.id.in_(
        select(func.max(_JOBS.c.id))
        .where(_JOBS.c.job.in_(bindparam("jobs", expanding=True)), _JOBS.c.status == "done")
        .group_by(_JOBS.c.job)
    )
)
_NEWEST_START = _newest_done(_JOBS.c.started_at, _JOBS.c.started_at)


def by_ref(c: Connection, ref: str) -> PlanRow | None:
    """Plan ``ref`` with its actions and approvals, read on ``c`` (one transaction), or None."""
    plan = c.execute(_PLAN_BY_REF, {"ref": ref}).mappings().first()
    if plan is None:
        return None
    key = {"id": plan["id"]}
    return PlanRow(
        **plan,
        actions=[ActionRow(**a) for a in c.execute(_ACTIONS_OF, key).mappings()],
        approvals=[ApprovalRow(**a) for a in c.execute(_APPROVALS_OF, key).mappings()],
    )


def in_statuses(c: Connection, kind: str, statuses: Sequence[str]) -> list[PlanHead]:
    """The plans of ``kind`` in ``statuses``, oldest first (their own columns)."""
    key = {"kind": kind, "statuses": list(statuses)}
    return [PlanHead(**p) for p in c.execute(_PLANS_IN, key).mappings()]


def legs_in_statuses(
    c: Connection, kind: str, statuses: Sequence[str]
) -> tuple[list[Any], dict[int, list[Any]]]:
    """The plans of ``kind`` in ``statuses`` (``id``, ``ref``, ``status``; oldest first) and
    each one's actions by ``seq`` (``status``, ``payload``, ``intent_id`` and its intent's
    ``intent_status``), by plan id."""
    key = {"kind": kind, "statuses": list(statuses)}
    plans = list(c.execute(_PLAN_KEYS_IN, key).all())
    legs: dict[int, list[Any]] = {}
    for leg in c.execute(_LEGS_IN, key):
        legs.setdefault(leg.plan_id, []).append(leg)
    return plans, legs


def newest_done_detail(c: Connection, job: str) -> dict[str, Any] | None:
    """The detail of ``job``'s newest finished run (by id), if one ran."""
    detail = c.execute(_NEWEST_DETAIL, {"job": job}).scalar()
    return dict(detail) if detail is not None else None


def newest_done_details(c: Connection, jobs: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``newest_done_detail`` of each of ``jobs`` that has run, in one query."""
    return {r.job: dict(r.detail) for r in c.execute(_NEWEST_DETAILS, {"jobs": list(jobs)})}


def newest_done_start(c: Connection, job: str) -> dt.datetime | None:
    """When ``job``'s newest finished run started, if one ran."""
    at: dt.datetime | None = c.execute(_NEWEST_START, {"job": job}).scalar()
    return at
