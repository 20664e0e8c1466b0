"""Cross-chain planner benchmark (`make bench`): time and transfer count, each printed next to
the rulebook's greedy matching measured in the same run. No timed assertions; the only
assertions are correctness ones (never more transfers than greedy)."""

import random
import statistics
import time
from decimal import Decimal

import pytest

from keepers.crosschain.planning import (
    EXACT_PARTY_LIMIT,
    Holding,
    InsufficientSurplusError,
    exact_match,
    greedy_match,
    plan_rebalance,
    table_route_cost,
)

pytestmark = pytest.mark.bench

E18 = 10**18
P = Decimal("0.3")


def _timed(fn, repeat: int) -> tuple[float, object]:
    """Median wall time in ms over `repeat` runs, and the last result."""
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def _holdings_64x2(rng: random.Random) -> list[Holding]:
    out = []
    for i in range(64):
        for asset in ("USDC", "USDT"):
            decimals = 18 if (asset == "USDT" and i % 4 == 1) else 6
            base = rng.randint(10, 500) * 1000 * E18
            # about a quarter of the pairs breached, the rest around or above base
            factor = rng.choice([0.1, 0.4, 0.9, 1.1, 1.5, 2.5])
            balance = base * int(factor * 100) // 100
            out.append(Holding(f"chain{i:02d}", asset, balance, base, decimals))
    return out


def test_bench_crosschain_planner__64_chains_2_assets__time():
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
    greedy_ms, greedy = _timed(lambda: plan_rebalance(holdings, P, exact=False), 20)
    exact_ms, exact = _timed(lambda: plan_rebalance(holdings, P, route_cost=costs), 20)
    # Exact on every asset, whatever the size: parties above the limit are split off greedily
    # only after the limit, so this is the cost of the fallback path.
    parties = {p.asset: len(p.deficits) + len(p.surpluses) for p in exact.positions}  # type: ignore[union-attr]
    print(
        f"\n[crosschain] 64 chains x 2 assets, parties per asset {parties}: "
        f"planner {exact_ms:.2f} ms (target < 100 ms), greedy baseline {greedy_ms:.2f} ms; "
        f"transfers {len(exact.transfers)} vs greedy {len(greedy.transfers)}"  # type: ignore[union-attr]
    )
    assert len(exact.transfers) <= len(greedy.transfers)  # type: ignore[union-attr]


def test_bench_crosschain_planner__exact_at_party_limit__time():
    """Worst case of the exact path: 12 parties (6 deficits, 6 sources), with and without a
    route-cost table."""
    rng = random.Random(12)
    rows = []
    for _ in range(20):
        d = {f"d{i}": rng.randint(1, 20) * 1000 for i in range(6)}
        s = {f"s{i}": rng.randint(1, 20) * 1000 for i in range(6)}
        gap = sum(d.values()) - sum(s.values())
        if gap > 0:
            s["s5"] += gap
        table = {("USDC", a, b): rng.choice([1, 2, 10]) for a in s for b in d}
        plain_ms, _ = _timed(lambda d=d, s=s: exact_match("USDC", d, s), 1)
        cost_ms, _ = _timed(
            lambda d=d, s=s, t=table: exact_match("USDC", d, s, table_route_cost(t)), 1
        )
        greedy_ms, _ = _timed(lambda d=d, s=s: greedy_match("USDC", d, s), 1)
        rows.append((plain_ms, cost_ms, greedy_ms))
    med = [statistics.median(c) for c in zip(*rows, strict=True)]
    worst = [max(c) for c in zip(*rows, strict=True)]
    print(
        f"\n[crosschain] exact planner at {EXACT_PARTY_LIMIT} parties, 20 instances: "
        f"median {med[0]:.1f} ms (max {worst[0]:.1f}), with route costs median "
        f"{med[1]:.1f} ms (max {worst[1]:.1f}); greedy median {med[2]:.3f} ms"
    )


def _random_instance(rng: random.Random) -> tuple[dict[str, int], dict[str, int]]:
    n = rng.randint(2, EXACT_PARTY_LIMIT)
    nd = rng.randint(1, n - 1)
    # amounts in whole thousands of USD: equal and complementary amounts happen, as with
    # operator-chosen round base balances
    deficits = {f"d{i}": rng.randint(1, 30) * 1000 * E18 for i in range(nd)}
    surpluses = {f"s{i}": rng.randint(1, 30) * 1000 * E18 for i in range(n - nd)}
    gap = sum(deficits.values()) - sum(surpluses.values())
    if gap > 0:
        surpluses[f"s{n - nd - 1}"] += gap + rng.choice([0, 0, 1000 * E18, 5000 * E18])
    return deficits, surpluses


def test_bench_crosschain_planner__10000_random_instances__transfers_vs_greedy():
    rng = random.Random(10_000)
    fewer = same = more = 0
    saved = exact_total = greedy_total = 0
    exact_s = greedy_s = 0.0
    for _ in range(10_000):
        deficits, surpluses = _random_instance(rng)
        try:
            t0 = time.perf_counter()
            g = len(greedy_match("USDC", deficits, surpluses))
            t1 = time.perf_counter()
            e = len(exact_match("USDC", deficits, surpluses))
            t2 = time.perf_counter()
        except InsufficientSurplusError:  # pragma: no cover - instances are topped up
            raise
        greedy_s += t1 - t0
        exact_s += t2 - t1
        exact_total += e
        greedy_total += g
        if e < g:
            fewer += 1
            saved += g - e
        elif e == g:
            same += 1
        else:
            more += 1
    print(
        f"\n[crosschain] 10,000 random instances (2-{EXACT_PARTY_LIMIT} parties): exact fewer "
        f"than greedy {fewer} ({fewer / 100:.1f}%), same {same}, more {more}; transfers "
        f"{exact_total} vs greedy {greedy_total} ({saved} saved, "
        f"{100 * (greedy_total - exact_total) / greedy_total:.1f}%); "
        f"time exact {exact_s:.2f} s vs greedy {greedy_s:.2f} s"
    )
    assert more == 0
