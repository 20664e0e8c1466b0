"""Cost-aware execution, pure: legs toward target cost at most REBALANCE_TARGET_SLIPPAGE (the
rest is carried to later slices), only redemptions and band restoration may cost up to
REBALANCE_MAX_SLIPPAGE, venues are taken cheapest first (what fills at the oracle before any
pool), and a spent cost budget leaves band restoration only. V3 venues built with the exact
math (tests/offchain/fund/test_fund_depth.venue); funds with fundlib."""

from __future__ import annotations

from dataclasses import replace

import pytest

from keepers.core.settings import ConfigError
from keepers.fund.planning.config import PlanningConfig, load_planning_config
from keepers.fund.planning.depth import AssetDepth, PoolVenue, pool_depth
from keepers.fund.planning.plan import COST_BUDGET, ActionType, apply, plan
from keepers.fund.planning.state import BPS
from keepers.fund.planning.triggers import Trigger, TriggerKind
from tests.offchain.fund.test_fund_depth import venue
from tests.support.fundlib import make_asset, make_state, v3_venue

CFG = PlanningConfig()
LIMIT, TARGET = CFG.rebalance_max_slippage, CFG.rebalance_target_slippage  # 200, 50
M = 10**6
LIQ = [Trigger(TriggerKind.LIQUIDITY, "l1_high", "L1 above its high mark")]


def test_pool_depth__target__cheap_sizes_inside_it_and_marginal_cost_is_fee_plus_offset():
    deep, shallow = venue(100), venue(100, usd=10_000_000)
    d = pool_depth("T", deep, LIMIT, 50_000_000 * M, 50_000_000 * M, TARGET)
    s = pool_depth("T", shallow, LIMIT, 50_000_000 * M, 50_000_000 * M, TARGET)
    for x in (d, s):
        assert 0 < x.cheap_buy < x.max_buy and 0 < x.cheap_sell < x.max_sell
        assert deep.buy_slippage_bps(d.cheap_buy) <= TARGET
    assert shallow.buy_slippage_bps(s.cheap_buy) <= TARGET < shallow.buy_slippage_bps(s.max_buy)
    assert s.cheap_buy < d.cheap_buy  # a shallower pool takes less at the same cost
    # a first small leg costs the fee (30 bps) at an in-line pool, more at a dear one
    assert 30 <= d.buy_cost_bps <= 31
    pool_above = PoolVenue(deep.pool, True, 99 * M, 10**18)  # the pool 1% over the oracle
    dear = pool_depth("T", pool_above, LIMIT, 50_000_000 * M, 50_000_000 * M, TARGET)
    assert dear.buy_cost_bps > d.buy_cost_bps + 50
    assert AssetDepth("T", 5, 5).room("buy", cheap=True) == 5  # no target: the max


# The 8x shallower month's pools (tests/offchain/demo/test_shallow_month.py: the local profile's
# pool_liquidity / 8, 12.5M a side): TBILL-B at 50 and 5 bps, TBILL-A at 100 and 30 bps.
SHALLOW = {"TBB": (50, 500), "TBA": (100, 3000)}


def shallow_pool(sym: str, decimals: int = 6) -> PoolVenue:
    price, fee = SHALLOW[sym]
    return v3_venue(price, fee, decimals, usd=12_500_000)


