"""Cross-chain planner benchmark (`make bench`): planner time (p50/p95) and transfer count
at 8, 12, 16 and 20 parties per asset, each printed next to the rulebook's greedy matching
measured in the same run. No timed assertions; the only assertions are correctness ones
(never more transfers than greedy, every plan valid)."""

import random
import statistics
import time
from collections import defaultdict
from decimal import Decimal

import pytest

from keepers.crosschain.planning import (
    EXACT_WORK,
    Holding,
    _Search,
    exact_match,
    greedy_match,
    plan_rebalance,
    table_route_cost,
)

pytestmark = pytest.mark.bench

E18 = 10**18
P = Decimal("0.3")
PARTIES = (8, 12, 16, 20)
INSTANCES = 100  # per size and amount kind


def _ms(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000, out


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def _instance(rng: random.Random, n: int, wei: bool) -> tuple[dict[str, int], dict[str, int]]:
    """n parties of one asset. `wei`: amounts to the wei (18-decimal balances as read on
    chain); else whole thousands of USD (operator-chosen round bases: equal and complementary
    amounts happen, the hard case for an exact search)."""
    nd = rng.randint(max(1, n // 4), n - max(1, n // 4))

    def amount() -> int:
        if wei:
            return rng.randint(1, 30_000) * 10**15 + rng.randint(0, 10**15)
        return rng.randint(1, 30) * 1000 * E18

    deficits = {f"d{i}": amount() for i in range(nd)}
    surpluses = {f"s{i}": amount() for i in range(n - nd)}
    gap = sum(deficits.values()) - sum(surpluses.values())
    if gap > 0:
        surpluses[f"s{n - nd - 1}"] += gap + rng.choice([0, 0, 1000 * E18, 5000 * E18])
    return deficits, surpluses


def _check(deficits, surpluses, plan) -> None:
    got, sent = defaultdict(int), defaultdict(int)
    for t in plan:
        got[t.dest] += t.amount
        sent[t.source] += t.amount
    assert dict(got) == deficits
    assert all(sent[s] <= surpluses[s] for s in sent)


def test_bench_crosschain_planner__8_to_20_parties__time_and_transfers_vs_greedy():
    rows = []
    for wei in (False, True):
        rng = random.Random(2026 + wei)
        for n in PARTIES:
            t_exact, t_greedy = [], []
            legs_exact = legs_greedy = fewer = proved = 0
            for _ in range(INSTANCES):
                deficits, surpluses = _instance(rng, n, wei)
                ms, plan = _ms(lambda d=deficits, s=surpluses: exact_match("USDC", d, s))
                gms, greedy = _ms(lambda d=deficits, s=surpluses: greedy_match("USDC", d, s))
                _check(deficits, surpluses, plan)
                assert len(plan) <= len(greedy)  # type: ignore[arg-type]
                t_exact.append(ms)
                t_greedy.append(gms)
                legs_exact += len(plan)  # type: ignore[arg-type]
                legs_greedy += len(greedy)  # type: ignore[arg-type]
                fewer += len(plan) < len(greedy)  # type: ignore[arg-type]
                search = _Search("USDC", deficits, surpluses, None, {}, EXACT_WORK)
                proved += search.solve() is not None
            rows.append(
                f"  {'wei' if wei else 'k$ '} {n:2d} parties: planner p50 "
                f"{statistics.median(t_exact):6.1f} ms p95 {_pct(t_exact, 0.95):6.1f} ms "
                f"(greedy p50 {statistics.median(t_greedy):.3f} ms); transfers {legs_exact} vs "
                f"greedy {legs_greedy} (ratio {legs_exact / legs_greedy:.3f}, fewer on "
                f"{fewer}/{INSTANCES}); optimum proved within the work budget on "
                f"{proved}/{INSTANCES}"
            )
    print(
        f"\n[crosschain] {INSTANCES} random instances per row, one asset, all routes open:\n"
        + "\n".join(rows)
    )


def test_bench_crosschain_planner__routes_with_gaps__time():
    """20 parties, a fifth of the (source, deficit) pairs without a route."""
    rng = random.Random(20)
    times, legs, no_route = [], [], 0
    for _ in range(INSTANCES):
        deficits, surpluses = _instance(rng, 20, wei=True)
        table = {
            ("USDC", s, d): rng.choice([1, 2, 10])
            for s in surpluses
            for d in deficits
            if rng.random() > 0.2
        }
        try:
            ms, plan = _ms(
                lambda d=deficits, s=surpluses, t=table: exact_match(
                    "USDC", d, s, table_route_cost(t)
                )
            )
        except Exception as err:  # NoRouteError: no plan over the allowed pairs
            assert type(err).__name__ == "NoRouteError"
            no_route += 1
            continue
        _check(deficits, surpluses, plan)
        assert all(("USDC", t.source, t.dest) in table for t in plan)  # type: ignore[attr-defined]
        times.append(ms)
        legs.append(len(plan))  # type: ignore[arg-type]
    print(
        f"\n[crosschain] 20 parties, 20% of pairs unroutable, {INSTANCES} instances: planner "
        f"p50 {statistics.median(times):.1f} ms p95 {_pct(times, 0.95):.1f} ms, "
        f"mean transfers {statistics.mean(legs):.2f}, no route {no_route}"
    )


def _holdings_64x2(rng: random.Random) -> list[Holding]:
    out = []
    for i in range(64):
        for asset in ("USDC", "USDT"):
            decimals = 18 if (asset == "USDT" and i % 4 == 1) else 6
            base = rng.randint(10, 500) * 1000 * E18
            factor = rng.choice([0.1, 0.4, 0.9, 1.1, 1.5, 2.5])
            balance = base * int(factor * 100) // 100
            out.append(Holding(f"chain{i:02d}", asset, balance, base, decimals))
    return out


def test_bench_crosschain_planner__64_chains_2_assets__time():
    """Above the exact limit (parties per asset > EXACT_PARTY_LIMIT): the heuristic path."""
    rng = random.Random(64)
    holdings = _holdings_64x2(rng)
    chains = sorted({h.chain for h in holdings})
    costs = table_route_cost(
        {
            (a, s, d): rng.choice([1, 2, 10])
            for a in ("USDC", "USDT")
            for s in chains
            for d in chains
            if s != d
        }
    )
    greedy_ms, greedy = _ms(lambda: plan_rebalance(holdings, P, exact=False))
    exact_ms, exact = _ms(lambda: plan_rebalance(holdings, P, route_cost=costs))
    parties = {p.asset: len(p.deficits) + len(p.surpluses) for p in exact.positions}  # type: ignore[union-attr]
    print(
        f"\n[crosschain] 64 chains x 2 assets, parties per asset {parties}: "
        f"planner {exact_ms:.2f} ms, greedy baseline {greedy_ms:.2f} ms; "
        f"transfers {len(exact.transfers)} vs greedy {len(greedy.transfers)}"  # type: ignore[union-attr]
    )
    assert len(exact.transfers) <= len(greedy.transfers)  # type: ignore[union-attr]
