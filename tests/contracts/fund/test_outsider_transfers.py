"""Outsiders' transfers change nothing (fourth review, low: a regression of the feed-down skip).

Since the feed-down skip, a rebalance moves nothing while a held asset's feed is down, and the
snapshot counted a plain transfer as held: 0.60 USDT of shares of a listed asset the fund does
not hold, whose feed is stale, sent to the controller, and rebalance(false) and rebalance(true)
both moved nothing with L1 at 55%; deposits reverted FeedDown, mark() MarkWhileFeedDown, the
guardian's removeAsset AssetNotEmpty. Now the controller counts only the units it accounts for
(those its own moves bought, as users' pricing already did): a transfer in is never `down`,
never valued, never sold by a move, and never keeps an asset listed.

Actors: `attacker` (eve) holds no role; `keeper`, `guardian` and the deployer are the fund's.
"""

from __future__ import annotations

from eth_utils import keccak

from tests.support.fund_checks import assert_every_rebalance_refused_while_feed_down
from tests.support.fund_checks import holdings as _holdings

DAY = 86_400


def _speck_of_a_stale_asset(project, fund, controller, usdt, deployer, attacker, create_feed,
                            adapters, unit, chain):  # fmt: skip
    """A listed L3 asset the fund does not hold, whose feed then goes stale; eve holds 0.60
    USDT of its shares and sends them to the controller."""
    token = deployer.deploy(project.TestMoneyMarketFund, usdt, "idle", "IDLE")
    feed = create_feed()
    controller.addAsset((token, 2, adapters["erc4626"], feed, 3_600, 1, 10**30, 2**128 - 1, 2_500),
                        sender=deployer)  # fmt: skip
    usdt.mint(attacker, unit, sender=deployer)
    usdt.approve(token, 2**256 - 1, sender=attacker)
    token.deposit(60 * unit // 100, attacker, sender=attacker)
    return token, feed


def test_rebalance__speck_of_an_unheld_stale_asset_sent_in__still_moves(
    project, fund, vault, controller, usdt, alice, keeper, attacker, deployer, create_feed,
    adapters, unit, chain, fund_usdt, refresh_feeds,
):  # fmt: skip
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    controller.rebalance(True, sender=keeper)  # invested at target
    token, feed = _speck_of_a_stale_asset(project, fund, controller, usdt, deployer, attacker,
                                          create_feed, adapters, unit, chain)  # fmt: skip
    chain.mine(1, timestamp=chain.pending_timestamp + 2 * 3_600)  # its feed (1h heartbeat) stale
    refresh_feeds()  # the held feeds report
    token.transfer(controller, token.balanceOf(attacker), sender=attacker)
    vault.deposit(1_000_000 * unit, alice, sender=alice)  # L1 at 55%: far above its band
    assert not controller.pricingValues()[2]  # not down: the speck is not the fund's
    for force in (False, True):
        snap = chain.snapshot()
        tx = controller.rebalance(force, sender=keeper)
        assert tx.return_value[0], force
        assert tx.decode_logs(controller.Purchased)
        chain.restore(snap)
    vault.deposit(1_000 * unit, alice, sender=alice)  # entries open
    controller.mark(sender=keeper)
    assert token.balanceOf(controller) > 0  # the speck stays where eve sent it


def test_remove_asset__only_an_outsiders_transfer_held__guardian_delists_it(
    project, fund, vault, controller, usdt, alice, keeper, guardian, attacker, deployer,
    create_feed, adapters, unit, chain, fund_usdt,
):  # fmt: skip
    """The guardian de-lists a position whose accounted units are 0, whatever its balance: here
    eve sent it 0.60 USDT of shares, and then 500,000 more (no dust rule would cover that)."""
    token, feed = _speck_of_a_stale_asset(project, fund, controller, usdt, deployer, attacker,
                                          create_feed, adapters, unit, chain)  # fmt: skip
    token.transfer(controller, token.balanceOf(attacker), sender=attacker)
    usdt.mint(attacker, 500_000 * unit, sender=deployer)
    token.deposit(500_000 * unit, controller, sender=attacker)
    controller.removeAsset(token, sender=guardian)
    assert token.address not in [str(a) for a in controller.assetList()]


def test_rebalance__outsider_sends_units_of_a_held_asset__moves_exactly_as_without(
    fund, vault, controller, usdt, alice, keeper, attacker, deployer, unit, chain, fund_usdt
):
    """A transfer of a held asset's units (here 200,000 of crA, L3) changes neither whether
    the rebalance moves nor what it moves: the same legs, to the unit, as without it."""
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    controller.rebalance(True, sender=keeper)
    vault.deposit(500_000 * unit, alice, sender=alice)
    cra = fund.assets["crA"]

    def legs(tx):
        return [(e.token, e.cashIn, e.tokensOut) for e in tx.decode_logs(controller.Purchased)] + [
            (e.token, e.tokenAmount, e.cashOut) for e in tx.decode_logs(controller.Redeemed)
        ]

    snap = chain.snapshot()
    plain = legs(controller.rebalance(False, sender=keeper))
    chain.restore(snap)
    usdt.mint(attacker, 200_000 * unit, sender=deployer)
    usdt.approve(cra, 2**256 - 1, sender=attacker)
    cra.deposit(200_000 * unit, controller, sender=attacker)
    assert legs(controller.rebalance(False, sender=keeper)) == plain
    assert plain


def test_rebalance__held_feed_down__refused_so_the_rebalancer_retries_soon(
    fund, vault, controller, usdt, alice, keeper, attacker, deployer, unit, fund_usdt
):
    """A feed of a position the fund does hold going down still stops every move; the run is
    now refused (MarkWhileFeedDown, as mark() is) so the fund's Rebalancer books its retry soon
    (interval / 24, backing off) instead of counting the run done for a whole interval."""
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    controller.rebalance(True, sender=keeper)
    vault.deposit(2_000_000 * unit, alice, sender=alice)
    fund.feeds["crA"].updateAnswer(0, sender=deployer)
    controller.grantRole(controller.REBALANCER_ROLE(), attacker, sender=deployer)
    assert_every_rebalance_refused_while_feed_down(
        fund, controller, usdt, vault, (attacker, keeper)
    )


def test_due_run__timed_into_a_held_feeds_outage__rebalancer_retries_within_the_hour(
    project, fund, vault, controller, usdt, alice, keeper, attacker, deployer, gov, unit, chain,
    fund_usdt, refresh_feeds,
):  # fmt: skip
    """Fourth review (info): an executor timed the fund's due run into a held feed's brief
    staleness; the run returned (false, false), the Rebalancer counted it done and the next
    run was a whole interval away. Now the run is refused and the Rebalancer, executed by the
    same outsider, books its retry an hour later (daily interval / 24)."""
    from ballast_dev.deployment.automation import RecurringConfig

    vault.deposit(1_000_000 * unit, alice, sender=alice)
    controller.rebalance(True, sender=keeper)
    vault.deposit(2_000_000 * unit, alice, sender=alice)  # out of band: the run has work
    scheduler = deployer.deploy(project.RebalanceScheduler, gov, 60, 10**9, 1_000)
    funder = deployer.deploy(project.TxFunder, gov, 10**22)
    deployer.transfer(funder, 10**19)
    cfg = RecurringConfig(DAY, 1, 3_000_000, 12_000, False, funder.address)
    r = deployer.deploy(project.Rebalancer, deployer, scheduler, controller, cfg.as_tuple())
    r.setTrustedTarget(True, sender=deployer)
    funder.approveSpender(r, 2**256 - 1, sender=gov)
    controller.grantRole(controller.REBALANCER_ROLE(), r, sender=deployer)
    r.fixReschedule(sender=attacker)
    run_id, ts = r.bookedRun()
    chain.mine(1, timestamp=ts)
    refresh_feeds()
    fund.feeds["crA"].updateAnswer(0, sender=deployer)  # a held feed out of bounds
    before = _holdings(fund, controller, usdt, vault)
    tx = scheduler.execute(run_id, sender=attacker)
    [failed] = tx.decode_logs(r.RebalanceFailed)
    assert bytes(failed.reason)[:4] == keccak(text="MarkWhileFeedDown()")[:4]
    assert _holdings(fund, controller, usdt, vault) == before
    assert r.bookedRun()[1] == tx.timestamp + DAY // 24


def test_settle__outsider_sends_units_then_settles__only_the_subscription_is_accounted(
    fund, vault, controller, usdt, alice, keeper, attacker, deployer, unit, chain, fund_usdt,
    refresh_feeds,
):  # fmt: skip
    """settle() is anyone's, and it is where an asynchronous subscription's tokens become the
    fund's. Eve sends the controller 50,000 tokens of the same asset and settles herself: the
    fund accounts for the subscription's tokens only, so users' pricing is what it is without
    her transfer, to the unit; and the subscription itself is counted once settled (a settle
    that accounted nothing would drop it from the fund's value)."""
    rwa = fund.assets["rwa"]
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += 86_400 + 1
    refresh_feeds()
    pending = controller.livePricingValues()  # the subscription counted as pending cash
    snap = chain.snapshot()
    controller.settle(rwa, sender=attacker)
    plain = controller.livePricingValues()
    # settled: the subscription's tokens are the fund's, counted as the pending cash was
    assert abs(plain[0] - pending[0]) <= unit and plain[0] >= 100_000 * unit
    chain.restore(snap)
    rwa.mint(controller, 50_000 * 10**18, sender=deployer)  # eve's transfer (minted to her aim)
    controller.settle(rwa, sender=attacker)
    assert rwa.balanceOf(controller) == 150_000 * 10**18
    assert controller.livePricingValues() == plain
    assert controller.pricingValues() == plain
