"""Planner unit cases: refill order, deploy order, redemption preparation, minimum amount,
windows, concentration, forecast, manual force, pause, and apply() at quoted prices."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from keepers.fund.planning.config import PlanningConfig, load_planning_config
from keepers.fund.planning.depth import AssetDepth, PoolVenue
from keepers.fund.planning.metrics import band_distance, tier_metrics
from keepers.fund.planning.plan import Action, ActionType, Plan, apply, plan
from keepers.fund.planning.state import BPS, FundState, Tier
from keepers.fund.planning.triggers import Trigger, TriggerKind, liquidity_triggers, manual_trigger
from tests.support.fundlib import (
    NOW,
    local_assets,
    local_pool_fund,
    make_asset,
    make_state,
    pool_depths,
)

K = 1_000  # thousands of whole units
OPEN_CFG = load_planning_config(
    {}, asset_concentration_limit=10_000, top3_concentration_limit=10_000
)


def fund(cash: int, l2: int, l3: int, decimals: int = 6, pending: int = 0, **l2kw) -> FundState:
    """A fund with one L2 asset and one L3 asset, amounts in thousands of whole units."""
    u = K * 10**decimals
    return make_state(
        cash * u,
        [make_asset("MMF", 1, l2 * u, **l2kw), make_asset("HYD", 2, l3 * u)],
        decimals=decimals,
        pending=pending * u,
    )


def by_tier(p: Plan, kind: ActionType) -> list[tuple[int | None, int]]:
    return [
        (a.from_tier if kind is ActionType.REDEEM else a.to_tier, a.amount)
        for a in p.ordered()
        if a.type is kind
    ]


def ratios(state: FundState) -> list[int]:
    return [m.ratio_bps for m in tier_metrics(state)]


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__l1_low__refills_from_l2_first_then_l3(decimals: int) -> None:
    u = K * 10**decimals
    p = plan(fund(40, 340, 620, decimals), OPEN_CFG, [], NOW)
    assert by_tier(p, ActionType.REDEEM) == [(1, 40 * u), (2, 20 * u)]
    assert ratios(apply(fund(40, 340, 620, decimals), p)) == [1_000, 3_000, 6_000]
    assert not p.unresolved


def test_plan__l2_window_closed__refills_from_l3_and_says_why() -> None:
    state = fund(40, 340, 620, redeemable=0, instant=False, window_opens_at=NOW + 3_600)
    p = plan(state, OPEN_CFG, [], NOW)
    assert [a.from_tier for a in p.actions] == [2]
    assert band_distance(apply(state, p), 0) == 0
    assert [u.reason for u in p.unresolved] == []  # L1 reached its band through L3


def test_plan__nothing_redeemable__unresolved_window_for_l1() -> None:
    u = K * 10**6
    state = make_state(
        30 * u,
        [
            make_asset("MMF", 1, 370 * u, instant=False, redeemable=0, window_opens_at=NOW + 60),
            make_asset("RWA", 2, 600 * u, instant=False, redeemable=0),
        ],
    )
    p = plan(state, OPEN_CFG, [], NOW)
    assert p.actions == ()
    reasons = {(x.tier, x.reason) for x in p.unresolved}
    assert (0, "window") in reasons or (1, "window") in reasons
    assert any(x.tier == 0 for x in p.unresolved)


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__l1_high__deploys_to_l3_first_then_l2(decimals: int) -> None:
    u = K * 10**decimals
    state = fund(250, 250, 500, decimals)
    p = plan(state, OPEN_CFG, [], NOW)
    assert by_tier(p, ActionType.PURCHASE) == [(2, 100 * u), (1, 50 * u)]
    assert ratios(apply(state, p)) == [1_000, 3_000, 6_000]


def test_plan__l2_over_l3_under__redeem_then_buy_keeping_l1_under_its_max() -> None:
    state = fund(100, 450, 450)  # L2 45% > 40%, L3 45% < 50%
    p = plan(state, OPEN_CFG, [], NOW)
    current = state
    for a in p.ordered():
        current = apply(current, Plan("", 0, (), (a,)))
        assert band_distance(current, 0) == 0, "a redeem pushed L1 over its band"
    assert ratios(current) == [1_000, 3_000, 6_000]
    assert len(p.actions) > 2  # stepped: redeem, buy, redeem, buy


def test_plan__pending_beyond_cash__priority0_redeem_from_l2() -> None:
    # Seed bug: pending 80K vs L1 + L2 = 400K looked fine; only cash (50K) pays redemptions.
    u = K * 10**6
    state = fund(50, 350, 600, pending=80)
    p = plan(state, OPEN_CFG, [], NOW)
    first = p.ordered()[0]
    assert (first.priority, first.type, first.from_tier) == (0, ActionType.REDEEM, 1)
    # the queue's 30K and L1's way to its target, from the tiers' surplus (L2's first)
    assert first.amount == 74 * u and by_tier(p, ActionType.REDEEM) == [(1, 74 * u), (2, 48 * u)]
    after = apply(state, p)
    assert after.cash >= after.pending_redemptions
    assert all(band_distance(after, t) == 0 for t in range(3))


def test_plan__forecast_redemptions__cash_reserved_and_l1_explained() -> None:
    u = K * 10**6
    state = fund(100, 300, 600)
    forecast = Trigger(TriggerKind.LIQUIDITY, "redemption_forecast", "forecast", 0, None, 250 * u)
    p = plan(state, OPEN_CFG, [forecast], NOW)
    after = apply(state, p)
    assert after.cash >= 250 * u
    assert [a.priority for a in p.actions if a.priority == 0]
    assert any(x.tier == 0 and x.reason == "redemptions" for x in p.unresolved)


def test_plan__move_below_minimum__no_action_and_reason() -> None:
    # 150K fund: L1 at 4% (6K), band min 5%; the 9K refill is below the 10K minimum.
    u = 10**6
    state = make_state(
        6_000 * u, [make_asset("MMF", 1, 49_500 * u), make_asset("HYD", 2, 94_500 * u)]
    )
    p = plan(state, OPEN_CFG, [], NOW)
    assert p.actions == ()
    assert [(x.tier, x.reason) for x in p.unresolved] == [(0, "below_minimum")]


def test_plan__inside_comfort_zones__no_action(cfg: PlanningConfig) -> None:
    assert plan(fund(120, 280, 600), OPEN_CFG, [], NOW).actions == ()


def test_plan__manual_force__moves_every_tier_to_target() -> None:
    state = fund(120, 280, 600)
    p = plan(state, OPEN_CFG, [manual_trigger("0xA", "month end", force_targets=True)], NOW)
    assert ratios(apply(state, p)) == [1_000, 3_000, 6_000]


def test_plan__paused__no_actions() -> None:
    state = fund(250, 250, 500)
    paused = make_state(state.cash, state.assets, paused=True)
    p = plan(paused, OPEN_CFG, [], NOW)
    assert p.actions == () and p.unresolved[0].reason == "paused"


def test_plan__asset_above_limit__swapped_within_its_tier(cfg: PlanningConfig) -> None:
    u = K * 10**6
    assets = [
        make_asset("MMF1", 1, 150 * u, conc=2_500),
        make_asset("MMF2", 1, 150 * u, conc=2_500),
        make_asset("BIG", 2, 320 * u, conc=2_500),
        make_asset("S1", 2, 140 * u, conc=2_500),
        make_asset("S2", 2, 140 * u, conc=2_500),
    ]
    state = make_state(100 * u, assets)
    wide_top3 = load_planning_config({}, top3_concentration_limit=10_000)
    p = plan(state, wide_top3, [], NOW)
    big = state.asset(assets[2].token)
    assert [(a.type, a.asset) for a in p.ordered()][0] == (ActionType.REDEEM, big.token)
    assert apply(state, p).asset(big.token).value <= 250 * u
    assert ratios(apply(state, p)) == ratios(state)


def test_plan__matured_asset__sold_first_rolled_over_never_bought() -> None:
    u = K * 10**6
    old, new = make_asset("OLD", 1, 170 * u, matures_at=NOW - 1), make_asset("NEW", 1, 170 * u)
    state = make_state(60 * u, [old, new, make_asset("HYD", 2, 600 * u)])
    p = plan(state, OPEN_CFG, [], NOW)  # L1 6%: refill 40K from L2, from OLD first
    first = p.ordered()[0]
    assert (first.type, first.asset) == (ActionType.REDEEM, old.token)
    assert old.token not in {a.asset for a in p.actions if a.type is ActionType.PURCHASE}
    after = apply(state, p)
    assert (after.asset(old.token).value, after.asset(new.token).value) == (0, 300 * u)
    assert ratios(after) == [1_000, 3_000, 6_000]


def test_plan__matured_asset_outside_window__not_rolled_and_says_why() -> None:
    u = K * 10**6
    old = make_asset("OLD", 2, 300 * u, matures_at=NOW - 1, instant=False, redeemable=0)
    state = make_state(100 * u, [make_asset("MMF", 1, 300 * u), old, make_asset("H", 2, 300 * u)])
    p = plan(state, OPEN_CFG, [], NOW)
    assert p.actions == ()
    assert [(x.tier, x.reason) for x in p.unresolved] == []  # bands are fine: nothing to explain


def test_plan__same_input__same_plan_id() -> None:
    a = plan(fund(250, 250, 500), OPEN_CFG, [], NOW)
    b = plan(fund(250, 250, 500), OPEN_CFG, [], NOW)
    assert a == b and len(a.id) == 16


def test_plan__decimals__amounts_scale_exactly() -> None:
    p6 = plan(fund(40, 340, 620, 6), OPEN_CFG, [], NOW)
    p18 = plan(fund(40, 340, 620, 18), OPEN_CFG, [], NOW)
    assert [a.amount * 10**12 for a in p6.actions] == [a.amount for a in p18.actions]


def test_apply__quoted_prices__fills_below_oracle() -> None:
    u = K * 10**6
    state = fund(100, 300, 600)
    mmf, hyd = state.assets
    buy = Action(ActionType.PURCHASE, 100 * u, 1, "t", 0, 1, asset=mmf.token)
    sell = Action(ActionType.REDEEM, 100 * u, 2, "t", 2, 0, asset=hyd.token, token_amount=100 * u)
    after = apply(state, Plan("", 0, (), (buy, sell)), {mmf.token: Decimal("0.99")})
    assert after.asset(mmf.token).value == 399 * u
    assert after.asset(hyd.token).value == 500 * u
    assert after.cash == 100 * u  # redeem filled at 1 (no quote given)


def test_apply__redeem_more_than_redeemable__raises() -> None:
    state = fund(100, 300, 600, redeemable=0)
    bad = Action(ActionType.REDEEM, 10**10, 1, "t", 1, 0, asset=state.assets[0].token)
    with pytest.raises(ValueError, match="redeemable"):
        apply(state, Plan("", 0, (), (bad,)))


def test_apply__waterfall__l2_before_l3_and_never_past_max_tier() -> None:
    u = K * 10**6
    state = fund(100, 300, 600)
    fall = Action(ActionType.WATERFALL, 350 * u, 0, "t", max_tier=2)
    after = apply(state, Plan("", 0, (), (fall,)))
    assert (after.tiers[1].value, after.tiers[2].value, after.cash) == (0, 550 * u, 450 * u)
    capped = apply(
        state, Plan("", 0, (), (Action(ActionType.WATERFALL, 350 * u, 0, "t", max_tier=1),))
    )
    assert (capped.tiers[1].value, capped.tiers[2].value) == (0, 600 * u)


@pytest.mark.parametrize("pending", [100, 200])
def test_plan__queue_takes_the_whole_fund__sells_everything_for_it_and_says_so(
    pending: int,
) -> None:
    """A holder redeeming the whole fund (the queue is all of it: total 0), or a queue worth
    more than the fund now: no band applies to what is left, but the holders are owed, so every
    position that can be sold now is sold for them (the planner used to plan nothing: the
    property test's [request 2,293,315, liquidity, liquidity] left 1.5M sellable untouched while
    the queue waited)."""
    u = K * 10**6
    state = make_state(
        10 * u,
        [
            make_asset("MMF", 1, 30 * u),
            make_asset("HYD", 2, 40 * u),
            make_asset("RWA", 2, 20 * u, instant=False, redeemable=0),
        ],
        pending=pending * u,
    )
    assert state.total_assets <= 0
    p = plan(state, OPEN_CFG, liquidity_triggers(state, OPEN_CFG), NOW)
    assert sorted(by_tier(p, ActionType.REDEEM)) == [(1, 30 * u), (2, 40 * u)]
    assert all(a.priority == 0 for a in p.actions)
    assert any(x.reason == "redemptions" and "whole fund" in x.detail for x in p.unresolved)


def test_plan__pending_beyond_liquidity__funds_what_it_can_and_says_rest() -> None:
    u = K * 10**6
    state = make_state(
        0,
        [
            make_asset("MMF", 1, 300 * u, redeemable=40 * u),
            make_asset("RWA", 2, 700 * u, instant=False, redeemable=0, window_opens_at=NOW + 60),
        ],
        pending=100 * u,
    )
    p = plan(state, OPEN_CFG, [], NOW)
    assert [(a.priority, a.type, a.amount) for a in p.actions] == [(0, ActionType.REDEEM, 40 * u)]
    assert any(x.tier == 0 and x.reason == "redemptions" for x in p.unresolved)


# -- degraded mode: a held asset whose feed is down ---------------------------------------


def unpriced(asset_symbol: str, tier: int, tokens: int) -> object:
    """A held asset whose price is unknown: its balance is there, its value reads 0."""
    import dataclasses

    return dataclasses.replace(
        make_asset(asset_symbol, tier, 0), balance=tokens, priced=False, redeemable_now_value=0
    )


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__feed_down__prepares_redemptions_from_priced_assets_only(decimals: int) -> None:
    u = K * 10**decimals
    hyd = unpriced("HYD", 2, 620 * u)
    state = make_state(
        40 * u, [make_asset("MMF", 1, 340 * u), hyd], decimals=decimals, pending=90 * u
    )
    p = plan(state, OPEN_CFG, [], NOW)
    assert p.actions, "the redemptions are still prepared"
    assert {a.type for a in p.actions} == {ActionType.REDEEM}
    assert all(a.asset != hyd.token for a in p.actions)  # type: ignore[attr-defined]
    assert sum(a.amount for a in p.actions) >= 50 * u  # pending 90k less the 40k cash
    feed = [n for n in p.unresolved if n.reason == "feed_down"]
    assert (2, "feed_down") in [(n.tier, n.reason) for n in feed]  # the unpriced asset's tier
    assert {n.reason for n in p.unresolved} <= {"feed_down", "redemptions"}  # every off tier: why
    assert "HYD" in next(n.detail for n in p.unresolved if n.reason == "feed_down")


def test_plan__feed_down__holds_back_tier_flows_it_would_otherwise_make() -> None:
    u = K * 10**6
    priced = make_state(400 * u, [make_asset("MMF", 1, 300 * u), make_asset("HYD", 2, 300 * u)])
    assert plan(priced, OPEN_CFG, [], NOW).actions  # L1 high: the planner deploys
    held = make_state(400 * u, [make_asset("MMF", 1, 300 * u), unpriced("HYD", 2, 300 * u)])
    p = plan(held, OPEN_CFG, [], NOW)
    assert p.actions == ()  # no deploy sized on a tier value it cannot know
    assert any(n.reason == "feed_down" for n in p.unresolved)


def test_plan__unpriced_but_not_held__plans_as_usual() -> None:
    u = K * 10**6
    empty = unpriced("HYD", 2, 0)
    with_empty = make_state(40 * u, [make_asset("MMF", 1, 960 * u), empty])
    p = plan(with_empty, OPEN_CFG, [], NOW)
    assert not any(n.reason == "feed_down" for n in p.unresolved)
    assert any(a.type is ActionType.REDEEM for a in p.actions)  # L1 refilled from MMF
    assert all(a.asset != empty.token for a in p.actions)  # type: ignore[attr-defined]


# -- issue 52: a large request on a fund with an asynchronous position ----------------------


def _request_on_a_fund_with_an_async_position() -> tuple[FundState, dict[str, AssetDepth]]:
    """The property test's [liquidity, liquidity, request 1,555,876] on the local fund, as the
    keeper read it: 1,555,876 queued against 200,000 of cash, 300,000 of L3 asynchronous
    (PRIVCRED: nothing redeemable now), and TBILL-A's pool able to take 298,983 of sales."""
    u = 10**6
    assets = local_assets(
        300_000 * u, 300_000 * u, 299_012_876_036, 299_764_136_138, 300_000 * u, 300_000 * u
    )
    depth = {
        assets[2].token: AssetDepth(assets[2].token, max_sell=298_982_974_748),
        assets[3].token: AssetDepth(assets[3].token, max_sell=299_734_159_724),
    }
    return make_state(200_000 * u, assets, pending=1_555_875_999_999), depth


