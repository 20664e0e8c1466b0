"""ballast_dev.deployment.automation: deploys, wires and hands ownership to the admin."""

from __future__ import annotations

import ape
import pytest
from ape.utils import ZERO_ADDRESS

from ballast_dev.deployment.automation import (
    DEFAULT_FUNDER_SPEND_CAP_WEI,
    DEFAULT_MAX_PAID_PER_OWNER,
    DEFAULT_MAX_PAID_TOTAL,
    DEFAULT_PAID_ALLOWANCE_WEI,
    RecurringConfig,
    deploy_automation,
)
from tests.support.autolib import SCHEDULED


def test_deploy_automation__admin_signer__wired_and_owned(project, deployer, gov, alice):
    addr = deploy_automation(
        project, deployer, gov, base_fee=10**9, slot_seconds=60, funder_deposit=10**18
    )
    assert set(addr) == {"scheduler", "tx_funder", "paid_registry", "supervisor"}
    scheduler = project.RebalanceScheduler.at(addr["scheduler"])
    funder = project.TxFunder.at(addr["tx_funder"])
    registry = project.PaidRebalancerRegistry.at(addr["paid_registry"])
    supervisor = project.Supervisor.at(addr["supervisor"])
    for c in (scheduler, funder, registry, supervisor):
        assert c.owner() == gov.address
    assert funder.isManager(registry) and funder.isSpender(supervisor)
    assert scheduler.slotSeconds() == 60 and scheduler.baseFeePerEffort() == 10**9
    run_id, _ = supervisor.bookedRun()
    assert scheduler.status(run_id) == SCHEDULED
    assert registry.defaultRecurringConfig().txFunder == funder.address
    # Issue 11 limits are set: finite allowance, caps, a rolling-day spend cap.
    assert registry.allowancePerRebalancer() == DEFAULT_PAID_ALLOWANCE_WEI
    assert (registry.maxPerOwner(), registry.maxTotal()) == (
        DEFAULT_MAX_PAID_PER_OWNER,
        DEFAULT_MAX_PAID_TOTAL,
    )
    assert funder.spendCapPerWindow() == DEFAULT_FUNDER_SPEND_CAP_WEI
    assert registry.supervisor() == supervisor.address
    # The wiring works end to end: the admin allow-lists a position, its owner gets a booked
    # paid rebalancer, registered with the supervisor by the registry.
    position = deployer.deploy(project.TestPosition, alice)
    registry.setPositionAllowed(position, True, sender=gov)
    paid_id = registry.createPaidRebalancer(position, sender=alice).return_value
    assert supervisor.isSupervised(paid_id) and supervisor.itemCount() == 1


def test_deploy_automation__deployer_after_hand_over__no_power(project, deployer, gov, alice):
    """Who else can call the admin functions after deploy? Not the deployer: it owns nothing,
    is not a creator, and cannot spend, approve, add or remove."""
    addr = deploy_automation(project, deployer, gov, base_fee=10**9, slot_seconds=60)
    scheduler = project.RebalanceScheduler.at(addr["scheduler"])
    funder = project.TxFunder.at(addr["tx_funder"])
    registry = project.PaidRebalancerRegistry.at(addr["paid_registry"])
    supervisor = project.Supervisor.at(addr["supervisor"])
    for c in (scheduler, funder, registry, supervisor):
        assert c.owner() == gov.address and c.pendingOwner() == ZERO_ADDRESS
    assert not registry.isCreator(deployer) and not funder.isManager(deployer)
    position = deployer.deploy(project.TestPosition, deployer)
    d = deployer.address
    with ape.reverts(registry.NotAuthorisedCreator, caller=d, position=position.address):
        registry.createPaidRebalancer(position, sender=deployer)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=d):
        registry.setCreator(deployer, True, sender=deployer)
    with ape.reverts(funder.NotOwnerOrManager, caller=d):
        funder.approveSpender(deployer, 1, sender=deployer)
    with ape.reverts(funder.OwnableUnauthorizedAccount, account=d):
        funder.setSpendCap(2**100, sender=deployer)
    with ape.reverts(funder.OwnableUnauthorizedAccount, account=d):
        funder.withdraw(deployer, 1, sender=deployer)
    with ape.reverts(scheduler.OwnableUnauthorizedAccount, account=d):
        scheduler.setFees(0, 0, sender=deployer)
    with ape.reverts(supervisor.NotAdminOrRegistry, caller=d):
        supervisor.addPaidRebalancer(1, sender=deployer)


def test_deploy_automation__bare_admin_address__pending_owner(project, deployer, accounts):
    """With a bare admin address the admin must accept ownership of all four contracts."""
    admin = accounts[8].address
    addr = deploy_automation(project, deployer, admin, base_fee=1, slot_seconds=30)
    for name, ctype in (
        ("scheduler", project.RebalanceScheduler),
        ("tx_funder", project.TxFunder),
        ("paid_registry", project.PaidRebalancerRegistry),
        ("supervisor", project.Supervisor),
    ):
        c = ctype.at(addr[name])
        assert c.pendingOwner() == admin and c.owner() == deployer.address


@pytest.mark.parametrize(
    "kwargs,field",
    [({"slot_seconds": 0}, "slot_seconds"), ({"base_fee": -1}, "fees")],
)
def test_deploy_automation__bad_args__value_error(project, deployer, gov, kwargs, field):
    args = {"base_fee": 1, "slot_seconds": 60} | kwargs
    with pytest.raises(ValueError, match=field):
        deploy_automation(project, deployer, gov, **args)


@pytest.mark.parametrize(
    "kw,field",
    [
        ({"interval": 0}, "interval"),
        ({"priority": 0}, "priority"),
        ({"estimation_margin_bps": 9_999}, "estimation_margin_bps"),
    ],
)
def test_recurring_config__bad_values__value_error_names_field(kw, field):
    base = dict(
        interval=60,
        priority=1,
        execution_effort=400_000,
        estimation_margin_bps=10_000,
        force_rebalance=False,
        tx_funder="0x" + "11" * 20,
    )
    with pytest.raises(ValueError, match=field):
        RecurringConfig(**(base | kw))
