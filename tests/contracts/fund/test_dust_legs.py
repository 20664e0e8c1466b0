"""A deploy never buys a leg of a few base units (the integrator's review, issue 45's leg work):
the equal-weight pass filled each asset up to the tier's equal share whatever the amount, so
two positions a few units apart gave the first one a leg of a few units. Bought from a fund
priced above 1 (a money-market fund that earned: 1.05, its feed tracking it), 3 units buy 2
shares: a third of the leg lost to rounding, which the loss guard (maxValueLossBps, 3%) refuses
by reverting the whole move. allocateToLayer and the due rebalance both deploy this way, so the
same state refused every run. Legs under one whole base token (or minMoveValue, the larger)
now stay in L1, in both passes."""

import pytest


@pytest.fixture
def earning(fund, controller, vault, keeper, alice, usdt, fund_usdt, deployer, unit):
    """1M in the vault; both L2 funds earned 5% (share price 1.05) and their feeds say 1.05;
    the controller holds 100,000 of mmfA and 90,000 of mmfB."""
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    a, b = fund.assets["mmfA"], fund.assets["mmfB"]
    for sym, t in (("mmfA", a), ("mmfB", b)):
        usdt.mint(deployer, 10_000 * unit, sender=deployer)
        usdt.approve(t, 2**256 - 1, sender=deployer)
        t.deposit(10_000 * unit, deployer, sender=deployer)
        usdt.mint(t, 500 * unit, sender=deployer)  # the yield: 10,500 behind 10,000 shares
        fund.feeds[sym].updateAnswer(105_000_000, sender=deployer)
    controller.purchaseAsset(a, 100_000 * unit, 0, sender=keeper)
    controller.purchaseAsset(b, 90_000 * unit, 0, sender=keeper)
    return a, b


def test_allocate__equal_share_a_few_units_above_a_position__no_dust_leg_no_revert(
    controller, keeper, earning, unit
):
    a, b = earning
    va = controller.valueOf(a, a.balanceOf(controller))
    vb = controller.valueOf(b, b.balanceOf(controller))
    amount = va - vb + 6  # the tier's equal share is va + 3: mmfA's first-pass leg is 3 units
    before_a = a.balanceOf(controller)
    tx = controller.allocateToLayer(1, amount, sender=keeper)
    assert tx.return_value >= amount - unit  # all but the dust invested
    assert a.balanceOf(controller) == before_a  # no leg of 3 units into mmfA
    assert controller.valueOf(b, b.balanceOf(controller)) >= va  # mmfB filled to about mmfA


def test_rebalance__the_same_state__the_due_run_deploys_without_dust_legs(
    controller, vault, keeper, alice, earning, unit
):
    """The due run's deploy goes through _deployToTier too: from a state whose equal share sits
    a few units above one position it still moves, and the fund ends in band."""
    vault.deposit(400_000 * unit, alice, sender=alice)  # L1 out of band: the run deploys
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value[0] is True
    assert controller.cashInBand() is True