def test_plan__large_request_async_l3__every_tier_in_band_with_room_for_the_fills() -> None:
    """Raising only the queue in the first pass sold L2 to its target and left L1's share on
    L3, at exactly its 70% maximum at the oracle; the later sale of that share found TBILL-A's
    pool spent, L1 was refilled from L2 instead, and the sales' own costs left L3 at 70.13%
    on the chain. Now L1's whole way to its target is raised in the first pass, from each
    tier's surplus: L3 ends well inside its band, also when every fill is 30 bps worse."""
    state, depth = _request_on_a_fund_with_an_async_position()
    cfg = load_planning_config({})
    p = plan(state, cfg, liquidity_triggers(state, cfg), NOW, depth)
    assert p.actions and all(a.type is ActionType.REDEEM for a in p.actions)
    for fill in (Decimal(1), Decimal("0.997")):
        after = apply(state, p, {a.token: fill for a in state.assets})
        assert after.cash >= after.pending_redemptions
        assert all(band_distance(after, t) == 0 for t in range(3)), (fill, ratios(after))
    assert ratios(apply(state, p))[2] <= 6_800  # not on the band's edge


def _local_fund_with_a_request(
    request: int, decimals: int
) -> tuple[FundState, dict[str, AssetDepth], dict[str, PoolVenue]]:
    """The local fund the movers property runs on, as the keeper reads it, with ``request``
    whole units queued: 200,000 cash, two ERC-4626 funds in L2, two pool assets (TBILL-A at
    30 bps, TBILL-B at 5 bps), an ERC-4626 fund and the asynchronous PRIVCRED (nothing
    redeemable now) in L3; each pool's depth read as the depth reader reads it."""
    state, venues = local_pool_fund(200_000, decimals, pending=request * 10**decimals - 1)
    return state, pool_depths(state, venues, load_planning_config({})), venues


