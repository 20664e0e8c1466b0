"""Rebalancer: recurring runs, failure isolation, fixReschedule, config swap, destroy."""

from __future__ import annotations

import ape
import pytest

from tests.support.autolib import (
    BASE_FEE,
    CANCELED,
    EFFORT,
    EXECUTED,
    FUNDER_CAP,
    INTERVAL,
    MARGIN_BPS,
    SCHEDULED,
    advance,
    config,
    events,
    now,
    selector,
)

RUN_FEE = BASE_FEE * EFFORT * 5 * MARGIN_BPS // 10_000  # Medium, no data
ALREADY_BOOKED, BOOKED, FAILED, DESTROYED = range(4)


def run_booked(scheduler, rebalancer, keeper, chain):
    run_id, ts = rebalancer.bookedRun()
    advance(chain, max(ts - now(chain), 0))
    return scheduler.execute(run_id, sender=keeper)


def snapshot(rebalancer, scheduler, funder) -> tuple:
    return (
        tuple(rebalancer.bookedRun()),
        rebalancer.lastRunAt(),
        funder.balance,
        funder.allowance(rebalancer),
        scheduler.balance,
        scheduler.handlerRunCount(rebalancer),
        rebalancer.balance,
    )


def test_create__first_fix__books_run_paid_by_funder(chain, rebalancer, scheduler, funder):
    run_id, ts = rebalancer.bookedRun()
    assert run_id == 1 and scheduler.status(run_id) == SCHEDULED
    assert ts == scheduler.getRun(run_id).timestamp
    assert scheduler.getRun(run_id).fee == RUN_FEE
    assert scheduler.balance == RUN_FEE and rebalancer.balance == 0
    assert funder.balance == 10**18 - RUN_FEE


def test_run__due__rebalances_and_books_next_at_last_plus_interval(
    chain, rebalancer, scheduler, position, keeper
):
    first_id, first_ts = rebalancer.bookedRun()
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert position.calls() == 1 and not position.lastForce()
    assert not events(tx, "Rebalanced")[0].moved
    next_id, next_ts = rebalancer.bookedRun()
    assert next_id != first_id and next_ts == first_ts + INTERVAL
    assert rebalancer.lastRunAt() == first_ts
    assert scheduler.status(next_id) == SCHEDULED


def test_run__late_keeper__next_run_at_least_now_plus_one(chain, rebalancer, scheduler, keeper):
    _, ts = rebalancer.bookedRun()
    advance(chain, ts - now(chain) + 3 * INTERVAL)
    scheduler.execute(rebalancer.bookedRun()[0], sender=keeper)
    assert rebalancer.bookedRun()[1] >= now(chain) + 1


def test_run__force_config__passes_force(
    chain, make_rebalancer, scheduler, position, alice, keeper
):
    r = make_rebalancer(force_rebalance=True)
    r.fixReschedule(sender=alice)
    tx = run_booked(scheduler, r, keeper, chain)
    assert position.lastForce() and events(tx, "Rebalanced")[0].moved


@pytest.mark.parametrize("mode", [1, 2, 3])  # Revert, BurnGas, ReturnBomb
def test_run__failing_position__emits_and_keeps_schedule(
    chain, rebalancer, scheduler, position, keeper, mode
):
    position.setMode(mode, sender=keeper)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "RunExecuted")[0].success
    [failed] = events(tx, "RebalanceFailed")
    assert len(failed.reason) <= 256
    assert scheduler.status(rebalancer.bookedRun()[0]) == SCHEDULED


