"""Issue 67, the exit horizon's keeper side (keepers.fund.planning.horizon), pure: the pools'
part at a stated cost, which an outsider who moves the pool's price before a read cannot raise;
the budgets it stays inside; the planner's floor on the 0-day horizon (REBALANCE_HORIZON_FLOOR_BPS) and
its setting, refused with its name when bad."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keepers.core import univ3
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.config import ConfigError, PlanningConfig, load_planning_config
from keepers.fund.planning.depth import AssetDepth
from keepers.fund.planning.horizon import (
    HORIZON_FLOOR,
    ChainHorizon,
    combine,
    fair_venue,
    floor_value,
    keep_floor,
    now_horizon,
    pool_sale_value,
)
from tests.offchain.fund.test_fund_depth import venue
from tests.support.fundlib import make_asset, make_state

M = 10**6
COST = 50


def _pushed(v, cash_in: int):
    """``v`` after an outsider bought the asset for ``cash_in`` (its price above the oracle)."""
    moved = univ3.swap(v.pool, not v.token_is_0, cash_in).state
    return replace(v, pool=moved)


def test_pool_sale__outsider_pushes_the_price_up__counted_no_higher():
    v = venue(100, usd=2_000_000)
    cap = 50_000_000 * M
    honest = pool_sale_value(v, cap, COST)
    assert 0 < honest < cap
    pushed = _pushed(v, 500_000 * M)
    assert pushed.mid_offset_bps() > COST  # the pool now dearer than the oracle
    # what the plain depth maths would say of the pushed pool: a deeper sale, which the
    # outsider's sale back takes away again
    naive_tokens = 0
    lo, hi = 0, pushed.oracle_tokens(cap)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if pushed.sell_slippage_bps(mid) <= COST else (lo, mid)
    naive_tokens = lo
    assert pushed.oracle_value(naive_tokens) > honest * 2
    assert pool_sale_value(pushed, cap, COST) <= honest + honest // 1000
    # a pool pushed the other way (cheaper than the oracle) counts less, never more
    cheaper = replace(v, pool=univ3.swap(v.pool, v.token_is_0, 5_000 * 10**18).state)
    assert pool_sale_value(cheaper, cap, COST) < honest
    assert fair_venue(cheaper) is cheaper


def test_pool_sale__counted_sale_fills_within_the_cost():
    v = venue(50, usd=1_000_000, fee=500)
    value = pool_sale_value(v, 10_000_000 * M, COST)
    tokens = v.oracle_tokens(value)
    out = v.sell_out(tokens)
    assert out is not None and out * 10_000 >= v.oracle_value(tokens) * (10_000 - COST)


def _chain(**kw) -> ChainHorizon:
    base = dict(
        at=0,
        cash=100 * M,
        venues=0,
        venues_oracle=0,
        pool_value=1_000 * M,
        venues_paid=(0,) * 4,
        async_paid=(0,) * 4,
        total=(100 * M,) * 4,
        notional_left=(300 * M, 2_000 * M, 2_000 * M, 2_000 * M),
        loss_room=(10 * M, 10 * M, 10 * M, 10 * M),
    )
    return ChainHorizon(**{**base, **kw})


def test_combine__pools_inside_the_notional_and_loss_rooms():
    # depth 800: day 0 capped by the notional left (300); later by the loss room (10 at 50
    # bps covers 2,000) and the depth; each unit of value counted at 1 - cost in base coin
    h = combine(_chain(), 800 * M, COST)
    assert h.pool_paid == (300 * M * 9_950 // 10_000,) + (800 * M * 9_950 // 10_000,) * 3
    assert h.total[0] == 100 * M + h.pool_paid[0]
    tight = combine(_chain(loss_room=(1 * M,) * 4), 800 * M, COST)  # 1 / 0.5% = 200 of value
    assert tight.pool_paid == (200 * M * 9_950 // 10_000,) * 4
    none = combine(_chain(pool_value=0), 800 * M, COST)
    assert none.total == (100 * M,) * 4


def test_chain_horizon__decodes_the_lens_tuple():
    raw = (1, 2, 3, 4, 5, [1, 2, 3, 4], [0, 0, 7, 7], [9, 9, 9, 9], [5, 5, 5, 5], [6, 6, 6, 6])
    c = ChainHorizon.decode(raw)
    assert c.async_paid == (0, 0, 7, 7) and c.total == (9,) * 4 and c.pool_value == 5


# ---------------------------------------------------------------------- the planner's floor

RWA = make_asset("RWA", 2, 600_000 * M, instant=False, redeemable=0)
MMF = make_asset("MMF", 1, 300_000 * M)


def _plan(*actions: Action) -> Plan:
    return Plan("p", 1, (), tuple(actions))


def _buy(asset, amount: int) -> Action:
    return Action(
        ActionType.PURCHASE,
        amount,
        1,
        "deploy",
        from_tier=0,
        to_tier=asset.tier,
        asset=asset.token,
        expected_deltas=(-amount, 0, amount),
    )


def test_keep_floor__async_purchase_cut_to_keep_five_percent_payable_at_once():
    st = make_state(100_000 * M, [MMF, RWA], pending=20_000 * M)
    # at once: 100k cash + 300k venue = 400k; the floor: 20k queue + 5% of 980k = 69k
    assert now_horizon(st, {}) == 400_000 * M
    assert floor_value(st, 500) == 20_000 * M + 980_000 * M * 500 // 10_000
    ok = keep_floor(_plan(_buy(RWA, 90_000 * M)), st, 500, {}, 10_000 * M)
    assert ok.actions[0].amount == 90_000 * M and not ok.unresolved  # 310k left: fine
    # the venue sold out of reach (not redeemable now): cash alone is the horizon
    st2 = make_state(100_000 * M, [replace(MMF, redeemable_now_value=0), RWA], pending=20_000 * M)
    cut = keep_floor(_plan(_buy(RWA, 90_000 * M)), st2, 500, {}, 10_000 * M)
    floor = floor_value(st2, 500)
    assert cut.actions[0].amount == 100_000 * M - floor  # 31k: what keeps the floor
    assert cut.actions[0].expected_deltas == (-(100_000 * M - floor), 0, 100_000 * M - floor)
    assert [u.reason for u in cut.unresolved] == [HORIZON_FLOOR]
    assert cut.id != "p"
    # a venue purchase does not lower the horizon: untouched
    venue_buy = keep_floor(_plan(_buy(MMF, 90_000 * M)), st2, 500, {}, 10_000 * M)
    assert venue_buy.actions[0].amount == 90_000 * M


def test_keep_floor__pool_purchase_lowers_it__cut_under_the_minimum_dropped():
    pool = make_asset("POOL", 2, 500_000 * M)
    depth = {pool.token: AssetDepth(pool.token, max_buy=10**30, max_sell=0)}
    st = make_state(60_000 * M, [pool], pending=0)
    assert floor_value(st, 500) == 28_000 * M  # 5% of 560k; 60k payable at once
    p = keep_floor(_plan(_buy(pool, 35_000 * M)), st, 500, depth, 10_000 * M)
    assert [a.amount for a in p.actions] == [32_000 * M]
    assert [u.reason for u in p.unresolved] == [HORIZON_FLOOR]
    dropped = keep_floor(_plan(_buy(pool, 35_000 * M)), st, 500, depth, 33_000 * M)
    assert dropped.actions == ()  # 32k left is under the plan's minimum leg


def test_keep_floor__off_or_already_under__says_so():
    st = make_state(10_000 * M, [replace(MMF, redeemable_now_value=0)], pending=0)
    p = _plan(_buy(MMF, 5_000 * M))
    assert keep_floor(p, st, 0, {}, 1) is p  # REBALANCE_HORIZON_FLOOR_BPS=0: no floor
    under = keep_floor(p, st, 500, {}, 1)  # 10k payable at once, the floor 15.5k
    assert under.actions == p.actions  # a venue purchase lowers nothing: kept
    assert [u.reason for u in under.unresolved] == [HORIZON_FLOOR]
    assert "under REBALANCE_HORIZON_FLOOR_BPS=500" in under.unresolved[0].detail


def test_config__horizon_floor__default_and_bad_values_named():
    assert PlanningConfig().rebalance_horizon_floor_bps == 500
    assert (
        load_planning_config({"REBALANCE_HORIZON_FLOOR_BPS": "0"}).rebalance_horizon_floor_bps == 0
    )
    for bad in ("-1", "10001", "abc", "6001"):
        with pytest.raises(ConfigError) as err:
            load_planning_config({"REBALANCE_HORIZON_FLOOR_BPS": bad})
        assert "REBALANCE_HORIZON_FLOOR_BPS" in str(err.value) and bad in str(err.value)
