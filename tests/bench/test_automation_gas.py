"""Benchmark: automation gas against Chainlink Automation v2.3's two overhead figures (same
units): the 98,200 its registry uses to estimate a conditional upkeep's maximum payment, and what
its billing adds to the measured gas, 51,200 per transaction + 14,200 per upkeep (65,400 for one
upkeep alone; 51,200 / n + 14,200 each when n upkeeps share a transaction)."""

from __future__ import annotations

import pytest

from tests.support.autogas import (
    CHAINLINK_V23_BILLED_FIXED,
    CHAINLINK_V23_BILLED_PER_UPKEEP,
    CHAINLINK_V23_CONDITIONAL_OVERHEAD,
    measure_rebalancer,
    measure_scheduler,
    measure_supervisor,
)


@pytest.mark.bench
def test_bench__automation_gas(project, chain, accounts):
    s = measure_scheduler(project, chain, accounts)
    r = measure_rebalancer(project, chain, accounts)
    v = measure_supervisor(project, chain, accounts, (10, 1_000))
    anchor = CHAINLINK_V23_CONDITIONAL_OVERHEAD
    billed = CHAINLINK_V23_BILLED_FIXED + CHAINLINK_V23_BILLED_PER_UPKEEP
    rows = [
        # issue 68's goal: 20,000, reached with the executor paid by credit and the protocol's
        # share split at booking (docs/development/performance.md, "The scheduler's execute")
        ("execute overhead, execution gas (goal <= 20,000)", s["execute_overhead_execution"]),
        (
            "execute overhead incl. 21,000 intrinsic + calldata",
            s["execute_overhead_with_intrinsic"],
        ),
        ("  Chainlink v2.3 max-payment estimate overhead (98,200)", anchor),
        ("  Chainlink v2.3 billed overhead, one upkeep (51,200 + 14,200)", billed),
        ("handler's own execution gas in that run", s["handler_own_execution_gas"]),
        ("withdrawCredit (the executor collects its credit)", s["scheduler_withdraw_credit"]),
        (
            "execute right after a withdrawal (zeroed credit written)",
            s["scheduler_execute_after_withdraw"],
        ),
        ("schedule (steady state; the share tallied at booking)", s["scheduler_schedule"]),
        (
            "no-op fixReschedule, execution gas (target <= 5,000)",
            r["rebalancer_fix_reschedule_noop_execution"],
        ),
        (
            "supervisor marginal gas per healthy item (target <= 8,000)",
            v["supervisor_marginal_per_item"],
        ),
        ("supervisor tick over 1,000 healthy items (target < 10M)", v["supervisor_tick_1000"]),
        ("supervisor tick over 10 healthy items", v["supervisor_tick_10"]),
        ("rebalancer run: rebalance + book next", r["rebalancer_run_rebalance_and_rebook"]),
        ("createPaidRebalancer", r["registry_create_paid_rebalancer"]),
    ]
    print()
    for name, gas in rows:
        print(f"{name:<62} {gas:>10,}")
    ours = s["execute_overhead_with_intrinsic"]
    print(f"{'execute overhead (incl. intrinsic) / Chainlink estimate':<62} {ours / anchor:>10.2f}")
    print(f"{'execute overhead (incl. intrinsic) / Chainlink billed':<62} {ours / billed:>10.2f}")
    assert v["supervisor_tick_1000"] < 10_000_000