def test_run__failed__retry_booked_after_a_24th_of_the_interval__then_the_cadence_resumes(
    chain, rebalancer, scheduler, position, keeper
):
    """Issue 25: a run that could not move (the fund's RebalanceHeld when every pool is past
    its bound, or any failure) is retried after interval / RETRY_DIVISOR, not a whole interval
    later; once the position moves again, the next run is a full interval after the retry."""
    assert rebalancer.RETRY_DIVISOR() == 24
    position.setMode(1, sender=keeper)  # Revert
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "RebalanceFailed")
    retry_id, retry_ts = rebalancer.bookedRun()
    assert retry_ts == tx.timestamp + INTERVAL // 24
    position.setMode(0, sender=keeper)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "Rebalanced") and position.calls() == 1
    assert rebalancer.lastRunAt() == retry_ts
    assert rebalancer.bookedRun()[1] == retry_ts + INTERVAL


def _fail_for_three_intervals(
    chain, scheduler, rebalancer, position, keeper, funder, mode, reason=None
):
    """The position fails every run in TestPosition mode `mode` while the booked runs are
    executed for three intervals: every run fails (with the error `reason`, when given) and the
    funder pays one booking per run. Answers each run's delay to the retry it booked."""
    position.setMode(mode, sender=keeper)
    start = now(chain)
    before = funder.balance
    delays = []
    while now(chain) < start + 3 * INTERVAL:
        tx = run_booked(scheduler, rebalancer, keeper, chain)
        failed = events(tx, "RebalanceFailed")
        assert failed
        if reason is not None:
            assert failed[0].reason[:4] == selector(reason)
        delays.append(rebalancer.bookedRun()[1] - tx.timestamp)
    assert before - funder.balance == len(delays) * RUN_FEE  # one booking per run
    return delays


def test_run__failing_every_time__retries_back_off_to_the_interval__a_working_run_resets(
    chain, rebalancer, scheduler, position, keeper, funder
):
    """What a position that always fails costs the funder (a stale feed or a pause that lasts,
    or an attacker who moves the pools before each run): the first retry after interval / 24,
    each next one twice as long, up to the interval; never a loop within a block. Over three
    intervals of failure that is 7 runs, where one retry per interval / 24 made 72; the first
    run that works resets the back-off, and the next failure is retried after interval / 24."""
    step = INTERVAL // 24
    delays = _fail_for_three_intervals(
        chain, scheduler, rebalancer, position, keeper, funder, 1
    )  # Revert
    assert delays == [step, 2 * step, 4 * step, 8 * step, 16 * step, INTERVAL, INTERVAL]

    position.setMode(0, sender=keeper)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "Rebalanced")
    assert rebalancer.bookedRun()[1] == rebalancer.lastRunAt() + INTERVAL
    position.setMode(1, sender=keeper)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert rebalancer.bookedRun()[1] - tx.timestamp == step  # reset by the run that worked


def test_run__held_by_the_pools__retried_at_the_short_delay_each_time__no_back_off(
    chain, rebalancer, scheduler, position, keeper, alice
):
    """RebalanceHeld from a target its owner trusts (the fund's controller: the pools stood past
    the bound when the run was executed) does not back off: anyone may execute a due run right
    after moving the pools, and backing off would let five such moves push the fund's rebalance
    an interval away. Each held run costs its mover a round trip through the pools and is
    retried interval / 24 later; a held run between other failures neither resets their
    back-off nor adds to it."""
    step = INTERVAL // 24
    held = 4  # TestPosition.Mode.Held: reverts RebalanceHeld()
    tx = rebalancer.setTrustedTarget(True, sender=alice)
    assert events(tx, "TrustedTargetSet")[0].trusted and rebalancer.trustedTarget()

    def fail_with(mode):
        position.setMode(mode, sender=keeper)
        tx = run_booked(scheduler, rebalancer, keeper, chain)
        [failed] = events(tx, "RebalanceFailed")
        return rebalancer.bookedRun()[1] - tx.timestamp, failed.reason[:4]

    delays = [fail_with(held) for _ in range(6)]
    assert delays == [(step, selector("RebalanceHeld()"))] * 6
    mixed = [fail_with(mode)[0] for mode in (1, 1, held, 1, held, 1)]
    assert mixed == [step, 2 * step, step, 4 * step, step, 8 * step]


