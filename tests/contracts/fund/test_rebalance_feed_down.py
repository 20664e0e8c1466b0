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
