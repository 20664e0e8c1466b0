"""Benchmark: automation gas against Chainlink Automation's published overhead (same units)."""

from __future__ import annotations

import pytest

from tests.support.autogas import (
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
    rows = [
        ("execute overhead, execution gas (target <= 35,000)", s["execute_overhead_execution"]),
        (
            "execute overhead incl. 21,000 intrinsic + calldata",
            s["execute_overhead_with_intrinsic"],
        ),
        ("  anchor: Chainlink Automation v2.3 conditional overhead", anchor),
        ("handler's own execution gas in that run", s["handler_own_execution_gas"]),
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
    ratio = s["execute_overhead_with_intrinsic"] / anchor
    print(f"{'execute overhead (incl. intrinsic) / Chainlink anchor':<62} {ratio:>10.2f}")
    assert v["supervisor_tick_1000"] < 10_000_000
