"""Issue 45, room in the controller: the configuration views, pause and unpause run in the
admin module (AssetControllerAdmin). A view is answered through a static self-call that the
controller's fallback hands to the module; nobody else reaches that fallback, and in its static
context the module can change nothing."""

import ape
from eth_utils import keccak

VIEW_TAG = keccak(text="AssetController.viewFromAdmin")[:4]
FEED_BOUND = 2 * 10**8


def test_controller_views__answered_by_the_admin_module__same_values_and_errors(
    fund, controller, vault, unit
):
    tokens = list(controller.assetList())
    assert tokens == [fund.assets[s].address for s in ("mmfA", "mmfB", "crA", "crB", "crC", "rwa")]
    assert [tuple(controller.tier(t)) for t in range(3)] == [
        (1000, 500, 2000),
        (3000, 2000, 4000),
        (6000, 5000, 7000),
    ]
    with ape.reverts(controller.InvalidTier, tier=3):  # the module's error, passed on whole
        controller.tier(3)
    p = controller.assetParams(fund.assets["crA"])
    assert (p.token, p.tier, p.feed) == (fund.assets["crA"].address, 2, fund.feeds["crA"].address)
    with ape.reverts(controller.UnknownAsset):
        controller.assetParams(vault.address)
    assert controller.defaultAsset(1) == fund.assets["mmfA"].address
    assert controller.riskParams().navMaxAge > 0
    assert controller.moveLimits().window >= 0
    assert controller.sequencerFeed() == (ape.utils.ZERO_ADDRESS, 0)
    assert controller.fallbackFeed(fund.assets["crA"]) == ape.utils.ZERO_ADDRESS
    whole = 10 ** fund.assets["crA"].decimals()
    assert controller.valueOf(fund.assets["crA"], whole) == unit  # a whole token at $1
    lens = fund.lens.fundState(controller.address)  # the lens reads the views on chain
    assert len(lens.assets) == len(tokens)


def test_controller_views__tag_matches_no_function__fallback_refuses_outsiders(
    project, controller, attacker, deployer
):
    ct = project.AssetController.contract_type
    selectors = {keccak(text=m.selector)[:4] for m in [*ct.view_methods, *ct.mutable_methods]}
    assert keccak(text="tier(uint8)")[:4] in selectors  # the reader sees the functions
    assert VIEW_TAG not in selectors
    tier0 = VIEW_TAG + keccak(text="tier(uint8)")[:4] + (0).to_bytes(32, "big")
    pause = VIEW_TAG + keccak(text="pause()")[:4]
    for who in (attacker, deployer):
        for data in (tier0, pause, keccak(text="nothing()")[:4]):
            with ape.reverts():
                who.transfer(
                    controller.address, 0, data=data
                )  # only the controller's own static call


def test_controller_pause__through_the_admin_module__roles_as_before(
    controller, guardian, deployer, attacker, keeper
):
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.pause(sender=attacker)
    controller.pause(sender=guardian)
    assert controller.paused()
    with ape.reverts(controller.EnforcedPause):
        controller.rebalance(True, sender=keeper)
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.unpause(sender=guardian)  # unpausing adds risk: admin only
    controller.unpause(sender=deployer)
    assert not controller.paused()