@pytest.mark.parametrize("decimals", [6, 18])
@settings(max_examples=40, deadline=None)
@example(request=1_568_963)  # the movers property's counterexample (L3 at 70.01%)
@example(request=1_555_876)
@given(request=st.integers(1_300_000, 1_570_000))
def test_plan__large_request_on_the_local_fund__l3_under_its_max_at_the_pools_own_fills(
    decimals: int, request: int
) -> None:
    """A request that needs most of L3: the plan, filled at what the pools really pay for its
    legs (exact V3 math: fee and impact), leaves L3 inside its band whenever the part of L3
    nothing can sell now (PRIVCRED) fits under its maximum; and a redemption that needs every
    liquid L3 position sells each whole. The depth read used to leave 1 bps of each pool
    position (29.9 of TBILL-A's 299,013) and at 1,568,963 that dust plus the fills' 1,219 of
    cost left L3 at 70.01% on the chain."""
    state, depth, venues = _local_fund_with_a_request(request, decimals)
    cfg = load_planning_config({})
    p = plan(state, cfg, liquidity_triggers(state, cfg), NOW, depth)
    tokens: dict[str, int] = {}
    for a in p.actions:
        if a.asset in venues and a.type is ActionType.REDEEM:
            tokens[a.asset] = tokens.get(a.asset, 0) + (a.token_amount or 0)
    fills = {
        t: Decimal(venues[t].sell_out(n) or 0) / Decimal(venues[t].oracle_value(n))
        for t, n in tokens.items()
    }
    after = apply(state, p, fills)
    l3 = [a for a in after.assets if a.tier == Tier.L3]
    locked = sum(a.value - a.sellable_value for a in l3)
    l3_max = after.tiers[Tier.L3].max_bps * after.total_assets // BPS
    if locked <= l3_max:  # some plan holds L3 under its max: this one does
        assert band_distance(after, Tier.L3) == 0, (request, ratios(after), fills)
    at_oracle = apply(state, p)
    if at_oracle.position(Tier.L3) > state.total_assets * 6_000 // BPS:  # L3 above its aim
        left = {a.symbol: a.sellable_value for a in at_oracle.assets if a.tier == Tier.L3}
        assert not any(left.values()), (request, left)


