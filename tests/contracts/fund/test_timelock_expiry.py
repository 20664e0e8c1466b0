"""Issue 67, "queued changes that expire": every FundTimelock operation is executable for
EXECUTION_WINDOW (14 days) after its delay, no longer; an expired one must be queued again; the
guardian cancels a queued change at once, nobody else without a role can.

Actors: gov (the timelock's proposer and executor, as the admin Safe is in a deploy), the
guardian (CANCELLER_ROLE from the deploy), the keeper (KEEPER_ROLE on the fund, nothing on the
timelock) and the attacker (no role). The change used is a risk-increasing one: raising the
controller's move budgets, which only the timelock may do.
"""

import ape
import pytest

from tests.support.fund_checks import LOOSER_LIMITS as LOOSER
from tests.support.fund_checks import START_LIMITS as START
from tests.support.fund_checks import timelocked_fund

DELAY = 3_600
WINDOW = 14 * 86_400
ZERO = b"\x00" * 32


@pytest.fixture(scope="module")
def fund(project, deployer, gov, keeper, guardian):
    return timelocked_fund(project, deployer, gov, keeper, guardian, DELAY, cancellers=[guardian])


def _limits(controller):
    return tuple(controller.moveLimits())[:4]


def _op(fund, salt=ZERO):
    data = fund.controller.setMoveLimits.encode_input(LOOSER.as_tuple())
    t = fund.timelock
    return (
        t,
        (fund.controller.address, 0, data, ZERO, salt),
        bytes(t.hashOperation(fund.controller.address, 0, data, ZERO, salt)),
    )


def _schedule(t, args, gov, delay=DELAY):
    tx = t.schedule(*args, delay, sender=gov)
    return tx.timestamp + delay  # readyAt


def test_timelock_window__is_14_days_and_the_guardian_cancels(fund, guardian, gov, keeper):
    t = fund.timelock
    assert t.EXECUTION_WINDOW() == WINDOW
    assert t.hasRole(t.CANCELLER_ROLE(), guardian) and t.hasRole(t.CANCELLER_ROLE(), gov)
    assert not t.hasRole(t.CANCELLER_ROLE(), keeper)


def test_execute__on_the_last_second_of_the_window__runs(chain, fund, gov):
    t, args, op_id = _op(fund, salt=b"\x01" * 32)
    ready = _schedule(t, args, gov)
    chain.pending_timestamp = ready + WINDOW  # the last executable second
    t.execute(*args, sender=gov)
    assert t.isOperationDone(op_id) and not t.isOperationExpired(op_id)
    assert _limits(fund.controller) == LOOSER.as_tuple()
    # back to START for the next tests (tighter: the admin's at once, no timelock)
    fund.controller.setMoveLimits(START.as_tuple(), sender=gov)


def test_execute__one_second_after_the_window__reverts_expired(chain, fund, gov):
    t, args, op_id = _op(fund, salt=b"\x02" * 32)
    ready = _schedule(t, args, gov)
    chain.pending_timestamp = ready + WINDOW + 1
    chain.mine()
    assert t.isOperationExpired(op_id)
    assert t.getOperationState(op_id) == 0  # Unset: not pending, not ready
    assert not t.isOperationPending(op_id) and not t.isOperationReady(op_id)
    assert t.getTimestamp(op_id) == ready  # OpenZeppelin's raw ready time is kept
    with ape.reverts(t.TimelockOperationExpired, id=op_id, readyAt=ready, expiredAt=ready + WINDOW):
        t.execute(*args, sender=gov)
    assert _limits(fund.controller) == START.as_tuple()


