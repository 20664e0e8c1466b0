"""Issue 67: while the vault is closing the planner only sells toward cash, within the usual
budgets and depth caps; once closed it plans nothing; while open it is the usual planner."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keepers.fund.planning.actions import Action, ActionType
from keepers.fund.planning.closing import CLOSING_REASON, plan_for_phase
from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.depth import AssetDepth
from keepers.fund.planning.inflight import plan_in_flight
from keepers.fund.planning.plan import apply, plan
from keepers.fund.planning.state import CLOSED, CLOSING, OPEN, FundState
from tests.support.fundlib import NOW, make_asset, make_state

K = 1_000
CFG = load_planning_config({}, asset_concentration_limit=10_000, top3_concentration_limit=10_000)


def fund(cash: int, l2: int, l3: int, decimals: int = 6, phase: int = OPEN) -> FundState:
    u = K * 10**decimals
    s = make_state(
        cash * u,
        [make_asset("MMF", 1, l2 * u), make_asset("HYD", 2, l3 * u)],
        decimals=decimals,
    )
    return replace(s, phase=phase)


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__closing__sells_every_tier_to_cash_and_buys_nothing(decimals: int) -> None:
    """A fund with L1 far above its band (where the open planner invests the surplus) plans
    only sales while closing, and they take it all to cash."""
    u = K * 10**decimals
    open_ = plan_for_phase(fund(500, 200, 300, decimals), CFG, [], NOW)
    assert any(a.type is ActionType.PURCHASE for a in open_.actions)  # the open planner buys
    state = fund(500, 200, 300, decimals, phase=CLOSING)
    p = plan_for_phase(state, CFG, [], NOW)
    assert p.actions and {a.type for a in p.actions} == {ActionType.REDEEM}
    assert sum(a.amount for a in p.actions) == 500 * u
    after = apply(state, p)
    assert after.tiers[1].value == after.tiers[2].value == 0
    assert CLOSING_REASON in {n.reason for n in p.unresolved}


def test_plan__closing__depth_caps_carry_the_rest_never_past_the_venue() -> None:
    """Within the usual caps: a venue that takes 50k now sells 50k now, the rest carried."""
    u = K * 10**6
    state = fund(100, 300, 600, phase=CLOSING)
    hyd = state.assets[1].token
    mmf = state.assets[0].token
    depth = {
        hyd: AssetDepth(hyd, limit_bps=100, max_sell=50 * u, cheap_sell=50 * u),
        mmf: AssetDepth(mmf, limit_bps=100),
    }
    p = plan_for_phase(state, CFG, [], NOW, depth=depth)
    sold = {a.asset: a.amount for a in p.actions if a.type is ActionType.REDEEM}
    assert sold[hyd] <= 50 * u and sold[mmf] == 300 * u
    assert all(a.type is ActionType.REDEEM for a in p.actions)
    assert p.carry  # the rest waits for the venue


def test_plan__closing_budget_spent__only_redemptions_and_no_buys() -> None:
    state = fund(100, 300, 600, phase=CLOSING)
    p = plan_for_phase(state, CFG, [], NOW, budget_spent="the day's cost budget is spent")
    assert all(a.type is not ActionType.PURCHASE for a in p.actions)
    assert "cost_budget" in {n.reason for n in p.unresolved}


def test_plan__closing__a_buying_leg_the_planner_still_made__dropped_and_said(monkeypatch) -> None:
    """The guard behind the targets: whatever buying leg the planner still returns while closing
    (here one added to its plan) is dropped, never sent, and the plan says how much."""
    from keepers.fund.planning import closing

    u = K * 10**6
    state = fund(500, 200, 300, phase=CLOSING)
    real = closing.make_plan

    def with_a_buy(*args, **kwargs):  # the real plan, plus a purchase of the L2 asset
        p = real(*args, **kwargs)
        buy = Action(
            ActionType.PURCHASE, 7 * u, 9, "rotation", to_tier=1, asset=state.assets[0].token
        )
        return replace(p, actions=p.actions + (buy,))

    monkeypatch.setattr(closing, "make_plan", with_a_buy)
    p = plan_for_phase(state, CFG, [], NOW)
    assert p.actions and all(a.type is ActionType.REDEEM for a in p.actions)
    said = [n.detail for n in p.unresolved if n.reason == CLOSING_REASON]
    assert any(f"1 buying leg(s) dropped, {7 * u} base units not invested" in d for d in said)


def test_plan__closed__nothing_planned() -> None:
    p = plan_for_phase(fund(500, 200, 300, phase=CLOSED), CFG, [], NOW)
    assert p.actions == () and [n.reason for n in p.unresolved] == [CLOSING_REASON]


def test_plan_in_flight__closing_state__the_keeper_path_plans_sales_only() -> None:
    """The keeper plans through plan_in_flight: it dispatches on the phase."""
    state = fund(500, 200, 300, phase=CLOSING)
    p = plan_in_flight(state, CFG, [], NOW, ())
    assert p.actions and all(a.type is ActionType.REDEEM for a in p.actions)
    # and the plain planner on the same state would have bought: the dispatch matters
    assert any(
        a.type is ActionType.PURCHASE
        for a in plan(replace(state, phase=OPEN), CFG, [], NOW).actions
    )


def test_fund_state__unknown_phase__refused_naming_it() -> None:
    with pytest.raises(ValueError, match="phase must be one of .* got 7"):
        fund(1, 1, 1, phase=7)
