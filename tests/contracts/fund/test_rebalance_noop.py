"""rebalance(false) with nothing to do (issue 14): decided from the stored mark, the vault's
token balance and the queue reserve the vault reports, in two slots and one token read. Every
guard of a move still holds on that path: pause, the caller's role, the sequencer feed, the
mark's age and the admin's bands; and the vault's redemption queue still counts against L1."""

import ape
import pytest

NO_OP_GAS = 40_000  # issue 14's target for the whole transaction, intrinsic gas included
ZERO = "0x" + "00" * 20
RESERVE_UNKNOWN = 2**112 - 1


@pytest.fixture
def in_band(controller, keeper, deposited, unit):
    """1M deposited and invested to the targets (10/30/60): in band, mark fresh."""
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
    return deposited


def _names(tx):
    return [e.event_name for e in tx.events]


def _noop(controller, sender):
    tx = controller.rebalance(False, sender=sender)
    assert tx.return_value == (False, False)  # (moved, offTarget)
    assert "Rebalanced" in _names(tx)
    return tx


def test_noop__in_band_fresh_mark__answered_from_the_mark_under_40k(controller, keeper, in_band):
    tx = _noop(controller, keeper)
    # the live pass would end with a new mark; the cheap answer stores nothing
    assert "Marked" not in _names(tx)
    assert tx.gas_used < NO_OP_GAS, tx.gas_used


def test_noop__mark_older_than_nav_max_age__falls_back_to_the_live_pass(
    controller, keeper, chain, in_band
):
    age = controller.riskParams().navMaxAge
    chain.pending_timestamp += age + 1
    tx = _noop(controller, keeper)
    assert "Marked" in _names(tx)  # the oracles decided (still in band) and re-marked
    assert "Marked" not in _names(_noop(controller, keeper))  # fresh again: the cheap answer


def test_noop__paused__reverts_enforced_pause(controller, keeper, guardian, gov, in_band):
    controller.pause(sender=guardian)
    assert controller.paused() is True
    with ape.reverts(controller.EnforcedPause):
        controller.rebalance(False, sender=keeper)
    with ape.reverts(controller.EnforcedPause):
        controller.pause(sender=guardian)
    controller.unpause(sender=gov)
    assert controller.paused() is False
    with ape.reverts(controller.ExpectedPause):
        controller.unpause(sender=gov)
    _noop(controller, keeper)


def test_noop__sequencer_down__reverts_until_the_feed_is_removed(
    controller, project, keeper, deployer, gov, in_band
):
    seq = deployer.deploy(project.TestPriceFeed, 0, 1)  # answer 1: the sequencer is down
    controller.setSequencerFeed(seq, 3_600, sender=gov)
    with ape.reverts(controller.SequencerDown):
        controller.rebalance(False, sender=keeper)
    controller.setSequencerFeed(ZERO, 0, sender=deployer)  # removing it: the timelock
    _noop(controller, keeper)


def test_noop__roles_follow_grants_revokes_and_renounces(
    controller, keeper, deployer, attacker, in_band
):
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(False, sender=attacker)
    rebalancer, keeper_role = controller.REBALANCER_ROLE(), controller.KEEPER_ROLE()
    controller.grantRole(rebalancer, attacker, sender=deployer)
    controller.grantRole(keeper_role, attacker, sender=deployer)
    _noop(controller, attacker)
    controller.revokeRole(keeper_role, attacker, sender=deployer)
    _noop(controller, attacker)  # still holds REBALANCER_ROLE
    controller.renounceRole(rebalancer, attacker, sender=attacker)
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(False, sender=attacker)
    controller.revokeRole(keeper_role, keeper, sender=deployer)
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(False, sender=keeper)


def test_noop__admin_narrows_l2_band__the_fresh_mark_is_out_of_band_and_it_moves(
    controller, keeper, deployer, in_band
):
    _noop(controller, keeper)
    # L2 at 30%, L3 at 60%: a band of [31%, 40%] for L2 puts the fund out of band at once
    controller.setTiers([(900, 500, 2000), (3500, 3100, 4000), (5600, 5000, 7000)], sender=deployer)
    assert tuple(controller.tier(1)) == (3500, 3100, 4000)
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value == (True, False)  # moved, and nothing cut


def test_noop__redemption_request_drains_l1__the_queue_counts_and_it_moves(
    controller, vault, keeper, alice, in_band
):
    """L1 holds 10% in the vault's balance, but a request for about 8% of the fund earmarks
    most of it: free cash is about 2%, under L1's 5% floor. Without the reserve the vault
    reports, the balance alone looks in band and the no-op would leave the queue unpaid."""
    _noop(controller, keeper)
    vault.requestRedeem(vault.balanceOf(alice) * 8 // 100, alice, alice, sender=alice)
    assert controller.queueReserve() == vault.pendingRedemptions() > 0
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value == (True, False)  # moved, and nothing cut
    assert vault.claimableRedemptions() > 0  # the request was paid out of what was sold


def test_queue_reserve__follows_the_vault_through_request_fulfil_claim(
    controller, vault, keeper, alice, in_band
):
    def reserve():
        return vault.pendingRedemptions() + vault.claimableRedemptions()

    assert controller.queueReserve() == reserve() == 0  # reported at setController
    vault.requestRedeem(vault.balanceOf(alice) // 50, alice, alice, sender=alice)
    assert controller.queueReserve() == reserve() > 0
    vault.fulfilRedemptions(10, sender=keeper)
    assert vault.claimableRedemptions() > 0
    assert controller.queueReserve() == reserve()
    vault.claimRedemption(1, alice, sender=alice)  # the first request (ids start at 1)
    assert controller.queueReserve() == reserve() == 0
    _noop(controller, keeper)


def test_sync_queue_reserve__anyone_but_the_vault__reverts(controller, attacker, keeper):
    with ape.reverts(controller.NotVault):
        controller.syncQueueReserve(0, sender=attacker)
    with ape.reverts(controller.NotVault):
        controller.syncQueueReserve(10**30, sender=keeper)


def test_queue_reserve__controller_the_vault_never_reported_to__unknown(
    project, deployer, vault, controller
):
    """Until its vault reports (at setController), the reserve is unknown and rebalance(false)
    asks the vault for its free cash instead of assuming an empty queue."""
    other = deployer.deploy(
        project.AssetController,
        vault,
        deployer,
        [tuple(controller.tier(t)) for t in range(3)],
        tuple(controller.riskParams()),
    )
    assert other.queueReserve() == RESERVE_UNKNOWN
