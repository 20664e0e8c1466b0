"""The cross-chain planner is exact (fewest transfers over the allowed routes) at 13 to 20
parties per asset, checked against optima computed apart from it on seeded random instances:
a dynamic programme over all subsets with every route open, a HiGHS MILP with route gaps
(ballast_dev/bench/crosschain_cases.py). Pure: no chain. The wider sweep, with timings, is
the bench (tests/bench/test_crosschain_planner.py); issue 15's three edge cases are in
test_crosschain_plan.py."""

import random
from collections import defaultdict
from itertools import combinations

import pytest

from ballast_dev.bench.crosschain_cases import (
    instance,
    milp_min_transfers,
    route_table,
    subset_dp_min_transfers,
)
from keepers.crosschain.planning import (
    EXACT_WORK,
    NoRouteError,
    _hall,
    _max_groups,
    _min_cost_flow,
    _Search,
    exact_match,
    table_route_cost,
)

E18 = 10**18


def check_plan(deficits, surpluses, plan, table=None):
    got, sent = defaultdict(int), defaultdict(int)
    for t in plan:
        assert t.amount > 0
        if table is not None:
            assert ("USDC", t.source, t.dest) in table
        got[t.dest] += t.amount
        sent[t.source] += t.amount
    assert dict(got) == deficits
    assert all(sent[s] <= surpluses[s] for s in sent)


def _cases(n: int, count: int, seed: int) -> list[tuple[int, bool, dict, dict]]:
    """Alternately to the wei and in whole k$; the first instance of each size from 16 up
    balanced to the wei (the totals equal), the class the old search left unproved."""
    rng = random.Random(seed)
    out = []
    for k in range(count):
        wei = k % 2 == 0
        deficits, surpluses = instance(rng, n, wei)
        while k == 0 and n >= 16 and sum(deficits.values()) != sum(surpluses.values()):
            deficits, surpluses = instance(rng, n, wei)
        out.append((n, wei, deficits, surpluses))
    return out


# 13-16 parties: three instances each; 17-20: two (the oracle's 2^n pass grows)
ALL_ROUTES = [c for n in range(13, 21) for c in _cases(n, 3 if n <= 16 else 2, 150 + n)]


@pytest.mark.parametrize(
    ("n", "wei", "deficits", "surpluses"),
    ALL_ROUTES,
    ids=[f"{n}-{'wei' if w else 'k$'}-{i}" for i, (n, w, _, _) in enumerate(ALL_ROUTES)],
)
def test_exact_match__13_to_20_parties_all_routes__equals_subset_dp_optimum(
    n, wei, deficits, surpluses
):
    plan = exact_match("USDC", deficits, surpluses)
    check_plan(deficits, surpluses, plan)
    assert len(plan) == subset_dp_min_transfers(deficits, surpluses)


def test_exact_match__20_parties_balanced_to_the_wei__one_tree_proved():
    # The class the old search could not prove: totals equal to the wei and no proper subset
    # balanced, so the only partition is one group and every plan has n - 1 legs.
    rng = random.Random(5)
    deficits, surpluses = instance(rng, 20, wei=True)
    while sum(deficits.values()) != sum(surpluses.values()):
        deficits, surpluses = instance(rng, 20, wei=True)
    search = _Search("USDC", deficits, surpluses, None, {}, EXACT_WORK)
    plan = search.solve()
    assert plan is not None and search.proved
    check_plan(deficits, surpluses, plan)
    assert len(plan) == subset_dp_min_transfers(deficits, surpluses) == 19


GAPS = [c for n in range(13, 21) for c in _cases(n, 2, 250 + n)]


def test_exact_match__13_to_20_parties_route_gaps__equals_milp_optimum():
    """A fifth of the (source, deficit) pairs without a route, per-leg costs. The MILP is
    the reference where it proves its optimum within 5 s (most instances); the planner, as
    shipped (with its work budget), must equal it, or say "no route" exactly when the MILP
    is infeasible."""
    pytest.importorskip("highspy")
    compared, rows = 0, []
    for n, _wei, deficits, surpluses in GAPS:
        table = route_table(random.Random(n * 7 + len(deficits)), deficits, surpluses)
        allowed = {(s, d) for _, s, d in table}
        status, optimum = milp_min_transfers(deficits, surpluses, allowed, seconds=5.0)
        if status == "unproved":
            continue
        compared += 1
        if status == "infeasible":
            with pytest.raises(NoRouteError):
                exact_match("USDC", deficits, surpluses, table_route_cost(table))
            continue
        plan = exact_match("USDC", deficits, surpluses, table_route_cost(table))
        check_plan(deficits, surpluses, plan, table)
        rows.append((n, len(plan), optimum))
    assert compared >= len(GAPS) * 3 // 4, f"the MILP proved only {compared}/{len(GAPS)}"
    assert all(got == want for _, got, want in rows), rows


@pytest.mark.parametrize("seed", range(12))
def test_max_groups__random_parties__a_partition_of_the_most_groups(seed):
    rng = random.Random(seed)
    n = rng.randint(4, 11)
    deficits, surpluses = instance(rng, n, wei=seed % 3 == 0)
    ds, ss = list(deficits.values()), list(surpluses.values())
    groups = _max_groups(ds, ss, cap=1 << n)
    assert groups is not None
    vals = [-d for d in ds] + ss
    assert sum(groups) == (1 << n) - 1 and all(a & b == 0 for a, b in combinations(groups, 2))
    for g in groups:  # every group holds at least what its deficits need
        assert sum(v for p, v in enumerate(vals) if g >> p & 1) >= 0
    assert n - len(groups) == subset_dp_min_transfers(deficits, surpluses)


def test_max_groups__more_near_balanced_subsets_than_the_cap__gives_up():
    deficits, surpluses = [1] * 6, [1] * 6  # every balanced subset is in range
    assert _max_groups(deficits, surpluses, cap=50) is None
    assert len(_max_groups(deficits, surpluses, cap=5000) or []) == 6


@pytest.mark.parametrize("seed", range(40))
def test_hall__random_blocks__agrees_with_a_max_flow(seed):
    rng = random.Random(seed)
    nd, ns = rng.randint(1, 7), rng.randint(1, 7)
    d = {i: rng.randint(1, 9) for i in range(nd)}
    s = {j: rng.randint(1, 9) for j in range(ns)}
    nbr = [sum(1 << j for j in range(ns) if rng.random() < 0.5) for _ in range(nd)]
    y = (1 << ns) - 1
    arcs = {(j, i): 0 for i in range(nd) for j in range(ns) if nbr[i] >> j & 1}
    got = _min_cost_flow(s, d, arcs)[1]
    assert _hall(d, s, nbr, y) == all(got[i] == d[i] for i in d)


def test_exact_match__balanced_connected_routes_without_hall__no_route():
    # A connected, balanced route graph is not enough: d1 needs 10 but reaches only s1 (1).
    # (A tree's flow is set by the balances, and here it would run backwards on s1 -> d2.)
    deficits, surpluses = {"d1": 10 * E18, "d2": 1 * E18}, {"s1": 1 * E18, "s2": 10 * E18}
    table = {("USDC", "s1", "d1"): 1, ("USDC", "s1", "d2"): 1, ("USDC", "s2", "d2"): 1}
    with pytest.raises(NoRouteError) as err:
        exact_match("USDC", deficits, surpluses, table_route_cost(table))
    assert "d1" in err.value.unmet
