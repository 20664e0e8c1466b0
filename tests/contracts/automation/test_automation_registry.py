"""PaidRebalancerRegistry: creation rights, one per position, admin config, removal."""

from __future__ import annotations

import ape
from autolib import CANCELED, SCHEDULED, config, events

ALREADY_BOOKED, BOOKED, FAILED, DESTROYED = range(4)


def create(registry, position, sender):
    tx = registry.createPaidRebalancer(position, sender=sender)
    return tx.return_value, tx


def test_create__position_owner__books_with_admin_funder(
    project, registry, scheduler, funder, position, alice
):
    paid_id, tx = create(registry, position, alice)
    assert paid_id == 1
    [ev] = events(tx, "PaidRebalancerCreated")
    assert ev.owner == alice.address and ev.position == position.address
    r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
    assert r.owner() == registry.address
    assert r.recurringConfig().txFunder == funder.address
    assert scheduler.status(r.bookedRun()[0]) == SCHEDULED
    assert scheduler.getRun(r.bookedRun()[0]).payer == r.address
    assert registry.idOfPosition(position) == paid_id and registry.ownerOf(paid_id) == alice.address


def test_create__second_for_same_position__reverts(registry, position, alice, gov):
    paid_id, _ = create(registry, position, alice)
    with ape.reverts(registry.RebalancerExists, position=position.address, id=paid_id):
        registry.createPaidRebalancer(position, sender=alice)
    registry.setCreator(gov, True, sender=gov)
    with ape.reverts(registry.RebalancerExists, position=position.address, id=paid_id):
        registry.createPaidRebalancer(position, sender=gov)


def test_create__not_owner__reverts(project, deployer, registry, position, attacker, handler):
    with ape.reverts(registry.NotPositionOwner, caller=attacker.address, position=position.address):
        registry.createPaidRebalancer(position, sender=attacker)
    # A position with no owner() (or an EOA) cannot be claimed by a stranger either.
    with ape.reverts(registry.NotPositionOwner):
        registry.createPaidRebalancer(handler, sender=attacker)
    with ape.reverts(registry.ZeroPosition):
        registry.createPaidRebalancer(ape.utils.ZERO_ADDRESS, sender=attacker)


def test_create__authorised_creator__allowed(registry, position, gov, bob):
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=bob.address):
        registry.setCreator(bob, True, sender=bob)
    registry.setCreator(bob, True, sender=gov)
    paid_id, _ = create(registry, position, bob)
    assert registry.ownerOf(paid_id) == bob.address


def test_create__registry_not_funder_manager__reverts(
    project, deployer, gov, scheduler, position, alice
):
    funder = deployer.deploy(project.TxFunder, gov)
    reg = deployer.deploy(project.PaidRebalancerRegistry, gov, scheduler, config(funder))
    with ape.reverts(funder.NotOwnerOrManager, caller=reg.address):
        reg.createPaidRebalancer(position, sender=alice)


def test_update_config__admin__refunds_old_funder(
    project, deployer, registry, scheduler, funder, position, gov, alice
):
    paid_id, _ = create(registry, position, alice)
    r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
    old_run = r.bookedRun()[0]
    paid = scheduler.getRun(old_run).fee
    other = deployer.deploy(project.TxFunder, gov)
    deployer.transfer(other, 10**18)
    other.setManager(registry, True, sender=gov)
    before = funder.balance
    registry.updateRecurringConfig(paid_id, config(other, interval=900), sender=gov)
    assert scheduler.status(old_run) == CANCELED
    assert funder.balance - before == paid * scheduler.refundBps() // 10_000
    assert not funder.isSpender(r) and other.isSpender(r)
    assert scheduler.getRun(r.bookedRun()[0]).fee == 10**18 - other.balance


def test_update_config__not_admin__reverts(registry, position, funder, alice):
    paid_id, _ = create(registry, position, alice)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=alice.address):
        registry.updateRecurringConfig(paid_id, config(funder), sender=alice)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=alice.address):
        registry.updateDefaultRecurringConfig(config(funder), sender=alice)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=alice.address):
        registry.setAllowancePerRebalancer(1, sender=alice)


def test_remove__owner_or_admin__cancels_refunds_destroys(
    project, deployer, registry, scheduler, funder, gov, alice, attacker
):
    positions = [deployer.deploy(project.TestPosition, alice) for _ in range(2)]
    ids = [create(registry, p, alice)[0] for p in positions]
    with ape.reverts(registry.NotRebalancerOwner, id=ids[0], caller=attacker.address):
        registry.removePaidRebalancer(ids[0], sender=attacker)
    for paid_id, sender in zip(ids, (alice, gov), strict=True):
        r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
        run_id = r.bookedRun()[0]
        before = funder.balance
        registry.removePaidRebalancer(paid_id, sender=sender)
        assert funder.balance - before == scheduler.getRun(run_id).fee // 2
        assert scheduler.status(run_id) == CANCELED and r.destroyed() and r.balance == 0
        assert not funder.isSpender(r)
        assert registry.rebalancerOf(paid_id) == ape.utils.ZERO_ADDRESS
    with ape.reverts(registry.UnknownRebalancer, id=ids[0]):
        registry.removePaidRebalancer(ids[0], sender=gov)
    # The position is free again.
    assert create(registry, positions[0], alice)[0] == 3


def test_fix_reschedule__anyone__idempotent(project, registry, position, alice, attacker):
    paid_id, _ = create(registry, position, alice)
    assert registry.fixReschedule.call(paid_id, sender=attacker) == ALREADY_BOOKED
    registry.fixReschedule(paid_id, sender=attacker)
    with ape.reverts(registry.UnknownRebalancer, id=99):
        registry.fixReschedule(99, sender=attacker)


def test_paid_rebalancer__direct_owner_calls__only_registry(
    project, registry, position, funder, alice
):
    paid_id, _ = create(registry, position, alice)
    r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
    with ape.reverts(r.OwnableUnauthorizedAccount, account=alice.address):
        r.destroy(sender=alice)
    with ape.reverts(r.OwnableUnauthorizedAccount, account=alice.address):
        r.setRecurringConfig(config(funder), sender=alice)
