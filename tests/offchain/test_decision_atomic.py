"""One admin's decision is recorded once, on a plan still waiting for approval, whatever runs
beside it: ``record_decision`` checks first on the last commit (``Store.reads``: a clear early
error), and ``add_approval`` checks again inside its write, with the plan's row locked. These
tests play the second of two `keeper approve` processes, whose early check read the state
before the first one's decision (or the plan's end) was committed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from keepers.core.errors import DomainError
from keepers.fund.planning.actions import Plan
from keepers.fund.records import APPROVED, PENDING_APPROVAL, PROPOSED, PlanStore
from keepers.store.db import Store

T0 = 1_767_571_200


@pytest.fixture
def plans(tmp_path: Path) -> Iterator[PlanStore]:
    store = Store(f"sqlite:///{tmp_path}/keeper.db")
    p = PlanStore(store)
    p.save_new(Plan("waiting1", T0, (), ()), PROPOSED, {})
    p.update("waiting1", status=PENDING_APPROVAL, approval={"admins": ["0xa", "0xb"]})
    yield p
    store.close()


def test_add_approval__same_admin_twice__second_refused_one_recorded(plans):
    plans.add_approval("waiting1", "0xA", True, T0 + 1, "multi_admin")
    with pytest.raises(DomainError, match="0xa already decided on plan waiting1"):
        plans.add_approval("waiting1", "0xa", False, T0 + 2, "multi_admin")  # case apart
    assert [(a.admin, a.approve) for a in plans.approvals("waiting1")] == [("0xA", True)]


def test_add_approval__plan_no_longer_waiting__refused_nothing_recorded(plans):
    plans.update("waiting1", status=APPROVED)  # the other owners' signatures counted
    with pytest.raises(DomainError, match="plan waiting1 is approved, not waiting for approval"):
        plans.add_approval("waiting1", "0xa", True, T0 + 1, "multi_admin")
    assert plans.approvals("waiting1") == []


def test_record_decision__its_early_check_read_before_the_other_decision__refused(
    plans, monkeypatch
):
    plans.record_decision("waiting1", "0xa", T0 + 1)
    # the second process's early check read the last commit before the first decision
    monkeypatch.setattr(plans, "approvals", lambda ref: [])
    with pytest.raises(DomainError, match="already decided"):
        plans.record_decision("waiting1", "0xa", T0 + 2)
    monkeypatch.undo()
    assert len(plans.approvals("waiting1")) == 1
