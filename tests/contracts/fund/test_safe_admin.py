"""Issue 15 "approvals that mean something", first bullet: the fund's admin is a real Safe 1.4.1
(alice, bob, carol, 2 of 3) behind the FundTimelock.

Actors: alice, bob, carol (Safe owners), the deployer (after hand-over), the keeper (KEEPER_ROLE)
and the attacker (no role). The fund is deployed as the deploy does it: deploy_core with the
deployer as admin, grant_roles(ADMIN_ROLE -> Safe), hand_over(timelock proposed/executed by the
Safe, deployer renounces). The Safe and its owners: tests/support/fixtures_safe.py.
"""

import ape
import pytest

from ballast_dev.deployment.fund import MoveLimitsSpec
from ballast_dev.deployment.handover import handover_status
from ballast_dev.deployment.safe import safe_admin_call, timelock_via_safe
from tests.support.fund_checks import LOOSER_LIMITS as LOOSER
from tests.support.fund_checks import START_LIMITS as START
from tests.support.fund_checks import timelocked_fund

DELAY = 3_600
TIGHTER = MoveLimitsSpec(loss_budget=10**23, notional_budget=10**26)


@pytest.fixture(scope="module")
def fund(project, deployer, keeper, guardian, safe, alice, attacker):
    # (alice and attacker: the session accounts later tests take, set up before this module
    # fixture so that ape does not rebase the module, InvalidIsolationWarning)
    f = timelocked_fund(project, deployer, safe, keeper, guardian, DELAY)
    f.safe = safe
    return f


def limits_of(controller):
    return tuple(controller.moveLimits())[:4]


def test_handover_leaves_the_deployer_nothing(project, fund, deployer, safe):
    t, c = fund.timelock, fund.controller
    assert t.hasRole(t.PROPOSER_ROLE(), safe) and t.hasRole(t.EXECUTOR_ROLE(), safe)
    assert c.hasRole(c.ADMIN_ROLE(), safe) and c.hasRole(c.DEFAULT_ADMIN_ROLE(), t)
    record = fund.addresses()
    assert record["safe"] == safe.address and safe.getThreshold() == 2
    h = handover_status(project, record, deployer.address, safe.address)
    assert h.complete, (h.held, h.todo)


def test_admin_call_signed_by_one_owner_is_refused(fund, safe, alice):
    data = fund.controller.setMoveLimits.encode_input(TIGHTER.as_tuple())
    with ape.reverts("GS020"):
        safe_admin_call(safe, fund.controller, data, [alice])
    assert limits_of(fund.controller) == START.as_tuple()


def test_admin_call_signed_by_two_owners_runs(fund, safe, alice, carol):
    data = fund.controller.setMoveLimits.encode_input(TIGHTER.as_tuple())
    safe_admin_call(safe, fund.controller, data, [carol, alice])
    assert limits_of(fund.controller) == TIGHTER.as_tuple()


def test_signatures_by_a_non_owner_do_not_count(fund, safe, alice, attacker):
    data = fund.controller.setMoveLimits.encode_input(TIGHTER.as_tuple())
    with ape.reverts():
        safe_admin_call(safe, fund.controller, data, [alice, attacker])


def test_timelock_proposal_through_the_safe_waits_its_delay(chain, fund, safe, alice, bob):
    data = fund.controller.setMoveLimits.encode_input(LOOSER.as_tuple())
    # loosening a limit is a DEFAULT_ADMIN_ROLE change: the Safe's own ADMIN_ROLE cannot do it
    with ape.reverts():
        safe_admin_call(safe, fund.controller, data, [alice, bob])
    op = timelock_via_safe(safe, fund.timelock, fund.controller, data, [alice, bob], execute=False)
    assert fund.timelock.isOperationPending(op) and not fund.timelock.isOperationReady(op)
    run = fund.timelock.execute.encode_input(
        fund.controller.address, 0, data, b"\x00" * 32, b"\x00" * 32
    )
    with ape.reverts("GS013"):
        safe_admin_call(safe, fund.timelock, run, [alice, bob])
    chain.pending_timestamp += DELAY
    safe_admin_call(safe, fund.timelock, run, [bob, alice])
    assert fund.timelock.isOperationDone(op)
    assert limits_of(fund.controller) == LOOSER.as_tuple()


def test_timelock_schedule_and_execute_at_once_is_refused_before_the_delay(fund, safe, alice, bob):
    data = fund.controller.setMoveLimits.encode_input(LOOSER.as_tuple())
    with ape.reverts("GS013"):  # the Safe's inner call (timelock.execute) reverted
        timelock_via_safe(safe, fund.timelock, fund.controller, data, [alice, bob])
    assert limits_of(fund.controller) == START.as_tuple()


@pytest.mark.parametrize("who", ["deployer", "keeper", "attacker", "alice"])
def test_direct_admin_calls_revert_for_everyone_but_the_safe(request, fund, who):
    actor = request.getfixturevalue(who)
    c, t = fund.controller, fund.timelock
    with ape.reverts():
        c.setMoveLimits(TIGHTER.as_tuple(), sender=actor)
    with ape.reverts():
        c.setMoveLimits(LOOSER.as_tuple(), sender=actor)
    with ape.reverts():
        fund.vault.grantRole(fund.vault.ADMIN_ROLE(), actor, sender=actor)
    data = c.setMoveLimits.encode_input(LOOSER.as_tuple())
    with ape.reverts():
        t.schedule(c.address, 0, data, b"\x00" * 32, b"\x00" * 32, DELAY, sender=actor)