def test_schedule__an_expired_operation_again__waits_its_delay_and_runs(chain, fund, gov):
    t, args, op_id = _op(fund, salt=b"\x03" * 32)
    ready = _schedule(t, args, gov)
    chain.pending_timestamp = ready + WINDOW + 1
    again = _schedule(t, args, gov)  # the same id: OpenZeppelin alone refuses this
    assert t.getTimestamp(op_id) == again > ready + WINDOW
    assert t.isOperationPending(op_id) and not t.isOperationReady(op_id)
    with ape.reverts(t.TimelockUnexpectedOperationState):  # its delay runs again
        t.execute(*args, sender=gov)
    chain.pending_timestamp = again
    t.execute(*args, sender=gov)
    assert t.isOperationDone(op_id) and _limits(fund.controller) == LOOSER.as_tuple()
    fund.controller.setMoveLimits(START.as_tuple(), sender=gov)


def test_schedule__a_pending_operation_again__is_refused(fund, gov):
    t, args, op_id = _op(fund, salt=b"\x04" * 32)
    _schedule(t, args, gov)
    with ape.reverts(t.TimelockUnexpectedOperationState):
        t.schedule(*args, DELAY, sender=gov)
    t.cancel(op_id, sender=gov)


def test_execute_batch__after_the_window__reverts_expired(chain, fund, gov):
    t, (to, value, data, pred, _), _ = _op(fund)
    salt = b"\x05" * 32
    batch = ([to], [value], [data], pred, salt)
    op_id = bytes(t.hashOperationBatch(*batch))
    tx = t.scheduleBatch(*batch, DELAY, sender=gov)
    ready = tx.timestamp + DELAY
    chain.pending_timestamp = ready + WINDOW + 1
    with ape.reverts(t.TimelockOperationExpired, id=op_id, readyAt=ready, expiredAt=ready + WINDOW):
        t.executeBatch(*batch, sender=gov)


def test_cancel__by_the_guardian__at_once_and_the_change_never_runs(chain, fund, gov, guardian):
    t, args, op_id = _op(fund, salt=b"\x06" * 32)
    ready = _schedule(t, args, gov)
    tx = t.cancel(op_id, sender=guardian)  # before its delay: a veto, not a race
    assert [e.id for e in tx.events.filter(t.Cancelled)] == [op_id]
    assert not t.isOperation(op_id)
    chain.pending_timestamp = ready
    with ape.reverts(t.TimelockUnexpectedOperationState):
        t.execute(*args, sender=gov)
    assert _limits(fund.controller) == START.as_tuple()


@pytest.mark.parametrize("who", ["keeper", "attacker"])
def test_cancel__by_anyone_without_the_role__reverts(request, fund, gov, who):
    """The keeper (a hot key) and an outsider can neither veto the admin's change nor queue or
    run one: a stolen keeper key cannot hold governance hostage."""
    actor = request.getfixturevalue(who)
    t, args, op_id = _op(fund, salt=b"\x07" * 32)
    _schedule(t, args, gov)
    with ape.reverts(t.AccessControlUnauthorizedAccount):
        t.cancel(op_id, sender=actor)
    with ape.reverts(t.AccessControlUnauthorizedAccount):
        t.schedule(*args[:4], b"\x08" * 32, DELAY, sender=actor)
    assert t.isOperationPending(op_id)
    t.cancel(op_id, sender=gov)


def test_cancel__an_expired_operation__reverts_nothing_to_cancel(chain, fund, gov, guardian):
    t, args, op_id = _op(fund, salt=b"\x09" * 32)
    ready = _schedule(t, args, gov)
    chain.pending_timestamp = ready + WINDOW + 1
    with ape.reverts(t.TimelockUnexpectedOperationState):
        t.cancel(op_id, sender=guardian)


def test_zero_delay_timelock__schedules_and_executes_at_once(project, deployer, gov, guardian):
    """The local chain's timelock (timelock_delay: 0) still works: ready as it is scheduled."""
    t = deployer.deploy(project.FundTimelock, 0, [gov], [gov], "0x" + "00" * 20, [guardian])
    data = t.updateDelay.encode_input(60)
    t.schedule(t.address, 0, data, ZERO, ZERO, 0, sender=gov)
    t.execute(t.address, 0, data, ZERO, ZERO, sender=gov)
    assert t.getMinDelay() == 60
