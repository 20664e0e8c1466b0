"""PaidRebalancerRegistry: creation rights, caps, finite allowances, one per position, admin
config, removal; the issue-11 drain exploit."""

from __future__ import annotations

import contextlib

import ape

from tests.support.autolib import (
    BASE_FEE,
    CANCELED,
    EFFORT,
    FUNDER_CAP,
    INTERVAL,
    MARGIN_BPS,
    PAID_ALLOWANCE,
    SCHEDULED,
    advance,
    config,
    create_paid,
    deploy_registry,
    events,
    now,
    selector,
)

ALREADY_BOOKED, BOOKED, FAILED, DESTROYED = range(4)


def create(registry, position, sender):
    """The position's owner creates, after the admin allow-listed the position."""
    return create_paid(registry, position, sender, registry.owner())


def test_create__allow_listed_position_owner__books_with_admin_funder(
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
    # A finite allowance, never the unlimited one.
    assert funder.allowance(r) == PAID_ALLOWANCE - scheduler.getRun(r.bookedRun()[0]).fee
    assert registry.liveCount() == 1 and registry.liveCountOf(alice) == 1


def test_create__second_for_same_position__reverts(registry, position, alice, gov):
    paid_id, _ = create(registry, position, alice)
    with ape.reverts(registry.RebalancerExists, position=position.address, id=paid_id):
        registry.createPaidRebalancer(position, sender=alice)
    registry.setCreator(gov, True, sender=gov)
    with ape.reverts(registry.RebalancerExists, position=position.address, id=paid_id):
        registry.createPaidRebalancer(position, sender=gov)


def test_create__not_authorised__reverts(
    project, deployer, registry, position, gov, attacker, handler
):
    """Who else can call createPaidRebalancer? Nobody but the admin, a creator, or the owner()
    of an allow-listed position: the attacker's own positions are not allow-listed, an
    allow-listed position of someone else is not the attacker's, and createPaidRebalancerFor is
    creators only."""
    own = deployer.deploy(project.TestPosition, attacker)
    with ape.reverts(registry.NotAuthorisedCreator, caller=attacker.address, position=own.address):
        registry.createPaidRebalancer(own, sender=attacker)
    with ape.reverts(registry.NotAuthorisedCreator, caller=attacker.address, position=own.address):
        registry.createPaidRebalancerFor(own, attacker, sender=attacker)
    registry.setPositionAllowed(position, True, sender=gov)
    with ape.reverts(registry.NotPositionOwner, caller=attacker.address, position=position.address):
        registry.createPaidRebalancer(position, sender=attacker)
    # A position with no owner() (or an EOA) cannot be claimed by a stranger either.
    registry.setPositionAllowed(handler, True, sender=gov)
    with ape.reverts(registry.NotPositionOwner):
        registry.createPaidRebalancer(handler, sender=attacker)
    with ape.reverts(registry.ZeroPosition):
        registry.createPaidRebalancer(ape.utils.ZERO_ADDRESS, sender=attacker)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=attacker.address):
        registry.setPositionAllowed(own, True, sender=attacker)
    assert registry.liveCount() == 0


def test_create__authorised_creator__allowed_for_any_owner(
    project, deployer, registry, position, gov, bob, alice
):
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=bob.address):
        registry.setCreator(bob, True, sender=bob)
    registry.setCreator(bob, True, sender=gov)
    paid_id = registry.createPaidRebalancer(position, sender=bob).return_value
    assert registry.ownerOf(paid_id) == bob.address
    other = deployer.deploy(project.TestPosition, alice)
    paid_id = registry.createPaidRebalancerFor(other, alice, sender=bob).return_value
    assert registry.ownerOf(paid_id) == alice.address
    with ape.reverts(registry.ZeroOwner):
        registry.createPaidRebalancerFor(other, ape.utils.ZERO_ADDRESS, sender=bob)
    # A creator can give its right up itself (the deployer does after set-up).
    registry.renounceCreator(sender=bob)
    assert not registry.isCreator(bob)
    third = deployer.deploy(project.TestPosition, bob)
    with ape.reverts(registry.NotAuthorisedCreator, caller=bob.address, position=third.address):
        registry.createPaidRebalancer(third, sender=bob)