def test_retry_rule__untrusted_target_reverting_rebalance_held__backs_off(
    chain, rebalancer, scheduler, position, keeper, funder
):
    """Third review (low): the Rebalancer believed any target's RebalanceHeld, so an
    allow-listed paid position reverting it was retried every interval / 24 (24 paid runs a day,
    the fees to whoever executes: its owner). A target nobody flagged is not believed: its
    RebalanceHeld backs off like any failure, 7 runs over three intervals instead of 72."""
    assert not rebalancer.trustedTarget()
    step = INTERVAL // 24
    delays = _fail_for_three_intervals(
        chain, scheduler, rebalancer, position, keeper, funder, 4, reason="RebalanceHeld()"
    )
    assert delays == [step, 2 * step, 4 * step, 8 * step, 16 * step, INTERVAL, INTERVAL]


def test_retry_rule__moved_off_target__trusted_retries_soon_untrusted_waits_the_interval(
    chain, rebalancer, scheduler, position, keeper, alice
):
    """Third review (info): a run whose pool legs were cut while another leg filled counted as
    done, and the next run was a whole interval away. The fund's controller now returns a second
    word (cut and still out of band): from a trusted target the next run is booked at
    interval / 24, without backing off (each such run moved something); from any other target
    the word is ignored and the cadence is the interval."""
    position.setMode(5, sender=keeper)  # MovedOffTarget: returns (true, true)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "Rebalanced")[0].moved
    assert rebalancer.bookedRun()[1] == rebalancer.lastRunAt() + INTERVAL
    rebalancer.setTrustedTarget(True, sender=alice)
    step = INTERVAL // 24
    for _ in range(3):
        tx = run_booked(scheduler, rebalancer, keeper, chain)
        assert events(tx, "Rebalanced")[0].moved
        assert rebalancer.bookedRun()[1] - tx.timestamp == step
    position.setMode(0, sender=keeper)  # a plain run: the cadence resumes
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert rebalancer.bookedRun()[1] == rebalancer.lastRunAt() + INTERVAL


def test_set_trusted_target__not_owner__reverts(rebalancer, attacker, keeper):
    """Who else can make a target believed? Nobody but the Rebalancer's owner: not the
    position's owner, not an executor, not an attacker."""
    for outsider in (attacker, keeper):
        with ape.reverts(rebalancer.OwnableUnauthorizedAccount, account=outsider.address):
            rebalancer.setTrustedTarget(True, sender=outsider)
    assert not rebalancer.trustedTarget()


def test_run__failing__fix_reschedule_after_a_failed_booking__back_off_reset(
    chain, rebalancer, scheduler, position, keeper, funder, gov
):
    """A retry whose booking failed (the funder refused: here its allowance for this rebalancer
    is spent) leaves nothing booked; the fix that books it again books a normal run, and the
    back-off starts over."""
    position.setMode(1, sender=keeper)
    for _ in range(3):
        run_booked(scheduler, rebalancer, keeper, chain)
    funder.approveSpender(rebalancer, 0, sender=gov)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "FailedRecurringSchedule") and rebalancer.bookedRun()[0] == 0
    funder.approveSpender(rebalancer, 10**18, sender=gov)
    rebalancer.fixReschedule(sender=keeper)
    _, ts = rebalancer.bookedRun()
    assert ts == max(rebalancer.lastRunAt() + INTERVAL, now(chain) + 1)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert rebalancer.bookedRun()[1] - tx.timestamp == INTERVAL // 24


def test_least_privilege__unauthorised_caller__position_reverts(
    chain, make_rebalancer, scheduler, position, alice, attacker, keeper
):
    with ape.reverts(position.NotAuthorisedRebalancer, caller=attacker.address):
        position.rebalance(True, sender=attacker)
    r = make_rebalancer()
    r.fixReschedule(sender=alice)
    position.setRebalancer(r, False, sender=alice)
    tx = run_booked(scheduler, r, keeper, chain)
    [failed] = events(tx, "RebalanceFailed")
    assert failed.reason[:4] == selector("NotAuthorisedRebalancer(address)")
    assert position.calls() == 0


