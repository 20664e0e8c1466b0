"""Cross-chain planner (seed 003 rulebook): each rule, then properties against greedy and
brute force. Pure: no chain needed."""

import itertools
from collections import defaultdict
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepers.crosschain.planning import (
    Holding,
    InFlightMove,
    InsufficientSurplusError,
    NoRouteError,
    NotRepresentableError,
    Rounding,
    best_fit_match,
    exact_match,
    from_scaled,
    greedy_match,
    is_triggered,
    plan_rebalance,
    positions,
    table_route_cost,
    to_scaled,
)
from tests.support.transfer_plans import check_plan

E18 = 10**18
P = Decimal("0.5")


def usd(x) -> int:
    """Whole or decimal dollars -> 18-decimal integer (exact, from a string)."""
    return int(Decimal(str(x)).scaleb(18))


def h(chain, asset, balance, base, decimals=18) -> Holding:
    return Holding(chain, asset, usd(balance), usd(base), decimals)


def apply(holdings, transfers, in_flight=()):
    """Effective balances after the plan, per (chain, asset)."""
    bal = {(x.chain, x.asset): x.balance for x in holdings}
    for m in in_flight:
        bal[(m.dest, m.asset)] += m.amount
        if not m.debited:
            bal[(m.source, m.asset)] -= m.amount
    for t in transfers:
        bal[(t.source, t.asset)] -= t.amount
        bal[(t.dest, t.asset)] += t.amount
    return bal


# --------------------------------------------------------------------------- rule 2: trigger


