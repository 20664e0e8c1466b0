"""Depth-aware sizing (keepers.fund.planning.depth and the planner's use of it), pure: V3 pools built
with the exact math, funds built with fundlib."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepers.core import univ3
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.depth import (
    AssetDepth,
    DepthMemo,
    PoolVenue,
    largest_within,
    pool_depth,
)
from keepers.fund.planning.plan import CARRY, apply, plan
from keepers.fund.planning.state import BPS
from keepers.fund.planning.triggers import Trigger, TriggerKind
from tests.support.fundlib import local_assets, make_asset, make_state

CFG = PlanningConfig()
M = 10**6  # 6-decimal base units
LIMIT = CFG.rebalance_max_slippage  # 200 bps


def venue(price: int, *, at: int | None = None, range_ticks: int | None = 2000,
          usd: int = 100_000_000, fee: int = 3000) -> PoolVenue:  # fmt: skip
    """A TBILL/USDT pool seeded like the local profile (``usd`` per side around ``price``
    whole USDT per token, +-``range_ticks``), then moved to ``at`` (no liquidity change)."""
    price_raw = (price * M, 10**18)  # base units per 1e18 token units
    sqrt0 = univ3.encode_price_sqrt(price_raw[0], price_raw[1])  # token0 = the asset
    tick0 = univ3.get_tick_at_sqrt_ratio(sqrt0)
    spacing = univ3.TICK_SPACINGS[fee]
    rng = None if range_ticks is None else (-range_ticks, range_ticks)
    lower, upper = univ3.position_ticks(tick0, spacing, rng)
    liq = univ3.liquidity_for_amounts(
        sqrt0,
        univ3.get_sqrt_ratio_at_tick(lower),
        univ3.get_sqrt_ratio_at_tick(upper),
        usd * 10**18 // price,
        usd * M,
    )
    sqrt_at = sqrt0 if at is None else univ3.encode_price_sqrt(at * M, 10**18)
    pool = univ3.PoolState.from_positions(sqrt_at, fee, [(lower, upper, liq)], spacing)
    oracle = price if at is None else at
    return PoolVenue(pool, True, oracle * M, 10**18)


def test_pool_depth__in_range_pool__max_buy_is_the_limit_edge():
    v = venue(100)
    d = pool_depth("T", v, LIMIT, 50_000_000 * M, 50_000_000 * M)
    assert 0 < d.max_buy < 50_000_000 * M
    assert v.buy_slippage_bps(d.max_buy) <= LIMIT < v.buy_slippage_bps(d.max_buy + d.max_buy // 100)
    assert v.sell_slippage_bps(v.oracle_tokens(d.max_sell)) <= LIMIT


def test_pool_depth__whole_position_inside_the_limit__sold_whole_not_backed_off():
    """The 1 bps back-off is for a sale cut at the slippage edge; a position whose whole sale
    fills well inside the bound was also backed off, and the planner left 1 bps of it (29.9
    of TBILL-A's 299,013): for a large redemption that needed every liquid L3 position, that
    dust and the fills' costs kept L3 over its maximum (the movers property's 1,568,963)."""
    v = venue(100)
    value = 299_012_876_036  # TBILL-A on the local fund: 31 bps to sell whole on this pool
    d = pool_depth("T", v, LIMIT, 0, value, CFG.rebalance_target_slippage)
    assert v.sell_slippage_bps(v.oracle_tokens(value)) < CFG.rebalance_target_slippage
    assert (d.max_sell, d.cheap_sell) == (value, value)
    # a position past the edge is still cut at it, and backed off from it
    big = pool_depth("T", v, LIMIT, 0, 50_000_000 * M, CFG.rebalance_target_slippage)
    assert 0 < big.cheap_sell < big.max_sell < 50_000_000 * M
    assert v.sell_slippage_bps(v.oracle_tokens(big.max_sell)) <= LIMIT


def test_pool_depth__price_left_the_range__no_safe_buy_or_sell():
    """The demo's TBILL-A: seeded +-2000 ticks around 100, the oracle (and pool) now at 77: the
    first liquidity is ~5.7% above the oracle, so every purchase is > 500 bps under it."""
    v = venue(100, at=77)
    assert v.buy_slippage_bps(100_000 * M) > 500
    d = pool_depth("T", v, LIMIT, 10_000_000 * M, 10_000_000 * M)
    assert d.max_buy == 0 and d.max_sell == 0
    assert "no buy fits" in d.detail


# one input of pool_depth changed from the call before (or none): what the memo must notice
_CHANGES = ("none", "price", "pool_moved", "tick_added", "liquidity", "side", "limit", "target",
            "buy_cap", "sell_cap", "token")  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(_CHANGES), st.integers(1, 10**6)), min_size=1, max_size=8)
)
def test_depth_memo__any_sequence_of_calls__answers_what_pool_depth_answers(steps):
    """The memo's shortcut (the last answer kept per token) against the plain search on
    sequences of calls that repeat the last one or change one input of it (the pool's price,
    its ticks or liquidity, the side, the oracle price, the limits, the caps, the token)."""
    memo = DepthMemo()
    v, token = venue(100), "T"
    limit, target = LIMIT, CFG.rebalance_target_slippage
    buy_cap, sell_cap = 5_000_000 * M, 3_000_000 * M
    for change, r in steps:
        pool = v.pool
        if change == "price":
            v = replace(v, price_num=v.price_num + r)
        elif change == "pool_moved":
            sqrt = pool.sqrt_price_x96 + pool.sqrt_price_x96 * (r % 200 + 1) // 20_000
            v = replace(v, pool=univ3.PoolState(sqrt, univ3.get_tick_at_sqrt_ratio(sqrt),
                                                 pool.liquidity, pool.fee, pool.tick_spacing,
                                                 dict(pool.ticks)))  # fmt: skip
        elif change == "tick_added":
            # just above the price, inside the 200 bps a buy moves it: a purchase crosses it
            tick = (pool.tick // pool.tick_spacing + 1 + r % 3) * pool.tick_spacing
            ticks = dict(pool.ticks) | {tick: -(pool.liquidity * (r % 9 + 1) // 10)}
            v = replace(v, pool=replace(pool, ticks=ticks))
        elif change == "liquidity":
            v = replace(v, pool=replace(pool, liquidity=pool.liquidity + r * 10**9))
        elif change == "side":
            v = replace(v, token_is_0=not v.token_is_0)
        elif change == "limit":
            limit = 50 + r % 400
        elif change == "target":
            target = None if r % 3 == 0 else 10 + r % 100
        elif change == "buy_cap":
            buy_cap = r * M
        elif change == "sell_cap":
            sell_cap = r * M
        elif change == "token":
            token = "T" if token == "U" else "U"
        assert pool_depth(token, v, limit, buy_cap, sell_cap, target, memo) == pool_depth(
            token, v, limit, buy_cap, sell_cap, target
        )


def test_depth_memo__same_inputs_again__no_second_search(monkeypatch):
    """The second call with every input the same does not search; a changed one does."""
    import keepers.fund.planning.depth as depth_mod

    searches = []
    plain = depth_mod.pool_depth

    def counted(*a, **kw):
        searches.append(a)
        return plain(*a, **kw)

    monkeypatch.setattr(depth_mod, "pool_depth", counted)
    memo, v = DepthMemo(), venue(100)
    first = plain("T", v, LIMIT, 5_000_000 * M, 3_000_000 * M, 50, memo)
    assert plain("T", v, LIMIT, 5_000_000 * M, 3_000_000 * M, 50, memo) is first
    assert len(searches) == 1  # the first call's search, none for the second
    moved = replace(v, pool=replace(v.pool, liquidity=v.pool.liquidity // 2))
    assert plain("T", moved, LIMIT, 5_000_000 * M, 3_000_000 * M, 50, memo) != first
    assert len(searches) == 2


def test_largest_within__monotone__finds_edge():
    assert largest_within(lambda x: x // 10, 1_000, 20) == 209
    assert largest_within(lambda x: 0, 1_000, 20) == 1_000
    assert largest_within(lambda x: 99, 1_000, 20) == 0


def day20_fund(tbill_a_depth: int | None):
    """L1 at ~20% after a deposit; L3 holds TBILL-A whose pool fills nothing safely."""
    assets = local_assets(
        2_000_000 * M, 2_100_000 * M, 2_400_000 * M, 2_400_000 * M, 2_200_000 * M, 1_100_000 * M
    )
    st = make_state(3_070_000 * M, assets)
    depth = {}
    if tbill_a_depth is not None:
        a = st.asset(assets[2].token)
        depth[a.token] = AssetDepth(
            a.token, tbill_a_depth, tbill_a_depth, LIMIT, "pool out of range"
        )
    return st, depth


LIQ = [Trigger(TriggerKind.LIQUIDITY, "l1_high", "L1 above its high mark")]


def test_plan__venue_without_depth__need_spread_over_other_assets_no_leg_on_it():
    st, depth = day20_fund(0)
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    tbill_a = st.assets[2].token
    assert p.actions and all(a.asset != tbill_a for a in p.actions)
    after = apply(st, p)
    assert after.position(0) * BPS <= CFG.l1_high_ratio * after.total_assets
    assert not p.carry  # the other venues took all of it: nothing left for later


def test_plan__depth_caps_a_leg__cut_recorded_and_rest_carried():
    st, depth = day20_fund(None)
    # every L3 and L2 instant venue thin: 100K each inside the limit
    depth = {
        a.token: AssetDepth(a.token, 100_000 * M, 100_000 * M, LIMIT, "thin")
        for a in st.assets
        if a.instant
    }
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    for a in p.actions:
        if a.asset in depth:
            assert a.amount <= 100_000 * M
    assert p.carry and p.carry[0].tier == 0 and p.carry[0].amount < 0  # L1 still to give
    assert any(u.reason == "depth" for u in p.unresolved)
    # the next cycle carries it: the carry trigger moves L1 to target even inside its zone
    after = apply(st, p)
    carry = [
        Trigger(TriggerKind.SCHEDULED, CARRY, c.reason, c.tier, None, c.amount) for c in p.carry
    ]
    nxt = plan(after, CFG, carry, st.timestamp + 3600, depth)
    assert nxt.actions and nxt.total_amount > 0


def test_plan__no_depth_given__same_plan_as_before():
    st, _ = day20_fund(None)
    assert plan(st, CFG, LIQ, st.timestamp) == plan(st, CFG, LIQ, st.timestamp, {})


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__depth_limited_redeem__sold_elsewhere(decimals):
    u = 10**decimals
    assets = [
        make_asset("MMF", 1, 3_000 * u, conc=10_000),
        make_asset("TB", 2, 5_000_000 * u, conc=10_000),
        make_asset("CR", 2, 1_500_000 * u, conc=10_000),
    ]
    st = make_state(0, assets, decimals=decimals, pending=400_000 * u)
    tb = st.assets[1].token
    depth = {tb: AssetDepth(tb, 0, 50_000 * u, LIMIT, "thin")}
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    sold_tb = sum(a.amount for a in p.actions if a.asset == tb)
    assert sold_tb <= 50_000 * u
    assert apply(st, p).position(0) >= 0  # redemptions still funded (from CR)
    assert replace(p, actions=()).carry == p.carry


def test_hold_hook__step_reached__writes_marker_and_waits(tmp_path, monkeypatch):
    """The kill point the demo's kill scene relies on: inert when unset; at the n-th matching
    step it writes the marker and holds (here for 0.1 s instead of until killed)."""
    import time

    from keepers.fund.bot import HoldHook

    monkeypatch.delenv("KEEPER_HOLD_AT", raising=False)
    HoldHook.from_env()("sent")  # unset: returns at once
    marker = tmp_path / "held"
    monkeypatch.setenv("KEEPER_HOLD_AT", "sent:2")
    monkeypatch.setenv("KEEPER_HOLD_FILE", str(marker))
    monkeypatch.setenv("KEEPER_HOLD_MAX_S", "0.1")
    hook = HoldHook.from_env()
    hook("broadcast")
    hook("sent")
    assert not marker.exists()
    started = time.monotonic()
    hook("sent")
    assert marker.exists() and time.monotonic() - started >= 0.1