def test_execute_scheduled__not_scheduler__reverts(rebalancer, attacker):
    with ape.reverts(rebalancer.NotScheduler, caller=attacker.address):
        rebalancer.executeScheduled(1, b"", sender=attacker)


def test_fix_reschedule__booked__noop_pays_nothing(rebalancer, scheduler, funder, attacker):
    before = snapshot(rebalancer, scheduler, funder)
    assert rebalancer.fixReschedule.call() == ALREADY_BOOKED
    tx = rebalancer.fixReschedule(sender=attacker)
    assert not tx.events
    assert snapshot(rebalancer, scheduler, funder) == before


def test_fix_reschedule__twice__same_state_as_once(make_rebalancer, scheduler, funder, bob):
    r = make_rebalancer()
    r.fixReschedule(sender=bob)
    once = snapshot(r, scheduler, funder)
    tx = r.fixReschedule(sender=bob)
    assert not tx.events
    assert snapshot(r, scheduler, funder) == once


def test_fix_reschedule__overdue_unexecuted__does_not_double_book(
    chain, rebalancer, scheduler, bob
):
    run_id, ts = rebalancer.bookedRun()
    advance(chain, ts - now(chain) + 10)
    assert rebalancer.fixReschedule.call() == ALREADY_BOOKED
    rebalancer.fixReschedule(sender=bob)
    assert rebalancer.bookedRun()[0] == run_id
    assert list(scheduler.bookedRuns(rebalancer, 0, 10)) == [run_id]


def test_fix_reschedule__stale_receipt__cleared_then_books(
    chain, project, deployer, scheduler, funder, position, handler, gov, alice, bob, keeper
):
    r = deployer.deploy(project.TestRebalancerHarness, alice, scheduler, position, config(funder))
    funder.approveSpender(r, 2**256 - 1, sender=gov)
    # An executed run of another handler stands in for "executed without calling back".
    ts = now(chain) + 120
    other = handler.book(b"", ts, 1, EFFORT, value=BASE_FEE * EFFORT * 5, sender=alice).return_value
    advance(chain, 200)
    scheduler.execute(other, sender=keeper)
    r.plantReceipt(other, ts, sender=bob)
    tx = r.fixReschedule(sender=bob)
    [stale] = events(tx, "StaleReceiptCleared")
    assert stale.runId == other and stale.status == EXECUTED
    assert events(tx, "FixedReschedule")
    new_id = r.bookedRun()[0]
    assert new_id != other and scheduler.status(new_id) == SCHEDULED


def test_booking__funder_empty__failed_event_then_refill_recovers(
    project, deployer, gov, make_rebalancer, scheduler, bob
):
    empty = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    r = make_rebalancer(fund=empty)
    tx = r.fixReschedule(sender=bob)
    [failed] = events(tx, "FailedRecurringSchedule")
    assert failed.reason[:4] == selector("InsufficientFunderBalance(uint256,uint256)")
    assert r.bookedRun() == (0, 0) and r.balance == 0
    deployer.transfer(empty, 10**17)
    assert r.fixReschedule.call() == BOOKED
    r.fixReschedule(sender=bob)
    assert scheduler.status(r.bookedRun()[0]) == SCHEDULED


def test_booking__unauthorised_funder__failed_event(
    project, deployer, gov, scheduler, position, alice
):
    funder = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    deployer.transfer(funder, 10**18)
    r = deployer.deploy(project.Rebalancer, alice, scheduler, position, config(funder))
    tx = r.fixReschedule(sender=alice)
    [failed] = events(tx, "FailedRecurringSchedule")
    assert failed.reason[:4] == selector("AllowanceExceeded(address,uint256,uint256)")