@pytest.mark.parametrize("decimals", [6, 18])
def test_is_triggered__at_and_around_threshold__inclusive(decimals):
    base = to_scaled(1000 * 10**decimals, decimals)
    unit = to_scaled(1, decimals)
    assert is_triggered(base // 2, base, P)  # exactly base * (1 - p): triggers
    assert not is_triggered(base // 2 + unit, base, P)
    assert is_triggered(0, base, P)


def test_is_triggered__p_as_exact_fraction__no_float_rounding():
    # 1 - 0.7 is 0.30000000000000004 in float; Decimal/Fraction make it exactly 0.3.
    assert is_triggered(usd(30), usd(100), Decimal("0.7"))
    assert not is_triggered(usd(30) + 1, usd(100), Decimal("0.7"))


@pytest.mark.parametrize("p", [Decimal(0), Decimal(1), Decimal("1.2")])
def test_is_triggered__p_outside_open_interval__raises(p):
    with pytest.raises(ValueError, match="trigger percentage"):
        is_triggered(0, 1, p)


def test_positions__one_asset_breached__only_that_chain_and_asset():
    holdings = [
        h("eth", "USDC", 40, 100),  # breached: 40 <= 50
        h("eth", "USDT", 60, 100),  # below base but not breached: neither deficit nor source
        h("arb", "USDC", 200, 100),
        h("arb", "USDT", 300, 100),
    ]
    pos = {p.asset: p for p in positions(holdings, P)}
    assert pos["USDC"].triggered == ("eth",)
    assert pos["USDC"].deficits == {"eth": usd(60)}
    assert pos["USDT"].triggered == ()
    assert pos["USDT"].deficits == {}
    assert pos["USDT"].surpluses == {"arb": usd(200)}
    plan = plan_rebalance(holdings, P)
    assert [(t.source, t.dest, t.asset, t.amount) for t in plan.transfers] == [
        ("arb", "eth", "USDC", usd(60))
    ]


def test_positions__below_base_not_triggered__not_a_source():
    holdings = [h("a", "USDC", 10, 100), h("b", "USDC", 90, 100), h("c", "USDC", 200, 100)]
    plan = plan_rebalance(holdings, P)
    assert {t.source for t in plan.transfers} == {"c"}


# --------------------------------------------------------------------------- rule 3/4: sources


def test_plan__exact_surplus__source_lands_on_base_not_below():
    holdings = [h("a", "USDC", 0, 100), h("b", "USDC", 160, 100), h("c", "USDC", 140, 100)]
    plan = plan_rebalance(holdings, P)
    after = apply(holdings, plan.transfers)
    assert after[("a", "USDC")] == usd(100)
    assert after[("b", "USDC")] >= usd(100)
    assert after[("c", "USDC")] >= usd(100)
    assert after[("b", "USDC")] + after[("c", "USDC")] == usd(200)


def test_plan__usdt_deficit_with_only_usdc_surplus__no_swap_error():
    holdings = [
        h("a", "USDT", 0, 100),
        h("b", "USDT", 100, 100),
        h("b", "USDC", 10_000, 100),
    ]
    with pytest.raises(InsufficientSurplusError) as err:
        plan_rebalance(holdings, P)
    assert err.value.asset == "USDT"


def test_plan__insufficient_surplus__error_names_chain_asset_deficit_surplus():
    holdings = [h("a", "USDC", 10, 100), h("b", "USDC", 150, 100)]
    with pytest.raises(InsufficientSurplusError) as err:
        plan_rebalance(holdings, P)
    e = err.value
    assert (e.asset, e.deficits, e.deficit, e.surplus) == ("USDC", {"a": usd(90)}, usd(90), usd(50))
    msg = str(e)
    # the seed's words, amounts in the asset's own units (not the planner's 18-decimal ones)
    assert msg.startswith("Insufficient surplus to bring chain a asset USDC back to base")
    assert "deficit 90 USDC" in msg and "total surplus 50 USDC" in msg and str(usd(90)) not in msg


def test_plan__one_asset_short__no_partial_plan_for_the_other():
    holdings = [
        h("a", "USDC", 10, 100),
        h("b", "USDC", 150, 100),  # USDC short
        h("a", "USDT", 0, 100),
        h("b", "USDT", 500, 100),  # USDT fine on its own
    ]
    with pytest.raises(InsufficientSurplusError, match="USDC"):
        plan_rebalance(holdings, P)


def test_plan__duplicate_holding__rejected():
    with pytest.raises(ValueError, match="once"):
        plan_rebalance([h("a", "USDC", 1, 1), h("a", "USDC", 1, 1)], P)


# --------------------------------------------------------------------------- rule 5: matching


def test_greedy_match__rulebook_order__largest_first_and_each_leg_exhausts_one_side():
    deficits = {"x": 30, "y": 70}
    surpluses = {"a": 50, "b": 40, "c": 20}
    plan = greedy_match("USDC", deficits, surpluses)
    assert [(t.source, t.dest, t.amount) for t in plan] == [
        ("a", "y", 50),
        ("b", "y", 20),
        ("b", "x", 20),
        ("c", "x", 10),
    ]


def test_exact_match__greedy_splits_needlessly__one_fewer_transfer():
    deficits = {"a": 5, "b": 3}
    surpluses = {"c": 4, "d": 3, "e": 1}
    assert len(greedy_match("USDC", deficits, surpluses)) == 4
    plan = exact_match("USDC", deficits, surpluses)
    assert sorted((t.source, t.dest, t.amount) for t in plan) == [
        ("c", "a", 4),
        ("d", "b", 3),
        ("e", "a", 1),
    ]


def test_exact_match__surplus_to_spare__uses_only_the_portion_needed():
    # The 100 source alone covers both deficits: 2 legs, and the small sources stay put.
    plan = exact_match("USDC", {"a": 30, "b": 20}, {"big": 100, "s1": 30, "s2": 20})
    assert len(plan) == 2
    # s1 -> a and s2 -> b is also 2 legs; either is optimal, both leave sources >= base.
    sent = defaultdict(int)
    for t in plan:
        sent[t.source] += t.amount
    assert sent["big"] <= 100 and sent["s1"] <= 30 and sent["s2"] <= 20


def test_exact_match__equal_count__cheaper_route_wins():
    costs = table_route_cost({("USDC", "b", "a"): 10, ("USDC", "c", "a"): 1, ("USDC", "d", "a"): 5})
    plan = exact_match("USDC", {"a": 5}, {"b": 9, "c": 5, "d": 7}, costs)
    assert [(t.source, t.amount) for t in plan] == [("c", 5)]
    # Greedy (rulebook) ignores cost and takes the largest surplus.
    assert greedy_match("USDC", {"a": 5}, {"b": 9, "c": 5, "d": 7})[0].source == "b"


def test_exact_match__fewer_transfers_beats_cheaper_routes():
    costs = table_route_cost(
        {("USDC", "b", "a"): 100, ("USDC", "c", "a"): 1, ("USDC", "d", "a"): 1}
    )
    plan = exact_match("USDC", {"a": 10}, {"b": 10, "c": 5, "d": 5}, costs)
    assert [(t.source, t.amount) for t in plan] == [("b", 10)]


def test_exact_match__missing_route__avoided_when_possible_else_error():
    costs = table_route_cost({("USDC", "c", "a"): 3})
    plan = exact_match("USDC", {"a": 5}, {"b": 9, "c": 5}, costs)
    assert [t.source for t in plan] == ["c"]
    with pytest.raises(NoRouteError, match="USDC"):
        exact_match("USDC", {"a": 5}, {"b": 9}, costs)


def test_plan_rebalance__greedy_mode_missing_route__no_route_error():
    holdings = [h("a", "USDC", 0, 100), h("b", "USDC", 300, 100)]
    with pytest.raises(NoRouteError) as err:
        plan_rebalance(holdings, P, route_cost=table_route_cost({}), exact=False)
    assert (err.value.source, err.value.dest) == ("b", "a")


def test_exact_match__above_party_limit__greedy_when_best_fit_no_better():
    deficits = {f"d{i}": 5 + i for i in range(12)}
    surpluses = {"s0": 10_000}
    plan = exact_match("USDC", deficits, surpluses, limit=12)
    assert plan == greedy_match("USDC", deficits, surpluses)
    # the exact path agrees (one source: one leg per deficit, nothing to choose)
    assert exact_match("USDC", deficits, surpluses) == plan


def test_exact_match__above_party_limit__best_fit_when_fewer_legs():
    # Greedy gives the 100 to the first deficit and splits everything after it; best fit
    # pairs each deficit with the source of its own size.
    deficits = {f"d{i}": 10 * (i + 1) for i in range(7)}
    surpluses = {f"s{i}": 10 * (i + 1) + 5 for i in range(7)}
    greedy = greedy_match("USDC", deficits, surpluses)
    plan = exact_match("USDC", deficits, surpluses, limit=12)  # heuristic path
    check_plan(deficits, surpluses, plan)
    assert len(plan) == 7 < len(greedy)


# --------------------------------------------------------------------------- in flight


def test_plan__inbound_in_flight_covers_deficit__nothing_planned_twice():
    holdings = [h("a", "USDC", 10, 100), h("b", "USDC", 300, 100)]
    first = plan_rebalance(holdings, P)
    assert len(first.transfers) == 1
    t = first.transfers[0]
    # Planned but not yet sent: source balance unchanged, destination not yet credited.
    pending = [InFlightMove(t.source, t.dest, t.asset, t.amount, debited=False)]
    assert plan_rebalance(holdings, P, pending).transfers == ()
    # Sent: the source balance dropped on chain, the destination still waits.
    sent_holdings = [h("a", "USDC", 10, 100), h("b", "USDC", 210, 100)]
    sent = [InFlightMove(t.source, t.dest, t.asset, t.amount, debited=True)]
    assert plan_rebalance(sent_holdings, P, sent).transfers == ()


def test_plan__outbound_pending__source_surplus_reduced():
    holdings = [h("a", "USDC", 0, 100), h("b", "USDC", 250, 100), h("c", "USDC", 170, 100)]
    # b already owes 120 to chain z (not yet debited): its spare is 30, not 150, so b alone
    # cannot cover a's 100; z's 120 is still in flight, so z is not a source either.
    holdings.append(h("z", "USDC", 0, 0))
    pending = [InFlightMove("b", "z", "USDC", usd(120), debited=False)]
    assert len(plan_rebalance(holdings, P).transfers) == 1  # unaware: b alone
    plan = plan_rebalance(holdings, P, pending)
    after = apply(holdings, plan.transfers, pending)
    assert after[("a", "USDC")] == usd(100)
    assert after[("b", "USDC")] == usd(100)
    assert after[("c", "USDC")] == usd(100)
    assert {t.source for t in plan.transfers} == {"b", "c"}


def test_in_flight_move__non_positive_amount__rejected():
    with pytest.raises(ValueError):
        InFlightMove("a", "b", "USDC", 0, debited=False)


# --------------------------------------------------------------------------- decimals


@pytest.mark.parametrize("decimals", [6, 18])
def test_to_scaled_from_scaled__round_trip__exact(decimals):
    for units in (0, 1, 999_999, 123_456_789_012, 10**30 + 7):
        assert from_scaled(to_scaled(units, decimals), decimals) == units


def test_from_scaled__not_representable_at_6__refused_or_rounded_as_asked():
    amount = 1_000_000_000_000_000_001  # 1 USD + 1 wei-like unit at 18 decimals
    with pytest.raises(NotRepresentableError):
        from_scaled(amount, 6)
    assert from_scaled(amount, 6, Rounding.DOWN) == 1_000_000
    assert from_scaled(amount, 6, Rounding.UP) == 1_000_001
    assert from_scaled(amount, 18) == amount


def test_to_scaled__more_than_18_decimals__floored():
    assert to_scaled(10**24 + 999_999, 24) == 10**18
    assert from_scaled(10**18, 24) == 10**24


def test_plan__mixed_decimals_dust__deficit_rounded_up_surplus_down():
    # 18-decimal chain short by 1 USD + 1e-18; a 6-decimal chain of the same asset exists, so
    # every amount must be a whole number of 1e-6 USD: the deficit is rounded UP.
    holdings = [
        Holding("bsc", "USDT", 0, usd(1) + 1, 18),
        Holding("eth", "USDT", to_scaled(10 * 10**6, 6), to_scaled(5 * 10**6, 6), 6),
    ]
    plan = plan_rebalance(holdings, P)
    (t,) = plan.transfers
    assert t.amount == usd("1.000001")
    assert t.units(6) == 1_000_001 and t.units(18) == usd("1.000001")
    after = apply(holdings, plan.transfers)
    assert after[("bsc", "USDT")] >= usd(1) + 1
    assert after[("bsc", "USDT")] - (usd(1) + 1) < 10**12  # overshoot below one 6-dec unit


def test_plan__surplus_dust_on_18_dec_chain__rounded_down_never_below_base():
    holdings = [
        Holding("eth", "USDT", 0, usd(2), 6),
        # surplus 2 USD - 1e-18 on an 18-decimal chain: short of the 6-decimal deficit
        Holding("bsc", "USDT", usd(12) - 1, usd(10), 18),
    ]
    with pytest.raises(InsufficientSurplusError) as err:
        plan_rebalance(holdings, P)
    # the surplus is reported to the wei of its own chain (issue 15a), still refused
    assert err.value.surplus == usd(2) - 1
    # half a micro-unit more than needed: the leg is a whole micro-unit amount, the rest stays
    holdings[1] = Holding("bsc", "USDT", usd("12.0000005"), usd(10), 18)
    (t,) = plan_rebalance(holdings, P).transfers
    assert t.amount == usd(2) and t.units(6) == 2_000_000


# --------------------------------------------------------------------------- properties


def brute_force_min_transfers(deficits: dict, surpluses: dict, allowed=None) -> int | None:
    """Fewest source->deficit edges admitting a flow that fills every deficit exactly with
    no source over its surplus, over the `allowed` (source, deficit) pairs (all if None);
    None if no edge set works. Feasibility by Hall's condition (edges uncapacitated):
    every set X of deficits needs sum D(X) <= sum S(neighbours of X)."""
    ds, ss = list(deficits), list(surpluses)
    pairs = [(s, d) for d in ds for s in ss if allowed is None or (s, d) in allowed]
    subsets_of_d = [c for r in range(1, len(ds) + 1) for c in itertools.combinations(ds, r)]
    for k in range(len(pairs) + 1):
        for edges in itertools.combinations(pairs, k):
            nbrs = defaultdict(set)
            for s, d in edges:
                nbrs[d].add(s)
            if all(
                sum(deficits[d] for d in xs)
                <= sum(surpluses[s] for s in set().union(*(nbrs[d] for d in xs)))
                for xs in subsets_of_d
            ):
                return k
    return None


def subset_dp_min_transfers(deficits: dict, surpluses: dict) -> int:
    """Independent optimum for larger instances (all routes open): parties minus the most
    blocks of non-negative net (sources minus deficits) that partition them, by dynamic
    programming over subsets (the block holding the lowest remaining party, O(3^n))."""
    vals = [-x for x in deficits.values()] + list(surpluses.values())
    n = len(vals)
    net = [0] * (1 << n)
    for mask in range(1, 1 << n):
        low = (mask & -mask).bit_length() - 1
        net[mask] = net[mask & (mask - 1)] + vals[low]
    best = [0] * (1 << n)
    for mask in range(1, 1 << n):
        if net[mask] < 0:
            best[mask] = -(10**9)
            continue
        low = mask & -mask
        rest = mask ^ low
        top = -(10**9)
        sub = rest
        while True:
            block = sub | low
            if net[block] >= 0 and best[mask ^ block] >= 0:
                top = max(top, best[mask ^ block] + 1)
            if sub == 0:
                break
            sub = (sub - 1) & rest
        best[mask] = top
    return n - best[(1 << n) - 1]


amounts = st.integers(min_value=1, max_value=12)


@st.composite
def small_instances(draw, max_d=3, max_s=4):
    nd = draw(st.integers(1, max_d))
    ns = draw(st.integers(1, max_s))
    deficits = {f"d{i}": draw(amounts) for i in range(nd)}
    surpluses = {f"s{i}": draw(amounts) for i in range(ns)}
    short = sum(deficits.values()) - sum(surpluses.values())
    if short > 0:  # top up the last source so the instance is feasible
        surpluses[f"s{ns - 1}"] += short + draw(st.integers(0, 3))
    return deficits, surpluses


# A small instance and a set of (surplus, deficit) pairs with no route between them.
_WITH_ROUTE_GAPS = given(
    small_instances(max_d=3, max_s=4),
    st.sets(
        st.tuples(st.sampled_from([f"s{i}" for i in range(4)]), st.sampled_from(["d0", "d1", "d2"]))
    ),
)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_instances())
def test_exact_match__small_instances__equals_brute_force_optimum(inst):
    deficits, surpluses = inst
    plan = exact_match("USDC", deficits, surpluses)
    check_plan(deficits, surpluses, plan)
    assert len(plan) == brute_force_min_transfers(deficits, surpluses)


@settings(max_examples=300, deadline=None)
@given(small_instances(max_d=6, max_s=6))
def test_exact_match__up_to_12_parties__valid_and_never_more_than_greedy(inst):
    deficits, surpluses = inst
    greedy = greedy_match("USDC", deficits, surpluses)
    exact = exact_match("USDC", deficits, surpluses)
    check_plan(deficits, surpluses, greedy)
    check_plan(deficits, surpluses, exact)
    assert len(exact) <= len(greedy)


@settings(max_examples=150, deadline=None)
@given(
    small_instances(max_d=3, max_s=4),
    st.dictionaries(
        st.tuples(
            st.sampled_from([f"s{i}" for i in range(4)]), st.sampled_from(["d0", "d1", "d2"])
        ),
        st.integers(0, 9),
    ),
)
def test_exact_match__route_costs__same_count_and_no_dearer_than_uniform_choice(inst, table):
    deficits, surpluses = inst
    full = {("USDC", s, d): table.get((s, d), 5) for d in deficits for s in surpluses}
    cost = table_route_cost(full)
    plan = exact_match("USDC", deficits, surpluses, cost)
    plain = exact_match("USDC", deficits, surpluses)
    check_plan(deficits, surpluses, plan)
    assert len(plan) == len(plain)
    assert sum(full[("USDC", t.source, t.dest)] for t in plan) <= sum(
        full[("USDC", t.source, t.dest)] for t in plain
    )


@st.composite
def holdings_sets(draw):
    n = draw(st.integers(2, 8))
    out = []
    for i in range(n):
        for asset in ("USDC", "USDT"):
            decimals = draw(st.sampled_from([6, 18]))
            base_units = draw(st.integers(0, 1000)) * 10**decimals
            bal_units = draw(st.integers(0, 2000 * 10**decimals))
            out.append(
                Holding(
                    f"c{i}",
                    asset,
                    to_scaled(bal_units, decimals),
                    to_scaled(base_units, decimals),
                    decimals,
                )
            )
    p = draw(st.sampled_from([Decimal("0.1"), Decimal("0.25"), Decimal("0.5"), Decimal("0.9")]))
    return out, p


@settings(max_examples=300, deadline=None)
@given(holdings_sets())
def test_plan_rebalance__random_holdings__restores_triggered_and_no_source_below_base(data):
    holdings, p = data
    try:
        plan = plan_rebalance(holdings, p)
    except InsufficientSurplusError as err:
        # Refused only when the (safely rounded) surplus is really short.
        assert err.surplus < err.deficit
        return
    greedy_count = len(plan_rebalance(holdings, p, exact=False).transfers)
    assert len(plan.transfers) <= greedy_count
    after = apply(holdings, plan.transfers)
    by_key = {(x.chain, x.asset): x for x in holdings}
    triggered = set(plan.triggered)
    for key, x in by_key.items():
        before = x.balance
        if key in triggered:
            assert after[key] >= x.base
        elif after[key] != before:
            assert before > x.base and after[key] >= x.base  # only surplus chains send
    for t in plan.transfers:
        assert (t.source, t.asset) in by_key and (t.dest, t.asset) in by_key
        # exact in both chains' base units
        t.units(by_key[(t.source, t.asset)].decimals)
        t.units(by_key[(t.dest, t.asset)].decimals)


@given(st.integers(0, 10**40))
def test_to_scaled__6_decimals__exact_round_trip_property(units):
    scaled = to_scaled(units, 6)
    assert scaled == units * 10**12
    assert from_scaled(scaled, 6) == units
    assert from_scaled(scaled + 1, 6, Rounding.DOWN) == units
    assert from_scaled(scaled + 1, 6, Rounding.UP) == units + 1


@settings(max_examples=100, deadline=None)
@given(small_instances(max_d=12, max_s=12))
def test_exact_match__above_party_limit__valid_and_never_more_than_greedy(inst):
    deficits, surpluses = inst
    plan = exact_match("USDC", deficits, surpluses, limit=0)
    check_plan(deficits, surpluses, plan)
    assert len(plan) <= len(greedy_match("USDC", deficits, surpluses))
    check_plan(deficits, surpluses, best_fit_match("USDC", deficits, surpluses))


@settings(max_examples=150, deadline=None)
@_WITH_ROUTE_GAPS
def test_exact_match__route_gaps__every_leg_routable_or_no_route_error(inst, missing):
    deficits, surpluses = inst
    table = {("USDC", s, d): 1 for d in deficits for s in surpluses if (s, d) not in missing}
    try:
        plan = exact_match("USDC", deficits, surpluses, table_route_cost(table))
    except NoRouteError:
        # Refused only if greedy's plan is not routable either.
        greedy = greedy_match("USDC", deficits, surpluses)
        assert any(("USDC", t.source, t.dest) not in table for t in greedy)
        return
    check_plan(deficits, surpluses, plan)
    assert all(("USDC", t.source, t.dest) in table for t in plan)


@settings(max_examples=200, deadline=None)
@given(holdings_sets(), st.booleans())
def test_plan_rebalance__plan_fed_back_as_in_flight__nothing_planned_twice(data, debited):
    holdings, p = data
    try:
        plan = plan_rebalance(holdings, p)
    except InsufficientSurplusError:
        return
    moves = [InFlightMove(t.source, t.dest, t.asset, t.amount, debited) for t in plan.transfers]
    if debited:  # the sources' on-chain balances already dropped
        sent = defaultdict(int)
        for t in plan.transfers:
            sent[(t.source, t.asset)] += t.amount
        holdings = [
            Holding(x.chain, x.asset, x.balance - sent[(x.chain, x.asset)], x.base, x.decimals)
            for x in holdings
        ]
    again = plan_rebalance(holdings, p, moves)
    assert again.transfers == ()
    assert again.triggered == ()


# --------------------------------------------------------------------------- issue 15 edge cases


def test_plan__exact_18_to_18_with_unrelated_6_dec_chain__one_wei_transfer_exact():
    # (a) The 6-decimal chain takes no part, yet its micro-unit used to round the 18-decimal
    # deficit up past the exactly sufficient 18-decimal surplus ("insufficient surplus").
    holdings = [
        Holding("bsc", "USDT", 0, usd(1) + 1, 18),  # deficit 1 USD + 1 wei
        Holding("plasma", "USDT", usd(3) + 1, usd(2), 18),  # surplus exactly 1 USD + 1 wei
        Holding("eth", "USDT", to_scaled(5 * 10**6, 6), to_scaled(5 * 10**6, 6), 6),  # at base
    ]
    plan = plan_rebalance(holdings, P)
    assert [(t.source, t.dest, t.amount) for t in plan.transfers] == [("plasma", "bsc", usd(1) + 1)]
    after = apply(holdings, plan.transfers)
    assert after[("bsc", "USDT")] == usd(1) + 1 and after[("plasma", "USDT")] == usd(2)
    assert plan.transfers[0].units(18) == usd(1) + 1


def test_plan__one_wei_short_18_to_18__still_insufficient_no_plan():
    holdings = [
        Holding("bsc", "USDT", 0, usd(1) + 1, 18),
        Holding("plasma", "USDT", usd(3), usd(2), 18),  # one wei short
        Holding("eth", "USDT", to_scaled(5 * 10**6, 6), to_scaled(5 * 10**6, 6), 6),
    ]
    with pytest.raises(InsufficientSurplusError) as err:
        plan_rebalance(holdings, P)
    assert (err.value.deficit, err.value.surplus) == (usd(1) + 1, usd(1))


@pytest.mark.parametrize(("src_dec", "dst_dec"), [(18, 6), (6, 18), (18, 18), (6, 6)])
def test_plan__leg_rounded_by_its_two_ends__representable_and_source_not_below_base(
    src_dec, dst_dec
):
    dst_base = usd(1) + 10**12 if dst_dec == 6 else usd(1) + 7  # a whole unit of each token
    src_balance = usd(5) + 3 * 10**12 if src_dec == 6 else usd(5) + 3
    holdings = [
        Holding("dst", "USDC", 0, dst_base, dst_dec),
        Holding("src", "USDC", src_balance, usd(2), src_dec),
    ]
    (t,) = plan_rebalance(holdings, P).transfers
    t.units(src_dec), t.units(dst_dec)  # exact at both ends, or NotRepresentableError
    q = 10 ** (18 - min(src_dec, dst_dec))
    assert dst_base <= t.amount < dst_base + q  # covers the deficit, under one unit over
    assert src_balance - t.amount >= usd(2)
    if src_dec == dst_dec == 18:
        assert t.amount == dst_base  # exact to the wei


def test_exact_match__spider_tree_route_table__plan_found_not_no_route():
    # (b) The only plan is a spider: s0 feeds all three deficits, each si only its own di.
    # No fill-in-order sweep builds that tree; the old planner said "no route".
    deficits = {"d1": 10, "d2": 10, "d3": 10}
    surpluses = {"s0": 15, "s1": 5, "s2": 5, "s3": 5}
    table = {("USDC", "s0", d): 1 for d in deficits}
    table |= {("USDC", f"s{i}", f"d{i}"): 1 for i in (1, 2, 3)}
    plan = exact_match("USDC", deficits, surpluses, table_route_cost(table))
    check_plan(deficits, surpluses, plan)
    assert all(("USDC", t.source, t.dest) in table for t in plan)
    allowed = {(s, d) for _, s, d in table}
    assert len(plan) == brute_force_min_transfers(deficits, surpluses, allowed) == 6


def test_exact_match__no_route_to_enough_surplus__error_names_the_unmet_deficit():
    deficits = {"a": 10, "b": 10}
    surpluses = {"s": 15, "t": 20}
    # a reaches only s (15 >= 10); b reaches only s too: 20 needed from 15
    table = table_route_cost({("USDC", "s", "a"): 1, ("USDC", "s", "b"): 1})
    with pytest.raises(NoRouteError) as err:
        exact_match("USDC", deficits, surpluses, table)
    assert set(err.value.unmet) & {"a", "b"} and "USDC" in str(err.value)
    # b reaches nothing at all: named
    table = table_route_cost({("USDC", "s", "a"): 1, ("USDC", "t", "a"): 1})
    with pytest.raises(NoRouteError) as err:
        exact_match("USDC", deficits, surpluses, table)
    assert err.value.unmet == ("b",) and "b" in str(err.value)


def test_exact_match__13_parties__optimum_the_old_limit_missed():
    # (c) 13 parties: the old planner fell back to greedy/best-fit here and planned 11 legs.
    deficits = {"d0": 19, "d1": 8, "d2": 11, "d3": 1, "d4": 9, "d5": 20, "d6": 6, "d7": 11}
    surpluses = {"s0": 18, "s1": 19, "s2": 19, "s3": 4, "s4": 25}
    plan = exact_match("USDC", deficits, surpluses)
    check_plan(deficits, surpluses, plan)
    assert len(plan) == subset_dp_min_transfers(deficits, surpluses) == 9
    assert len(greedy_match("USDC", deficits, surpluses)) > 9
    assert len(best_fit_match("USDC", deficits, surpluses)) > 9


@settings(max_examples=150, deadline=None)
@_WITH_ROUTE_GAPS
def test_exact_match__route_gaps__equals_brute_force_or_no_route_when_none(inst, missing):
    deficits, surpluses = inst
    allowed = {(s, d) for d in deficits for s in surpluses if (s, d) not in missing}
    table = {("USDC", s, d): 1 for s, d in allowed}
    optimum = brute_force_min_transfers(deficits, surpluses, allowed)
    if optimum is None:
        with pytest.raises(NoRouteError):
            exact_match("USDC", deficits, surpluses, table_route_cost(table))
        return
    plan = exact_match("USDC", deficits, surpluses, table_route_cost(table))
    check_plan(deficits, surpluses, plan)
    assert all((t.source, t.dest) in allowed for t in plan)
    assert len(plan) == optimum


@st.composite
def mid_instances(draw, n_min=13, n_max=14):
    n = draw(st.integers(n_min, n_max))
    nd = draw(st.integers(3, n - 3))
    deficits = {f"d{i}": draw(st.integers(1, 25)) for i in range(nd)}
    surpluses = {f"s{i}": draw(st.integers(1, 25)) for i in range(n - nd)}
    short = sum(deficits.values()) - sum(surpluses.values())
    if short > 0:
        surpluses[f"s{n - nd - 1}"] += short + draw(st.integers(0, 3))
    return deficits, surpluses


@settings(max_examples=8, deadline=None)
@given(mid_instances())
def test_exact_match__13_to_14_parties__equals_subset_dp_optimum(inst):
    deficits, surpluses = inst
    plan = exact_match("USDC", deficits, surpluses, work=None)
    check_plan(deficits, surpluses, plan)
    assert len(plan) == subset_dp_min_transfers(deficits, surpluses)


@st.composite
def mixed_decimal_instances(draw):
    """Small instances over 6- and 18-decimal chains, amounts either whole micro-units or
    with wei residues."""
    nd = draw(st.integers(1, 3))
    ns = draw(st.integers(1, 4))
    names = [f"d{i}" for i in range(nd)] + [f"s{i}" for i in range(ns)]
    decimals = {c: draw(st.sampled_from([6, 18])) for c in names}
    aligned = draw(st.booleans())

    def amount(c):
        whole = draw(st.integers(1, 12)) * 10**18
        if decimals[c] == 18 and not aligned:
            whole += draw(st.integers(0, 10**13))
        return whole

    deficits = {c: amount(c) for c in names[:nd]}
    surpluses = {c: amount(c) for c in names[nd:]}
    short = sum(deficits.values()) - sum(surpluses.values())
    if short > 0:  # top up (a whole number of micro-units) so that the instance is feasible
        surpluses[names[-1]] += -(-short // 10**12) * 10**12
    return deficits, surpluses, decimals, aligned


@settings(max_examples=200, deadline=None)
@given(mixed_decimal_instances())
def test_exact_match__6_18_mixes__legs_representable_optimal_when_aligned(inst):
    deficits, surpluses, decimals, aligned = inst
    try:
        plan = exact_match("USDT", deficits, surpluses, decimals=decimals)
    except InsufficientSurplusError:
        # Legs from 6-decimal sources into 18-decimal deficits round up per leg, so enough
        # wei can still be short; refused only if short in whole micro-units as well.
        assert not aligned
        micro = 10**12
        assert sum(s // micro for s in surpluses.values()) < sum(
            -(-d // micro) for d in deficits.values()
        )
        return
    got, sent = defaultdict(int), defaultdict(int)
    for t in plan:
        assert t.amount > 0
        t.units(decimals[t.source]), t.units(decimals[t.dest])  # both ends exact
        got[t.dest] += t.amount
        sent[t.source] += t.amount
    for d, need in deficits.items():  # filled, at most one unit of the coarsest token over
        assert need <= got[d] < need + 10**12
    for s, amount in sent.items():
        assert amount <= surpluses[s]  # no source below its base
    if aligned or all(
        v == 18 for v in decimals.values()
    ):  # whole micro-units everywhere: rounding cannot matter, the optimum is exact
        assert len(plan) == brute_force_min_transfers(deficits, surpluses)
