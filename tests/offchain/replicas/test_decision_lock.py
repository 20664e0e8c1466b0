"""One decision, one plan (PlanStore.save_decided) on a real PostgreSQL server: processes that
decide at the same moment are serialised, the second finds the first's plan and reports it
(never an IntegrityError), a plan id stored meanwhile reads as that plan, and a process that
does not lead the fund writes nothing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from keepers.core.errors import DomainError
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.triggers import manual_trigger
from keepers.fund.records import APPROVED, EXECUTED, PENDING_APPROVAL, PROPOSED, PlanStore, _ts
from keepers.runtime.leases import LeaseLost, Leases
from keepers.store import models as m
from keepers.store.db import Store

ASSET = "0x" + "ab" * 20


def _plan(ref: str, amount: int = 100_000 * 10**6) -> Plan:
    return Plan(
        id=ref,
        created_at=1_800_000_000,
        triggers=(manual_trigger("test", "race"),),
        actions=(
            Action(ActionType.ALLOCATE, amount, 0, "L1 over band", from_tier=0, to_tier=1),
            Action(ActionType.PURCHASE, amount, 1, "L3 under band", to_tier=2, asset=ASSET),
        ),
    )


@pytest.fixture
def db(postgres: Any) -> str:
    return str(postgres.fresh_database())


@pytest.fixture
def stores(db: str) -> Iterator[list[Store]]:
    """Eight processes' worth of stores (each its own engine and connections)."""
    out = [Store(db) for _ in range(8)]
    yield out
    for s in out:
        s.close()


def _together(stores: list[Store], work: Any) -> list[Any]:
    """``work(i, store)`` in a thread per store (a process each), released together: what
    each returned or raised."""
    results: list[Any] = [None] * len(stores)
    barrier = threading.Barrier(len(stores))

    def go(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i, stores[i])
        except Exception as err:  # noqa: BLE001 - the test reports any
            results[i] = err

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _race(stores: list[Store], plans: list[Plan]) -> list[Any]:
    return _together(stores, lambda i, s: PlanStore(s).save_decided(plans[i], PROPOSED, {}))


def test_same_decision_at_the_same_second__one_plan__the_others_read_it(stores):
    """Same state, same second: the same plan id from every process (the issue's
    IntegrityError case)."""
    results = _race(stores, [_plan("same-ref")] * len(stores))
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results.count(None) == 1  # one process recorded it
    assert {r.ref for r in results if r is not None} == {"same-ref"}
    plans = PlanStore(stores[0]).with_status(PROPOSED)
    assert [p.ref for p in plans] == ["same-ref"]


def test_same_decision_30_s_apart_on_their_clocks__one_plan(stores):
    """Clocks 30 s apart: different plan ids, the same legs. One is recorded; every other
    process finds it pending and writes nothing."""
    plans = [_plan(f"ref-{i}", amount=100_000 * 10**6 + i) for i in range(len(stores))]
    results = _race(stores, plans)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert results.count(None) == 1
    (kept,) = PlanStore(stores[0]).with_status(PROPOSED)
    assert {r.ref for r in results if r is not None} == {kept.ref}


def test_a_finished_plan_covers_nothing(stores):
    ps = PlanStore(stores[0])
    assert ps.save_decided(_plan("first"), PROPOSED, {}) is None
    assert ps.save_decided(_plan("again"), PROPOSED, {}).ref == "first"  # pending: covers
    for status in (PENDING_APPROVAL, APPROVED, EXECUTED):
        ps.update("first", status)
    # once the first plan has ended, the same legs are a new decision
    assert ps.save_decided(_plan("second"), PROPOSED, {}) is None


