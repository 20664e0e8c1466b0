"""PortfolioRebalancer on anvil with real Uniswap V3 pools.

The on-chain `rebalance` is checked against keepers.planning.portfolio.simulate_seed and a
keeper's `executePlan` against plan_exact, both to the unit, over 6- and 18-decimal USDT.
"""

import ape
import pytest

from keepers.deployment.portfolio import AssetParams, Budgets, Params
from keepers.planning.portfolio import WAD, execute, plan_exact, simulate_seed

DECIMALS = [6, 18]


def _balances(dep):
    return [int(a.token.balanceOf(dep.rebalancer)) for a in dep.assets], int(
        dep.quote.balanceOf(dep.rebalancer)
    )


@pytest.mark.parametrize("qd", DECIMALS)
def test_rebalance__seed_algorithm__matches_reference_and_improves(make_portfolio, keeper, qd):
    dep = make_portfolio(qd)
    before = dep.snapshot()
    expected = simulate_seed(before, dep.market(), budget="excess")
    tx = dep.rebalancer.rebalance(True, sender=keeper)
    assert tx.return_value is True
    assert _balances(dep) == (list(expected.after.balances), expected.after.quote_balance)
    _, _, total, dev = dep.rebalancer.portfolioState()
    assert dev == expected.after.deviation_wad() < before.deviation_wad()
    assert total == expected.after.total_value()
    event = tx.events.filter(dep.rebalancer.Rebalanced)[0]
    assert (event.planned, event.deviationAfterWad) == (False, dev)


@pytest.mark.parametrize("qd", DECIMALS)
def test_execute_plan__exact_planner__lands_on_target(make_portfolio, keeper, qd):
    dep = make_portfolio(qd)
    before = dep.snapshot()
    market = dep.market()
    plan = plan_exact(before, market)
    predicted = execute(before, market, plan)
    seed = simulate_seed(before, market, budget="excess")
    tx = dep.rebalancer.executePlan(list(plan.sells), list(plan.buys), sender=keeper)
    value_after, dev_after = tx.return_value
    assert _balances(dep) == (list(predicted.after.balances), predicted.after.quote_balance)
    assert dev_after == predicted.after.deviation_wad()
    assert dev_after < WAD // 10_000  # residual below 0.01%
    assert dev_after < seed.after.deviation_wad()
    assert value_after == predicted.after.total_value()


def test_rebalance__inside_drift_band_unforced__does_nothing(make_portfolio, keeper):
    dep = make_portfolio(6, Params(drift_threshold_bps=10_000))
    tx = dep.rebalancer.rebalance(False, sender=keeper)
    assert tx.return_value is False
    assert not tx.events.filter(dep.rebalancer.Swapped)


def test_constructor__weights_not_10000__reverts_named(project, uni, deployer, gov, create_token):
    quote = create_token("USDTW", 6)
    feed = deployer.deploy(project.TestPriceFeed, 8, 10**8)
    token = create_token("AAA", 18)
    with ape.reverts(project.PortfolioRebalancer.WeightsSumInvalid, totalBps=9_999):
        deployer.deploy(
            project.PortfolioRebalancer,
            gov,
            quote,
            uni.router,
            [(token, feed, 3000, 8_999)],
            1000,
            Params().as_tuple(),
            Budgets(10**9, 10**12).as_tuple(),
        )


def test_set_targets__weights_not_10000__reverts_named(make_portfolio, gov):
    dep = make_portfolio(6)
    with ape.reverts(dep.rebalancer.WeightsSumInvalid, totalBps=10_001):
        dep.rebalancer.setTargets([3000, 3000, 3001], 1000, sender=gov)


def test_rebalance__stale_feed__reverts(make_portfolio, keeper, chain):
    dep = make_portfolio(6)
    feed = dep.assets[1].feed
    old = chain.pending_timestamp - 3601
    feed.updateRoundData(2, 3_000 * 10**8, old, old, sender=keeper)
    with ape.reverts(
        dep.rebalancer.StalePrice, feed=feed.address, updatedAt=old, maxStaleness=3600
    ):
        dep.rebalancer.rebalance(True, sender=keeper)


def test_rebalance__non_positive_price__reverts(make_portfolio, keeper):
    dep = make_portfolio(6)
    dep.assets[0].feed.updateAnswer(0, sender=keeper)
    with ape.reverts(dep.rebalancer.InvalidPrice):
        dep.rebalancer.rebalance(True, sender=keeper)


def test_execute_plan__worsens_deviation__reverts(make_portfolio, keeper):
    dep = make_portfolio(18)
    # sell ETH, already 15% against a 30% target, into USDT, already over its 10%
    with ape.reverts(dep.rebalancer.DeviationNotImproved):
        dep.rebalancer.executePlan([0, 10**18, 0], [0, 0, 0], sender=keeper)


def test_execute_plan__empty_plan__reverts_not_improved(make_portfolio, keeper):
    dep = make_portfolio(6)
    with ape.reverts(dep.rebalancer.DeviationNotImproved):
        dep.rebalancer.executePlan([0, 0, 0], [0, 0, 0], sender=keeper)


