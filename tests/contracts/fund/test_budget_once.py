"""Issue 45 (gas): a call's moves book the window budgets (value lost, notional moved) in
memory and write them once, after the call's last move. Nothing changes for a keeper: a leg
that takes either budget past its limit reverts at that leg, naming the same numbers as when
every leg wrote them (the usage so far, this leg included, and the budget); a call that fits
leaves exactly the usage its legs add up to, for the next call to see. A move path that forgot
the write would hand a stolen keeper key an unlimited budget: each is held to it here.
Runs for 6- and 18-decimal base tokens (the module's base_decimals fixture)."""

import ape
import pytest

from ballast_dev.deployment.fund import FEED_DECIMALS, MoveLimitsSpec, RiskSpec
from tests.support.erc4626_funds import Venue, erc4626_fund


def _fund(project, deployer, keeper, usdt, adapters, create_feed, unit, price_e8, limits):
    """1M deposited over 2 L2 and 2 L3 ERC-4626 assets (one share per base unit spent), each
    priced `price_e8` by its feed: below 1e8 every purchase loses that much at the oracle. A
    minimum move of one base token keeps rounding leftovers (a few base units, all lost at the
    oracle's floor) out of the legs."""
    venues = [Venue(tier=t, price_e8=price_e8) for t in (1, 1, 2, 2)]
    return erc4626_fund(
        project, deployer, keeper, usdt, adapters["erc4626"], create_feed, venues, prefix="b",
        risk=RiskSpec(min_move_value=unit, max_top3_bps=10_000), limits=limits,
        deposit=1_000_000 * unit,
    )  # fmt: skip


def test_rebalance__third_leg_past_the_notional_budget__reverts_naming_the_usage_so_far(
    project, deployer, keeper, usdt, adapters, create_feed, unit
):
    # legs 150k + 150k (L2), then 300k into the first L3 asset: 600k > 400k at the third leg
    f = _fund(
        project, deployer, keeper, usdt, adapters, create_feed, unit, 10**FEED_DECIMALS,
        MoveLimitsSpec(notional_budget=400_000 * unit),
    )  # fmt: skip
    with ape.reverts(
        f.controller.NotionalBudgetExceeded, used=600_000 * unit, budget=400_000 * unit
    ):
        f.controller.rebalance(True, sender=keeper)
    assert f.controller.budgetUsage() == (0, 0)


def test_rebalance__third_leg_past_the_loss_budget__reverts_naming_the_usage_so_far(
    project, deployer, keeper, usdt, adapters, create_feed, unit
):
    # feeds at 0.99: each leg loses 1% at the oracle: 1,500 + 1,500, then 299.1k loses 2,991
    f = _fund(
        project, deployer, keeper, usdt, adapters, create_feed, unit, 99 * 10**FEED_DECIMALS // 100,
        MoveLimitsSpec(loss_budget=5_000 * unit),
    )  # fmt: skip
    with ape.reverts(f.controller.LossBudgetExceeded, used=5_991 * unit, budget=5_000 * unit):
        f.controller.rebalance(True, sender=keeper)
    assert f.controller.budgetUsage() == (0, 0)


def test_every_move__books_what_its_legs_used(
    project, deployer, keeper, usdt, adapters, create_feed, unit
):
    """Each move path writes its legs' usage: the notional of its purchases (their cash) and
    sales (their tokens at the oracle) and the 1% each purchase loses here. The bucket drains
    at budget / window a second (10M over 30 days: under 4 base tokens a second), hence the
    tolerance."""
    f = _fund(
        project, deployer, keeper, usdt, adapters, create_feed, unit, 99 * 10**FEED_DECIMALS // 100,
        MoveLimitsSpec(loss_budget=100_000 * unit, notional_budget=10_000_000 * unit,
                       window=30 * 86_400),
    )  # fmt: skip
    c, b = f.controller, [f.assets[f"b{i}"] for i in range(4)]
    moves = [
        lambda: c.purchaseAsset(b[0], 10_000 * unit, 0, sender=keeper),
        lambda: c.redeemAsset(b[0], 5_000 * unit, 0, sender=keeper),
        lambda: c.allocateToLayer(2, 100_000 * unit, sender=keeper),
        lambda: c.executeWaterfallLiquidation(20_000 * unit, 2, sender=keeper),
        lambda: c.rebalanceBuffer(sender=keeper),
        lambda: c.rebalance(True, sender=keeper),
    ]
    for move in moves:
        loss0, notional0 = c.budgetUsage()
        tx = move()
        bought = sum(e.cashIn for e in tx.decode_logs(c.Purchased))
        # a sale's notional is its tokens at the oracle (0.99)
        sold = sum(e.tokensIn * 99 // 100 for e in tx.decode_logs(c.Redeemed))
        loss, notional = c.budgetUsage()
        assert bought + sold > 0, "the move moved something"
        assert abs(notional - notional0 - (bought + sold)) <= 100 * unit, (notional0, notional)
        assert abs(loss - loss0 - bought // 100) <= unit, (loss0, loss)


@pytest.mark.parametrize("budget", ["notional", "loss"])
def test_purchase_after_a_rebalance__sees_the_rebalance_usage(
    project, deployer, keeper, usdt, adapters, create_feed, unit, budget
):
    price = 10**FEED_DECIMALS if budget == "notional" else 99 * 10**FEED_DECIMALS // 100
    limits = (
        MoveLimitsSpec(notional_budget=950_000 * unit)
        if budget == "notional"
        else MoveLimitsSpec(loss_budget=9_500 * unit)
    )
    f = _fund(project, deployer, keeper, usdt, adapters, create_feed, unit, price, limits)
    c = f.controller
    c.rebalance(True, sender=keeper)
    loss, notional = c.budgetUsage()
    used = notional if budget == "notional" else loss
    assert used > 0
    error = c.NotionalBudgetExceeded if budget == "notional" else c.LossBudgetExceeded
    cash = 60_000 * unit if budget == "notional" else 60_000 * unit
    with ape.reverts(error):
        c.purchaseAsset(f.assets["b0"], cash, 0, sender=keeper)