def test_create__caps__per_owner_and_total(project, deployer, registry, gov, alice, bob):
    """Caps bound what even the admin's creators can make: per owner, then in total; a removal
    frees a place."""
    registry.setLimits(2, 3, sender=gov)
    pos = [deployer.deploy(project.TestPosition, alice) for _ in range(5)]
    a1 = registry.createPaidRebalancerFor(pos[0], alice, sender=gov).return_value
    registry.createPaidRebalancerFor(pos[1], alice, sender=gov)
    with ape.reverts(registry.OwnerCapReached, owner=alice.address, maxPerOwner=2):
        registry.createPaidRebalancerFor(pos[2], alice, sender=gov)
    registry.createPaidRebalancerFor(pos[2], bob, sender=gov)
    with ape.reverts(registry.TotalCapReached, maxTotal=3):
        registry.createPaidRebalancerFor(pos[3], bob, sender=gov)
    registry.removePaidRebalancer(a1, sender=alice)
    assert registry.liveCount() == 2 and registry.liveCountOf(alice) == 1
    registry.createPaidRebalancerFor(pos[3], alice, sender=gov)
    with ape.reverts(registry.InvalidLimits, maxPerOwner=4, maxTotal=3):
        registry.setLimits(4, 3, sender=gov)
    with ape.reverts(registry.InvalidLimits, maxPerOwner=0, maxTotal=3):
        registry.setLimits(0, 3, sender=gov)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=alice.address):
        registry.setLimits(5, 50, sender=alice)


def test_allowance__finite_validated_and_topped_up_by_admin_only(
    project, deployer, registry, scheduler, funder, position, gov, alice
):
    """No unlimited default: 0, max uint and anything above MAX_ALLOWANCE_PER_REBALANCER are
    refused, at construction too. Who else can top an allowance up? Only the registry owner."""
    cap = registry.MAX_ALLOWANCE_PER_REBALANCER()
    assert registry.allowancePerRebalancer() == PAID_ALLOWANCE
    for bad in (0, cap + 1, 2**256 - 1):
        with ape.reverts(registry.InvalidAllowance, allowance=bad):
            registry.setAllowancePerRebalancer(bad, sender=gov)
    with ape.reverts(registry.InvalidAllowance, allowance=2**256 - 1):
        deploy_registry(project, deployer, gov, scheduler, funder, allowance=2**256 - 1)
    registry.setAllowancePerRebalancer(cap, sender=gov)
    paid_id, _ = create(registry, position, alice)
    r = registry.rebalancerOf(paid_id)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=alice.address):
        registry.setRebalancerAllowance(paid_id, 10**16, sender=alice)
    with ape.reverts(registry.InvalidAllowance, allowance=2**256 - 1):
        registry.setRebalancerAllowance(paid_id, 2**256 - 1, sender=gov)
    tx = registry.setRebalancerAllowance(paid_id, 10**16, sender=gov)
    assert funder.allowance(r) == 10**16
    assert events(tx, "RebalancerAllowanceSet")[0].allowance == 10**16


def test_create__registry_not_funder_manager__reverts(
    project, deployer, gov, scheduler, position, alice
):
    funder = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    reg = deploy_registry(project, deployer, gov, scheduler, funder, manager=False)
    with ape.reverts(funder.NotOwnerOrManager, caller=reg.address):
        reg.createPaidRebalancerFor(position, alice, sender=gov)


def test_update_config__admin__refunds_old_funder(
    project, deployer, registry, scheduler, funder, position, gov, alice
):
    paid_id, _ = create(registry, position, alice)
    r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
    old_run = r.bookedRun()[0]
    paid = scheduler.getRun(old_run).fee
    other = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
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
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=alice.address):
        registry.setCreator(alice, True, sender=alice)


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


