"""A due run while a held asset's feed is down moves nothing.

Found by the keeper-side hold (the executor holds the fund's run while a feed is down): on
chain, the run went through with the down asset valued at zero and sized every move on that
gross: L3 looked short, so the run bought the other L3 assets; L2 looked long. Once the feed was
back the fund sat at 8.7% / 26.1% / 65.2%. Anyone may execute the fund's due run (the
Rebalancer is permissionless), so this is also an outsider's lever: a run timed inside an
outage. Now the controller moves nothing while a held feed is down, as `mark()` refuses, and the
run returns (moved=false, offTarget=false) so the Rebalancer books it at its interval instead of
retrying hourly into the funder's cap."""

import ape  # noqa: F401


def holdings(fund, controller, usdt, vault):
    return {sym: int(tok.balanceOf(controller)) for sym, tok in fund.assets.items()} | {
        "cash": int(usdt.balanceOf(vault))
    }


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
    before = holdings(fund, controller, usdt, vault)
    for who in (attacker, keeper):
        for force in (False, True):
            tx = controller.rebalance(force, sender=who)
            assert tx.return_value == (False, False), (who, force, tx.return_value)
            assert not tx.decode_logs(controller.Purchased)
            assert not tx.decode_logs(controller.Redeemed)
            assert holdings(fund, controller, usdt, vault) == before
    fund.feeds["crA"].updateAnswer(answer, sender=deployer)  # the feed is back
    tx = controller.rebalance(False, sender=attacker)
    moved, _ = tx.return_value
    assert moved and holdings(fund, controller, usdt, vault)["cash"] < before["cash"]