def test_booking__slot_full__failed_event_not_revert(chain, rebalancer, scheduler, gov, keeper):
    scheduler.setSlotCapacity(1, EFFORT - 1, sender=gov)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    [failed] = events(tx, "FailedRecurringSchedule")
    assert failed.reason[:4] == selector("EstimateRejected(uint8)")
    assert rebalancer.bookedRun() == (0, 0)


def test_booking__during_run_failure__run_itself_succeeds(
    chain, rebalancer, scheduler, funder, gov, keeper, position
):
    funder.withdraw(gov, funder.balance, sender=gov)
    tx = run_booked(scheduler, rebalancer, keeper, chain)
    assert events(tx, "RunExecuted")[0].success
    assert position.calls() == 1
    assert events(tx, "FailedRecurringSchedule")
    assert rebalancer.bookedRun() == (0, 0)


def test_set_config__new_funder__refunds_old_then_books_with_new(
    project, deployer, gov, rebalancer, scheduler, funder, alice
):
    other = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    deployer.transfer(other, 10**18)
    other.approveSpender(rebalancer, 2**256 - 1, sender=gov)
    old_id, _ = rebalancer.bookedRun()
    paid = scheduler.getRun(old_id).fee
    old_before = funder.balance
    tx = rebalancer.setRecurringConfig(config(other, interval=600), sender=alice)
    assert scheduler.status(old_id) == CANCELED
    assert funder.balance - old_before == paid * scheduler.refundBps() // 10_000
    assert events(tx, "RefundReturned")[0].txFunder == funder.address
    new_id, _ = rebalancer.bookedRun()
    assert scheduler.getRun(new_id).payer == rebalancer.address
    assert other.balance == 10**18 - scheduler.getRun(new_id).fee
    assert rebalancer.balance == 0
    assert rebalancer.recurringConfig().interval == 600


def test_set_config__not_owner__reverts(rebalancer, funder, attacker):
    with ape.reverts(rebalancer.OwnableUnauthorizedAccount, account=attacker.address):
        rebalancer.setRecurringConfig(config(funder), sender=attacker)
    with ape.reverts(rebalancer.OwnableUnauthorizedAccount, account=attacker.address):
        rebalancer.destroy(sender=attacker)


@pytest.mark.parametrize(
    "field,kw,value",
    [
        ("interval", {"interval": 0}, 0),
        ("priority", {"priority": 0}, 0),
        ("executionEffort", {"execution_effort": 299_999}, 299_999),
        ("estimationMarginBps", {"estimation_margin_bps": 9_999}, 9_999),
        ("txFunder", {"tx_funder": "0x" + "00" * 20}, 0),
    ],
)
def test_set_config__bad_values__invalid_recurring_config(
    rebalancer, funder, alice, field, kw, value
):
    c = list(config(funder))
    names = [
        "interval",
        "priority",
        "execution_effort",
        "estimation_margin_bps",
        "force",
        "tx_funder",
    ]
    for k, v in kw.items():
        c[names.index(k)] = v
    with ape.reverts(rebalancer.InvalidRecurringConfig, field=field, value=value):
        rebalancer.setRecurringConfig(tuple(c), sender=alice)


def test_destroy__booked_run__refunds_everything_to_funder(
    chain, rebalancer, scheduler, funder, alice, bob, keeper
):
    run_id, _ = rebalancer.bookedRun()
    paid = scheduler.getRun(run_id).fee
    bob.transfer(rebalancer, 777)  # stray balance goes back too
    before = funder.balance
    rebalancer.destroy(sender=alice)
    refund = paid * scheduler.refundBps() // 10_000
    assert funder.balance - before == refund + 777
    assert rebalancer.balance == 0
    assert scheduler.status(run_id) == CANCELED
    assert rebalancer.destroyed() and rebalancer.fixReschedule.call() == DESTROYED
    with ape.reverts(rebalancer.TaskIsDestroyed):
        rebalancer.destroy(sender=alice)
    with ape.reverts(rebalancer.TaskIsDestroyed):
        rebalancer.setRecurringConfig(config(funder), sender=alice)


