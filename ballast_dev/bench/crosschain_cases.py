"""Cross-chain planner cases and independent optima, shared by the planner's exactness tests
(tests/offchain/crosschain/test_planning_exact.py) and its bench
(tests/bench/test_crosschain_planner.py). Dev only: numpy and highspy come with the [dev]
extra, never with the runtime.

- `instance`: n parties of one asset (deficits and surpluses), amounts to the wei or in whole
  thousands of USD; `route_table`: a route table with a share of the pairs missing.
- `subset_dp_min_transfers`: the fewest transfers with every route open, by a dynamic
  programme over all 2^n subsets (numpy), written apart from the planner: parties minus the
  most groups of net >= 0 that partition them.
- `milp_min_transfers`: the fewest transfers over a route table, as a fixed-charge MILP
  solved by HiGHS (the formulation issue 15 suggested).
- `baseline_planning`: the planner module as it was at a git revision (the bench's baseline,
  measured in the same run)."""

from __future__ import annotations

import importlib.util
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType

E18 = 10**18
BASELINE_REVISION = "62a6ea9"
"""main before the layered DP (issue 15 (c) at 20 parties): the search with a work budget
and the chain over at most 1,024 listed subsets."""


def instance(rng: random.Random, n: int, wei: bool) -> tuple[dict[str, int], dict[str, int]]:
    """n parties of one asset. `wei`: amounts to the wei (18-decimal balances as read on
    chain); else whole thousands of USD (operator-chosen round bases: equal and complementary
    amounts happen, the hard case for an exact search). When the deficits exceed the
    surpluses the last source is topped up, to the exact total half of the time."""
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


def route_table(
    rng: random.Random,
    deficits: dict[str, int],
    surpluses: dict[str, int],
    missing: float = 0.2,
    asset: str = "USDC",
) -> dict[tuple[str, str, str], int]:
    """(asset, source, dest) -> cost 1, 2 or 10, with a share `missing` of the pairs absent."""
    return {
        (asset, s, d): rng.choice([1, 2, 10])
        for s in surpluses
        for d in deficits
        if rng.random() > missing
    }


def subset_dp_min_transfers(deficits: dict[str, int], surpluses: dict[str, int]) -> int:
    """Fewest transfers with every route open: a plan of fewest legs is a forest whose trees
    each hold at least what their deficits need, so the answer is n minus the most groups of
    net >= 0 (surplus minus deficit) that partition the n parties. best >= b+1 on a set M iff
    some proper subset C with best >= b has net(C) <= net(M) (the rest is a group of net >=
    0): one numpy pass over all 2^n subsets per b (min-net over subsets). Amounts are
    divided by their greatest common divisor first; sums beyond int64 are replaced by their
    ranks (only their order matters)."""
    import math

    import numpy as np

    vals = [-d for d in deficits.values()] + list(surpluses.values())
    g = math.gcd(*vals)
    vals = [v // g for v in vals]
    n = len(vals)
    if sum(abs(v) for v in vals) < 2**62:
        net = _subset_sums(np, vals)
    else:  # amounts to the wei: exact sums as (high, low) halves, replaced by their ranks
        if sum(abs(v >> 32) for v in vals) >= 2**62:
            raise ValueError("amounts too large for the oracle")
        high = _subset_sums(np, [v >> 32 for v in vals])
        low = _subset_sums(np, [v & (2**32 - 1) for v in vals])
        high += low >> 32  # carry: net = high * 2^32 + low with 0 <= low < 2^32
        low &= 2**32 - 1
        order = np.lexsort((low, high))
        step = (np.diff(high[order]) != 0) | (np.diff(low[order]) != 0)
        ranks = np.empty(1 << n, dtype=np.int64)
        ranks[order] = np.concatenate(([0], np.cumsum(step)))
        net = ranks - ranks[0]  # the empty set's net, 0, keeps rank 0: signs are kept
    inf = np.iinfo(np.int64).max
    reach = net >= 0  # best >= 1: the set alone is a group
    reach[0] = False
    best = 1
    while True:
        low = np.where(reach, net, inf)  # min net over subsets holding b groups
        for b in range(n):
            v = low.reshape(-1, 2, 1 << b)
            np.minimum(v[:, 1, :], v[:, 0, :], out=v[:, 1, :])
        proper = np.full(1 << n, inf, dtype=np.int64)  # ... over proper subsets
        for b in range(n):
            v, p = low.reshape(-1, 2, 1 << b), proper.reshape(-1, 2, 1 << b)
            np.minimum(p[:, 1, :], v[:, 0, :], out=p[:, 1, :])
        reach = proper <= net
        if not reach[-1]:
            return n - best
        best += 1


def _subset_sums(np, vals: list[int]):
    out = np.zeros(1 << len(vals), dtype=np.int64)
    for b, v in enumerate(vals):
        out[1 << b : 1 << (b + 1)] = out[: 1 << b] + v
    return out


def milp_min_transfers(
    deficits: dict[str, int],
    surpluses: dict[str, int],
    allowed: set[tuple[str, str]] | None,
    seconds: float = 3.0,
) -> tuple[str, int | None]:
    """Fewest transfers as a fixed-charge MILP solved by HiGHS: binary u per allowed (source,
    deficit) pair, amount x <= min(S, D) * u, every deficit filled, no source over its
    surplus, minimise sum u. Amounts scaled to at most 1e4 (floating point: a reference
    count, not a plan). ("optimal", count), ("infeasible", None) or ("unproved", None)
    after `seconds`."""
    import highspy
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
    h.setOptionValue("time_limit", seconds)
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


def baseline_planning(revision: str = BASELINE_REVISION) -> ModuleType | None:
    """keepers/crosschain/planning.py as it was at `revision`, imported under its own name
    (its imports resolve against the current tree: only keepers.core.errors); None without
    git or that revision."""
    root = Path(__file__).resolve().parents[2]
    try:
        source = subprocess.run(
            ["git", "show", f"{revision}:keepers/crosschain/planning.py"],
            cwd=root,
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    name = f"_planning_{revision}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    exec(compile(source, f"{revision}:keepers/crosschain/planning.py", "exec"), module.__dict__)
    return module