@pytest.mark.parametrize("decimals", [6, 18])
def test_pool_depth__cost_target__a_legs_last_unit_costs_at_most_the_target(decimals: int):
    """The cost target is per unit, as a desk slices by marginal cost: the cheap size stops
    where the next unit would cost more than the target, on either side. Sized on the leg's
    average, the shallow month bought 592,034 of TBILL-B at 50 bps average whose last units
    cost 96 bps, where the same cash in two halves, the pool refilled by arbitrage between
    them, costs 45% less (1,631 against 2,960)."""
    u = 10**decimals
    v = shallow_pool("TBB", decimals)
    step = 12_000 * u  # 1/1000 of a 12M fund, as the depth read's buy_cap // PROBE
    d = pool_depth("T", v, LIMIT, 12_000_000 * u, 5_000_000 * u, TARGET)
    assert (
        v.buy_marginal_bps(d.cheap_buy, step)
        <= TARGET
        < v.buy_marginal_bps(d.cheap_buy * 11 // 10, step)
    )
    tokens = v.oracle_tokens(d.cheap_sell)
    sell_step = v.oracle_tokens(5_000_000 * u) // 1_000
    assert (
        v.sell_marginal_bps(tokens, sell_step)
        <= TARGET
        < v.sell_marginal_bps(tokens * 11 // 10, sell_step)
    )
    assert v.buy_slippage_bps(d.cheap_buy) < TARGET  # a leg's average: well inside
    assert v.sell_slippage_bps(tokens) < TARGET
    assert d.cheap_buy < d.max_buy and d.cheap_sell < d.max_sell  # the limit stays on the average

    # what the average-sized leg cost, and the same cash in two legs
    def cost(cash: int) -> int:
        return cash - v.oracle_value(v.buy_out(cash) or 0)

    leg = 592_034 * u
    assert v.buy_slippage_bps(leg) == TARGET and v.buy_marginal_bps(leg, step) > 90
    assert 2 * cost(leg // 2) < cost(leg) * 6 // 10
    assert d.cheap_buy < leg // 2


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__shallow_pools__no_pool_unit_past_the_target_while_the_credit_fund_fills_at_the_oracle(
    decimals: int,
):
    """The shallow month's first plan: L1 at 22.9% (cash to deploy), 1.54M for L3, whose credit
    fund fills at the oracle with room for most of it. Every pool leg stops where its next unit
    would cost more than the target; what the pools do not take goes to the credit fund in the
    same plan, so L1 still reaches its target. It used to buy 592,034 of TBILL-B and 242,655 of
    TBILL-A at 50 bps average (their last units 96 and 69 bps): 4,173 lost where this plan
    loses about 1,270."""
    u, x = 10**decimals, 10 ** (decimals - 6)
    venues = {s: shallow_pool(s, decimals) for s in SHALLOW}
    assets = [
        make_asset("MMA", 1, 1_790_184_271_045 * x, conc=2_500),
        make_asset("MMB", 1, 1_790_184_271_045 * x, conc=2_500),
        make_asset("TBA", 2, 808_667_037_670 * x, conc=2_500),
        make_asset("TBB", 2, 1_233_539_610_117 * x, conc=2_500),
        make_asset("CRD", 2, 1_790_184_271_045 * x, conc=2_500),
        make_asset("PRV", 2, 1_790_184_271_045 * x, instant=False, redeemable=0, conc=2_500),
    ]
    assets = [
        replace(a, balance=venues[a.symbol].oracle_tokens(a.value)) if a.symbol in venues else a
        for a in assets
    ]
    st = make_state(2_731_618_075_000 * x, assets, decimals=decimals)
    by_token = {a.token: venues[a.symbol] for a in assets if a.symbol in venues}
    depth = {
        t: pool_depth(t, v, LIMIT, st.total_assets, st.asset(t).value, TARGET)
        for t, v in by_token.items()
    }
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    spent: dict[str, int] = {}
    for a in p.actions:
        if a.type is ActionType.PURCHASE and a.asset in by_token:
            spent[a.asset] = spent.get(a.asset, 0) + a.amount
    assert spent, p.actions
    lost = 0
    for t, cash in spent.items():
        v = by_token[t]
        assert v.buy_marginal_bps(cash, st.total_assets // 1_000) <= TARGET, (st.asset(t), cash)
        lost += cash - v.oracle_value(v.buy_out(cash) or 0)
    assert lost < 1_400 * u  # 4,173 before
    assert l1_bps(apply(st, p)) == 1_000 and not p.carry  # the credit fund took the rest


def fund(l1_cash: int, u: int, values: tuple[int, ...] = (1_500_000,) * 6, conc: int = 2_500):
    """L2: two ERC-4626 funds; L3: two V3 assets and two credit funds (fill at the oracle),
    worth ``values`` whole units in that order (1.5M each unless given), each under ``conc``."""
    assets = [
        make_asset(sym, tier, value * u, conc=conc)
        for (sym, tier), value in zip(
            (("MMA", 1), ("MMB", 1), ("TBA", 2), ("TBB", 2), ("CRD", 2), ("CRE", 2)),
            values,
            strict=True,
        )
    ]
    return make_state(l1_cash * u, assets, decimals=6 if u == M else 18)


def pools(st, u: int, cheap: int, costs: tuple[int, int] = (30, 30)):
    """Both V3 assets: 3M inside the limit, ``cheap`` inside the target."""
    a, b = st.assets[2].token, st.assets[3].token
    return {
        t: AssetDepth(
            t, 3_000_000 * u, 3_000_000 * u, LIMIT, "pool", cheap * u, cheap * u, TARGET, c, c
        )  # fmt: skip
        for t, c in zip((a, b), costs, strict=True)
    }


def every_pool(st, u: int, cheap: int):
    """Every instant asset behind a V3 pool: 3M inside the limit, ``cheap`` inside the target."""
    return {
        a.token: AssetDepth(
            a.token,
            3_000_000 * u,
            3_000_000 * u,
            LIMIT,
            "pool",
            cheap * u,
            cheap * u,
            TARGET,
            30,
            30,
        )  # fmt: skip
        for a in st.assets
    }


def l1_bps(st) -> int:
    return st.position(0) * BPS // st.total_assets


@pytest.mark.parametrize("u", [M, 10**18])
def test_plan__in_band_flow__pools_held_to_the_target__oracle_fills_take_the_rest(u):
    st = fund(1_700_000, u)  # L1 15.9%: inside its band (max 20%), above its comfort zone (15%)
    depth = pools(st, u, 100_000)
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    assert all(a.amount <= 100_000 * u for a in p.actions if a.asset in depth)
    assert l1_bps(apply(st, p)) == 1_000 and not p.carry  # the funds filled the rest
    # every venue a pool: the flow is sliced, the rest carried for later cycles
    depth = every_pool(st, u, 100_000)
    q = plan(st, CFG, LIQ, st.timestamp, depth)
    assert q.actions and all(a.amount <= 100_000 * u for a in q.actions)
    assert q.carry and q.carry[0].tier == 0 and q.carry[0].amount < 0  # L1 still to give
    assert any("cost target" in x.detail for x in q.unresolved if x.reason == "depth")


@pytest.mark.parametrize("u", [M, 10**18])
def test_plan__out_of_band__back_inside_up_to_the_limit__then_to_target_at_the_target(u):
    st = fund(3_100_000, u)  # L1 25.6%: above its 20% band maximum
    depth = every_pool(st, u, 100_000)
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    # back inside the band (to 17.5%, a quarter of the way to target) through legs past the
    # cost target, up to the limit; the rest of the way to 10% waits for cheap depth
    assert 1_500 <= l1_bps(apply(st, p)) <= 1_760  # (L2's pools took their cheap 100K each)
    per_asset: dict[str, int] = {}
    for a in p.actions:
        per_asset[a.asset or ""] = per_asset.get(a.asset or "", 0) + a.amount
    assert max(per_asset.values()) > 100_000 * u  # past the target (cheap legs came first)
    assert p.carry and p.carry[0].tier == 0
    # the same fund behind cheap depth everywhere goes all the way in one plan
    rich = plan(st, CFG, LIQ, st.timestamp, every_pool(st, u, 3_000_000))
    assert l1_bps(apply(st, rich)) == 1_000 and not rich.carry


def test_plan__venues_by_cost__a_pool_whose_first_unit_passes_the_target_is_skipped():
    st = fund(1_700_000, M)
    depth = pools(st, M, 400_000, costs=(30, 45))
    costly = st.assets[3].token
    depth[costly] = AssetDepth(costly, 3_000_000 * M, 3_000_000 * M, LIMIT, "dear pool", 0, 0,
                               TARGET, 120, 120)  # fmt: skip
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    assert p.actions and all(a.asset != costly for a in p.actions)
    bought = [a.asset for a in p.actions if a.type.value == "purchaseAsset"]
    assert bought.index(st.assets[4].token) < bought.index(st.assets[2].token)  # oracle first


@pytest.mark.parametrize("u", [M, 10**18])
def test_plan__cost_budget_spent__band_restoration_only__and_the_plan_says_so(u):
    why = "cost budget spent: 9 bps >= REBALANCE_COST_BUDGET_DAILY=10 bps"
    inside = fund(1_700_000, u)  # in band, off its zone: a comfort move
    p = plan(inside, CFG, LIQ, inside.timestamp, pools(inside, u, 3_000_000), why)
    assert not p.actions
    (note,) = [x for x in p.unresolved if x.reason == COST_BUDGET]
    assert why in note.detail and "L1" in note.detail
    outside = fund(3_100_000, u)
    q = plan(outside, CFG, LIQ, outside.timestamp, pools(outside, u, 3_000_000), why)
    after = apply(outside, q)
    l1 = after.position(0) * BPS // after.total_assets
    assert 1_500 < l1 <= 2_000  # inside the band again, not moved on to its 10% target
    assert any(x.reason == COST_BUDGET for x in q.unresolved)


def test_config__target_above_the_limit_or_daily_above_30d__named_error():
    with pytest.raises(ConfigError, match="REBALANCE_TARGET_SLIPPAGE=300"):
        load_planning_config({"REBALANCE_TARGET_SLIPPAGE": "300"})
    with pytest.raises(ConfigError, match="REBALANCE_COST_BUDGET_DAILY=80"):
        load_planning_config({"REBALANCE_COST_BUDGET_DAILY": "80"})
    with pytest.raises(ConfigError, match="REBALANCE_TARGET_SLIPPAGE"):
        load_planning_config({"REBALANCE_TARGET_SLIPPAGE": "-1"})


@pytest.mark.parametrize("u", [M, 10**18])
def test_plan__sale_to_restore_l1__taken_from_what_fills_at_the_oracle_before_larger_pools(u):
    """Which venue pays for a sale is decided by cost, not size: L1 under its band, L3 above
    target; the two credit funds (no pool: they fill at the oracle) are sold before the two
    larger V3 positions (30 bps a first leg). Ranked by size alone, the pools would go first."""
    weights = (1_500_000, 1_500_000, 2_500_000, 2_500_000, 1_000_000, 1_000_000)
    st = fund(200_000, u, weights, conc=3_000)  # L1 2%: under 5%
    depth = pools(st, u, 3_000_000)  # TBA and TBB: deep, cheap room everywhere, 30 bps
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    sold = [a for a in p.actions if a.type.value == "redeemAsset"]
    assert sold and l1_bps(apply(st, p)) >= 500  # back inside the band
    credit = {st.assets[4].token, st.assets[5].token}
    assert all(a.asset in credit for a in sold), [a.asset for a in sold]


@pytest.mark.parametrize("u", [M, 10**18])
def test_plan__purchase_remainder__goes_to_the_oracle_fill_before_a_roomier_pool(u):
    """Equal weights first, then the remainder by cost: pool APB is at its concentration limit,
    so its equal share is left over; the credit fund ZCR (fills at the oracle) takes it before
    pool APA, whose room is as large (ranked by room, then name, APA would)."""
    assets = [
        make_asset("MMA", 1, 1_200_000 * u, conc=3_000),
        make_asset("MMB", 1, 1_200_000 * u, conc=3_000),
        make_asset("ZCR", 2, 1_600_000 * u, conc=3_000),  # sorts last by name
        make_asset("APA", 2, 1_600_000 * u, conc=4_000),
        make_asset("APB", 2, 1_600_000 * u, conc=1_790),
    ]
    st = make_state(1_800_000 * u, assets, decimals=6 if u == M else 18)
    a, b = st.assets[3].token, st.assets[4].token
    depth = {
        t: AssetDepth(
            t,
            3_000_000 * u,
            3_000_000 * u,
            LIMIT,
            "pool",
            3_000_000 * u,
            3_000_000 * u,
            TARGET,
            30,
            30,
        )  # fmt: skip
        for t in (a, b)
    }
    p = plan(st, CFG, LIQ, st.timestamp, depth)
    bought: dict[str, int] = {}
    for x in p.actions:
        if x.type.value == "purchaseAsset":
            bought[x.asset or ""] = bought.get(x.asset or "", 0) + x.amount
    credit = st.assets[2].token
    assert bought.get(credit, 0) > bought.get(a, 0) > 0, bought
