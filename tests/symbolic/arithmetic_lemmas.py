"""Arithmetic the symbolic proofs rest on, proved over unbounded integers with z3 (the z3-solver
pinned beside halmos). These facts name no contract code: the halmos proofs prove the code's
part (tests/symbolic/*.t.sol) and this file the sums that join them, where bit-vector solvers
time out on the products.

The leaky bucket's 2x bound (tests/symbolic/WindowBudget.t.sol, LeakyBudgetProofs): between two
uses `e` seconds apart the bucket lets out `d` with `d * W <= B * e`
(`check_drain_at_most_budget_rate`). Over a span of at most `W` seconds the gaps add up to the
span, so (by `accumulate`, once per use) the drains add up to `D` with `D * W <= B * span`, and
(by `conclude`) `D <= B`: with the invariant `sum <= held + D` (`check_leaky_bucket_span_step`)
and `held <= B`, the span books at most `2 * B`.

Each lemma is also checked to fail without the premise that carries it, so that it cannot pass
by proving nothing (a premise that is always false, say).

usage: python tests/symbolic/arithmetic_lemmas.py    (prove.sh runs it)
"""

from __future__ import annotations

import sys
import time

from z3 import And, Int, Not, Solver, sat, unsat

D, d, T, e, B, W, S, H = (Int(n) for n in ("D", "d", "T", "e", "B", "W", "S", "H"))
NATURAL = And(D >= 0, d >= 0, T >= 0, e >= 0, B >= 0, W >= 0, S >= 0, H >= 0)

LEMMAS = {
    # the drains of two stretches add up within the rate of the two stretches together
    "accumulate": (
        [NATURAL, D * W <= B * T, d * W <= B * e],
        (D + d) * W <= B * (T + e),
    ),
    # drains within the rate over a span of at most one window add up to at most the budget
    "conclude": (
        [NATURAL, W > 0, D * W <= B * T, T <= W],
        D <= B,
    ),
    # with the invariant and the bucket within its budget: at most twice the budget
    "twice_budget": (
        [NATURAL, W > 0, S <= H + D, H <= B, D * W <= B * T, T <= W],
        S <= 2 * B,
    ),
}

# the premise each lemma cannot do without (index into its premises)
CARRIED_BY = {"accumulate": 2, "conclude": 3, "twice_budget": 5}


def counterexample(premises: list, goal):
    """z3's answer to "premises hold and goal does not": unsat proves the lemma."""
    s = Solver()
    s.set("timeout", 60_000)
    s.add(And(*premises), Not(goal))
    return s.check()


def main() -> int:
    failed = 0
    for name, (premises, goal) in LEMMAS.items():
        t0 = time.monotonic()
        ok = counterexample(premises, goal) == unsat
        i = CARRIED_BY[name]
        needed = counterexample(premises[:i] + premises[i + 1 :], goal) == sat
        secs = time.monotonic() - t0
        if ok and needed:
            print(f"[PASS] lemma {name} (z3, integers; fails without premise {i}) ({secs:.2f}s)")
        else:
            failed += 1
            why = "not proved" if not ok else f"holds without premise {i}: it may prove nothing"
            print(f"[FAIL] lemma {name}: {why}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
