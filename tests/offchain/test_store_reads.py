"""Reads that do not wait for a writer (`Store.reads`), on a real SQLite store.

Every SQLite session begins ``BEGIN IMMEDIATE`` (read-then-write steps cannot interleave), and
the pipeline's batch holds its write transaction across its node calls. A read that began the
same way waited for the whole batch: a `/metrics` scrape, a plan read of another bot's loop,
the console. A read-only session begins deferred and, in WAL mode, reads the last commit at
once. Each test holds a write transaction open in another thread, as a batch waiting on a slow
node does, and times the read; the first also times the same read through ``sessions()``, which
still waits (the test can fail).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select, text

from keepers.core.errors import StoreError
from keepers.fund.planning.actions import Plan
from keepers.fund.records import COST_JOB, PENDING_APPROVAL, PROPOSED, CarryStore, PlanStore
from keepers.runtime import metrics
from keepers.store import models as m
from keepers.store.db import Store

HOLD_S = 3.0  # the writer's open transaction: a batch waiting on a slow node
FAST_S = 1.0  # a read that does not wait for it ends well before
T0 = 1_767_571_200


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(f"sqlite:///{tmp_path}/keeper.db")
    yield s
    s.close()


@contextmanager
def writer_holding(store: Store, work: Callable[[Any], None] | None = None) -> Iterator[None]:
    """Another thread inside ``store.transaction()`` (the write lock taken), having done
    ``work`` in it (uncommitted), for HOLD_S."""
    held, done = threading.Event(), threading.Event()

    def run() -> None:
        with store.transaction() as s:
            s.execute(select(func.count()).select_from(m.Plan))
            if work is not None:
                work(s)
            held.set()
            done.wait(HOLD_S)

    t = threading.Thread(target=run)
    t.start()
    assert held.wait(10)
    try:
        yield
    finally:
        done.set()
        t.join(10)


def timed(read: Callable[[], Any]) -> tuple[float, Any]:
    t = time.monotonic()
    got = read()
    return time.monotonic() - t, got


def _count(session_of: Callable[[], Any]) -> int:
    with session_of() as s:
        return int(s.scalar(select(func.count()).select_from(m.Plan)))


def test_reads__writer_holds_the_lock__read_answers_at_once_sessions_waits(store):
    with writer_holding(store):
        fast, n = timed(lambda: _count(store.reads))
        slow, _ = timed(lambda: _count(store.sessions))
    assert n == 0
    assert fast < FAST_S, fast
    assert slow > FAST_S, slow  # an IMMEDIATE read still waits for the writer


def test_reads__sees_the_last_commit_not_the_open_transaction(store):
    plans = PlanStore(store)
    plans.save_new(Plan("committed", 1_767_571_200, (), ()), PROPOSED, {})

    def pending(s: Any) -> None:
        row = s.scalars(select(m.Plan).where(m.Plan.ref == "committed")).one()
        row.status = "pending_approval"
        s.flush()  # written in the open transaction, not committed

    with writer_holding(store, pending):
        took, row = timed(lambda: plans.get("committed"))
    assert took < FAST_S, took
    assert row is not None and row.status == PROPOSED  # the last commit
    assert plans.get("committed").status == "pending_approval"  # committed now


def test_reads__a_write_in_it__refused_nothing_written(store):
    with pytest.raises(StoreError, match="read-only session"), store.reads() as s:
        s.add(m.JobRun(job="x", status="done", detail={}))
        s.flush()
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(m.JobRun)) == 0


@pytest.mark.parametrize("view", [False, True])
def test_connection__a_write_in_it__refused_nothing_written(store, view):
    """``Store.connection`` is for reads: a write through it (Core or text) raises StoreError
    naming the way to write, and nothing is kept; the same connection still reads."""
    insert = m.JobRun.__table__.insert().values(job="x", status="done", detail={})
    for write in (insert, text("DELETE FROM job_runs"), text("  update job_runs set job='y'")):
        with pytest.raises(StoreError, match="Store.transaction"), store.connection(view=view) as c:
            c.execute(write)
    with store.connection(view=view) as c:
        assert c.execute(select(func.count()).select_from(m.JobRun)).scalar() == 0
    with store.transaction() as s:  # a session on the same engine still writes
        s.add(m.JobRun(job="x", status="done", detail={}))
    assert PlanStore(store).last_job_detail("x") == {}


def test_find__wildcards_taken_as_written(store):
    """A ref prefix is matched as written: ``_`` and ``%`` are not LIKE's wildcards (six
    underscores found the only plan before)."""
    plans = PlanStore(store)
    plans.save_new(Plan("abcdef123", T0, (), ()), PROPOSED, {})
    assert plans.find("abcdef").ref == plans.find("abcdef123").ref == "abcdef123"
    for pattern in ("______", "%%%%%%", "abcde_", "abc%ef"):
        assert plans.find(pattern) is None, pattern


def test_metrics_scrape__writer_holds_the_lock__answers_at_once(store):
    registry = CollectorRegistry()
    registry.register(metrics.StoreCollector(store))
    with writer_holding(store):
        took, _ = timed(lambda: list(registry.collect()))
    assert took < FAST_S, took


def test_plan_reads__writer_holds_the_lock__answer_at_once(store):
    plans = PlanStore(store)
    plans.save_new(Plan("abcdef123", 1_767_571_200, (), ()), PROPOSED, {})
    with writer_holding(store):
        took, got = timed(
            lambda: (plans.get("abcdef123"), plans.find("abcdef"), plans.plan("abcdef123"))
        )
    assert took < FAST_S, took
    assert got[0].ref == got[1].ref == got[2].id == "abcdef123"


def _listing_store(store: Store) -> tuple[PlanStore, CarryStore]:
    """A plan waiting for approval, a finished plan's cost and a carried slice, committed."""
    plans, carry = PlanStore(store), CarryStore(store)
    plans.save_new(Plan("waiting1", T0, (), ()), PROPOSED, {})
    plans.update("waiting1", status=PENDING_APPROVAL)
    plans.record_job_run(COST_JOB, T0, {"cost": 7})
    with store.transaction() as s:
        s.add(
            m.FundCarry(
                tier=1,
                amount="5",
                slices=1,
                next_at=dt.datetime.fromtimestamp(T0, dt.UTC),
                plan_ref="waiting1",
                reason="",
                status="active",
            )
        )
    return plans, carry


