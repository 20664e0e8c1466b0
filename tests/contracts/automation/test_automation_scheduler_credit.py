"""RebalanceScheduler's pull payment and booking-time split (issue 68): executors are credited,
withdraw exactly what they are owed, and nobody else can take it, take it twice, re-enter for
more, or block another executor; the protocol's share is split at booking, at the booking's rate.
"""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak

from tests.support.autolib import EXECUTED, MEDIUM, SCHEDULED, SLOT, advance, events, slot_ahead

EFFORT = 100_000
BPS = 10_000
ACCEPT, REJECT, WITHDRAW_AGAIN = range(3)


def _book(scheduler, handler, alice, chain, value=None, slots_ahead=1):
    ts = slot_ahead(chain, slots_ahead)
    value = scheduler.feeFor(0, MEDIUM, EFFORT) if value is None else value
    return handler.book(b"", ts, MEDIUM, EFFORT, value=value, sender=alice).return_value


def _pay(fee: int, share_bps: int) -> int:
    return fee - fee * share_bps // BPS


@pytest.fixture
def executor_contract(project, deployer, scheduler):
    return deployer.deploy(project.TestExecutor, scheduler)


def test_withdraw_credit__own_credit__pays_exactly_and_zeroes(
    chain, scheduler, handler, alice, keeper
):
    fee = scheduler.feeFor(0, MEDIUM, EFFORT) + 12_345
    ids = [_book(scheduler, handler, alice, chain, fee) for _ in range(3)]
    advance(chain, 2 * SLOT)
    scheduler.execute(ids[0], sender=keeper)
    scheduler.executeBatch(ids[1:], sender=keeper)
    owed = 3 * _pay(fee, 2_000)
    assert scheduler.credits(keeper) == owed
    held = scheduler.balance
    before = keeper.balance
    tx = scheduler.withdrawCredit(keeper, sender=keeper, gas_price=0)
    assert tx.return_value == owed
    assert keeper.balance - before == owed
    assert scheduler.credits(keeper) == 0 and scheduler.balance == held - owed
    [ev] = events(tx, "CreditWithdrawn")
    assert (ev.executor, ev.to, ev.amount) == (keeper.address, keeper.address, owed)


def test_withdraw_credit__someone_else__gets_nothing_and_owed_untouched(
    chain, scheduler, handler, alice, keeper, attacker
):
    run_id = _book(scheduler, handler, alice, chain)
    advance(chain, 2 * SLOT)
    scheduler.execute(run_id, sender=keeper)
    owed = scheduler.credits(keeper)
    # the attacker may only withdraw its own credit (none), whatever recipient it names
    for to in (attacker, keeper):
        with ape.reverts(scheduler.NoCredit, executor=attacker.address):
            scheduler.withdrawCredit(to, sender=attacker)
    assert scheduler.credits(keeper) == owed


def test_withdraw_credit__twice__second_reverts(chain, scheduler, handler, alice, keeper):
    run_id = _book(scheduler, handler, alice, chain)
    advance(chain, 2 * SLOT)
    scheduler.execute(run_id, sender=keeper)
    scheduler.withdrawCredit(keeper, sender=keeper)
    held = scheduler.balance
    with ape.reverts(scheduler.NoCredit, executor=keeper.address):
        scheduler.withdrawCredit(keeper, sender=keeper)
    assert scheduler.balance == held


def test_withdraw_credit__zero_recipient__reverts(chain, scheduler, handler, alice, keeper):
    run_id = _book(scheduler, handler, alice, chain)
    advance(chain, 2 * SLOT)
    scheduler.execute(run_id, sender=keeper)
    with ape.reverts(scheduler.ZeroRecipient):
        scheduler.withdrawCredit(ape.utils.ZERO_ADDRESS, sender=keeper)
    assert scheduler.credits(keeper) > 0


def test_withdraw_credit__reentrant_recipient__refused_and_paid_once(
    chain, scheduler, handler, alice, executor_contract
):
    ids = [_book(scheduler, handler, alice, chain) for _ in range(2)]
    advance(chain, 2 * SLOT)
    executor_contract.executeBatch(ids, sender=alice)
    owed = scheduler.credits(executor_contract)
    assert owed == 2 * _pay(scheduler.feeFor(0, MEDIUM, EFFORT), 2_000)
    executor_contract.setOnReceive(WITHDRAW_AGAIN, sender=alice)
    held = scheduler.balance
    executor_contract.withdraw(executor_contract, sender=alice)
    # the reentrant withdrawal was refused by the guard (the credit was zeroed before the
    # transfer anyway): the contract got exactly what it was owed, once
    assert not executor_contract.reentered()
    guard = keccak(text="ReentrancyGuardReentrantCall()")[:4]
    assert bytes(executor_contract.reentryRevert()) == guard
    assert executor_contract.received() == owed and executor_contract.receipts() == 1
    assert scheduler.credits(executor_contract) == 0 and scheduler.balance == held - owed


