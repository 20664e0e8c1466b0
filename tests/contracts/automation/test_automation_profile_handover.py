"""The local deploy profile's automation after hand-over (issue 11, low): the fund's paid
rebalancer belongs to the admin, and the deployer keeps no power over any automation contract."""

from __future__ import annotations

import ape
from ape.utils import ZERO_ADDRESS

from ballast_dev.deployment.profile import deploy_profile, load_profile
from tests.support.autolib import SCHEDULED

LOCAL = "scripts/profiles/local.yaml"


def test_local_profile__deployer_after_hand_over__no_power_over_fund_rebalancer(accounts, project):
    """Who else can remove, unregister, reconfigure or re-create the fund's paid rebalancer
    after deploy? Not the deployer (on the old deploy it stayed the rebalancer's registry owner
    and could remove it, stopping the fund's automation); only the admin."""
    deployer, admin = accounts[0], accounts[1]
    fund = deploy_profile(load_profile(LOCAL), deployer, accounts, log=lambda *_: None)
    a = fund.automation
    registry, supervisor, funder = a["paid_registry"], a["supervisor"], a["tx_funder"]
    scheduler, rid, reb = a["scheduler"], a["fund_rebalancer_id"], a["fund_rebalancer"]
    assert registry.ownerOf(rid) == admin.address
    for c in (scheduler, funder, registry, supervisor):
        assert c.owner() == admin.address and c.pendingOwner() == ZERO_ADDRESS
    assert supervisor.isSupervised(rid)
    assert scheduler.status(reb.bookedRun()[0]) == SCHEDULED
    assert 0 < funder.allowance(reb) <= registry.allowancePerRebalancer()
    d = deployer.address
    assert not registry.isCreator(deployer) and not funder.isManager(deployer)
    with ape.reverts(registry.NotRebalancerOwner, id=rid, caller=d):
        registry.removePaidRebalancer(rid, sender=deployer)
    with ape.reverts(supervisor.NotRebalancerOwnerOrAdmin, id=rid, caller=d):
        supervisor.removePaidRebalancer(rid, sender=deployer)
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=d):
        registry.updateRecurringConfig(rid, registry.defaultRecurringConfig(), sender=deployer)
    with ape.reverts(registry.NotAuthorisedCreator):
        registry.createPaidRebalancerFor(fund.vault, deployer, sender=deployer)
    with ape.reverts(funder.NotOwnerOrManager, caller=d):
        funder.approveSpender(deployer, 1, sender=deployer)
    # The admin can: it removes the fund's rebalancer (and could create it again).
    registry.removePaidRebalancer(rid, sender=admin)
    assert reb.destroyed()
