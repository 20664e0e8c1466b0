"""Approval tiers of seed 001 section 6.1 as a pure policy."""

from __future__ import annotations

import pytest

from keepers.core.approval import (
    HOUR,
    ApprovalRecord,
    ApprovalStatus,
    Requirement,
    decide,
    requirement,
)
from keepers.fund.planning.config import PlanningConfig, load_planning_config

T0 = 1_767_571_200
ADMINS = (
    "0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    "0xCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",
)


@pytest.fixture(scope="module")
def acfg() -> PlanningConfig:
    return load_planning_config({"REBALANCE_ADMINS": ",".join(ADMINS)})


def ok(admin: str, at: int) -> ApprovalRecord:
    return ApprovalRecord(admin, at, True)


def no(admin: str, at: int) -> ApprovalRecord:
    return ApprovalRecord(admin, at, False)


@pytest.mark.parametrize("decimals", [6, 18])
@pytest.mark.parametrize(
    ("whole", "expected"),
    [
        (9_999, Requirement.NONE),
        (10_000, Requirement.AUTO_REVIEW),
        (49_999, Requirement.AUTO_REVIEW),
        (50_000, Requirement.SINGLE_ADMIN),
        (200_000, Requirement.SINGLE_ADMIN),
        (200_001, Requirement.MULTI_ADMIN),
    ],
)
def test_requirement__amount_tiers__in_base_units(
    acfg: PlanningConfig, decimals: int, whole: int, expected: Requirement
) -> None:
    # Seed bug: 50K x 1e18 as the threshold made every 6-decimal plan approval-free.
    assert requirement(whole * 10**decimals, decimals, acfg) is expected


def test_decide__below_10k__not_required(acfg: PlanningConfig) -> None:
    d = decide(5_000 * 10**6, 6, T0, [], T0, acfg)
    assert d.status is ApprovalStatus.NOT_REQUIRED and d.status.may_execute


def test_decide__10k_to_50k__auto_flagged(acfg: PlanningConfig) -> None:
    d = decide(20_000 * 10**6, 6, T0, [], T0, acfg)
    assert d.status is ApprovalStatus.AUTO_FLAGGED and d.status.may_execute


def test_decide__single__pending_then_approved_by_one_admin(acfg: PlanningConfig) -> None:
    total = 100_000 * 10**6
    assert decide(total, 6, T0, [], T0 + 60, acfg).status is ApprovalStatus.PENDING
    d = decide(
        total, 6, T0, [ok("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", T0 + 60)], T0 + 61, acfg
    )
    assert d.status is ApprovalStatus.APPROVED and d.approvals == (
        "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    )
    assert d.deadline == T0 + 2 * HOUR


def test_decide__single__expires_after_2_hours(acfg: PlanningConfig) -> None:
    total = 100_000 * 10**6
    late = [ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 2 * HOUR + 1)]
    assert decide(total, 6, T0, late, T0 + 2 * HOUR + 5, acfg).status is ApprovalStatus.EXPIRED
    assert decide(total, 6, T0, [], T0 + 2 * HOUR, acfg).status is ApprovalStatus.PENDING


def test_decide__approved_in_time__stays_approved_after_deadline(acfg: PlanningConfig) -> None:
    d = decide(
        100_000 * 10**6,
        6,
        T0,
        [ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 10)],
        T0 + 10 * HOUR,
        acfg,
    )
    assert d.status is ApprovalStatus.APPROVED


def test_decide__unknown_admin__does_not_count(acfg: PlanningConfig) -> None:
    d = decide(100_000 * 10**6, 6, T0, [ok("0xEVE", T0 + 10)], T0 + 20, acfg)
    assert d.status is ApprovalStatus.PENDING and d.approvals == ()


def test_decide__multi__duplicates_count_once(acfg: PlanningConfig) -> None:
    total = 500_000 * 10**18
    records = [
        ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 1),
        ok("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", T0 + 2),
        ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 3),
    ]
    d = decide(total, 18, T0, records, T0 + 10, acfg)
    assert (
        d.status is ApprovalStatus.PENDING
        and d.approvals == ("0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",)
        and d.required == 2
    )
    d = decide(
        total,
        18,
        T0,
        [*records, ok("0xCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC", T0 + 4)],
        T0 + 10,
        acfg,
    )
    assert d.status is ApprovalStatus.APPROVED and d.approvals == (
        "0xaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "0xcccccccccccccccccccccccccccccccccccccccc",
    )


def test_decide__multi__expires_after_4_hours(acfg: PlanningConfig) -> None:
    total = 500_000 * 10**6
    records = [
        ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 1),
        ok("0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", T0 + 4 * HOUR + 1),
    ]
    d = decide(total, 6, T0, records, T0 + 5 * HOUR, acfg)
    assert d.status is ApprovalStatus.EXPIRED and not d.status.may_execute


def test_decide__rejection__rejects(acfg: PlanningConfig) -> None:
    total = 500_000 * 10**6
    d = decide(
        total,
        6,
        T0,
        [
            ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 1),
            no("0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", T0 + 2),
        ],
        T0 + 3,
        acfg,
    )
    assert (
        d.status is ApprovalStatus.REJECTED
        and "0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB" in d.detail
    )


def test_decide__rejection_after_approval_reached__stays_approved(acfg: PlanningConfig) -> None:
    records = [
        ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 + 1),
        no("0xBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB", T0 + 2),
    ]
    d = decide(100_000 * 10**6, 6, T0, records, T0 + 3, acfg)
    assert d.status is ApprovalStatus.APPROVED


def test_decide__record_before_request__ignored(acfg: PlanningConfig) -> None:
    d = decide(
        100_000 * 10**6,
        6,
        T0,
        [ok("0xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", T0 - 1)],
        T0 + 3,
        acfg,
    )
    assert d.status is ApprovalStatus.PENDING