def test_executor_rejecting_eth__blocks_nobody_and_withdraws_elsewhere(
    chain, scheduler, handler, alice, keeper, bob, executor_contract
):
    executor_contract.setOnReceive(REJECT, sender=alice)
    ids = [_book(scheduler, handler, alice, chain) for _ in range(3)]
    advance(chain, 2 * SLOT)
    # its executions go through (nothing is sent to it) and so do everyone else's
    executor_contract.execute(ids[0], sender=alice)
    scheduler.execute(ids[1], sender=keeper)
    assert scheduler.executeBatch([ids[2]], sender=keeper).return_value == 1
    assert [scheduler.status(i) for i in ids] == [EXECUTED] * 3
    mine = scheduler.credits(executor_contract)
    # its own withdrawal to itself fails and keeps its credit owed ...
    with ape.reverts(scheduler.PaymentFailed):
        executor_contract.withdraw(executor_contract, sender=alice)
    assert scheduler.credits(executor_contract) == mine
    # ... the keeper's withdrawal is not affected ...
    owed = scheduler.credits(keeper)
    before = keeper.balance
    scheduler.withdrawCredit(keeper, sender=keeper, gas_price=0)
    assert keeper.balance - before == owed
    # ... and it can take its credit to an address that accepts it
    before = bob.balance
    executor_contract.withdraw(bob, sender=alice)
    assert bob.balance - before == mine and scheduler.credits(executor_contract) == 0


def test_share_rate_changed_after_booking__booked_rate_applies(
    chain, scheduler, handler, gov, alice, keeper
):
    fee = scheduler.feeFor(0, MEDIUM, EFFORT) + 1
    early = _book(scheduler, handler, alice, chain, fee)
    tally = scheduler.protocolFees()
    assert tally == fee * 2_000 // BPS
    assert scheduler.getRun(early).shareBps == 2_000
    scheduler.setProtocolShareBps(5_000, sender=gov)
    late = _book(scheduler, handler, alice, chain, fee)
    assert scheduler.getRun(late).shareBps == 5_000
    assert scheduler.protocolFees() == tally + fee * 5_000 // BPS
    tally = scheduler.protocolFees()
    advance(chain, 2 * SLOT)
    # the admin raised the share after the first booking: its executor is still paid at 20%
    scheduler.execute(early, sender=keeper)
    assert scheduler.credits(keeper) == _pay(fee, 2_000)
    scheduler.execute(late, sender=keeper)
    assert scheduler.credits(keeper) == _pay(fee, 2_000) + _pay(fee, 5_000)
    assert scheduler.protocolFees() == tally  # an execution never touches the tally
    assert scheduler.balance == scheduler.credits(keeper) + scheduler.protocolFees()


def test_cancel__share_lowered_refund_raised__refund_capped_at_escrow(
    chain, scheduler, handler, gov, alice
):
    scheduler.setProtocolShareBps(5_000, sender=gov)
    fee = scheduler.feeFor(0, MEDIUM, EFFORT) + 3
    run_id = _book(scheduler, handler, alice, chain, fee)
    booked = fee * 5_000 // BPS
    scheduler.setProtocolShareBps(1_000, sender=gov)
    scheduler.setRefundBps(9_000, sender=gov)
    before = handler.balance
    tx = handler.cancel(run_id, sender=alice)
    # 90% would reach into the half the protocol tallied at booking: the refund is the rest
    assert tx.return_value == fee - booked
    assert handler.balance - before == fee - booked
    [ev] = events(tx, "RunCanceled")
    assert ev.refund + ev.kept == fee and ev.kept == booked
    assert scheduler.protocolFees() == booked and scheduler.balance == booked


def test_cancel__after_rate_change__booked_share_kept_refund_exact(
    chain, scheduler, handler, gov, alice
):
    fee = scheduler.feeFor(0, MEDIUM, EFFORT) + 7
    run_id = _book(scheduler, handler, alice, chain, fee)
    scheduler.setProtocolShareBps(3_000, sender=gov)
    refund = handler.cancel(run_id, sender=alice).return_value
    assert refund == fee * 5_000 // BPS
    assert scheduler.protocolFees() == fee - refund
    assert scheduler.balance == fee - refund


def test_schedule__fee_above_uint80__reverts(chain, scheduler, handler, alice):
    big = 2**80
    alice.balance = big + 10**18
    ts = slot_ahead(chain)
    with ape.reverts(scheduler.FeeTooHigh, paid=big):
        handler.book(b"", ts, MEDIUM, EFFORT, value=big, sender=alice)
    assert scheduler.nextId() == 1 and scheduler.balance == 0


def test_execute__credits_caller_only__run_stays_scheduled_for_others_until_due(
    chain, scheduler, handler, alice, keeper, attacker
):
    run_id = _book(scheduler, handler, alice, chain)
    with ape.reverts(scheduler.RunNotDue):
        scheduler.execute(run_id, sender=attacker)
    assert scheduler.credits(attacker) == 0 and scheduler.status(run_id) == SCHEDULED
    advance(chain, 2 * SLOT)
    scheduler.execute(run_id, sender=keeper)
    assert scheduler.credits(attacker) == 0
