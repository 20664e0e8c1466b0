"""The job-run reads the fund bot makes on every tick (each alert code's last cause, the events
check's last block, the daily and weekly checks' last run, the held venues) go through
prebuilt Core statements (keepers.fund.plan_reads: ``newest_done_detail``, ``_details``,
``_start``). Here each is compared with the plain ORM query it replaced, on seeded random
tables of job runs: several jobs, runs finished, running and failed, start times that tie, and
jobs that never ran."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from sqlalchemy import func, select

from keepers.fund.records import PlanStore
from keepers.store import models as m
from keepers.store.db import Store

JOBS = ("events", "daily", "alert:feed_down", "alert:nav_jump", "cost:fund")


def _plain_last_done(store: Store, job: str, newest_first: Any) -> m.JobRun | None:
    """The ORM query the reads replaced (keepers.fund.records before: ``_last_done_job``)."""
    with store.sessions() as s:
        return s.scalars(
            select(m.JobRun)
            .where(m.JobRun.job == job, m.JobRun.status == "done")
            .order_by(newest_first.desc())
            .limit(1)
        ).first()


def _plain_details(store: Store, jobs: list[str]) -> dict[str, dict[str, Any]]:
    """The ORM query ``last_job_details`` replaced."""
    with store.sessions() as s:
        newest = (
            select(func.max(m.JobRun.id))
            .where(m.JobRun.job.in_(jobs), m.JobRun.status == "done")
            .group_by(m.JobRun.job)
        )
        rows = s.scalars(select(m.JobRun).where(m.JobRun.id.in_(newest))).all()
        return {r.job: dict(r.detail) for r in rows}


def _fill(store: Store, rng: random.Random) -> None:
    """A random table: runs of some of JOBS (never of the last one asked below), each done,
    running or failed, started within a few seconds of each other so that start times tie."""
    with store.transaction() as s:
        for _ in range(rng.randrange(0, 40)):
            at = dt.datetime.fromtimestamp(1_800_000_000 + rng.randrange(0, 6), dt.UTC)
            s.add(
                m.JobRun(
                    job=rng.choice(JOBS[:-1]),
                    status=rng.choice(("done", "done", "running", "failed")),
                    started_at=at,
                    finished_at=at,
                    detail={"key": rng.choice((None, "a", "b", 7)), "n": rng.randrange(10**30)},
                )
            )


@pytest.mark.parametrize("seed", range(25))
def test_job_reads__equal_to_the_plain_orm_query(tmp_path: Any, seed: int) -> None:
    store = Store(f"sqlite:///{tmp_path}/k.db")
    try:
        plans = PlanStore(store)
        rng = random.Random(seed)
        for _ in range(3):  # the same store grown: answers after later writes too
            _fill(store, rng)
            for job in JOBS:
                by_id = _plain_last_done(store, job, m.JobRun.id)
                assert plans.last_job_detail(job) == (dict(by_id.detail) if by_id else None)
                by_start = _plain_last_done(store, job, m.JobRun.started_at)
                assert plans.last_job_run(job) == (
                    int(by_start.started_at.timestamp()) if by_start else None
                )
            for jobs in (list(JOBS), list(JOBS[1:3]), [JOBS[-1]], []):
                got = plans.last_job_details(jobs)
                assert got == _plain_details(store, jobs) if jobs else got == {}
                assert got == {
                    job: plans.last_job_detail(job)
                    for job in jobs
                    if plans.last_job_detail(job) is not None
                }
    finally:
        store.close()


def test_job_reads__a_copy_of_the_detail__the_caller_cannot_change_the_store(
    tmp_path: Any,
) -> None:
    store = Store(f"sqlite:///{tmp_path}/k.db")
    try:
        plans = PlanStore(store)
        plans.record_job_run("events", 1_800_000_000, {"block": 7})
        got = plans.last_job_detail("events")
        assert got == {"block": 7}
        got["block"] = 8
        assert plans.last_job_detail("events") == {"block": 7}
    finally:
        store.close()
