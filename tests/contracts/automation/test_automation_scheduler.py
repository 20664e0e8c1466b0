"""RebalanceScheduler: fees, slots, execution, cancel, keeper views, admin, bad input."""

from __future__ import annotations

import ape
import pytest

from tests.support.autolib import (
    BASE_FEE,
    CANCELED,
    DATA_FEE,
    EXECUTED,
    HIGH,
    LOW,
    MEDIUM,
    SCHEDULED,
    SLOT,
    UNKNOWN,
    advance,
    events,
    now,
    slot_ahead,
)

MULT = {HIGH: 10, MEDIUM: 5, LOW: 2}
EFFORT = 100_000
# ScheduleError codes
NONE, BELOW_MIN, ABOVE_MAX, NOT_FUTURE, DATA_TOO_LONG, HIGH_FULL, NO_ROOM = range(7)


def fee(effort: int, priority: int, data_len: int = 0) -> int:
    return BASE_FEE * effort * MULT[priority] + DATA_FEE * data_len


SHARE_BPS = 2_000  # the scheduler's default protocolShareBps


def pay(prepaid: int) -> int:
    """What the executor of a run prepaid ``prepaid`` is paid: the fee less the protocol share."""
    return prepaid - prepaid * SHARE_BPS // 10_000


def slot_start(chain, slots_ahead: int = 2) -> int:
    return slot_ahead(chain, slots_ahead)


def book(handler, sender, ts, priority=MEDIUM, effort=EFFORT, data=b"", value=None):
    value = fee(effort, priority, len(data)) if value is None else value
    tx = handler.book(data, ts, priority, effort, value=value, sender=sender)
    return tx.return_value, tx


@pytest.mark.parametrize("priority", [HIGH, MEDIUM, LOW])
@pytest.mark.parametrize("data", [b"", b"\x01" * 100])
def test_estimate__priority_and_data__fee_formula(chain, scheduler, priority, data):
    ts = slot_start(chain)
    f, eff, err = scheduler.estimate(data, ts, priority, EFFORT)
    assert (f, eff, err) == (fee(EFFORT, priority, len(data)), ts, NONE)
    assert scheduler.feeFor(len(data), priority, EFFORT) == f


def test_estimate__bad_input__error_codes(chain, scheduler):
    ts = slot_start(chain)
    assert scheduler.estimate(b"", ts, MEDIUM, 9_999)[2] == BELOW_MIN
    assert scheduler.estimate(b"", ts, MEDIUM, 10_000_000)[2] == ABOVE_MAX
    assert scheduler.estimate(b"", now(chain), MEDIUM, EFFORT)[2] == NOT_FUTURE
    assert scheduler.estimate(b"", 2**40, MEDIUM, EFFORT)[2] == NOT_FUTURE
    assert scheduler.estimate(b"\x00" * 1025, ts, MEDIUM, EFFORT)[2] == DATA_TOO_LONG


def test_schedule__rejected_or_underpaid__reverts(chain, scheduler, handler, alice):
    ts = slot_start(chain)
    with ape.reverts(scheduler.ScheduleRejected, code=BELOW_MIN):
        book(handler, alice, ts, effort=1)
    with ape.reverts(scheduler.FeeTooLow, required=fee(EFFORT, MEDIUM), paid=1):
        book(handler, alice, ts, value=1)
    with ape.reverts(scheduler.ZeroHandler):
        scheduler.schedule(ape.utils.ZERO_ADDRESS, b"", ts, MEDIUM, EFFORT, sender=alice)


def test_schedule__for_another_handler__reverts(chain, scheduler, handler, attacker):
    """Who else can book a run for a handler? Nobody: only the handler itself (issue 11,
    finding 2). Before, an attacker booked a run for the fund's rebalancer and executed it to
    pick the moment of its rebalance."""
    ts = slot_start(chain)
    with ape.reverts(scheduler.NotHandlerItself, handler=handler.address, caller=attacker.address):
        scheduler.schedule(
            handler, b"", ts, MEDIUM, EFFORT, value=fee(EFFORT, MEDIUM), sender=attacker
        )
    assert scheduler.handlerRunCount(handler) == 0


