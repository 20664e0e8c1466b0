import ape
import pytest

from ballast_dev.deployment.fund import DEFAULT_TIERS

ZERO = "0x" + "00" * 20


@pytest.fixture(autouse=True)
def _lens(fund):
    global LENS
    LENS = fund.lens


def state(controller):
    return LENS.fundState(controller)


def ratios(controller):
    return list(state(controller).tierRatioBps)


def test_allocate__l2_equal_split_with_guards(controller, vault, keeper, fund, deposited, unit):
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    s = state(controller)
    assert s.tierValues[1] == 300_000 * unit
    values = {a.token: a.value for a in s.assets}
    assert values[fund.assets["mmfA"].address] == 150_000 * unit
    assert values[fund.assets["mmfB"].address] == 150_000 * unit
    assert vault.totalAssets() == deposited


def test_allocate__tier_zero_or_unknown__reverts_invalid_tier(controller, keeper, deposited, unit):
    for t in (0, 3):
        with ape.reverts(controller.InvalidTier):
            controller.allocateToLayer(t, unit, sender=keeper)


def test_allocate__past_caps__reverts_capacity(controller, fund, guardian, keeper, deposited, unit):
    for s in ("mmfA", "mmfB"):
        controller.setAssetLimits(fund.assets[s], 100_000 * unit, 2500, sender=guardian)
    # two L2 assets capped at 100k each (with 1% headroom): 198k is the room, 300k is not
    with ape.reverts(controller.TierCapacityExhausted):
        controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(1, 198_000 * unit, sender=keeper)


def test_purchase__pushes_tier_past_max__reverts(controller, fund, keeper, deposited, unit, gov):
    controller.allocateToLayer(1, 390_000 * unit, sender=keeper)
    with ape.reverts(controller.TierAboveMax):
        controller.purchaseAsset(fund.assets["mmfA"], 20_000 * unit, 0, sender=keeper)


def test_purchase__above_concentration__reverts(controller, fund, keeper, deposited, unit):
    with ape.reverts(controller.ConcentrationExceeded):
        controller.purchaseAsset(fund.assets["crA"], 260_000 * unit, 0, sender=keeper)


def test_purchase__caller_min_out_above_result__reverts_slippage(
    controller, fund, keeper, deposited, unit
):
    with ape.reverts(controller.SlippageExceeded):
        controller.purchaseAsset(fund.assets["mmfA"], 1000 * unit, 1001 * unit, sender=keeper)


def test_purchase__unknown_asset__reverts(controller, keeper, alice, deposited, unit):
    with ape.reverts(controller.UnknownAsset):
        controller.purchaseAsset(alice, unit, 0, sender=keeper)


