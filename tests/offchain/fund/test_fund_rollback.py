"""Rollback plans (seed 001 section 7.2, with its bugs fixed)."""

from __future__ import annotations

from keepers.core.approval import ApprovalStatus, decide
from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.plan import Action, ActionResult, ActionType, Plan
from keepers.fund.planning.rollback import create_rollback_plan
from keepers.fund.planning.triggers import TriggerKind
from tests.support.fundlib import NOW

U = 10**6
K = 1_000 * U
MMF, HYD = "0x" + "1" * 40, "0x" + "2" * 40


def executed_plan() -> tuple[Plan, list[ActionResult]]:
    redeem = Action(
        ActionType.REDEEM,
        60 * K,
        1,
        "L2 above target",
        1,
        0,
        asset=MMF,
        token_amount=59 * K,
        expected_deltas=(60 * K, -60 * K, 0),
    )
    buy = Action(
        ActionType.PURCHASE,
        50 * K,
        2,
        "deploy to L3",
        0,
        2,
        asset=HYD,
        expected_deltas=(-50 * K, 0, 50 * K),
    )
    failed_buy = Action(ActionType.PURCHASE, 10 * K, 3, "deploy to L3", 0, 2, asset=MMF)
    fall = Action(
        ActionType.WATERFALL,
        30 * K,
        4,
        "liquidate",
        max_tier=2,
        expected_deltas=(30 * K, -20 * K, -10 * K),
    )
    p = Plan("abc", NOW, (), (redeem, buy, failed_buy, fall))
    results = [
        ActionResult(redeem, True, received=59_900 * U),
        ActionResult(buy, True, received=49 * K * 10**12, actual_deltas=(-50 * K, 0, 49_950 * U)),
        ActionResult(failed_buy, False, error="SlippageExceeded"),
        ActionResult(fall, True, received=30 * K, actual_deltas=(30 * K, -25 * K, -5 * K)),
    ]
    return p, results


def test_rollback__successful_actions__reversed_in_reverse_order() -> None:
    p, results = executed_plan()
    rb = create_rollback_plan(p, results, NOW + 100, "0xAdmin")
    steps = [
        (a.type, a.to_tier if a.type is not ActionType.REDEEM else a.from_tier, a.amount)
        for a in rb.ordered()
    ]
    assert steps == [
        (ActionType.ALLOCATE, 2, 5 * K),  # waterfall undone from its measured deltas, L3 first
        (ActionType.ALLOCATE, 1, 25 * K),
        (ActionType.REDEEM, 2, 49_950 * U),  # purchase -> redeem of the tokens received
        (ActionType.PURCHASE, 1, 59_900 * U),  # redeem -> purchase with the cash received
    ]
    assert [a.priority for a in rb.ordered()] == [1, 2, 3, 4]


def test_rollback__purchase__redeems_tokens_received_not_cash() -> None:
    p, results = executed_plan()
    rb = create_rollback_plan(p, results, NOW, "0xAdmin")
    (redeem,) = [a for a in rb.actions if a.type is ActionType.REDEEM]
    assert (redeem.asset, redeem.token_amount) == (HYD, 49 * K * 10**12)


def test_rollback__failed_actions__not_reversed() -> None:
    p, results = executed_plan()
    rb = create_rollback_plan(p, results, NOW, "0xAdmin")
    assert all(a.amount != 10 * K for a in rb.actions)


def test_rollback__marked_manual_and_linked() -> None:
    p, results = executed_plan()
    rb = create_rollback_plan(p, results, NOW, "0xAdmin")
    assert rb.manual and rb.parent_id == "abc" and rb.id != p.id
    assert [t.kind for t in rb.triggers] == [TriggerKind.MANUAL]
    assert "0xAdmin" in rb.triggers[0].reason


def test_rollback__approval__by_its_own_total_like_any_plan() -> None:
    cfg = load_planning_config({"REBALANCE_ADMINS": "alice,bob,carol"})
    p, results = executed_plan()
    rb = create_rollback_plan(p, results, NOW, "0xA")
    assert rb.total_amount == 5 * K + 25 * K + 49_950 * U + 59_900 * U
    assert decide(rb.total_amount, 6, NOW, [], NOW, cfg).status is ApprovalStatus.PENDING


def test_rollback__purchase_without_receipt_or_l3_allocation__unresolved() -> None:
    buy = Action(ActionType.PURCHASE, 50 * K, 1, "deploy", 0, 2, asset=HYD)
    alloc = Action(ActionType.ALLOCATE, 20 * K, 2, "alloc", 0, 2)
    alloc_l2 = Action(ActionType.ALLOCATE, 20 * K, 3, "alloc", 0, 1)
    p = Plan("p", NOW, (), (buy, alloc, alloc_l2))
    rb = create_rollback_plan(
        p,
        [ActionResult(buy, True), ActionResult(alloc, True), ActionResult(alloc_l2, True)],
        NOW,
        "0xA",
    )
    assert [(a.type, a.max_tier) for a in rb.actions] == [(ActionType.WATERFALL, 1)]
    assert sorted(u.reason for u in rb.unresolved) == ["irreversible", "missing_receipt"]
