"""Issue 67, the exit horizon's floor, the sales side (keepers.fund.planning.floor), pure: a fund
under REBALANCE_HORIZON_FLOOR_BPS gets the sales that raise its 0-day horizon on a fresh budget
window (venues first, then pools by cost, never the async RWA), no more than needed, inside the
bands (which win over the floor), the depth, the window's notional budget and the cost budget;
at 6 and 18 decimals, and as a seeded property."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.depth import AssetDepth
from keepers.fund.planning.floor import fresh_horizon, liquid_now, raise_floor
from keepers.fund.planning.horizon import HORIZON_FLOOR, floor_value
from keepers.fund.planning.inflight import plan_in_flight
from keepers.fund.planning.simulate import apply
from keepers.fund.planning.state import BPS
from tests.support.fundlib import make_asset, make_state

DECIMALS = pytest.mark.parametrize("decimals", [6, 18], ids=["usdt6", "usdt18"])


def _empty() -> Plan:
    return Plan("p", 1, (), ())


def _fund(unit: int, *, cash: int, mmf: int, pool: int, rwa: int, pending: int = 0):
    """Cash, an ERC-4626 venue in L2, a pool-traded asset and an async RWA in L3 (whole units);
    the pool sells at most 100k inside the slippage limit, its first unit at 30 bps."""
    assets = [
        make_asset("MMF", 1, mmf * unit),
        make_asset("POOL", 2, pool * unit),
        make_asset("RWA", 2, rwa * unit, instant=False, redeemable=rwa * unit),
    ]
    depth = {
        assets[1].token: AssetDepth(
            assets[1].token, max_buy=10**40, max_sell=100_000 * unit, sell_cost_bps=30
        )
    }
    st = make_state(
        cash * unit, assets, decimals=6 if unit == 10**6 else 18, pending=pending * unit
    )
    return st, depth, {a.symbol: a.token for a in assets}


@DECIMALS
def test_raise_floor__under_it__venue_sold_for_the_shortfall_exactly(decimals):
    u = 10**decimals
    st, depth, tok = _fund(u, cash=30_000, mmf=300_000, pool=200_000, rwa=470_000)
    budget = 10_000 * u  # liquid 400k counted for one window's 10k: 40k at once; floor 50k
    assert fresh_horizon(st, depth, budget) == 40_000 * u
    assert floor_value(st, 500) == 50_000 * u
    p = raise_floor(_empty(), st, 500, depth, 1_000 * u, budget)
    assert [(a.type, a.asset, a.amount) for a in p.actions] == [
        (ActionType.REDEEM, tok["MMF"], 10_000 * u)
    ]
    leg = p.actions[0]
    assert leg.reason.startswith(HORIZON_FLOOR) and leg.from_tier == 1 and leg.to_tier == 0
    assert leg.expected_deltas == (10_000 * u, -10_000 * u, 0)
    assert p.unresolved == () and p.id != "p"
    after = apply(st, p)
    assert fresh_horizon(after, depth, budget) == floor_value(after, 500)
    # the queue is part of the floor: 20k queued asks 69k at once (20k + 5% of 980k)
    st2, _, _ = _fund(u, cash=30_000, mmf=300_000, pool=200_000, rwa=470_000, pending=20_000)
    p2 = raise_floor(_empty(), st2, 500, depth, 1_000 * u, 30_000 * u)
    assert sum(a.amount for a in p2.actions) == floor_value(st2, 500) - 60_000 * u


@DECIMALS
def test_raise_floor__band_holds_the_venue__pool_next__cost_budget_holds_it(decimals):
    u = 10**decimals
    # L2 at 205k of 1M: 5k above its 20% minimum; the rest comes from the pool (L3 at 65%)
    st, depth, tok = _fund(u, cash=30_000, mmf=205_000, pool=295_000, rwa=470_000)
    budget = 60_000 * u  # 30k cash + 60k of the liquid counted; the floor 150k: 60k short
    p = raise_floor(_empty(), st, 1_500, depth, 1_000 * u, budget)
    assert [(a.asset, a.amount) for a in p.actions] == [
        (tok["MMF"], 5_000 * u),
        (tok["POOL"], 55_000 * u),
    ]
    assert p.unresolved == ()
    after = apply(st, p)
    assert after.position(1) == after.tiers[1].min_bps * after.total_assets // BPS
    assert fresh_horizon(after, depth, budget, {tok["POOL"]: 55_000 * u}) == 150_000 * u
    # the off-chain cost budget spent: the venue only, the pool's sale held and said
    held = raise_floor(_empty(), st, 1_500, depth, 1_000 * u, budget, cost_budget_spent=True)
    assert [a.asset for a in held.actions] == [tok["MMF"]]
    (note,) = held.unresolved
    assert note.reason == HORIZON_FLOOR and "POOL: the cost budget is spent" in note.detail
    # the pool's depth caps it: 20k of depth left after the plan's own 80k sale of it
    sale = Action(ActionType.REDEEM, 80_000 * u, 1, "x", from_tier=2, to_tier=0,
                  asset=tok["POOL"], token_amount=80_000 * u, expected_deltas=(80_000 * u, 0, -80_000 * u))  # fmt: skip
    capped = raise_floor(Plan("q", 1, (), (sale,)), st, 3_000, depth, 1_000 * u, 150_000 * u)
    assert [(a.asset, a.amount) for a in capped.actions[1:]] == [
        (tok["MMF"], 5_000 * u),
        (tok["POOL"], 20_000 * u),
    ]
    assert "under REBALANCE_HORIZON_FLOOR_BPS=3000 after 25000" in capped.unresolved[0].detail


@DECIMALS
def test_raise_floor__l1_at_its_maximum__the_band_wins_and_says_so(decimals):
    u = 10**decimals
    # L1 at 19.5%: the controller refuses a move that leaves L1 over 20%
    st, depth, tok = _fund(u, cash=195_000, mmf=300_000, pool=100_000, rwa=405_000)
    p = raise_floor(_empty(), st, 3_000, depth, 1_000 * u, 10_000 * u)  # floor 30%
    assert sum(a.amount for a in p.actions) == 5_000 * u
    assert apply(st, p).position(0) == 200_000 * u
    (note,) = p.unresolved
    assert note.reason == HORIZON_FLOOR and "under REBALANCE_HORIZON_FLOOR_BPS=3000" in note.detail


def test_raise_floor__what_no_sale_can_raise__nothing_sold():
    u = 10**6
    st, depth, _ = _fund(u, cash=30_000, mmf=300_000, pool=200_000, rwa=470_000)
    assert raise_floor(_empty(), st, 500, depth, 1, None) == _empty()  # budget not read
    assert raise_floor(_empty(), st, 0, depth, 1, 10_000 * u) == _empty()  # no floor
    # one window's budget counts every liquid position already: a sale adds nothing
    assert liquid_now(st, depth) == 400_000 * u
    p = raise_floor(_empty(), st, 4_500, depth, 1, 500_000 * u)
    assert p.actions == ()
    assert [u_.reason for u_ in p.unresolved] == [HORIZON_FLOOR]
    assert "the async RWA's or a larger budget's" in p.unresolved[0].detail
    # only the async RWA beside cash: never sold for the floor (it pays after its notice)
    rwa_only = make_state(30_000 * u, [make_asset("RWA", 2, 970_000 * u, instant=False)])
    q = raise_floor(_empty(), rwa_only, 500, {}, 1, 10_000 * u)
    assert q.actions == () and q.unresolved[0].reason == HORIZON_FLOOR
    # the window's budget spent by the plan's own legs: the floor's sale waits, said
    big = Action(ActionType.REDEEM, 10_000 * u, 1, "x", from_tier=1, to_tier=0,
                 asset=st.assets[0].token, token_amount=10_000 * u, expected_deltas=(10_000 * u, -10_000 * u, 0))  # fmt: skip
    w = raise_floor(Plan("q", 1, (), (big,)), st, 1_000, depth, 1, 10_000 * u)
    assert w.actions == (big,) and "notional budget leaves 0" in w.unresolved[0].detail


def test_raise_floor__plan_buys_a_venue_beyond_the_budget__purchase_cut_before_any_sale():
    u = 10**6
    st, depth, tok = _fund(u, cash=80_000, mmf=300_000, pool=150_000, rwa=470_000)
    budget = 10_000 * u  # 80k + 10k = 90k at once; the floor 10% = 100k
    buy = Action(ActionType.PURCHASE, 40_000 * u, 1, "deploy", from_tier=0, to_tier=1,
                 asset=tok["MMF"], expected_deltas=(-40_000 * u, 40_000 * u, 0))  # fmt: skip
    p = raise_floor(Plan("q", 1, (), (buy,)), st, 1_000, depth, 1_000 * u, budget)
    # after the buy: 40k + 10k = 50k; the buy cut by 50k (all of it) gives 90k, 10k sold
    assert p.actions[0].type is ActionType.REDEEM and len(p.actions) == 1
    assert p.actions[0].amount == 10_000 * u
    assert "purchaseAsset of 40000000000 cut by 40000000000" in p.unresolved[0].detail
    # the cut alone enough: a smaller buy cut in part, no sale
    st2, _, _ = _fund(u, cash=120_000, mmf=300_000, pool=110_000, rwa=470_000)
    q = raise_floor(Plan("q", 1, (), (buy,)), st2, 1_000, depth, 1_000 * u, budget)
    assert [(a.type, a.amount) for a in q.actions] == [(ActionType.PURCHASE, 30_000 * u)]
    # within the budget a venue bought is counted all the same: nothing cut
    r = raise_floor(Plan("q", 1, (), (buy,)), st2, 1_000, depth, 1_000 * u, 10**40)
    assert r.actions == (buy,)


def test_plan_in_flight__floor_sale_on_the_plan_with_the_budget_read():
    u = 10**6
    st, _, tok = _fund(u, cash=100_000, mmf=300_000, pool=130_000, rwa=470_000)
    cfg = PlanningConfig(rebalance_horizon_floor_bps=1_500)  # above L1's 10% target
    plain = plan_in_flight(st, cfg, [], 1, [])
    assert not any(a.reason.startswith(HORIZON_FLOOR) for a in plain.actions)
    # 100k cash + one window's 40k: 140k at once, the floor 150k
    p = plan_in_flight(st, cfg, [], 1, [], notional_budget=40_000 * u)
    floor_legs = [a for a in p.actions if a.reason.startswith(HORIZON_FLOOR)]
    assert [(a.asset, a.amount) for a in floor_legs] == [(tok["MMF"], 10_000 * u)]


@pytest.mark.parametrize("seed", range(40))
def test_raise_floor__property__floor_reached_when_possible_never_oversold(seed):
    rng = random.Random(seed)
    decimals = rng.choice((6, 18))
    u = 10**decimals
    total = rng.randint(100_000, 50_000_000)
    l1 = total * rng.randint(0, 2_000) // BPS
    l2 = total * rng.randint(2_000, 4_000) // BPS
    l3 = total - l1 - l2
    split = [rng.random() for _ in range(3)]
    s = sum(split)
    mmf = int(l2 * split[0] / s * 2) if l2 else 0
    mmf = min(mmf, l2)
    parts = [l2 - mmf, l3 * rng.randint(0, 100) // 100]
    assets = [
        make_asset("MMF", 1, mmf * u),
        make_asset("MMF2", 1, parts[0] * u, redeemable=rng.randint(0, parts[0]) * u),
        make_asset("POOL", 2, parts[1] * u),
        make_asset("RWA", 2, (l3 - parts[1]) * u, instant=False, redeemable=(l3 - parts[1]) * u),
    ]
    pool = assets[2].token
    depth = {pool: AssetDepth(pool, max_buy=0, max_sell=rng.randint(0, parts[1] + 1) * u,
                              sell_cost_bps=rng.randint(0, 200))}  # fmt: skip
    pending = rng.randint(0, l1) * u if rng.random() < 0.3 else 0
    st = make_state(l1 * u, assets, decimals=decimals, pending=pending)
    floor_bps = rng.randint(1, 3_000)
    budget = rng.randint(0, total // 5) * u
    min_amount = rng.choice((1, 100, 1_000)) * u
    p = raise_floor(_empty(), st, floor_bps, depth, min_amount, budget)
    floor = floor_value(st, floor_bps)
    short = floor - fresh_horizon(st, depth, budget)
    sold = sum(a.amount for a in p.actions)
    after = apply(st, p)  # every leg applies: none sells more than is redeemable
    for a in p.actions:
        assert a.reason.startswith(HORIZON_FLOOR) and a.type is ActionType.REDEEM
        assert st.asset(a.asset).instant  # never the async RWA
    for t in (1, 2):  # the bands win: no tier under its minimum because of the floor
        lo = st.tiers[t].min_bps * st.total_assets // BPS
        assert after.position(t) >= min(lo, st.position(t))
    assert after.position(0) <= max(st.position(0), st.tiers[0].max_bps * st.total_assets // BPS)
    if short <= 0:
        assert p.actions == () and p.unresolved == ()
        return
    assert sold <= short + min_amount  # no more than needed, beyond the minimum trade
    sold_map = {pool: sum(a.amount for a in p.actions if a.asset == pool)}
    reached = fresh_horizon(after, depth, budget, sold_map) >= floor_value(after, floor_bps)
    # what the liquid positions, the bands, L1's maximum and the window allow, independently
    total_v = st.total_assets
    band = {t: max(0, st.position(t) - st.tiers[t].min_bps * total_v // BPS) for t in (1, 2)}
    liquid = {1: min(band[1], sum(min(a.value, a.redeemable_now_value) for a in assets[:2])),
              2: min(band[2], min(assets[2].value, depth[pool].max_sell))}  # fmt: skip
    room = min(
        liquid[1] + liquid[2],
        max(0, liquid_now(st, depth) - budget),
        budget,
        st.tiers[0].max_bps * total_v // BPS - st.position(0),
    )
    if room >= short + 3 * min_amount:
        assert reached, (short, room, sold)
    if not reached:
        assert [n.reason for n in p.unresolved] == [HORIZON_FLOOR]


def test_risk__floor_sale_never_skipped_for_gas__a_plain_move_is():
    from keepers.fund.planning.risk import assess

    u = 10**6
    st, depth, _ = _fund(u, cash=30_000, mmf=300_000, pool=200_000, rwa=470_000)
    p = raise_floor(_empty(), st, 500, depth, 1_000 * u, 10_000 * u)
    cfg = PlanningConfig()
    gas = {f.rule: f.level.value for f in assess(st, p, cfg, 1, gas_cost=10**12).findings}
    assert "gas" not in gas
    plain = Plan("x", 1, (), (replace(p.actions[0], reason="plain"),))
    gas = {f.rule: f.level.value for f in assess(st, plain, cfg, 1, gas_cost=10**12).findings}
    assert gas["gas"] != "ok"
