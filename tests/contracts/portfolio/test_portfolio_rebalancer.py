"""PortfolioRebalancer on anvil with real Uniswap V3 pools.

The on-chain `rebalance` is checked against keepers.planning.portfolio.simulate_seed and a
keeper's `executePlan` against plan_exact, both to the unit, over 6- and 18-decimal USDT.
"""

import ape
import pytest

from keepers.deployment.portfolio import Params
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