def test_exploit__forty_fake_positions_and_public_tick__funder_not_drained(
    chain, project, deployer, registry, supervisor, scheduler, funder, gov, attacker
):
    """Issue 11, finding 1 (high), replayed: the attacker deploys 40 positions it owns, asks
    for a paid rebalancer on each (on the old code each was authorised without limit on the
    admin's funder and booked at once, the fee paid to whoever executes: the attacker), executes
    every due run, and after the admin's top-up calls the public Supervisor.tick to re-book.
    Now: every creation reverts, the attacker cannot add items to the supervisor, the funder
    pays nothing beyond the fund's own rebalancer and the top-up stays, and the fund's own
    rebalancer keeps its booking."""
    registry.setSupervisor(supervisor, sender=gov)
    fund_pos = deployer.deploy(project.TestPosition, gov)
    fund_id = registry.createPaidRebalancerFor(fund_pos, gov, sender=gov).return_value
    fund_reb = project.Rebalancer.at(registry.rebalancerOf(fund_id))
    fund_run = fund_reb.bookedRun()[0]
    funder_before = funder.balance
    created = 0
    for _ in range(40):
        pos = attacker.deploy(project.TestPosition, attacker)
        try:
            registry.createPaidRebalancer(pos, sender=attacker)
            created += 1
        except ape.exceptions.ContractLogicError:
            pass
        with contextlib.suppress(ape.exceptions.ContractLogicError):
            supervisor.addPaidRebalancer(registry.nextId() - 1, sender=attacker)
    own = attacker.deploy(project.TestPosition, attacker)
    with ape.reverts(registry.NotAuthorisedCreator, caller=attacker.address, position=own.address):
        registry.createPaidRebalancer(own, sender=attacker)
    with ape.reverts(supervisor.NotAdminOrRegistry, caller=attacker.address):
        supervisor.addPaidRebalancers([fund_id], sender=attacker)
    # The attacker executes everything due once the booked runs come due (the old attack's
    # payday: 40 runs' fees to the attacker as executor, paid from the admin's funder).
    advance(chain, 3_600 + 120)
    due = list(scheduler.nextDueRuns(100))
    tx = scheduler.executeBatch(due, sender=attacker)
    handlers = {scheduler.getRun(e.id).handler for e in events(tx, "RunExecuted")}
    fees_to_attacker = sum(e.fee for e in events(tx, "RunExecuted"))
    rebooked = sum(e.feePaid for e in events(tx, "RunBooked"))
    assert created == 0
    assert registry.liveCount() == 1 and registry.nextId() == 2
    # Only the fund's own run was there to execute: the honest executor's pay, nothing more.
    assert handlers == {fund_reb.address}
    paid = scheduler.getRun(fund_run).fee
    assert fees_to_attacker == paid - paid * scheduler.protocolShareBps() // 10_000
    assert funder.balance == funder_before - rebooked
    fund_run = fund_reb.bookedRun()[0]
    funder_before = funder.balance
    # The admin tops up; one public tick re-books nothing but what is already booked.
    gov.transfer(funder, 10**18)
    supervisor.tick(100, sender=attacker)
    assert funder.balance == funder_before + 10**18
    assert fund_reb.bookedRun()[0] == fund_run and scheduler.status(fund_run) == SCHEDULED
    assert now(chain) < scheduler.getRun(fund_run).timestamp
    assert funder.spendCapPerWindow() == FUNDER_CAP


def test_stolen_creator_key__funder_pays_at_most_the_daily_cap(
    chain, project, deployer, registry, supervisor, scheduler, funder, gov, attacker
):
    """The worst case of a stolen creator key (or registry owner key): the thief creates as many
    paid rebalancers as the caps allow and executes every run itself for a day, ticking the
    supervisor each hour to re-book. The admin's funder pays at most the rolling-day cap: a
    full bucket plus one day's drain, 2 x cap over 24 hours, whatever the allowances."""
    run_fee = scheduler.feeFor(0, 1, 400_000) * 12_000 // 10_000
    cap = 5 * run_fee
    funder.setSpendCap(cap, sender=gov)
    registry.setCreator(attacker, True, sender=gov)
    registry.setSupervisor(supervisor, sender=gov)
    before = funder.balance
    for _ in range(10):
        pos = attacker.deploy(project.TestPosition, attacker)
        registry.createPaidRebalancerFor(pos, attacker, sender=attacker)
    assert registry.liveCount() == 10
    assert funder.spentInWindow() <= cap
    for _ in range(24):
        advance(chain, 3_600)
        due = list(scheduler.nextDueRuns(100))
        if due:
            scheduler.executeBatch(due, sender=attacker)
        supervisor.tick(100, sender=attacker)
        assert funder.spentInWindow() <= cap
    paid = before - funder.balance
    assert cap <= paid <= 2 * cap