@pytest.mark.parametrize("qd", DECIMALS)
def test_rebalance__value_loss_above_max__reverts(make_portfolio, keeper, qd):
    dep = make_portfolio(qd, Params(max_total_value_loss_bps=1))  # 0.01%: fees alone exceed it
    with ape.reverts(dep.rebalancer.ValueLossExceeded):
        dep.rebalancer.rebalance(True, sender=keeper)


def test_execute_plan__sell_above_balance__reverts(make_portfolio, keeper):
    dep = make_portfolio(6)
    with ape.reverts(dep.rebalancer.SellExceedsBalance):
        dep.rebalancer.executePlan([10**8, 0, 0], [0, 0, 0], sender=keeper)


def test_rebalance__pool_far_from_oracle__reverts_on_min_out(make_portfolio, keeper):
    dep = make_portfolio(6, Params(max_slippage_bps=50))
    dep.assets[0].feed.updateAnswer(60_000 * 10**8, sender=keeper)  # oracle 20% above the pool
    with ape.reverts("Too little received"):
        dep.rebalancer.rebalance(True, sender=keeper)


@pytest.mark.parametrize("fn", ["rebalance", "executePlan"])
def test_rebalancer__unauthorised_caller__reverts(make_portfolio, attacker, fn):
    dep = make_portfolio(6)
    r = dep.rebalancer
    role = r.REBALANCER_ROLE() if fn == "rebalance" else r.KEEPER_ROLE()
    with ape.reverts(r.AccessControlUnauthorizedAccount, account=attacker.address, neededRole=role):
        if fn == "rebalance":
            r.rebalance(True, sender=attacker)
        else:
            r.executePlan([0, 0, 0], [0, 0, 0], sender=attacker)


def test_admin_functions__unauthorised_caller__reverts(make_portfolio, attacker, keeper):
    dep = make_portfolio(6)
    r = dep.rebalancer
    for call in (
        lambda: r.setTargets([3000, 3000, 3000], 1000, sender=keeper),
        lambda: r.setParams(Params().as_tuple(), sender=attacker),
        lambda: r.withdraw(dep.quote, attacker, 1, sender=attacker),
    ):
        with ape.reverts(r.AccessControlUnauthorizedAccount):
            call()


def test_set_params__slippage_above_cap__reverts(make_portfolio, gov):
    dep = make_portfolio(6)
    with ape.reverts(dep.rebalancer.ParamOutOfRange, value=5_001, max=5_000):
        dep.rebalancer.setParams(Params(max_slippage_bps=5_001).as_tuple(), sender=gov)


def test_gas__rebalance_and_execute_plan__within_snapshot(make_portfolio, keeper, chain):
    from gaslib import check_snapshot

    measured = {}
    for qd in DECIMALS:
        dep = make_portfolio(qd)
        before, market = dep.snapshot(), dep.market()
        snap = chain.snapshot()
        measured[f"rebalance_seed_3_assets_usdt{qd}"] = dep.rebalancer.rebalance(
            True, sender=keeper
        ).gas_used
        chain.restore(snap)
        plan = plan_exact(before, market)
        measured[f"execute_plan_3_assets_usdt{qd}"] = dep.rebalancer.executePlan(
            list(plan.sells), list(plan.buys), sender=keeper
        ).gas_used
    check_snapshot("portfolio", measured)


def test_rebalance__buys_below_min_buy__skipped_as_dust(make_portfolio, keeper):
    dep = make_portfolio(6, Params(min_buy_quote=10**12))  # $1M minimum buy
    before = dep.snapshot()
    expected = simulate_seed(before, dep.market(), min_buy=10**12)
    assert expected.plan.buys == (0, 0, 0)
    tx = dep.rebalancer.rebalance(True, sender=keeper)
    swaps = tx.events.filter(dep.rebalancer.Swapped)
    assert [s.tokenOut for s in swaps] == [dep.quote.address]  # only the BTC sell
    assert dep.snapshot() == expected.after


def test_rebalance__no_deficit_left_after_sells__no_buys(make_portfolio, keeper):
    # seed scenario 1 as first written: 0.5 BTC (50%), 5 ETH (30%), $10,000 USDT (20%) against
    # 40/30/30: once BTC is sold, fees leave ETH a hair above 30% and nothing under target.
    q, e8 = 10**6, 10**8
    assets = [
        AssetParams("WBTC", 8, 50_000 * e8, 4000, 5 * 10**7, (40 * 10**8, 2_000_000 * q), 3000),
        AssetParams(
            "WETH",
            18,
            3_000 * e8,
            3000,
            5 * 10**18,
            (700 * 10**18, 2_100_000 * q),
            500,
            [(-2000, 2000)],
        ),
    ]
    dep = make_portfolio(6, assets=assets, quote_balance=10_000 * 10**6, quote_target_bps=3000)
    before = dep.snapshot()
    expected = simulate_seed(before, dep.market())
    assert expected.plan.buys == (0, 0) and expected.plan.sells[0] > 0
    tx = dep.rebalancer.rebalance(True, sender=keeper)
    assert tx.return_value is True
    assert len(tx.events.filter(dep.rebalancer.Swapped)) == 1
    assert dep.snapshot() == expected.after