def test_not_the_leader__nothing_written(stores):
    leader, other = Leases(stores[0], "r1"), Leases(stores[1], "r2")
    leader.try_acquire("fund:0xv")
    other.try_acquire("fund:0xv")
    with pytest.raises(LeaseLost, match="replica r2 does not lead fund:0xv"):
        PlanStore(stores[1]).save_decided(
            _plan("from-r2"), PROPOSED, {}, fence=other.fence_for("fund:0xv")
        )
    assert PlanStore(stores[0]).get("from-r2") is None
    assert (
        PlanStore(stores[0]).save_decided(
            _plan("from-r1"), PROPOSED, {}, fence=leader.fence_for("fund:0xv")
        )
        is None
    )
    assert PlanStore(stores[0]).get("from-r1") is not None


# An owner's decision on a waiting plan (PlanStore.add_approval, what `keeper approve` and the
# console's signatures record): checked again inside its write with the plan's row locked
# (FOR UPDATE), so two processes deciding at once record one decision, on a plan still waiting.

T_DECIDE = 1_800_000_100


def _waiting(store: Store) -> PlanStore:
    """Plan "waiting", waiting for the approval of 0xa, 0xb and 0xc."""
    ps = PlanStore(store)
    ps.save_new(_plan("waiting"), PROPOSED, {})
    ps.update("waiting", status=PENDING_APPROVAL, approval={"admins": ["0xa", "0xb", "0xc"]})
    return ps


def _while_held(store: Store, write: Any, second: Any) -> Any:
    """Runs ``second`` in another process's store while ``write`` (this one's decision or the
    plan's end, inside a transaction holding the plan's row) is not yet committed; ``second``
    must wait for the commit. Returns what ``second`` returned or raised."""
    out: list[Any] = []

    def run() -> None:
        try:
            out.append(second())
        except Exception as err:  # noqa: BLE001 - the test reads it
            out.append(err)

    with store.transaction() as s:
        row = s.scalars(select(m.Plan).where(m.Plan.ref == "waiting").with_for_update()).one()
        write(s, row)
        s.flush()
        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.5)
        assert t.is_alive() and not out, out  # waiting on the plan's row, not past it
    t.join(30)
    assert not t.is_alive()
    return out[0]


def test_one_owner_decides_in_two_processes_at_once__one_decision_the_second_refused(stores):
    """The second process's write waits for the first's commit, then finds its decision."""
    ps = _waiting(stores[0])

    def first(s: Any, row: Any) -> None:
        s.add(
            m.Approval(
                plan_id=row.id, tier="multi_admin", approver="0xa", decision="approve",
                decided_at=_ts(T_DECIDE), created_at=_ts(T_DECIDE),
            )
        )  # fmt: skip

    got = _while_held(
        stores[0],
        first,
        lambda: PlanStore(stores[1]).add_approval("waiting", "0xA", False, T_DECIDE, "multi"),
    )
    assert isinstance(got, DomainError) and "0xA already decided on plan waiting" in str(got)
    assert [(a.admin, a.approve) for a in ps.approvals("waiting")] == [("0xa", True)]


def test_a_decision_racing_the_plans_end__waits_then_refused_nothing_recorded(stores):
    """The plan is approved (the other owners' signatures counted) in a transaction not yet
    committed: a decision waits for it and is refused; no late decision is recorded."""
    ps = _waiting(stores[0])

    def approve(s: Any, row: Any) -> None:
        row.status = APPROVED

    got = _while_held(
        stores[0],
        approve,
        lambda: PlanStore(stores[1]).add_approval("waiting", "0xb", True, T_DECIDE, "multi"),
    )
    assert isinstance(got, DomainError), got
    assert "plan waiting is approved, not waiting for approval" in str(got)
    assert ps.approvals("waiting") == []


def test_one_owner_decides_from_eight_processes_at_once__one_decision(stores):
    """Eight `keeper approve` of one owner (the address in either case) released together."""
    ps = _waiting(stores[0])
    results = _together(
        stores,
        lambda i, s: PlanStore(s).add_approval(
            "waiting", "0xA" if i % 2 else "0xa", True, T_DECIDE + i, "multi"
        ),
    )
    refused = [r for r in results if r is not None]
    assert len(refused) == len(stores) - 1, results
    assert all(isinstance(r, DomainError) and "already decided" in str(r) for r in refused)
    assert len(ps.approvals("waiting")) == 1
