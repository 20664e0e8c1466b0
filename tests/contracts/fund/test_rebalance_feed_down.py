"""A due run while a held asset's feed is down moves nothing.

Found by the keeper-side hold (the executor holds the fund's run while a feed is down): on
chain, the run went through with the down asset valued at zero and sized every move on that
gross: L3 looked short, so the run bought the other L3 assets; L2 looked long. Once the feed was
back the fund sat at 8.7% / 26.1% / 65.2%. Anyone may execute the fund's due run (the
Rebalancer is permissionless), so this is also an outsider's lever: a run timed inside an
outage. Now the controller moves nothing while a held feed is down: the run is refused
(MarkWhileFeedDown, as `mark()` is), so the fund's Rebalancer books its retry at interval / 24
and backs off while the outage lasts (fourth review: returning (false, false) let an executor
who timed the run into a brief staleness push the fund's next run a whole interval away)."""

import ape

from tests.support.fund_checks import assert_every_rebalance_refused_while_feed_down, holdings


def test_rebalance__held_feed_down__moves_nothing__keeper_or_outsider__feed_back_moves_again(
    fund, vault, controller, usdt, alice, keeper, attacker, deployer, deposited, unit
):
    controller.rebalance(True, sender=keeper)  # invested at target
    vault.deposit(2_000_000 * unit, alice, sender=alice)  # L1 far above its band
    answer = int(fund.feeds["crA"].latestAnswer())
    fund.feeds["crA"].updateAnswer(0, sender=deployer)  # a held L3 asset's feed goes down
    assert controller.pricingValues()[2]  # feedDown
    # an outsider who executes the fund's due run (the Rebalancer holds REBALANCER_ROLE)
    controller.grantRole(controller.REBALANCER_ROLE(), attacker, sender=deployer)
    before = assert_every_rebalance_refused_while_feed_down(
        fund, controller, usdt, vault, (attacker, keeper)
    )
    fund.feeds["crA"].updateAnswer(answer, sender=deployer)  # the feed is back
    tx = controller.rebalance(False, sender=attacker)
    moved, _ = tx.return_value
    assert moved and holdings(fund, controller, usdt, vault)["cash"] < before["cash"]


def test_buys__held_feed_down__refused_sales_still_run__exits_priced_as_without_the_buy(
    fund, vault, controller, usdt, alice, keeper, deployer, deposited, unit, chain
):
    """The team's review of the kept mark (session 17): a keeper's buy while a held feed was
    down ran, and the mark it kept left the buy out. Exits in the outage are priced at the
    lower of that mark and the live value, so after a buy larger than the down position's worth
    the kept mark was the lower one: on the fund invariants' fund a 50,000 purchase lowered a
    10% exit's preview by 4,250. A buy is now refused while a held feed is down
    (MarkWhileFeedDown, as the rebalance is: it would also be bounded on a gross with the down
    asset at zero); sales still run, so the keeper's degraded mode still raises cash for
    redemptions. Every kind of buy is tried: a purchase, an allocation to each tier, and the
    buffer's rebalance with L1 above its band (it buys)."""
    controller.rebalance(True, sender=keeper)  # invested at target
    vault.deposit(1_000_000 * unit, alice, sender=alice)  # L1 above its band: the buffer buys
    controller.mark(sender=alice)
    fund.feeds["crA"].updateAnswer(0, sender=deployer)  # a held L3 asset's feed goes down
    assert controller.pricingValues()[2]
    exit_before = vault.previewRedeem(vault.balanceOf(alice) // 10)
    before = holdings(fund, controller, usdt, vault)
    for buy in (
        lambda: controller.purchaseAsset(fund.assets["mmfA"], 50_000 * unit, 0, sender=keeper),
        lambda: controller.allocateToLayer(1, 50_000 * unit, sender=keeper),
        lambda: controller.allocateToLayer(2, 50_000 * unit, sender=keeper),
        lambda: controller.rebalanceBuffer(sender=keeper),
    ):
        with ape.reverts(controller.MarkWhileFeedDown):
            buy()
        assert holdings(fund, controller, usdt, vault) == before
    assert vault.previewRedeem(vault.balanceOf(alice) // 10) == exit_before
    # a sale still runs: cash for redemptions
    mmf = fund.assets["mmfA"]
    controller.redeemAsset(mmf, mmf.balanceOf(controller) // 10, 0, sender=keeper)
    assert usdt.balanceOf(vault) > before["cash"]
