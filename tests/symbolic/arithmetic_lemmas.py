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

The scheduler's escrow (tests/symbolic/Scheduler.t.sol): after two bookings and one operation
the books satisfy four equations (``ESCROW``: what was prepaid is paid, refunded, withdrawn or
held; the balance is the credits, the scheduled runs' executor parts and the protocol's tally;
the executor's pay; the refunds and the protocol's part), proved by SchedulerEscrowSlowProofs.
SchedulerWithdrawalProofs proves, over any prior state, that each withdrawal moves exactly its
tally from the scheduler's balance to its recipient and changes no other book; the two
``*_withdrawal_keeps_escrow_books`` lemmas below prove that such a move keeps the four equations,
so they hold after any withdrawals that follow the operation.

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

# the scheduler's escrow books (names as in SchedulerEscrowSlowProofs._escrowBooksHold): prepaid,
# paid to the executor, owed to it (its credit), refunded, withdrawn by the protocol, held by the
# scheduler, the protocol's tally; Sx the scheduled runs' executor parts, Ex the executed runs'
# fees less their booked shares, Cx the canceled runs' fees plus every booked share
prepaid, paid, owed, refunded, withdrawn, held, pf, Sx, Ex, Cx = (
    Int(n)
    for n in ("prepaid", "paid", "owed", "refunded", "withdrawn", "held", "pf", "Sx", "Ex", "Cx")
)
paid2, owed2, withdrawn2, held2, pf2 = (
    Int(n) for n in ("paid2", "owed2", "withdrawn2", "held2", "pf2")
)


def escrow(paid, owed, withdrawn, held, pf):  # type: ignore[no-untyped-def]
    return And(
        prepaid == paid + refunded + withdrawn + held,
        held == owed + Sx + pf,
        paid + owed == Ex,
        refunded + withdrawn + pf == Cx,
    )


def withdrawal(tally, tally2, book, book2):  # type: ignore[no-untyped-def]
    """What a withdrawal does to the books (SchedulerWithdrawalProofs): ``tally`` leaves the
    scheduler's balance (``held`` to ``held2``) for its recipient, whose ``book`` grows by it,
    and is zeroed. The first of these is the premise each withdrawal lemma cannot do without."""
    return [held2 == held - tally, book2 == book + tally, tally2 == 0]


LEMMAS["protocol_withdrawal_keeps_escrow_books"] = (
    # withdrawProtocolFees: the protocol's tally goes to the treasury (withdrawn); the credit is
    # untouched
    [escrow(paid, owed, withdrawn, held, pf), *withdrawal(pf, pf2, withdrawn, withdrawn2)],
    escrow(paid, owed, withdrawn2, held2, pf2),
)
LEMMAS["credit_withdrawal_keeps_escrow_books"] = (
    # withdrawCredit: the executor's credit goes to it (paid); the protocol's tally is untouched
    [escrow(paid, owed, withdrawn, held, pf), *withdrawal(owed, owed2, paid, paid2)],
    escrow(paid2, owed2, withdrawn, held2, pf),
)

# the premise each lemma cannot do without (index into its premises)
CARRIED_BY = {
    "accumulate": 2,
    "conclude": 3,
    "twice_budget": 5,
    "protocol_withdrawal_keeps_escrow_books": 1,
    "credit_withdrawal_keeps_escrow_books": 1,
}


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
