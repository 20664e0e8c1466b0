"""Cross-chain planner benchmark (`make bench`): planner time (p50/p95) and transfer count
at 8, 12, 16 and 20 parties per asset, each printed next to the rulebook's greedy matching
measured in the same run, and next to a HiGHS MILP (fixed-charge formulation, issue 15) at
12-24 parties with and without route gaps. No timed assertions; the only assertions are
correctness ones (never more transfers than greedy or than the MILP's proved optimum, every
plan valid)."""

import random
import statistics
import time
from collections import defaultdict
from decimal import Decimal

import pytest

from keepers.crosschain.planning import (
    EXACT_WORK,
    Holding,
    NoRouteError,
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


# --------------------------------------------------------------------------- MILP comparison


def _milp_min_transfers(
    deficits: dict[str, int], surpluses: dict[str, int], allowed: set[tuple[str, str]] | None
) -> tuple[str, int | None]:
    """Fewest transfers as a fixed-charge MILP solved by HiGHS (the formulation issue 15
    suggested): binary u per allowed (source, deficit) pair, amount x <= min(S, D) * u,
    every deficit filled, no source over its surplus, minimise sum u. Amounts scaled to at
    most 1e4 (floating point: a reference count, not a plan). ("optimal", count),
    ("infeasible", None) or ("unproved", None) after MILP_SECONDS."""
    highspy = pytest.importorskip("highspy")
    import numpy as np

    ds, ss = sorted(deficits), sorted(surpluses)
    pairs = [(s, d) for d in ds for s in ss if allowed is None or (s, d) in allowed]
    n = len(pairs)
    top = max([*deficits.values(), *surpluses.values()])
    scale = max(top / 1e4, 1.0)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.0)
    h.setOptionValue("mip_abs_gap", 0.5)
    h.setOptionValue("time_limit", MILP_SECONDS)
    big_m = [min(deficits[d], surpluses[s]) / scale for s, d in pairs]
    h.addVars(2 * n, np.zeros(2 * n), np.array(big_m + [1.0] * n))
    h.changeColsCost(n, np.arange(n, 2 * n, dtype=np.int32), np.ones(n))
    h.changeColsIntegrality(
        n, np.arange(n, 2 * n, dtype=np.int32), np.array([highspy.HighsVarType.kInteger] * n)
    )
    inf = highspy.kHighsInf
    for d in ds:
        idx = np.array([e for e, (_, d2) in enumerate(pairs) if d2 == d], dtype=np.int32)
        if len(idx) == 0:
            return "infeasible", None
        h.addRow(deficits[d] / scale, deficits[d] / scale, len(idx), idx, np.ones(len(idx)))
        h.addRow(1.0, inf, len(idx), idx + n, np.ones(len(idx)))
    for s in ss:
        idx = np.array([e for e, (s2, _) in enumerate(pairs) if s2 == s], dtype=np.int32)
        if len(idx):
            h.addRow(-inf, surpluses[s] / scale, len(idx), idx, np.ones(len(idx)))
    for e in range(n):
        h.addRow(-inf, 0.0, 2, np.array([e, n + e], dtype=np.int32), np.array([1.0, -big_m[e]]))
    h.run()
    status = h.getModelStatus()
    if status == highspy.HighsModelStatus.kInfeasible:
        return "infeasible", None
    if status != highspy.HighsModelStatus.kOptimal:
        return "unproved", None
    return "optimal", round(h.getInfo().objective_function_value)


MILP_SECONDS = 3.0
MILP_INSTANCES = 20  # per row: the MILP needs up to MILP_SECONDS each


def _cpu_wall_ms(fn) -> tuple[float, float, object]:
    c0, w0 = time.process_time(), time.perf_counter()
    try:
        out = fn()
    except NoRouteError as err:
        out = err
    return (time.process_time() - c0) * 1000, (time.perf_counter() - w0) * 1000, out


def test_bench_crosschain_planner__search_vs_milp__12_to_24_parties():
    """The planner's search (work budget EXACT_WORK, heuristic beyond) next to the HiGHS MILP
    on the same seeded instances, all routes open and a fifth of the pairs unroutable (with
    per-leg costs for the planner). CPU time (time.process_time) and wall time: the machine
    is shared. The MILP's count, where it proves it, is the reference optimum for the
    planner's exactness (an independent method)."""
    rows = []
    for gaps in (False, True):
        for n in (12, 16, 20, 24):
            rng = random.Random(1000 * n + gaps)
            cpu_s, wall_s, cpu_m, wall_m = [], [], [], []
            ref = exact = proved = milp_proved = 0
            for _ in range(MILP_INSTANCES):
                deficits, surpluses = _instance(rng, n, wei=rng.random() < 0.5)
                table = None
                if gaps:
                    table = {
                        ("USDC", s, d): rng.choice([1, 2, 10])
                        for s in surpluses
                        for d in deficits
                        if rng.random() > 0.2
                    }
                rc = table_route_cost(table) if table is not None else None
                c, w, plan = _cpu_wall_ms(
                    lambda d=deficits, s=surpluses, r=rc: exact_match("USDC", d, s, r)
                )
                cpu_s.append(c)
                wall_s.append(w)
                search = _Search("USDC", deficits, surpluses, rc, {}, EXACT_WORK)
                try:
                    proved += search.solve() is not None
                except NoRouteError:
                    proved += 1
                allowed = None if table is None else {(s, d) for _, s, d in table}
                c, w, (status, count) = _cpu_wall_ms(
                    lambda d=deficits, s=surpluses, a=allowed: _milp_min_transfers(d, s, a)
                )
                cpu_m.append(c)
                wall_m.append(w)
                if status == "unproved":
                    continue
                milp_proved += 1
                ref += 1
                if status == "infeasible":
                    exact += isinstance(plan, NoRouteError)
                else:
                    assert not isinstance(plan, Exception)
                    _check(deficits, surpluses, plan)
                    assert len(plan) >= count  # type: ignore[arg-type]
                    exact += len(plan) == count  # type: ignore[arg-type]
            rows.append(
                f"  {'gaps' if gaps else 'full'} {n:2d} parties: planner cpu p50/p95 "
                f"{statistics.median(cpu_s):.1f}/{_pct(cpu_s, 0.95):.1f} ms (wall "
                f"{statistics.median(wall_s):.1f}/{_pct(wall_s, 0.95):.1f}), proved "
                f"{proved}/{MILP_INSTANCES}, equals MILP optimum {exact}/{ref}; MILP cpu "
                f"p50/p95 {statistics.median(cpu_m):.1f}/{_pct(cpu_m, 0.95):.1f} ms (wall "
                f"{statistics.median(wall_m):.1f}/{_pct(wall_m, 0.95):.1f}), proved "
                f"{milp_proved}/{MILP_INSTANCES} within {MILP_SECONDS} s"
            )
    print(
        f"\n[crosschain] search vs HiGHS MILP, {MILP_INSTANCES} seeded instances per row "
        "(half wei, half whole k$ amounts):\n" + "\n".join(rows)
    )
