"""A held valuation step (AssetController.priceHold) in the planner and the fit check, pure:
the planner neither buys nor sells a held asset and holds tier flows back with its own reason
(``price_held``), as it does for an unpriced one; redemptions are still prepared from the other
assets; a stored plan that trades an asset held since ends stale with the reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.fit import Basis, describe, misfits
from keepers.fund.planning.plan import ActionType, plan
from keepers.fund.planning.report import plan_report, render_text
from keepers.fund.planning.state import FundState
from tests.support.fundlib import NOW, make_asset, make_state

K = 1_000
CFG = load_planning_config({}, asset_concentration_limit=10_000, top3_concentration_limit=10_000)


def held(state: FundState, symbol: str) -> FundState:
    assets = [replace(a, price_held=True) if a.symbol == symbol else a for a in state.assets]
    return replace(state, assets=tuple(assets))


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__price_held__prepares_redemptions_from_other_assets_only(decimals: int) -> None:
    u = K * 10**decimals
    state = make_state(
        40 * u,
        [make_asset("MMF", 1, 340 * u), make_asset("HYD", 2, 620 * u)],
        decimals=decimals,
        pending=90 * u,
    )
    hyd = state.asset(next(a.token for a in state.assets if a.symbol == "HYD"))
    p = plan(held(state, "HYD"), CFG, [], NOW)
    assert p.actions, "the redemptions are still prepared"
    assert {a.type for a in p.actions} == {ActionType.REDEEM}
    assert all(a.asset != hyd.token for a in p.actions)
    assert sum(a.amount for a in p.actions) >= 50 * u
    notes = [n for n in p.unresolved if n.reason == "price_held"]
    assert (2, "price_held") in [(n.tier, n.reason) for n in notes]  # the held asset's tier
    assert {n.reason for n in p.unresolved} <= {"price_held", "redemptions"}
    assert all("HYD" in n.detail and "acceptPrice" in n.detail for n in notes)
    assert not any(n.reason == "feed_down" for n in p.unresolved)


def test_plan__price_held__holds_back_tier_flows_it_would_otherwise_make() -> None:
    u = K * 10**6
    state = make_state(400 * u, [make_asset("MMF", 1, 300 * u), make_asset("HYD", 2, 300 * u)])
    assert plan(state, CFG, [], NOW).actions  # L1 high: the planner deploys
    p = plan(held(state, "HYD"), CFG, [], NOW)
    assert p.actions == ()  # no deploy sized on a tier value in doubt
    assert any(n.reason == "price_held" for n in p.unresolved)


def test_plan__price_held_but_not_held_position__plans_as_usual() -> None:
    """A held feed on an asset the fund does not hold (no balance) holds nothing back, but the
    asset itself is never bought while held."""
    u = K * 10**6
    state = make_state(400 * u, [make_asset("MMF", 1, 300 * u), make_asset("HYD", 2, 0)])
    p = plan(held(state, "HYD"), CFG, [], NOW)
    assert not any(n.reason == "price_held" for n in p.unresolved)
    hyd = next(a.token for a in state.assets if a.symbol == "HYD")
    assert all(a.asset != hyd for a in p.actions)


def test_misfits__asset_held_after_planning__plan_is_stale_with_the_reason() -> None:
    u = K * 10**6
    state = make_state(400 * u, [make_asset("MMF", 1, 300 * u), make_asset("HYD", 2, 300 * u)])
    p = plan(state, CFG, [], NOW)
    basis = Basis.of(state, p)
    assert misfits(state, p, basis) == ()
    trades = {a.asset for a in p.actions if a.type in (ActionType.PURCHASE, ActionType.REDEEM)}
    sym = {a.token: a.symbol for a in state.assets}
    target = sorted(sym[t] for t in trades if t)[0]
    found = misfits(held(state, target), p, basis)
    assert found and {m.rule for m in found} == {"price_held"}, found
    assert f"{target}: valuation held" in describe(found)
    # an asset the plan does not trade being held is no misfit of the plan
    others = [s for s in sym.values() if s not in {sym[t] for t in trades if t}]
    for other in others:
        assert not any(m.rule == "price_held" for m in misfits(held(state, other), p, basis))


def test_plan_report__price_held__names_the_held_asset() -> None:
    u = K * 10**6
    state = make_state(40 * u, [make_asset("MMF", 1, 340 * u), make_asset("HYD", 2, 620 * u)],
                       pending=90 * u)  # fmt: skip
    held_state = held(state, "HYD")
    report = plan_report(held_state, plan(held_state, CFG, [], NOW))
    assert report["valuation_held"] == ["HYD"]
    text = render_text(report)
    assert "valuation held: HYD" in text and "unresolved L3 price_held: HYD" in text
    assert "valuation_held" not in plan_report(state, plan(state, CFG, [], NOW))