def test_destroy__full_refund_share__funder_made_whole(rebalancer, scheduler, funder, gov, alice):
    # the most a cancel may return: everything but the protocol's share, which was split off
    # when the run was booked (the default 20%) and stays the protocol's when the admin lowers
    # the share and raises the refund share afterwards (issue 68: the split is fixed at booking)
    run = scheduler.getRun(rebalancer.bookedRun()[0])
    assert run.shareBps == 2_000
    scheduler.setProtocolShareBps(1_000, sender=gov)
    scheduler.setRefundBps(9_000, sender=gov)
    paid = run.fee
    rebalancer.destroy(sender=alice)
    assert funder.balance == 10**18 - paid + (paid - paid * 2_000 // 10_000)


def test_set_config_and_destroy__unlimited_allowance_after_gift__not_blocked(
    rebalancer, scheduler, funder, alice, attacker
):
    """Issue 11 (low): with an unlimited allowance, a gift larger than half the booked fee made
    the refund on reconfiguration exceed what was withdrawn; TxFunder.refund overflowed, the
    strict return reverted (RefundReturnFailed) and the owner could neither reconfigure nor
    remove the rebalancer. Anyone can send such a gift (here the attacker)."""
    assert funder.allowance(rebalancer) > 2**255
    paid = scheduler.getRun(rebalancer.bookedRun()[0]).fee
    attacker.transfer(rebalancer, paid)
    rebalancer.setRecurringConfig(config(funder, interval=900), sender=alice)
    assert funder.allowance(rebalancer) > 2**255 and rebalancer.balance == 0
    attacker.transfer(rebalancer, 10**17)
    rebalancer.destroy(sender=alice)
    assert rebalancer.destroyed() and rebalancer.balance == 0
    assert funder.allowance(rebalancer) == 2**256 - 1


def test_exploit__attacker_books_and_executes_run_for_rebalancer__position_untouched(
    chain, rebalancer, position, scheduler, attacker
):
    """Issue 11, finding 2 (medium), automation half: the attacker books a run for someone's
    rebalancer (the fund's, in production), pays the fee, and executes it at once to trigger the
    position's rebalance at a moment of its choosing (the fee comes back to it as executor).
    Now the scheduler refuses a booking not made by the handler itself, so no run exists to
    execute: the position is not rebalanced, the attacker gets nothing and the rebalancer's own
    booking is untouched."""
    booked = rebalancer.bookedRun()
    calls = position.calls()
    fee = scheduler.feeFor(0, 1, EFFORT)
    try:
        tx = scheduler.schedule(
            rebalancer, b"", now(chain) + 1, 1, EFFORT, value=fee, sender=attacker
        )
        advance(chain, 120)
        scheduler.execute(tx.return_value, sender=attacker)
    except ape.exceptions.ContractLogicError:
        pass
    assert position.calls() == calls
    assert rebalancer.bookedRun() == booked and scheduler.status(booked[0]) == SCHEDULED
    with ape.reverts(
        scheduler.NotHandlerItself, handler=rebalancer.address, caller=attacker.address
    ):
        scheduler.schedule(rebalancer, b"", now(chain) + 1, 1, EFFORT, value=fee, sender=attacker)


def test_execute_scheduled__foreign_run_id__reverts_without_work(
    project, deployer, scheduler, funder, position, alice, bob
):
    """Second lock: a RecurringTask acts only on the run id it booked. Here its scheduler is an
    account (bob) that calls with any id, as a scheduler that let anyone book would: a foreign id
    reverts with ForeignRun and the position is not called."""
    r = deployer.deploy(project.Rebalancer, alice, bob, position, config(funder))
    position.setRebalancer(r, True, sender=alice)
    with ape.reverts(r.ForeignRun, runId=999, bookedRunId=0):
        r.executeScheduled(999, b"", sender=bob)
    assert position.calls() == 0
