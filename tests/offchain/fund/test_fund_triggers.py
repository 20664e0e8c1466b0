"""Each trigger kind of seed 001 section 2."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.triggers import (
    DAY,
    TriggerKind,
    asset_event_triggers,
    deposit_trigger,
    last_weekly_boundary,
    liquidity_triggers,
    manual_trigger,
    price_move_triggers,
    scheduled_triggers,
    threshold_triggers,
)
from tests.support.fundlib import NOW, make_asset, make_state

U = 10**6  # 6-decimal unit
MONDAY = NOW  # 2026-01-05 00:00 UTC


def codes(triggers: list) -> list[str]:
    return [t.code for t in triggers]


def balanced(cash: int = 100, l2: int = 300, l3: int = 600, **kw: int):
    """A fund of (cash + l2 + l3) thousand whole units spread over 5 assets."""
    k = 1_000 * U
    assets = [
        make_asset("MMF", 1, l2 * k // 2),
        make_asset("MMF2", 1, l2 * k - l2 * k // 2),
        make_asset("T1", 2, l3 * k // 3),
        make_asset("T2", 2, l3 * k // 3),
        make_asset("T3", 2, l3 * k - 2 * (l3 * k // 3)),
    ]
    return make_state(cash * k, assets, **kw)


# -------------------------------------------------------------------- scheduled


def test_scheduled__monday_midnight_never_run__daily_and_weekly(cfg: PlanningConfig) -> None:
    found = scheduled_triggers(MONDAY + 60, None, None, cfg)
    assert codes(found) == ["daily", "weekly"]
    assert {t.kind for t in found} == {TriggerKind.SCHEDULED}


def test_scheduled__tuesday_after_weekly_ran__daily_only(cfg: PlanningConfig) -> None:
    tuesday = MONDAY + DAY + 5
    assert codes(scheduled_triggers(tuesday, MONDAY + 10, MONDAY + 10, cfg)) == ["daily"]


def test_scheduled__already_ran_today__nothing(cfg: PlanningConfig) -> None:
    assert scheduled_triggers(MONDAY + 3_600, MONDAY + 1, MONDAY + 1, cfg) == []


def test_scheduled__weekly_boundary__is_monday_midnight() -> None:
    sunday_night = MONDAY + 7 * DAY - 1
    assert last_weekly_boundary(sunday_night) == MONDAY
    assert last_weekly_boundary(MONDAY + 7 * DAY) == MONDAY + 7 * DAY


# -------------------------------------------------------------------- threshold


def test_threshold__balanced_fund__no_trigger(cfg: PlanningConfig) -> None:
    assert threshold_triggers(balanced(), cfg) == []


def test_threshold__tier_off_by_more_than_5pct__tier_deviation(cfg: PlanningConfig) -> None:
    found = threshold_triggers(balanced(cash=100, l2=360, l3=540), cfg)
    assert [(t.code, t.tier) for t in found] == [("tier_deviation", 1), ("tier_deviation", 2)]


def test_threshold__tier_off_by_exactly_5pct__no_trigger(cfg: PlanningConfig) -> None:
    assert threshold_triggers(balanced(cash=100, l2=350, l3=550), cfg) == []


def test_threshold__asset_above_25pct__asset_concentration(cfg: PlanningConfig) -> None:
    k = 1_000 * U
    state = make_state(
        100 * k,
        [make_asset("MMF", 1, 300 * k), make_asset("BIG", 2, 260 * k)]
        + [make_asset(f"S{i}", 2, 85 * k) for i in range(4)],
    )
    found = threshold_triggers(state, cfg)
    assert ("asset_concentration", state.asset(make_asset("BIG", 2, 1).token).token) in [
        (t.code, t.asset) for t in found
    ]
    assert "top3_concentration" in codes(found)  # 300 + 260 + 85 = 64.5%


def test_threshold__top3_above_60pct_without_single_breach__top3(cfg: PlanningConfig) -> None:
    k = 1_000 * U
    assets = [make_asset("A0", 1, 210 * k), make_asset("B", 1, 90 * k)]
    assets += [make_asset("A1", 2, 210 * k), make_asset("A2", 2, 210 * k)]
    assets += [make_asset("C", 2, 180 * k)]
    state = make_state(100 * k, assets)
    assert codes(threshold_triggers(state, cfg)) == ["top3_concentration"]


# -------------------------------------------------------------------- liquidity


def test_liquidity__l1_below_8pct__refill_from_l2_then_l3(cfg: PlanningConfig) -> None:
    (t,) = liquidity_triggers(balanced(cash=70, l2=330, l3=600), cfg)
    assert (t.kind, t.code) == (TriggerKind.LIQUIDITY, "l1_low")
    assert "L2, then L3" in t.reason
    assert t.amount == 30_000 * U


def test_liquidity__l1_above_15pct__deploy(cfg: PlanningConfig) -> None:
    (t,) = liquidity_triggers(balanced(cash=160, l2=300, l3=540), cfg)
    assert t.code == "l1_high" and t.amount == 60_000 * U


def test_liquidity__pending_redemptions_count_against_l1(cfg: PlanningConfig) -> None:
    # 100K cash, 40K already owed: free L1 is 60K of 960K net = 6.25% < 8%.
    state = balanced(cash=100, pending=40_000 * U)
    assert codes(liquidity_triggers(state, cfg)) == ["l1_low"]


def test_liquidity__forecast_above_free_cash__liquidate_early(cfg: PlanningConfig) -> None:
    # Seed bug: it compared with L1 + L2 (400K) and would not fire for a 150K forecast.
    found = liquidity_triggers(balanced(), cfg, predicted_redemptions=150_000 * U)
    assert codes(found) == ["redemption_forecast"]
    assert found[0].amount == 150_000 * U


def test_liquidity__forecast_within_free_cash__nothing(cfg: PlanningConfig) -> None:
    assert liquidity_triggers(balanced(), cfg, predicted_redemptions=90_000 * U) == []


# -------------------------------------------------------------------- events


@pytest.mark.parametrize("decimals", [6, 18])
def test_event__deposit_above_100k__deploy(cfg: PlanningConfig, decimals: int) -> None:
    unit = 10**decimals
    assert deposit_trigger(100_000 * unit, decimals, cfg) == []
    (t,) = deposit_trigger(100_001 * unit, decimals, cfg)
    assert (t.kind, t.code, t.amount) == (TriggerKind.EVENT, "large_deposit", 100_001 * unit)


def test_event__maturity_and_window_opening__in_interval_only() -> None:
    k = 1_000 * U
    state = make_state(
        100 * k,
        [
            make_asset("BILL", 2, 300 * k, matures_at=NOW - 10),
            make_asset(
                "RWA", 2, 300 * k, instant=False, redeemable=50 * k, window_opens_at=NOW - 5
            ),
            make_asset("LATER", 1, 300 * k, matures_at=NOW + DAY),
        ],
    )
    found = asset_event_triggers(state, since=NOW - 60, now=NOW)
    assert [(t.code, t.amount) for t in found] == [
        ("asset_maturity", 300 * k),
        ("redemption_window", 50 * k),
    ]
    assert asset_event_triggers(state, since=NOW, now=NOW + 60) == []


def test_event__price_move_above_5pct__triggers(cfg: PlanningConfig) -> None:
    prev = {"a": 100_000_000, "b": Decimal("1.00"), "c": 10}
    cur = {"a": 105_000_000, "b": Decimal("0.9499"), "c": 10}
    found = price_move_triggers(prev, cur, cfg)
    assert [(t.code, t.asset) for t in found] == [("price_move", "b")]


def test_event__feed_down_reported_as_zero__not_a_price_move(cfg: PlanningConfig) -> None:
    """The lens reports a down feed's price as 0 (the controller values the position at zero
    meanwhile): that is an outage, not a 100% move to trade on."""
    prev = {"a": 100_000_000, "b": Decimal("1.00")}
    cur = {"a": 0, "b": Decimal("0.50")}
    assert [t.asset for t in price_move_triggers(prev, cur, cfg)] == ["b"]


def test_manual__force__carries_requester(cfg: PlanningConfig) -> None:
    t = manual_trigger("0xAdmin", "quarter end", force_targets=True)
    assert (t.kind, t.code) == (TriggerKind.MANUAL, "manual_force")
    assert "0xAdmin" in t.reason