def test_schedule__high_slot_full__fails_while_medium_moves(chain, scheduler, handler, gov, alice):
    scheduler.setSlotCapacity(HIGH, 250_000, sender=gov)
    scheduler.setSlotCapacity(MEDIUM, 250_000, sender=gov)
    ts = slot_start(chain) + 7
    book(handler, alice, ts, HIGH)
    book(handler, alice, ts, HIGH)
    assert scheduler.estimate(b"", ts, HIGH, EFFORT)[2] == HIGH_FULL
    with ape.reverts(scheduler.ScheduleRejected, code=HIGH_FULL):
        book(handler, alice, ts, HIGH)
    book(handler, alice, ts, MEDIUM)
    book(handler, alice, ts, MEDIUM)
    # Medium moves to the start of the next slot with room.
    f, eff, err = scheduler.estimate(b"", ts, MEDIUM, EFFORT)
    assert err == NONE and eff == (ts // SLOT + 1) * SLOT
    run_id, tx = book(handler, alice, ts, MEDIUM)
    assert scheduler.getRun(run_id).timestamp == eff
    assert scheduler.slotUsage(ts // SLOT + 1, MEDIUM) == EFFORT


def test_schedule__no_slot_with_room__error(chain, scheduler, handler, gov, alice):
    scheduler.setSlotCapacity(LOW, EFFORT - 1, sender=gov)
    assert scheduler.estimate(b"", slot_start(chain), LOW, EFFORT)[2] == NO_ROOM


def test_execute__due_run__marks_executed_calls_handler_pays_caller(
    chain, scheduler, handler, alice, keeper
):
    ts = slot_start(chain)
    tip = 12345
    run_id, _ = book(handler, alice, ts, data=b"hello", value=fee(EFFORT, MEDIUM, 5) + tip)
    assert scheduler.status(run_id) == SCHEDULED
    with ape.reverts(scheduler.RunNotDue):
        scheduler.execute(run_id, sender=keeper)
    paid = fee(EFFORT, MEDIUM, 5) + tip
    # the protocol's share is tallied at booking; the execution credits the rest, sends nothing
    assert scheduler.protocolFees() == paid - pay(paid)
    advance(chain, ts - now(chain))
    before = keeper.balance
    tx = scheduler.execute(run_id, sender=keeper, gas_price=0)
    assert keeper.balance == before
    assert scheduler.credits(keeper) == pay(paid)
    assert scheduler.protocolFees() == paid - pay(paid)
    assert scheduler.status(run_id) == EXECUTED
    assert handler.executions() == 1 and handler.lastData() == b"hello"
    [ev] = events(tx, "RunExecuted")
    assert ev.success and ev.fee == pay(paid)


def test_execute__twice__second_reverts(chain, scheduler, handler, alice, keeper, bob):
    run_id, _ = book(handler, alice, slot_start(chain))
    advance(chain, 3 * SLOT)
    scheduler.execute(run_id, sender=keeper)
    with ape.reverts(scheduler.RunNotScheduled, id=run_id, status=EXECUTED):
        scheduler.execute(run_id, sender=bob)
    assert scheduler.executeBatch([run_id], sender=bob).return_value == 0
    assert handler.executions() == 1


def test_execute__unknown_id__reverts(scheduler, keeper):
    with ape.reverts(scheduler.RunNotScheduled, id=999, status=UNKNOWN):
        scheduler.execute(999, sender=keeper)


@pytest.mark.parametrize("mode", [1, 2, 3, 4])  # Revert, BurnGas, ReturnBomb, ReenterExecute
def test_execute__failing_handler__caught_executed_and_paid(
    chain, scheduler, handler, alice, keeper, mode
):
    handler.setMode(mode, sender=alice)
    run_id, _ = book(handler, alice, slot_start(chain))
    advance(chain, 3 * SLOT)
    tx = scheduler.execute(run_id, sender=keeper, gas_price=0)
    assert scheduler.credits(keeper) == pay(fee(EFFORT, MEDIUM))
    assert scheduler.status(run_id) == EXECUTED
    [ev] = events(tx, "RunExecuted")
    assert not ev.success
    [failed] = events(tx, "HandlerFailed")
    assert len(failed.reason) <= 256
    assert handler.executions() == 0
    # A handler that burns its gas uses its effort and no more.
    if mode == 2:
        assert tx.gas_used < EFFORT + 80_000


def test_execute__too_little_gas__reverts_and_run_stays_scheduled(
    chain, scheduler, handler, alice, keeper
):
    run_id, _ = book(handler, alice, slot_start(chain))
    advance(chain, 3 * SLOT)
    with ape.reverts(scheduler.InsufficientGasForEffort):
        scheduler.execute(run_id, sender=keeper, gas_limit=100_000)
    assert scheduler.status(run_id) == SCHEDULED


def test_execute__1024_byte_run_minimum_gas__handler_gets_full_effort(
    chain, scheduler, handler, alice, keeper
):
    """Issue 11 (low): the gas check ran before the run's data was loaded, so at the smallest
    gas limit that passed it a 1,024-byte run's handler got ~44.7k less than its effort, the
    run was consumed and the executor paid. Now the check sits at the call: at the smallest gas
    limit with which execute succeeds (the node's estimate), the handler receives its full
    effort; with less, execute reverts and the run stays Scheduled. The executor (anyone) picks
    the gas limit: this is the bound on what it can do with it."""
    effort = 1_000_000  # the handler stores the 1,024 bytes (32 fresh slots) and its gasleft
    handler.setMode(5, sender=alice)  # RecordGas
    data = bytes(range(256)) * 4
    run_id, _ = book(handler, alice, slot_start(chain), effort=effort, data=data)
    advance(chain, 3 * SLOT)
    w3 = chain.provider.web3
    call = {
        "from": keeper.address,
        "to": scheduler.address,
        "data": scheduler.execute.encode_input(run_id),
    }
    minimum = w3.eth.estimate_gas(call)
    with ape.reverts(scheduler.InsufficientGasForEffort):
        scheduler.execute(run_id, sender=keeper, gas_limit=minimum - 2_000)
    assert scheduler.status(run_id) == SCHEDULED
    tx = scheduler.execute(run_id, sender=keeper, gas_limit=minimum)
    assert events(tx, "RunExecuted")[0].success
    assert handler.lastData() == data
    # gasleft() read at the handler's entry: the effort less its dispatch and calldata copy.
    assert handler.lastGas() >= effort - 1_000


def test_execute_batch__mixed_ids__executes_due_skips_rest(
    chain, scheduler, handler, alice, keeper
):
    a, _ = book(handler, alice, slot_start(chain, 1))
    b, _ = book(handler, alice, slot_start(chain, 1) + 1)
    later, _ = book(handler, alice, slot_start(chain, 50))
    advance(chain, 3 * SLOT)
    tx = scheduler.executeBatch([a, b, later, a, 777], sender=keeper, gas_price=0)
    assert tx.return_value == 2
    assert scheduler.credits(keeper) == 2 * pay(fee(EFFORT, MEDIUM))
    # all three shares were tallied at booking, the later run's too
    assert scheduler.protocolFees() == 3 * (fee(EFFORT, MEDIUM) - pay(fee(EFFORT, MEDIUM)))
    assert [scheduler.status(i) for i in (a, b, later)] == [EXECUTED, EXECUTED, SCHEDULED]


def test_cancel__by_handler__refunds_share_frees_slot(chain, scheduler, handler, alice):
    ts = slot_start(chain)
    paid = fee(EFFORT, LOW) + 1
    run_id, _ = book(handler, alice, ts, LOW, value=paid)
    assert scheduler.slotUsage(ts // SLOT, LOW) == EFFORT
    before = handler.balance
    tx = handler.cancel(run_id, sender=alice)
    refund = paid * 5_000 // 10_000
    assert tx.return_value == refund
    assert handler.balance - before == refund
    assert scheduler.protocolFees() == paid - refund
    assert scheduler.status(run_id) == CANCELED
    assert scheduler.slotUsage(ts // SLOT, LOW) == 0
    with ape.reverts(scheduler.RunNotScheduled, id=run_id, status=CANCELED):
        handler.cancel(run_id, sender=alice)


def test_cancel__not_handler__reverts(chain, scheduler, handler, alice, attacker):
    run_id, _ = book(handler, alice, slot_start(chain))
    with ape.reverts(scheduler.NotRunHandler, id=run_id, caller=attacker.address):
        scheduler.cancel(run_id, sender=attacker)


def test_cancel__executed_run__reverts(chain, scheduler, handler, alice, keeper):
    run_id, _ = book(handler, alice, slot_start(chain))
    advance(chain, 3 * SLOT)
    scheduler.execute(run_id, sender=keeper)
    with ape.reverts(scheduler.RunNotScheduled, id=run_id, status=EXECUTED):
        handler.cancel(run_id, sender=alice)


def test_cancel__payer_rejects_refund__reverts(chain, scheduler, handler, alice):
    run_id, _ = book(handler, alice, slot_start(chain))
    handler.setRejectPayments(True, sender=alice)
    with ape.reverts(scheduler.PaymentFailed):
        handler.cancel(run_id, sender=alice)


@pytest.mark.parametrize("refund_bps", [0, 2_500, 8_000])  # at most BPS - protocolShareBps
def test_cancel__refund_share__never_exceeds_prepaid(
    chain, scheduler, handler, gov, alice, refund_bps
):
    scheduler.setRefundBps(refund_bps, sender=gov)
    paid = fee(EFFORT, MEDIUM) + 7
    run_id, _ = book(handler, alice, slot_start(chain), value=paid)
    refund = handler.cancel(run_id, sender=alice).return_value
    assert refund == paid * refund_bps // 10_000 <= paid
    assert scheduler.protocolFees() + refund == paid


def test_views__due_range_and_handler__list_scheduled_only(
    chain, scheduler, handler, alice, keeper
):
    t0 = slot_start(chain, 1)
    ids = [book(handler, alice, t0 + i * SLOT)[0] for i in range(4)]
    far, _ = book(handler, alice, t0 + 100 * SLOT)
    assert list(scheduler.nextDueRuns(10)) == []
    advance(chain, t0 + 2 * SLOT - now(chain))
    assert list(scheduler.nextDueRuns(10)) == ids[:3]
    assert list(scheduler.nextDueRuns(2)) == ids[:2]
    assert list(scheduler.runsDueInRange(t0 + SLOT, t0 + 100 * SLOT, 10)) == ids[1:] + [far]
    scheduler.execute(ids[0], sender=keeper)
    handler.cancel(ids[1], sender=alice)
    assert list(scheduler.nextDueRuns(10)) == [ids[2]]
    assert list(scheduler.bookedRuns(handler, 0, 100)) == ids[2:] + [far]
    assert list(scheduler.bookedRuns(handler, 3, 1)) == [ids[3]]
    assert scheduler.handlerRunCount(handler) == 5
    with ape.reverts(scheduler.RangeTooWide):
        scheduler.runsDueInRange(0, 10_001 * SLOT, 1)


def test_admin__non_owner__reverts_with_ownable_error(scheduler, attacker):
    err = scheduler.OwnableUnauthorizedAccount
    for call in (
        lambda: scheduler.setFees(1, 1, sender=attacker),
        lambda: scheduler.setSlotCapacity(HIGH, 1, sender=attacker),
        lambda: scheduler.setEffortBounds(1, 2, sender=attacker),
        lambda: scheduler.setRefundBps(1, sender=attacker),
        lambda: scheduler.setLookbackSlots(1, sender=attacker),
        lambda: scheduler.withdrawProtocolFees(attacker, sender=attacker),
    ):
        with ape.reverts(err, account=attacker.address):
            call()


def test_admin__bad_values__invalid_config(scheduler, gov):
    with ape.reverts(scheduler.InvalidConfig, field="refundBps", value=10_001):
        scheduler.setRefundBps(10_001, sender=gov)
    with ape.reverts(scheduler.InvalidConfig, field="minEffort", value=0):
        scheduler.setEffortBounds(0, 10, sender=gov)
    with ape.reverts(scheduler.InvalidConfig, field="maxEffort", value=5):
        scheduler.setEffortBounds(10, 5, sender=gov)
    with ape.reverts(scheduler.InvalidConfig, field="lookbackSlots", value=0):
        scheduler.setLookbackSlots(0, sender=gov)


def test_admin__set_fees__estimate_follows(chain, scheduler, gov):
    scheduler.setFees(3, 0, sender=gov)
    assert scheduler.estimate(b"\x01" * 10, slot_start(chain), LOW, EFFORT)[0] == 3 * EFFORT * 2


def test_withdraw_protocol_fees__admin__pays_kept_share(chain, scheduler, handler, gov, alice, bob):
    run_id, _ = book(handler, alice, slot_start(chain))
    handler.cancel(run_id, sender=alice)
    kept = scheduler.protocolFees()
    before = bob.balance
    scheduler.withdrawProtocolFees(bob, sender=gov)
    assert bob.balance - before == kept and scheduler.protocolFees() == 0
    assert scheduler.balance == 0