def test_plan__top3_already_over_its_limit__buys_nothing_the_controller_would_refuse() -> None:
    """The controller checks the top three against its limit after any buy, whatever the buy
    did to their sum: the planner used to allow buying an asset up to the third largest's value
    (the sum unchanged) and the simulation failed Top3ConcentrationExceeded."""
    u = K * 10**6
    state = make_state(
        300 * u,  # L1 30%: cash to deploy
        [
            make_asset("MMF1", 1, 150 * u),
            make_asset("MMF2", 1, 20 * u),
            make_asset("HYD1", 2, 500 * u, instant=False, redeemable=0),
            make_asset("HYD2", 2, 30 * u),
        ],
    )
    cfg = load_planning_config({}, asset_concentration_limit=10_000)  # top-3 limit 60%
    p = plan(state, cfg, [], NOW)
    assert by_tier(p, ActionType.PURCHASE) == [], p.actions
    assert any(u_.reason == "concentration" for u_ in p.unresolved), p.unresolved


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__venue_room_not_read__no_new_money_to_it_sales_go_on(decimals: int) -> None:
    """A venue whose room the keeper could not read at this block (its adapter's investableNow
    reverted: ``room_read`` False) gets no new money this plan, never "no limit": the L3 money
    goes to the venue whose room is known; an L2 room not read holds its purchase back while
    its sale (which does not depend on the room) still refills L1."""
    u = K * 10**decimals
    known = make_asset("HYD1", 2, 250 * u)
    unread = replace(make_asset("HYD2", 2, 250 * u), room_read=False)
    state = make_state(250 * u, [make_asset("MMF", 1, 250 * u), known, unread], decimals=decimals)
    assert unread.room == 0 and known.room is None
    p = plan(state, OPEN_CFG, [], NOW)
    bought = {a.asset for a in p.actions if a.type is ActionType.PURCHASE}
    assert known.token in bought and unread.token not in bought, p.actions
    read = plan(replace(state, assets=(state.assets[0], known, replace(unread, room_read=True))),
                OPEN_CFG, [], NOW)  # fmt: skip
    assert unread.token in {a.asset for a in read.actions if a.type is ActionType.PURCHASE}
    # L1 short: the L2 asset whose room is not read is still sold
    low = make_state(
        20 * u,
        [replace(make_asset("MMF", 1, 380 * u), room_read=False), make_asset("HYD", 2, 600 * u)],
        decimals=decimals,
    )
    sold = {a.asset for a in plan(low, OPEN_CFG, [], NOW).actions if a.type is ActionType.REDEEM}
    assert low.assets[0].token in sold