def test_redeem__back_to_l1(controller, fund, vault, keeper, deposited, unit):
    controller.allocateToLayer(2, 500_000 * unit, sender=keeper)
    token = fund.assets["crA"]
    bal = token.balanceOf(controller)
    cash_before = vault.freeCash()
    out = controller.redeemAsset(token, bal // 2, 0, sender=keeper).return_value
    assert vault.freeCash() - cash_before == out > 0


def test_redeem__more_than_redeemable__reverts_not_redeemable_now_naming_both(
    controller, fund, keeper, deposited, unit
):
    """The error's three words as the guard states them (its revert is encoded by a shared
    copy, AssetController._revert3, for the EIP-170 room)."""
    controller.allocateToLayer(2, 500_000 * unit, sender=keeper)
    token = fund.assets["crA"]
    bal = token.balanceOf(controller)
    with ape.reverts(
        controller.NotRedeemableNow, token=token.address, requested=bal + 1, redeemable=bal
    ):
        controller.redeemAsset(token, bal + 1, 0, sender=keeper)


def test_rebalance__inside_bands__no_op(controller, keeper, deposited, unit):
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
    before = ratios(controller)
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value.moved is False
    assert ratios(controller) == before


def test_rebalance__out_of_band__moves_to_targets(controller, keeper, deposited, unit):
    assert ratios(controller)[0] == 10_000
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value.moved is True
    r = ratios(controller)
    for (target, lo, hi), got in zip(DEFAULT_TIERS, r, strict=True):
        assert lo <= got <= hi
        assert abs(got - target) <= 50


def test_rebalance__forced__moves_inside_band(controller, keeper, fund, deposited, unit):
    controller.allocateToLayer(1, 350_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 550_000 * unit, sender=keeper)
    assert controller.rebalance(False, sender=keeper).return_value == (False, False)
    assert controller.rebalance(True, sender=keeper).return_value == (True, False)
    r = ratios(controller)
    assert abs(r[1] - 3000) <= 50 and abs(r[2] - 6000) <= 50


def test_rebalance__unauthorised__reverts_not_rebalancer(controller, attacker):
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(True, sender=attacker)


def test_rebalance__rebalancer_role_only_rebalance(controller, deployer, attacker, deposited, unit):
    controller.grantRole(controller.REBALANCER_ROLE(), attacker, sender=deployer)
    controller.rebalance(True, sender=attacker)
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.allocateToLayer(1, unit, sender=attacker)


def test_waterfall__l2_before_l3_never_past_max_tier(
    controller, fund, keeper, vault, deposited, unit
):
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
    l3_before = state(controller).tierValues[2]
    raised = controller.executeWaterfallLiquidation(200_000 * unit, 1, sender=keeper).return_value
    s = state(controller)
    assert raised == pytest.approx(200_000 * unit, rel=1e-6)
    assert s.tierValues[2] == l3_before  # maxTier = 1: L3 untouched
    # more than L2 holds with maxTier 1: stops at L2's content, L3 untouched
    raised = controller.executeWaterfallLiquidation(500_000 * unit, 1, sender=keeper).return_value
    assert raised == pytest.approx(100_000 * unit, rel=1e-6)
    assert state(controller).tierValues[2] == l3_before
    # maxTier 2 goes on into L3 and reports the async RWA as skipped
    tx = controller.executeWaterfallLiquidation(100_000 * unit, 2, sender=keeper)
    skipped = [e for e in tx.events if e.event_name == "WaterfallSkipped"]
    assert any(e.token == fund.assets["rwa"].address for e in skipped)
    assert state(controller).tierValues[2] < l3_before


def test_async_rwa__subscription_pending_then_settled(
    controller, fund, keeper, vault, chain, refresh_feeds, deposited, unit
):
    rwa = fund.assets["rwa"]
    controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    s = state(controller)
    a = next(x for x in s.assets if x.token == rwa.address)
    assert a.pendingValue == 100_000 * unit and a.balance == 0
    assert vault.totalAssets() == deposited  # pending subscription still counted
    controller.settle(rwa, sender=keeper)
    assert rwa.balanceOf(controller) == 0  # notice period not over
    chain.pending_timestamp += 86_400 + 1
    refresh_feeds()
    controller.settle(rwa, sender=keeper)
    assert rwa.balanceOf(controller) == 100_000 * 10**18


def test_async_rwa__redemption_window_closed__reverts_then_open(
    controller, fund, keeper, chain, refresh_feeds, deposited, unit
):
    rwa = fund.assets["rwa"]
    controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += 3 * 86_400  # past the notice; the 2-day window is closed now
    refresh_feeds()
    controller.settle(rwa, sender=keeper)
    bal = rwa.balanceOf(controller)
    with ape.reverts(rwa.RedemptionWindowClosed):
        controller.redeemAsset(rwa, bal, 0, sender=keeper)
    chain.pending_timestamp += 4 * 86_400 + 10  # next window (day 7)
    refresh_feeds()
    controller.redeemAsset(rwa, bal, 0, sender=keeper)
    s = state(controller)
    a = next(x for x in s.assets if x.token == rwa.address)
    assert a.pendingValue == 100_000 * unit  # redemption pending, still valued


def test_feed__stale__reverts_stale_price(controller, fund, keeper, chain, deposited, unit):
    chain.pending_timestamp += 2 * 86_400
    with ape.reverts(controller.StalePrice):
        controller.purchaseAsset(fund.assets["mmfA"], unit, 0, sender=keeper)


def test_feed__out_of_bounds__reverts(controller, fund, keeper, deployer, deposited, unit):
    fund.feeds["mmfA"].updateAnswer(0, sender=deployer)
    with ape.reverts(controller.PriceOutOfBounds):
        controller.purchaseAsset(fund.assets["mmfA"], unit, 0, sender=keeper)


def test_price_drop__value_counted_at_oracle(
    controller, fund, keeper, vault, deployer, deposited, unit
):
    controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
    fund.feeds["crA"].updateAnswer(90_000_000, sender=deployer)  # 0.90
    controller.mark(sender=keeper)
    assert vault.totalAssets() == deposited - 15_000 * unit  # crA holds 150k of L3's 600k


def test_pause__every_keeper_move_refused__role_checked_first(
    controller, fund, guardian, keeper, gov, attacker, deposited, unit
):
    """The five keeper moves share one copy of the role, sequencer and pause checks
    (`onlyKeeper`): while paused each refuses the keeper with EnforcedPause, and anyone else
    with the role error first, as when the pause was each move's own modifier after it."""
    token = fund.assets["crA"]
    moves = (
        ("allocateToLayer", (1, unit)),
        ("purchaseAsset", (token, unit, 0)),
        ("redeemAsset", (token, unit, 0)),
        ("rebalanceBuffer", ()),
        ("executeWaterfallLiquidation", (unit, 2)),
    )
    controller.pause(sender=guardian)
    for name, args in moves:
        with ape.reverts(controller.EnforcedPause):
            getattr(controller, name)(*args, sender=keeper)
        with ape.reverts(controller.AccessControlUnauthorizedAccount):
            getattr(controller, name)(*args, sender=attacker)
    controller.unpause(sender=gov)
    controller.allocateToLayer(1, unit, sender=keeper)  # unpaused: the keeper moves again


def test_pause__moves_abort(controller, guardian, keeper, gov, deposited, unit):
    controller.pause(sender=guardian)
    with ape.reverts(controller.EnforcedPause):
        controller.allocateToLayer(1, unit, sender=keeper)
    with ape.reverts(controller.EnforcedPause):
        controller.rebalance(True, sender=keeper)
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.unpause(sender=guardian)
    controller.unpause(sender=gov)
    controller.allocateToLayer(1, unit, sender=keeper)
