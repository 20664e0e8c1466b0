"""A plan the fund moved under is a value, never an exception (keepers.fund.planning.fit and
the risk check's ``fit`` finding), pure: cash short, a tier already at the plan's aim, a
position gone, a queue the plan did not see; a deposit leaves a plan fitting. The property:
whatever moves the fund between planning and a check (deposits, requests, the recurring
rebalancer's own moves, price moves, sales), ``misfits`` and ``risk.assess`` never raise, and a
plan reported fitting applies in full."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepers.fund.planning import risk
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.fit import Basis, misfits, walk
from keepers.fund.planning.plan import plan as make_plan
from keepers.fund.planning.simulate import apply
from keepers.fund.planning.state import FundState
from keepers.fund.planning.triggers import liquidity_triggers, manual_trigger, threshold_triggers
from tests.support.fundlib import NOW, make_asset, make_state

CFG = load_planning_config({}, asset_concentration_limit=10_000, top3_concentration_limit=10_000)
UNIT = 10**6


def fund(cash: int, l2: int, l3: int, pending: int = 0) -> FundState:
    assets = [
        make_asset("MMF1", 1, l2 // 2),
        make_asset("MMF2", 1, l2 - l2 // 2),
        make_asset("HYD1", 2, l3 // 2),
        make_asset("HYD2", 2, l3 - l3 // 2),
    ]
    return make_state(cash, assets, pending=pending)


def deployed(state: FundState) -> FundState:
    """The recurring rebalancer's move: the fund at its targets (10 / 30 / 60)."""
    total = state.total_assets
    return fund(state.pending_redemptions + total // 10, total * 3 // 10,
                total - total // 10 - total * 3 // 10, state.pending_redemptions)  # fmt: skip


def deposit_plan(cash_whole: int = 10_000_000) -> tuple[FundState, object, Basis]:
    state = fund(cash_whole * UNIT, 600_000 * UNIT, 1_200_000 * UNIT)
    p = make_plan(state, CFG, liquidity_triggers(state, CFG), NOW)
    assert p.actions
    return state, p, Basis.of(state, p)


def test_misfits__due_run_invested_the_cash__cash_short_and_tiers_at_aim():
    state, p, basis = deposit_plan()
    assert misfits(state, p, basis) == ()  # fits the fund it was made from
    moved = deployed(state)
    found = misfits(moved, p, basis)
    rules = {m.rule for m in found}
    assert "cash" in rules and "target" in rules, found
    assert any("L1 at 10.00%" in m.detail and "at or under" in m.detail for m in found), found


def test_misfits__deposit_after_planning__still_fits():
    state, p, basis = deposit_plan()
    more = fund(state.cash + 2_000_000 * UNIT, 600_000 * UNIT, 1_200_000 * UNIT)
    assert misfits(more, p, basis) == ()


def test_misfits__position_sold_by_someone_else__position_rule():
    state = fund(100_000 * UNIT, 200_000 * UNIT, 2_000_000 * UNIT)  # L1 low: sell L3
    p = make_plan(state, CFG, liquidity_triggers(state, CFG), NOW)
    sale = next(a for a in p.actions if a.type.value == "redeemAsset")
    gone = state.replace_asset(
        replace(state.asset(sale.asset), balance=0, value=0, redeemable_now_value=0),
        state.cash + state.asset(sale.asset).value,
    )
    found = misfits(gone, p, Basis.of(state, p))
    assert any(m.rule == "position" and "redeemable now" in m.detail for m in found), found


def test_misfits__queue_the_plan_did_not_see__queue_rule():
    state, p, basis = deposit_plan()
    # requests for almost all the cash arrive: the deployment would leave L1 under its floor
    asked = fund(state.cash, 600_000 * UNIT, 1_200_000 * UNIT, pending=9_500_000 * UNIT)
    found = misfits(asked, p, basis)
    assert any(m.rule == "queue" and "grew from 0" in m.detail for m in found), found


def test_assess__plan_spending_cash_the_fund_no_longer_has__fit_finding_not_valueerror():
    state, p, _ = deposit_plan()
    report = risk.assess(deployed(state), p, CFG, NOW)
    assert not report.proceed
    assert any(f.rule == "fit" and "no longer fits" in f.detail for f in report.findings)


# -- a venue held or at its cap -------------------------------------------------------------


def capped(room: int, cap: int | None = None) -> FundState:
    """The deposit fund with its first L2 venue (MMF1) able to take ``room`` more now (its own
    limit: an ERC-4626 fund's maxDeposit) and capped by the controller at ``cap``."""
    state = fund(10_000_000 * UNIT, 600_000 * UNIT, 1_200_000 * UNIT)
    mmf = replace(state.asset(state.assets[0].token), investable_now=room, cap=cap)
    return state.replace_asset(mmf, state.cash)


def test_plan__venue_with_little_room__buys_no_more_than_it_can_take_and_fits():
    state = capped(120_000 * UNIT)
    p = make_plan(state, CFG, liquidity_triggers(state, CFG), NOW)
    mmf = state.assets[0].token
    bought = sum(a.amount for a in p.actions if a.asset == mmf and a.type.value == "purchaseAsset")
    assert 0 < bought <= 120_000 * UNIT, p.actions
    assert misfits(state, p, Basis.of(state, p)) == ()


def test_misfits__venue_filled_to_its_cap_by_someone_else__venue_rule_in_words():
    state = capped(5_000_000 * UNIT)
    p = make_plan(state, CFG, liquidity_triggers(state, CFG), NOW)
    mmf = state.assets[0].token
    buy = next(a for a in p.actions if a.asset == mmf and a.type.value == "purchaseAsset")
    assert buy.amount > 120_000 * UNIT
    filled = capped(120_000 * UNIT)  # an outsider deposited into the venue up to its cap
    found = misfits(filled, p, Basis.of(state, p))
    venue = next(m for m in found if m.rule == "venue")
    assert venue.action_index == p.actions.index(buy)
    assert venue.detail.startswith("venue MMF1 can take 120,000 now, the plan buys "), venue
    whole = buy.amount // UNIT
    assert f"the plan buys {whole:,}" in venue.detail  # whole stablecoins, in words
    # the controller's own cap lowered by the admin is the same rule
    value = state.assets[0].value
    lowered = capped(5_000_000 * UNIT, cap=value + 50_000 * UNIT)
    found = misfits(lowered, p, Basis.of(state, p))
    assert any(m.rule == "venue" and "can take 50,000 now" in m.detail for m in found), found


def test_misfits__venue_feed_down__held_venue_rule():
    state = capped(5_000_000 * UNIT)
    p = make_plan(state, CFG, liquidity_triggers(state, CFG), NOW)
    down = state.replace_asset(replace(state.assets[0], priced=False), state.cash)
    found = misfits(down, p, Basis.of(state, p))
    assert any(m.rule == "venue" and "MMF1 is held: its feed is down" in m.detail for m in found)


def test_misfits__allocation_beyond_the_tiers_venues_room__venue_rule():
    state = fund(10_000_000 * UNIT, 600_000 * UNIT, 1_200_000 * UNIT)
    l2 = [a for a in state.assets if a.tier == 1]
    alloc = Action(ActionType.ALLOCATE, 700_000 * UNIT, 1, "deploy cash to L2", from_tier=0,
                   to_tier=1, expected_deltas=(-700_000 * UNIT, 700_000 * UNIT, 0))  # fmt: skip
    p = Plan("p", NOW, (), (alloc,))
    assert misfits(state, p, None) == ()  # no venue limit: fits
    full = state
    for a in l2:
        full = full.replace_asset(replace(a, investable_now=300_000 * UNIT), full.cash)
    [m] = misfits(full, p, None)
    assert m.rule == "venue" and m.detail == (
        "the venues of L2 can take 600,000 now, the plan allocates 700,000"
    ), m
    # a venue whose valuation the controller holds takes nothing (its _room is 0): with one L2
    # venue at 400,000 of room held, the other's 300,000 is all the tier can take
    roomy = full.replace_asset(replace(l2[0], investable_now=400_000 * UNIT), full.cash)
    assert misfits(roomy, p, None) == ()  # 700,000 of room: fits
    held = roomy.replace_asset(replace(roomy.asset(l2[0].token), price_held=True), roomy.cash)
    [m] = misfits(held, p, None)
    assert m.detail == "the venues of L2 can take 300,000 now, the plan allocates 700,000", m


_move = st.one_of(
    st.tuples(st.just("deposit"), st.integers(1, 5_000_000)),
    st.tuples(st.just("request"), st.integers(1, 5_000_000)),
    st.tuples(st.just("deploy"), st.just(0)),
    st.tuples(st.just("price"), st.integers(-30, 30)),
    st.tuples(st.just("sell"), st.integers(0, 3)),
)


def _moved(state: FundState, kind: str, x: int) -> FundState:
    if kind == "deposit":
        return state.replace_asset(state.assets[0], state.cash + x * UNIT)
    if kind == "request":
        return fund(state.cash, state.position(1), state.position(2),
                    min(state.cash, state.pending_redemptions + x * UNIT))  # fmt: skip
    if kind == "deploy":
        return deployed(state)
    a = state.assets[x % len(state.assets)] if kind == "sell" else state.assets[-1]
    if kind == "sell":
        return state.replace_asset(replace(a, balance=0, value=0, redeemable_now_value=0),
                                   state.cash + a.value)  # fmt: skip
    v = max(1, a.value * (100 + x) // 100)
    return state.replace_asset(replace(a, value=v, redeemable_now_value=v), state.cash)


@settings(max_examples=150, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    cash=st.integers(0, 20_000_000),
    l2=st.integers(0, 10_000_000),
    l3=st.integers(0, 20_000_000),
    moves=st.lists(_move, max_size=4),
)
def test_property__any_mover_between_plan_and_check__values_never_raises(cash, l2, l3, moves):
    state = fund(cash * UNIT, l2 * UNIT, l3 * UNIT)
    if state.total_assets <= 0:
        return
    triggers = threshold_triggers(state, CFG) + liquidity_triggers(state, CFG)
    p = make_plan(state, CFG, triggers or [manual_trigger("t", "x")], NOW)
    basis = Basis.of(state, p)
    now = state
    for kind, x in moves:
        now = _moved(now, kind, x)
    found = misfits(now, p, basis)  # never raises
    risk.assess(now, p, CFG, NOW)  # never raises: a misfit is a "fit" finding
    _, problems = walk(now, p.actions, range(len(p.actions)))
    assert not problems or any(m.rule in ("cash", "position", "venue", "model") for m in found)
    if not found:  # a plan reported fitting applies in full
        apply(now, p)
