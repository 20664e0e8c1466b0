"""Property tests for the planner: bands reached or explained, minimum amounts, integer
amounts, and no action that pushes a tier further out of its band."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.metrics import band_distance
from keepers.fund.planning.plan import Plan, apply, apply_action, plan
from keepers.fund.planning.state import FundState
from keepers.fund.planning.triggers import Trigger, TriggerKind
from tests.support.fundlib import NOW, make_asset, make_state

CFG = load_planning_config({})
# No concentration limits: only bands and the minimum amount constrain the planner.
UNLIMITED = load_planning_config(
    {}, asset_concentration_limit=10_000, top3_concentration_limit=10_000
)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def fund_states(draw: st.DrawFn, decimals: int, liquid: bool = False) -> FundState:
    """Random funds of 1M-500M whole units with 1-3 assets per tier; ``liquid`` makes every
    asset instant, fully redeemable and unconstrained by concentration limits."""
    unit = 10**decimals
    whole = draw(st.integers(1_000_000, 500_000_000))
    # Tier weights in bps of gross assets.
    w1 = draw(st.integers(0, 4_000))
    w2 = draw(st.integers(0, 10_000 - w1))
    weights = (w1, w2, 10_000 - w1 - w2)
    assets = []
    for tier in (1, 2):
        n = draw(st.integers(1, 3))
        tier_value = whole * unit * weights[tier] // 10_000
        splits = draw(st.lists(st.integers(1, 100), min_size=n, max_size=n))
        for i, part in enumerate(splits):
            value = tier_value * part // sum(splits)
            instant = liquid or draw(st.booleans())
            redeemable_pct = 100 if liquid else draw(st.sampled_from([0, 10, 50, 100]))
            conc = 10_000 if liquid else draw(st.sampled_from([1_500, 2_500, 10_000]))
            window = 0 if redeemable_pct else draw(st.sampled_from([0, NOW + 86_400]))
            assets.append(
                make_asset(
                    f"T{tier}A{i}",
                    tier,
                    value,
                    instant=instant,
                    redeemable=value * redeemable_pct // 100,
                    conc=conc,
                    price_num=draw(st.sampled_from([1, 3, 10**12])),
                    window_opens_at=window,
                    matures_at=0 if liquid else draw(st.sampled_from([0, 0, NOW - 1, NOW + 60])),
                )
            )
    cash = whole * unit * weights[0] // 10_000
    pending = draw(st.integers(0, cash + whole * unit // 5)) if draw(st.booleans()) else 0
    return make_state(cash, assets, decimals=decimals, pending=pending)


def _check_plan(state: FundState, result: Plan) -> None:
    minimum = CFG.min_amount_units(state.base_decimals)
    for action in result.actions:
        assert type(action.amount) is int
        assert action.token_amount is None or type(action.token_amount) is int
        assert action.amount >= minimum, action
    # Step by step: no action moves any tier further outside its band.
    current = state
    for action in result.ordered():
        nxt = apply_action(current, action)
        for tier in range(3):
            assert band_distance(nxt, tier) <= band_distance(current, tier), (tier, action)
        current = nxt


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__random_funds__bands_reached_or_explained(decimals: int) -> None:
    @SETTINGS
    @given(state=fund_states(decimals), fill_bps=st.integers(9_950, 10_000))
    def check(state: FundState, fill_bps: int) -> None:
        result = plan(state, CFG, [], NOW)
        _check_plan(state, result)
        fills = {a.token: Decimal(fill_bps) / 10_000 for a in state.assets}
        after = apply(state, result, fills)
        explained = {u.tier for u in result.unresolved}
        for tier in range(3):
            assert band_distance(after, tier) == 0 or tier in explained, (tier, result)

    check()


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__liquid_funds__every_tier_inside_its_band(decimals: int) -> None:
    @SETTINGS
    @given(state=fund_states(decimals, liquid=True))
    def check(state: FundState) -> None:
        result = plan(state, UNLIMITED, [], NOW)
        _check_plan(state, result)
        assert not [u for u in result.unresolved if u.reason != "concentration"], result
        after = apply(state, result)
        for tier in range(3):
            assert band_distance(after, tier) == 0, (tier, after.positions(), result)

    check()


@st.composite
def settled_funds(draw: st.DrawFn, decimals: int) -> FundState:
    """Funds whose tiers all sit inside their comfort zones (L1 8-15%, L2 25-35%, L3 55-65%)."""
    unit = 10**decimals
    whole = draw(st.integers(1_000_000, 500_000_000))
    w1 = draw(st.integers(800, 1_500))
    w2 = draw(st.integers(max(2_500, 10_000 - w1 - 6_500), min(3_500, 10_000 - w1 - 5_500)))
    l2 = whole * unit * w2 // 10_000
    l3 = whole * unit * (10_000 - w1 - w2) // 10_000
    cash = whole * unit - l2 - l3
    assets = [
        make_asset("MMF", 1, l2),
        make_asset("H1", 2, l3 // 2),
        make_asset("H2", 2, l3 - l3 // 2),
    ]
    return make_state(cash, assets, decimals=decimals)


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__tiers_inside_comfort_zones__no_turnover(decimals: int) -> None:
    @SETTINGS
    @given(state=settled_funds(decimals))
    def check(state: FundState) -> None:
        assert plan(state, UNLIMITED, [], NOW).actions == ()

    check()


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__liquid_funds__turnover_bounded_by_distance_to_target(decimals: int) -> None:
    """Least turnover: buys and sells each add up to at most the distance to target (plus one
    minimum-sized leg per tier for rounding up), never a round trip through the tiers."""

    @SETTINGS
    @given(state=fund_states(decimals, liquid=True))
    def check(state: FundState) -> None:
        result = plan(state, UNLIMITED, [], NOW)
        total = state.total_assets
        gap = sum(
            abs(state.position(t.tier) - t.target_bps * total // 10_000) for t in state.tiers[1:]
        )
        moved = sum(a.amount for a in result.actions)
        assert moved <= gap + 2 * CFG.min_amount_units(decimals), (moved, gap, result)

    check()


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__redemption_forecast__cash_prepared_or_explained(decimals: int) -> None:
    @SETTINGS
    @given(state=fund_states(decimals), share=st.integers(0, 5_000))
    def check(state: FundState, share: int) -> None:
        forecast = state.total_assets * share // 10_000
        trigger = Trigger(TriggerKind.LIQUIDITY, "redemption_forecast", "f", 0, None, forecast)
        result = plan(state, CFG, [trigger], NOW)
        minimum = CFG.min_amount_units(decimals)
        assert all(type(a.amount) is int and a.amount >= minimum for a in result.actions)
        assert [a.priority for a in result.ordered()] == sorted(a.priority for a in result.actions)
        after = apply(state, result)
        funded = after.cash >= after.pending_redemptions + forecast
        assert funded or any(u.reason == "redemptions" for u in result.unresolved), result

    check()
