"""Issue 11 findings 3 and 4: users are priced at the worse of the stored mark and the live
valuation (no stale-mark arbitrage), queued redemptions are priced at fulfilment, and one bad
feed cannot freeze the fund's exits."""

import ape
import pytest

FEED_BOUND = 2 * 10**8  # realistic upper sanity bound for a $1 fund: $2


@pytest.fixture
def invested(vault, controller, keeper, deposited):
    """alice's 1M, 90% invested over the six assets, with a fresh mark."""
    controller.rebalance(True, sender=keeper)
    return deposited


def move_feeds(fund, deployer, pct, symbols=None):
    for sym, feed in fund.feeds.items():
        if symbols is None or sym in symbols:
            feed.updateAnswer(int(feed.latestAnswer()) * (100 + pct) // 100, sender=deployer)


def fund_attacker(usdt, vault, attacker, deployer, amount):
    usdt.mint(attacker, amount, sender=deployer)
    usdt.approve(vault.address, 2**256 - 1, sender=attacker)


def test_deposit_mark_redeem__after_oracle_rise__attacker_gains_nothing(
    fund, vault, controller, usdt, attacker, deployer, invested, unit
):
    """Old code: deposit at the stale mark, mark(), redeem at the fresh one (flash-loanable)."""
    stake = 1_000_000 * unit
    fund_attacker(usdt, vault, attacker, deployer, stake)
    move_feeds(fund, deployer, +1)  # the mark is still fresh (younger than navMaxAge)
    start = usdt.balanceOf(attacker)
    vault.deposit(stake, attacker, sender=attacker)
    controller.mark(sender=attacker)
    vault.redeem(vault.maxRedeem(attacker), attacker, attacker, sender=attacker)
    vault.redeem(vault.maxRedeem(attacker), attacker, attacker, sender=attacker)
    assert usdt.balanceOf(attacker) <= start, "round trip through the mark gained"


def test_request_redeem__before_mark_catches_up_with_fall__escapes_no_loss(
    fund, vault, controller, usdt, keeper, alice, attacker, deployer, invested, unit
):
    """Old code: requestRedeem burnt the shares at the stale (higher) mark; the loss moved to
    the holders who stayed."""
    stake = 1_000_000 * unit
    fund_attacker(usdt, vault, attacker, deployer, stake)
    vault.deposit(stake, attacker, sender=attacker)
    controller.rebalance(True, sender=keeper)
    shares = vault.balanceOf(attacker)
    move_feeds(fund, deployer, -5)  # a known loss the mark does not show yet
    live = fund.lens.fundState(controller.address)  # the live valuation
    fair = shares * live.totalAssets // vault.totalSupply()
    alice_fair = vault.balanceOf(alice) * live.totalAssets // vault.totalSupply()
    rid = vault.requestRedeem(shares, attacker, attacker, sender=attacker).return_value
    controller.executeWaterfallLiquidation(2 * stake, 2, sender=keeper)
    vault.fulfilRedemptions(10, sender=keeper)
    owed = vault.redeemRequest(rid).assets  # what the claim will pay
    assert owed <= fair + 1, "queueing escaped the known loss"
    before = usdt.balanceOf(attacker)
    vault.claimRedemption(rid, attacker, sender=attacker)
    assert usdt.balanceOf(attacker) - before == owed
    controller.mark(sender=deployer)
    # the holder who stayed is not worse off than the live valuation said (less the
    # waterfall's own swap costs, which every holder bears: within 0.5%)
    assert vault.convertToAssets(vault.balanceOf(alice)) >= alice_fair * 995 // 1000


def test_fulfil__oracle_rise_after_request__gain_stays_with_holders(
    fund, vault, controller, keeper, alice, deployer, invested, unit
):
    shares = vault.balanceOf(alice) // 20
    rid = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    estimate = vault.redeemRequest(rid).assets
    move_feeds(fund, deployer, +3)
    controller.mark(sender=deployer)
    vault.fulfilRedemptions(10, sender=keeper)
    assert vault.redeemRequest(rid).assets == estimate  # min(estimate, value now)


def test_fulfil__oracle_fall_after_request__requester_bears_it(
    fund, vault, controller, keeper, alice, deployer, invested, unit
):
    shares = vault.balanceOf(alice) // 20
    rid = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    estimate = vault.redeemRequest(rid).assets
    move_feeds(fund, deployer, -3)
    vault.fulfilRedemptions(10, sender=keeper)
    paid = vault.redeemRequest(rid).assets
    assert paid < estimate * 99 // 100  # 90% invested fell 3%: about -2.7%


# ------------------------------------------------------------------ finding 4: feeds


@pytest.fixture
def spare(project, fund, deployer, adapters, create_feed, usdt):
    """A listed L2 asset that the fund never invested in, with a realistic bound."""
    from ballast_dev.deployment.fund import add_asset

    token = deployer.deploy(project.TestMoneyMarketFund, usdt.address, "spare", "SPR")
    feed = create_feed()
    add_asset(
        fund, deployer, symbol="spare", token=token, tier=1, adapter=adapters["erc4626"],
        feed=feed, max_answer=FEED_BOUND,
    )  # fmt: skip
    return token, feed


def test_stale_feed_of_empty_asset__deposit_exit_mark_rebalance_work(
    vault, controller, keeper, alice, deployer, invested, spare, unit
):
    _, feed = spare
    feed.updateAnswer(0, sender=deployer)  # out of bounds
    vault.deposit(1000 * unit, alice, sender=alice)
    vault.withdraw(500 * unit, alice, alice, sender=alice)
    vault.redeem(10**12, alice, alice, sender=alice)
    vault.requestRedeem(10**12, alice, alice, sender=alice)
    controller.mark(sender=alice)
    controller.rebalance(True, sender=keeper)
    assert vault.maxDeposit(alice) > 0


def test_remove_asset__one_wei_donated_feed_down__entries_stay_open__guardian_delists_it(
    fund, vault, controller, usdt, guardian, attacker, alice, deployer, invested, spare, unit
):
    """The second review's PoC: one wei of an idle asset whose feed is down closed deposits
    (FeedDown) and could not be de-listed (valued at the feed's 1e30 bound). A position of at
    most a millionth of a token is dust whatever its price: it closes nothing, and the guardian
    de-lists it at once, with dustValue at its default."""
    token, feed = spare
    usdt.mint(attacker, unit, sender=deployer)
    usdt.approve(token, unit, sender=attacker)
    token.deposit(unit, attacker, sender=attacker)
    token.transfer(controller, 1, sender=attacker)  # the 1-wei donation
    feed.updateAnswer(0, sender=deployer)
    assert controller.dustValue() == unit  # the default: one base token
    vault.deposit(1000 * unit, alice, sender=alice)  # entries stay open
    assert vault.maxDeposit(alice) > 0
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.removeAsset(token, sender=attacker)
    controller.removeAsset(token, sender=guardian)
    assert token.address not in controller.assetList()


def test_remove_asset__below_the_default_dust_value__guardian_delists_it(
    fund, controller, usdt, guardian, attacker, deployer, invested, spare, unit
):
    """More than token dust (a thousandth of a token) but worth at most one base token even at
    the feed's upper bound ($2): the default dustValue lets the guardian de-list it."""
    token, feed = spare
    usdt.mint(attacker, unit, sender=deployer)
    usdt.approve(token, unit, sender=attacker)
    token.deposit(unit, attacker, sender=attacker)
    token.transfer(controller, unit // 1000, sender=attacker)  # 0.002 at the $2 bound
    feed.updateAnswer(0, sender=deployer)
    controller.removeAsset(token, sender=guardian)
    assert token.address not in controller.assetList()


def test_remove_asset__above_the_default_dust_value__needs_the_value_the_timelock_sets(
    fund, controller, usdt, guardian, keeper, deployer, invested, spare, unit
):
    token, feed = spare
    controller.purchaseAsset(token, unit, 0, sender=keeper)  # one token: 2 at the $2 bound
    feed.updateAnswer(0, sender=deployer)
    with ape.reverts(controller.AssetNotEmpty):
        controller.removeAsset(token, sender=guardian)  # above the default of one base token
    with ape.reverts(controller.RiskIncreaseRequiresTimelock):
        controller.setDustValue(10 * unit, sender=guardian)  # raising it is the timelock's
    controller.setDustValue(10 * unit, sender=deployer)
    controller.removeAsset(token, sender=guardian)
    assert token.address not in controller.assetList()
    controller.setDustValue(0, sender=guardian)  # lowering: at once


def test_remove_asset__above_dust_at_upper_bound__reverts(
    controller, usdt, guardian, keeper, deployer, invested, spare, unit
):
    """A position the fund bought (an outsider's transfer counts for nothing: it never keeps
    an asset listed, test_outsider_transfers.py)."""
    token, _ = spare
    controller.setDustValue(10 * unit, sender=deployer)
    controller.purchaseAsset(token, 6 * unit, 0, sender=keeper)  # worth 6, up to 12 at $2
    with ape.reverts(controller.AssetNotEmpty):
        controller.removeAsset(token, sender=guardian)


def test_held_feed_down__exits_conservative__entries_refused__views_never_revert(
    fund, vault, controller, usdt, alice, bob, keeper, deployer, invested, unit
):
    before = vault.totalAssets()
    fund.feeds["crA"].updateAnswer(0, sender=deployer)  # a held asset's feed goes down
    ta = vault.totalAssets()
    lost = fund.lens.fundState(controller.address)
    assert ta < before  # crA counts as zero
    assert vault.maxDeposit(bob) == 0 and vault.maxMint(bob) == 0
    with ape.reverts(vault.FeedDown):
        vault.deposit(unit, bob, sender=bob)
    with ape.reverts(vault.FeedDown):
        vault.mint(10**12, bob, sender=bob)
    assert vault.maxWithdraw(alice) > 0 and vault.maxRedeem(alice) > 0
    assert vault.convertToAssets(10**18) > 0 and vault.convertToShares(unit) > 0
    got = vault.redeem(10**12, alice, alice, sender=alice).return_value
    assert got == 10**12 * (ta + 1) // (vault.totalSupply() + 10**12 + 10**6)
    vault.withdraw(unit, alice, alice, sender=alice)
    vault.requestRedeem(10**12, alice, alice, sender=alice)
    with ape.reverts(controller.MarkWhileFeedDown):  # an outage decides nothing
        controller.mark(sender=alice)
    assert lost.totalAssets >= 0


def test_outage_mark__poc_refused__queued_request_paid_in_full_once_the_feed_is_back(
    fund, vault, controller, usdt, alice, attacker, keeper, deployer, invested, unit, chain
):
    """The second review's PoC: with a held asset's feed down, anyone marks (the asset at 0),
    the keeper fulfils the queue, and for up to navMaxAge after the feed is back exits and
    fulfilments still count the asset at 0 (a 100,000 request was paid 80,050). Now the mark
    is refused, a keeper move keeps the mark in force, and fulfilment waits for the feed."""
    shares = vault.convertToShares(100_000 * unit)
    rid = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    fair = vault.previewRedeem(shares)
    answer = int(fund.feeds["crA"].latestAnswer())
    fund.feeds["crA"].updateAnswer(0, sender=deployer)  # a held asset's feed goes down
    marked = controller.markedAt()
    with ape.reverts(controller.MarkWhileFeedDown):
        controller.mark(sender=attacker)
    tx = controller.executeWaterfallLiquidation(200_000 * unit, 2, sender=keeper)
    assert tx.decode_logs(controller.MarkKept) and controller.markedAt() == marked
    tx = vault.fulfilRedemptions(10, sender=keeper)
    assert tx.return_value == (0, 0) and tx.decode_logs(vault.FulfilmentHeld)
    assert vault.redeemRequest(rid).status == 1  # still pending
    fund.feeds["crA"].updateAnswer(answer, sender=deployer)  # the feed is back
    vault.fulfilRedemptions(10, sender=keeper)
    paid = vault.redeemRequest(rid).assets
    assert paid >= fair * 999 // 1000, (paid, fair)  # not 80% of it


def test_cancel_redeem__shares_back__earmark_released__skipped_by_fulfilment(
    vault, controller, alice, bob, attacker, keeper, chain, invested, unit
):
    before = vault.balanceOf(alice)
    shares = vault.convertToShares(10_000 * unit)
    first = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    second = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    pending = vault.pendingRedemptions()
    chain.pending_timestamp += int(vault.CANCEL_DELAY())
    with ape.reverts(vault.NotRequestParty):
        vault.cancelRedeem(first, sender=attacker)
    tx = vault.cancelRedeem(first, sender=alice)
    ev = tx.decode_logs(vault.RedeemCancelled)[0]
    assert (ev.id, ev.controller, ev.owner, ev.shares) == (first, alice, alice, shares)
    assert vault.balanceOf(alice) == before - shares  # the first request's shares are back
    assert vault.pendingRedemptions() < pending
    with ape.reverts(vault.RequestNotPending):
        vault.cancelRedeem(first, sender=alice)
    count, _ = vault.fulfilRedemptions(10, sender=keeper).return_value
    assert count == 1 and vault.redeemRequest(second).status == 2  # the second, funded
    assert vault.redeemRequest(first).status == 4  # cancelled, never funded
    with ape.reverts(vault.RequestNotPending):
        vault.cancelRedeem(second, sender=alice)  # funded: claim it instead
    vault.setOperator(bob, True, sender=alice)
    third = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    chain.pending_timestamp += int(vault.CANCEL_DELAY())
    vault.cancelRedeem(third, sender=bob)  # the controller's operator may


def test_use_fallback_feed__preapproved_by_timelock__guardian_switches_at_once(
    fund, vault, controller, create_feed, guardian, attacker, bob, deployer, invested, unit
):
    token = fund.assets["crA"]
    fund.feeds["crA"].updateAnswer(0, sender=deployer)
    with ape.reverts(controller.NoFallbackFeed):
        controller.useFallbackFeed(token, sender=guardian)
    fallback = create_feed()
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.setFallbackFeed(token, fallback, 3600, 1, FEED_BOUND, sender=guardian)
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.setFallbackFeed(token, fallback, 3600, 1, FEED_BOUND, sender=attacker)
    controller.setFallbackFeed(token, fallback, 3600, 1, FEED_BOUND, sender=deployer)
    assert controller.fallbackFeed(token) == fallback.address
    with ape.reverts(controller.AccessControlUnauthorizedAccount):
        controller.useFallbackFeed(token, sender=attacker)
    controller.useFallbackFeed(token, sender=guardian)
    assert controller.assetParams(token).feed == fallback.address
    assert controller.fallbackFeed(token) == ape.utils.ZERO_ADDRESS  # used up
    vault.deposit(unit, bob, sender=bob)  # entries work again


def test_deposit__fee_on_transfer_base_token__reverts_transfer_amount_mismatch(
    project, deployer, alice
):
    fee = deployer.deploy(project.TestFeeToken, 6, 100)  # 1% per transfer
    v = deployer.deploy(project.TieredVault, fee, "x", "x", deployer)
    fee.mint(alice, 10**12, sender=deployer)
    fee.approve(v, 2**256 - 1, sender=alice)
    with ape.reverts(v.TransferAmountMismatch):
        v.deposit(10**9, alice, sender=alice)
    with ape.reverts(v.TransferAmountMismatch):
        v.mint(10**15, alice, sender=alice)


def test_mark__reentered_from_a_token_hook_mid_move__reverts(
    project, fund, controller, keeper, deployer, adapters, create_feed, usdt, invested, unit
):
    """An asset whose transfer hook calls the permissionless mark() in the middle of a purchase
    would store a half-done valuation (cash gone, tokens not counted yet); the guard refuses."""
    from ballast_dev.deployment.fund import add_asset

    token = deployer.deploy(project.TestReentrantFund, usdt.address, controller.address)
    add_asset(
        fund, deployer, symbol="reent", token=token, tier=2, adapter=adapters["erc4626"],
        feed=create_feed(),
    )  # fmt: skip
    with ape.reverts(controller.ReentrancyGuardReentrantCall):
        controller.purchaseAsset(token, 1000 * unit, 0, sender=keeper)