def test_listings__writer_holds_the_lock__answer_at_once_the_default_still_waits(store):
    """The reads of the pages and listings (`keeper review`, `history`, `status`'s carried
    flow, the console's queue, plans and budget lines) take ``view=True`` or are listings
    only: they answer while a batch holds the lock. A keeper's decision keeps the default,
    which waits for the batch (a read deciding a write sees what it commits)."""
    plans, carry = _listing_store(store)
    with writer_holding(store):
        took, got = timed(
            lambda: (
                plans.with_status(PENDING_APPROVAL, view=True),
                plans.history(5),
                carry.active(view=True),
                plans.costs_since(T0 - 1, T0 + 1, view=True),
            )
        )
        waited, decided = timed(lambda: plans.with_status(PENDING_APPROVAL))
    assert took < FAST_S, took
    queue, history, carried, costs = got
    assert [r.ref for r in queue] == [r.ref for r in history] == ["waiting1"]
    assert [c.plan_ref for c in carried] == ["waiting1"]
    assert costs == (7, 0)
    assert waited > FAST_S, waited  # the decision's read waited for the writer
    assert [r.ref for r in decided] == ["waiting1"]


def test_console_pages__writer_holds_the_lock__render_at_once(store):
    """The console's queue and plans pages (with ``approval_views``' one query of the
    queue's approvals) render from the store while a batch holds the lock."""
    from keepers.console.views import approvals_page, plans_page

    plans, carry = _listing_store(store)
    ctx = SimpleNamespace(
        records=lambda: SimpleNamespace(plans=plans, carry=carry),
        has_bot=lambda: False,
        deployment=lambda: None,  # no record, no node: nothing marked as another deployment
    )
    with writer_holding(store):
        took, pages = timed(lambda: (approvals_page(ctx, T0, "n"), plans_page(ctx, "n")))
    assert took < FAST_S, took
    assert all("waiting1" in p for p in pages)
