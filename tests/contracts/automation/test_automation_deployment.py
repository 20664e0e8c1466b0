"""keepers.deployment.automation: deploys, wires and hands ownership to the admin."""

from __future__ import annotations

import pytest
from autolib import SCHEDULED

from keepers.deployment.automation import RecurringConfig, deploy_automation


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
    # The wiring works end to end: a position owner gets a booked paid rebalancer.
    position = deployer.deploy(project.TestPosition, alice)
    paid_id = registry.createPaidRebalancer(position, sender=alice).return_value
    supervisor.addPaidRebalancer(paid_id, sender=alice)
    assert supervisor.itemCount() == 1


def test_deploy_automation__bare_admin_address__pending_owner(project, deployer, accounts):
    admin = accounts[8].address
    addr = deploy_automation(project, deployer, admin, base_fee=1, slot_seconds=30)
    funder = project.TxFunder.at(addr["tx_funder"])
    assert funder.pendingOwner() == admin and funder.owner() == deployer.address


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
