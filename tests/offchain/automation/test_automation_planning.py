"""Pure decisions of the automation keepers (no chain)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keepers.automation.planning import (
    CANCELED,
    EXECUTED,
    PER_RUN_OVERHEAD,
    SCHEDULED,
    Batch,
    DueRun,
    ExecutorPolicy,
    FunderView,
    TaskView,
    batch_gas_bound,
    batch_pays,
    due_again,
    executor_pay,
    fees_cover,
    gas_needed_for,
    hold_run,
    lag_seconds,
    percentile,
    plan_batches,
    refine_batch,
    runway_alert,
    spend_cap_alert,
    split_not_due_on_chain,
    split_paying,
    stuck_reason,
)

GWEI = 10**9
POLICY = ExecutorPolicy(max_batch_runs=3, max_batch_gas=5_000_000, fee_margin_bps=12_000)


def run(i: int, ts: int = 100, effort: int = 400_000, fee: int = 2 * 10**15, status=SCHEDULED):
    return DueRun(i, ts, effort, fee, status)


def test_fees_cover__exact_margin__boundary_inclusive():
    assert fees_cover(120, 100, 1, 12_000)
    assert not fees_cover(119, 100, 1, 12_000)
    assert fees_cover(0, 0, GWEI, 12_000)
    with pytest.raises(ValueError, match="margin_bps"):
        fees_cover(1, 1, 1, -1)


def test_plan_batches__due_and_scheduled_only__oldest_first():
    runs = [
        run(5, ts=90),
        run(1, ts=100),
        run(2, ts=101),
        run(3, status=EXECUTED),
        run(4, status=CANCELED),
        run(1, ts=100),
    ]
    batches, unprofitable = plan_batches(runs, now=100, gas_price=GWEI, policy=POLICY)
    assert [b.ids for b in batches] == [[5, 1]]  # 2 not due yet, 3/4 not scheduled, 1 once
    assert unprofitable == []


def test_plan_batches__count_and_gas_limits__split_batches():
    runs = [run(i) for i in range(1, 8)]
    batches, _ = plan_batches(runs, 100, GWEI, POLICY)
    assert [b.ids for b in batches] == [[1, 2, 3], [4, 5, 6], [7]]
    big = [run(i, effort=2_000_000, fee=10**16) for i in range(1, 5)]
    batches, _ = plan_batches(big, 100, GWEI, POLICY)
    assert all(b.gas_bound <= POLICY.max_batch_gas for b in batches)
    assert [len(b.runs) for b in batches] == [2, 2]


def test_plan_batches__in_flight_runs__left_out():
    batches, _ = plan_batches([run(1), run(2)], 100, GWEI, POLICY, frozenset({1}))
    assert [b.ids for b in batches] == [[2]]


def test_plan_batches__fee_below_gas_times_margin__unprofitable():
    cheap = run(9, fee=1)
    batches, unprofitable = plan_batches([run(1), cheap], 100, 2 * GWEI, POLICY)
    assert [b.ids for b in batches] == [[1]] and unprofitable == [cheap]
    # at a high enough gas price nothing pays
    batches, unprofitable = plan_batches([run(1)], 100, 10_000 * GWEI, POLICY)
    assert batches == [] and [r.id for r in unprofitable] == [1]


def test_plan_batches__unbatched__one_run_per_batch():
    policy = ExecutorPolicy(unbatched=True)
    batches, _ = plan_batches([run(1), run(2)], 100, GWEI, policy)
    assert [b.ids for b in batches] == [[1], [2]]


def test_refine_batch__runs_taken_by_others__dropped():
    b = Batch((run(1), run(2), run(3)))
    assert refine_batch(b, {1: EXECUTED, 2: SCHEDULED}, 100).ids == [2, 3]
    assert refine_batch(b, {1: EXECUTED, 2: EXECUTED, 3: CANCELED}, 100).ids == []


def test_batch_pays__estimate__checked_against_total_fee():
    b = Batch((run(1, fee=10**15), run(2, fee=10**15)))
    assert batch_pays(b, 1_000_000, GWEI, 12_000)
    assert not batch_pays(b, 1_000_000, 2_000 * GWEI, 12_000)
    assert not batch_pays(Batch(()), 0, GWEI, 12_000)


def test_batch_gas_bound__last_run__needs_forwarding_headroom():
    one = [run(1, effort=630_000)]
    assert batch_gas_bound(one) > gas_needed_for(630_000) > 630_000 + 10_000
    assert batch_gas_bound([]) == 0


@given(
    st.lists(
        st.tuples(
            st.integers(1, 50),
            st.integers(0, 200),
            st.integers(300_000, 3_000_000),
            st.integers(0, 10**16),
            st.sampled_from([SCHEDULED, EXECUTED]),
        ),
        max_size=40,
    ),
    st.integers(0, 200),
    st.integers(1, 300 * GWEI),
)
def test_plan_batches__any_input__partition_of_due_profitable_runs(raw, now, gas_price):
    runs = [DueRun(*r) for r in raw]
    batches, unprofitable = plan_batches(runs, now, gas_price, POLICY)
    planned = [i for b in batches for i in b.ids]
    assert len(planned) == len(set(planned))  # no run twice
    due = {r.id for r in runs if r.status == SCHEDULED and r.timestamp <= now}
    assert set(planned) <= due and {r.id for r in unprofitable} <= due
    assert not set(planned) & {r.id for r in unprofitable}
    for b in batches:
        assert len(b.runs) <= POLICY.max_batch_runs
        assert len(b.runs) == 1 or b.gas_bound <= POLICY.max_batch_gas
        for r in b.runs:
            assert fees_cover(r.fee, PER_RUN_OVERHEAD, gas_price, POLICY.fee_margin_bps)


LOW_FEE_PER_EFFORT = 960_000_000  # 0.4 gwei base x Low 2 x margin 1.2 (the local profile)


def test_plan_batches__low_run_pays_its_real_gas__planned_though_worst_case_does_not():
    """A Low run of 1M effort prepaid 0.96 gwei per unit: at 1 gwei its worst case (its whole
    effort and the EIP-150 headroom) is above its pay, but the gas it really uses is not."""
    policy = ExecutorPolicy(protocol_share_bps=2_000)
    low = run(1, effort=1_000_000, fee=LOW_FEE_PER_EFFORT * 1_000_000)
    pay = executor_pay(low.fee, 2_000)
    assert not fees_cover(pay, gas_needed_for(low.effort), GWEI, policy.fee_margin_bps)
    batches, unprofitable = plan_batches([low], 100, GWEI, policy, measured={1: 330_000})
    assert [b.ids for b in batches] == [[1]] and unprofitable == []
    batches, unprofitable = plan_batches([low], 100, GWEI, policy, measured={1: 900_000})
    assert batches == [] and unprofitable == [low]


def test_executor_pay__protocol_share__kept_from_fee():
    assert executor_pay(10**15, 2_000) == 8 * 10**14
    assert executor_pay(7, 2_000) == 6  # the share rounds down: the executor's part up
    b = Batch((run(1, fee=10**15), run(2, fee=10**15)))
    assert b.pay(2_000) == 16 * 10**14
    assert batch_pays(b, 1_000_000, GWEI, 12_000, 2_000)
    assert not batch_pays(b, 1_000_000, 1_400 * GWEI, 12_000, 2_000)  # 1.68e15 > 1.6e15


def test_split_paying__batch_that_does_not_pay__members_judged_alone():
    policy = ExecutorPolicy(protocol_share_bps=2_000)
    good, bad, unknown = run(1, fee=10**15), run(2, fee=10**13), run(3, fee=10**13)
    kept, out = split_paying(Batch((good, bad, unknown)), {1: 300_000, 2: 300_000}, GWEI, policy)
    assert kept.ids == [1, 3]  # a run the split could not measure is kept (the batch re-checks)
    (u,) = out
    assert (u.run, u.pay, u.gas, u.cost) == (bad, 8 * 10**12, 300_000, 300_000 * GWEI)
    assert u.gap == 300_000 * GWEI * 12 // 10 - 8 * 10**12


def test_split_not_due_on_chain__clock_ahead_of_chain__late_member_waits_rest_go():
    b = Batch((run(1, ts=90), run(2, ts=100), run(3, ts=95)))
    go, waiting = split_not_due_on_chain(b, chain_time=95)
    assert go.ids == [1, 3] and [r.id for r in waiting] == [2]


def test_lag_and_percentile__nearest_rank():
    assert lag_seconds(100, 101) == 1 and lag_seconds(100, 99) == 0
    vals = list(range(1, 101))
    assert percentile(vals, 50) == 50 and percentile(vals, 95) == 95
    assert percentile(vals, 100) == 100 and percentile([], 50) == 0.0
    assert percentile([3], 1) == 3
    with pytest.raises(ValueError):
        percentile(vals, 101)


def test_stuck_reason__each_case():
    ok = TaskView("0xa", 7, 200, SCHEDULED)
    assert stuck_reason(ok, 100) is None
    assert stuck_reason(TaskView("0xa", 7, 50, SCHEDULED), 100) is None  # overdue: executor's
    assert stuck_reason(TaskView("0xa", 0, 0, 0), 100) == "nothing-booked"
    assert stuck_reason(TaskView("0xa", 7, 50, EXECUTED), 100) == "stale-receipt"
    assert stuck_reason(TaskView("0xa", 7, 150, EXECUTED), 100) is None  # not yet its time
    assert stuck_reason(TaskView("0xa", 0, 0, 0, destroyed=True), 100) is None


def test_runway_alert__critical_before_warning():
    f = FunderView("0xf", balance=10, runway=1)
    alert = runway_alert(f, 3, next_booking_fee=11)
    assert alert is not None and alert.level == "critical" and alert.code == "funder_empty"
    alert = runway_alert(f, 3, next_booking_fee=10)
    assert alert is not None and alert.code == "low_runway"
    assert runway_alert(FunderView("0xf", 10**18, 2**256 - 1), 3, 10) is None
    assert runway_alert(FunderView("0xf", 0, 0), 3, 0) is not None  # no fee known: runway


def test_due_again__cadence():
    assert due_again(None, 5, 60)
    assert not due_again(0, 59, 60) and due_again(0, 60, 60)


def test_spend_cap_alert__below_next_fee__critical_else_none():
    alert = spend_cap_alert("0xf", available=9, cap=100, next_booking_fee=10)
    assert alert is not None and (alert.level, alert.code) == ("critical", "spend_cap_reached")
    assert spend_cap_alert("0xf", available=10, cap=100, next_booking_fee=10) is None
    assert spend_cap_alert("0xf", available=0, cap=100, next_booking_fee=0) is None


def test_hold_run__retry_period__one_per_period_from_the_hold_or_the_last_retry():
    day = 86_400
    assert hold_run(1_000, None, 1_000 + 10 * day, 0)  # 0: never while held
    assert hold_run(1_000, None, 1_000 + day - 1, day)
    assert not hold_run(1_000, None, 1_000 + day, day)  # a day after the hold began
    assert hold_run(1_000, 1_000 + day, 1_000 + 2 * day - 1, day)  # then a day after that
    assert not hold_run(1_000, 1_000 + day, 1_000 + 2 * day, day)


@given(
    st.integers(0, 10**6),
    st.integers(1, 10**5),
    st.lists(st.integers(0, 10**5), min_size=1, max_size=200),
)
def test_hold_run__any_ticks__at_most_one_run_per_period(since, retry_s, gaps):
    """Whatever the tick times, the runs let through while held are at least retry_s apart
    (the trust table's "at most one per KEEPER_EXECUTOR_HELD_RETRY_S")."""
    now, last, sent = since, None, []
    for gap in gaps:
        now += gap
        if not hold_run(since, last, now, retry_s):
            last = now
            sent.append(now)
    assert all(b - a >= retry_s for a, b in zip([since, *sent], sent, strict=False))
