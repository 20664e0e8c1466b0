"""The redemption queue is funded after a move at the fund's value AFTER the move (issue 45, the
integrator's own review): `rebalance` and `executeWaterfallLiquidation` fulfil pending requests
in the same call as their moves, and the vault prices that fulfilment through the controller's
pricingValues(). Priced at the mark from before the moves, cash just invested counted nowhere
(gone from the vault, not yet in the mark) and cash just raised counted twice (in the vault and
still in the mark)."""

import pytest


@pytest.fixture
def invested(controller, keeper, deposited, unit):
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
    return deposited


def test_rebalance_that_invests_then_funds_a_request__pays_its_value_not_less(
    controller, vault, keeper, alice, bob, fund_usdt, unit, invested
):
    """bob asks for about 1% of the fund (L1 is 10%: in band, so nothing funds it yet), then a
    deposit of 1.5M puts L1 far over its 20% ceiling. The due run invests about 1.35M and funds
    bob's request in the same call: bob must get his request's value (its estimate: the price
    did not move), not the value of a fund that seems 1.35M poorer."""
    vault.deposit(100_000 * unit, bob, sender=bob)
    shares = vault.balanceOf(bob) // 10  # about 10,000
    rid = vault.requestRedeem(shares, bob, bob, sender=bob).return_value
    estimate = vault.redeemRequest(rid).assets
    vault.deposit(1_500_000 * unit, alice, sender=alice)
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value[0] is True  # moved
    r = vault.redeemRequest(rid)
    assert r.status == 2, "the run funded the request"  # Claimable
    # priced at the post-move value: the estimate (prices unchanged), to within rounding
    assert r.assets >= estimate - 2, (r.assets, estimate)


def test_waterfall_that_raises_cash_then_funds_requests__pays_at_most_their_value(
    controller, vault, keeper, alice, bob, fund_usdt, unit, invested, project, fund, deployer
):
    """The other way round: a fall of an L3 asset's price after bob's request, then the keeper's
    waterfall sells L2 and funds the request. Priced at the pre-move mark the cash it raised would
    count twice, and bob would be paid his full estimate out of the other holders' share; priced
    after the move he gets his shares' value at the lower price."""
    vault.deposit(100_000 * unit, bob, sender=bob)
    rid = vault.requestRedeem(vault.balanceOf(bob), bob, bob, sender=bob).return_value
    estimate = vault.redeemRequest(rid).assets
    # every L3 instant asset loses 10%: the fund is worth about 6% less
    for sym, feed in fund.feeds.items():
        if controller.assetParams(fund.assets[sym]).tier == 2:
            feed.updateAnswer(feed.latestAnswer() * 90 // 100, sender=deployer)
    controller.mark(sender=keeper)
    low_now = vault.previewRedeem(vault.redeemRequest(rid).shares)
    assert low_now < estimate * 97 // 100
    controller.executeWaterfallLiquidation(50_000 * unit, 1, sender=keeper)
    r = vault.redeemRequest(rid)
    assert r.status == 2
    assert r.assets <= low_now + 2, (r.assets, low_now, estimate)