def test_set_trusted_target__admin_only__position_owner_and_creator_cannot(
    project, registry, position, alice, gov, bob, attacker
):
    """Only the registry's owner (the admin) makes a paid rebalancer believe its target's
    RebalanceHeld: not the position's owner who created it, not an authorised creator, not an
    attacker, and not directly on the Rebalancer (the registry owns it)."""
    paid_id, _ = create(registry, position, alice)
    r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
    assert not r.trustedTarget()
    registry.setCreator(bob, True, sender=gov)
    for outsider in (alice, bob, attacker):
        with ape.reverts(registry.OwnableUnauthorizedAccount, account=outsider.address):
            registry.setTrustedTarget(paid_id, True, sender=outsider)
        with ape.reverts(r.OwnableUnauthorizedAccount, account=outsider.address):
            r.setTrustedTarget(True, sender=outsider)
    assert not r.trustedTarget()
    tx = registry.setTrustedTarget(paid_id, True, sender=gov)
    assert events(tx, "TrustedTargetSet")[0].trusted and r.trustedTarget()
    with ape.reverts(registry.UnknownRebalancer, id=99):
        registry.setTrustedTarget(99, True, sender=gov)


def test_exploit__paid_positions_reverting_held__back_off_and_fund_rebalancer_keeps_booking(
    chain, project, deployer, scheduler, gov, attacker
):
    """Third review (low), replayed: five allow-listed paid positions of the attacker's revert
    RebalanceHeld() and the attacker executes every run as it comes due. On the old code each
    was retried every interval / 24 without backing off (the fees to the attacker as executor),
    the funder's shared rolling-day cap filled, and the fund's own rebalancer's booking failed
    with SpendCapExceeded. Now they back off (at most 6 runs each in 90 minutes, not 36), they
    stop at cap - reserve, and the fund's rebalancer (reserved, its target trusted) books every
    time."""
    run_fee = BASE_FEE * EFFORT * 5 * MARGIN_BPS // 10_000
    cap, reserve = 20 * run_fee, 10 * run_fee
    funder = deployer.deploy(project.TxFunder, gov, cap)
    deployer.transfer(funder, 10**19)
    registry = deploy_registry(project, deployer, gov, scheduler, funder)
    fund_pos = deployer.deploy(project.TestPosition, gov)
    fund_id = registry.createPaidRebalancerFor(fund_pos, gov, sender=gov).return_value
    fund_reb = project.Rebalancer.at(registry.rebalancerOf(fund_id))
    fund_pos.setRebalancer(fund_reb, True, sender=gov)
    registry.setTrustedTarget(fund_id, True, sender=gov)
    funder.setReservedSpender(fund_reb, True, sender=gov)
    funder.setReserve(reserve, sender=gov)
    spam = []
    for _ in range(5):
        pos = attacker.deploy(project.TestPosition, attacker)
        registry.setPositionAllowed(pos, True, sender=gov)
        rid = registry.createPaidRebalancer(pos, sender=attacker).return_value
        r = project.Rebalancer.at(registry.rebalancerOf(rid))
        pos.setRebalancer(r, True, sender=attacker)
        pos.setMode(4, sender=attacker)  # Held
        spam.append(r.address)
    end = now(chain) + INTERVAL + INTERVAL // 2
    runs = {a: 0 for a in [*spam, fund_reb.address]}
    fund_failed, spam_capped = [], 0
    while True:
        booked = [ts for a in runs if (ts := project.Rebalancer.at(a).bookedRun()[1]) != 0]
        nxt = min(booked, default=end + 1)
        if nxt > end:
            break
        advance(chain, max(nxt - now(chain), 0))
        tx = scheduler.executeBatch(list(scheduler.nextDueRuns(50)), sender=attacker)
        for log in tx.events:
            emitter = log.contract_address
            if log.event_name in ("Rebalanced", "RebalanceFailed") and emitter in runs:
                runs[emitter] += 1
            if log.event_name == "FailedRecurringSchedule":
                if emitter == fund_reb.address:
                    fund_failed.append(log.reason)
                elif log.reason[:4] == selector("SpendCapExceeded(uint256,uint256)"):
                    spam_capped += 1
    assert fund_failed == []
    assert runs[fund_reb.address] == 1 and fund_reb.bookedRun()[0] != 0
    assert all(runs[a] <= 6 for a in spam), runs
    assert spam_capped > 0  # the spam was real: the sub-cap refused it, not the back-off alone
    assert funder.availableTo(fund_reb) >= reserve - run_fee
