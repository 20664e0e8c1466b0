"""Deploy a PortfolioRebalancer with test tokens, Chainlink test feeds and real V3 pools (ape).

For tests, benchmarks and the demo: every asset is a mintable TestStablecoin with its own
decimals, priced by a TestPriceFeed (8 decimals), traded on its own asset/quote Uniswap V3 pool
created by ballast_dev.deployment.uniswap. `PortfolioDeployment.snapshot()` and `.market()` read the
chain into the pure planner's types (keepers.portfolio.planning), so a plan made off-chain can
be executed with `executePlan` and compared unit for unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ballast_dev.deployment.fund import FEED_DECIMALS
from ballast_dev.deployment.structs import ContractStruct
from ballast_dev.deployment.uniswap import Pool, UniswapV3, create_pool
from keepers.portfolio.planning import AssetSpec, Portfolio, V3Market, V3Pool


@dataclass(frozen=True)
class Params(ContractStruct):
    """PortfolioRebalancer.Params."""

    max_staleness: int = 3600
    max_slippage_bps: int = 300
    max_total_value_loss_bps: int = 200
    drift_threshold_bps: int = 100
    min_buy_quote: int = 0


@dataclass(frozen=True)
class Budgets(ContractStruct):
    """PortfolioRebalancer.Budgets: what keeper-initiated moves may lose and move per window
    (quote base units), so a stolen keeper key loses at most `loss_per_window` per window."""

    loss_per_window: int
    notional_per_window: int
    period: int = 86_400


@dataclass(frozen=True)
class AssetParams:
    symbol: str
    decimals: int
    price: int  # feed answer, 8 decimals, quote per whole token
    target_bps: int
    balance: int  # base units put in the portfolio
    pool_amounts: tuple[int, int]  # (asset, quote) offered to the pool
    pool_fee: int = 3000
    ranges: list[tuple[int, int]] | None = None  # ticks around the price; None = full range


@dataclass
class AssetDeployment:
    params: AssetParams
    token: Any
    feed: Any
    pool: Pool


@dataclass
class PortfolioDeployment:
    rebalancer: Any
    quote: Any
    quote_decimals: int
    quote_target_bps: int
    assets: list[AssetDeployment] = field(default_factory=list)

    def snapshot(self) -> Portfolio:
        """The portfolio as the contract sees it (balances, feed answers, targets)."""
        specs, balances, targets = [], [], []
        for i, a in enumerate(self.assets):
            specs.append(AssetSpec(a.params.symbol, a.params.decimals, int(a.feed.latestAnswer())))
            balances.append(int(a.token.balanceOf(self.rebalancer)))
            targets.append(int(self.rebalancer.assetAt(i)[3]))
        return Portfolio(
            tuple(specs),
            tuple(balances),
            tuple(targets),
            self.quote_decimals,
            int(self.quote.balanceOf(self.rebalancer)),
            int(self.rebalancer.quoteTargetBps()),
        )

    def market(self) -> V3Market:
        """Exact V3 execution on the pools' current states."""
        return V3Market(
            tuple(V3Pool(a.pool.state(), a.pool.token0 == a.token.address) for a in self.assets)
        )


def deploy_portfolio(
    project: Any,
    uni: UniswapV3,
    deployer: Any,
    admin: Any,
    quote: Any,
    assets: list[AssetParams],
    quote_balance: int,
    quote_target_bps: int,
    params: Params,
    budgets: Budgets,
) -> PortfolioDeployment:
    """Deploys tokens, feeds, pools and the rebalancer, and funds the portfolio.

    `deployer` must be able to mint `quote` (a TestStablecoin). Roles are left to the caller
    (`admin` holds DEFAULT_ADMIN_ROLE).
    """
    quote_decimals = int(quote.decimals())
    fees = {a.pool_fee for a in assets}
    if 100 in fees and int(uni.factory.feeAmountTickSpacing(100)) == 0:
        uni.factory.enableFeeAmount(100, 1, sender=deployer)  # the 0.01% tier (factory owner)
    deployed = []
    for a in assets:
        token = deployer.deploy(project.TestStablecoin, a.symbol, a.symbol, a.decimals)
        feed = deployer.deploy(project.TestPriceFeed, FEED_DECIMALS, a.price)
        token.mint(deployer, a.pool_amounts[0] + a.balance, sender=deployer)
        quote.mint(deployer, a.pool_amounts[1], sender=deployer)
        # pool price = oracle price, in raw units: quote per 10**decimals token
        raw_price = (a.price * 10**quote_decimals, 10**a.decimals * 10**FEED_DECIMALS)
        pool = create_pool(
            uni, token, quote, a.pool_fee, raw_price, a.pool_amounts, deployer, a.ranges
        )
        deployed.append(AssetDeployment(a, token, feed, pool))
    configs = [(d.token, d.feed, d.params.pool_fee, d.params.target_bps) for d in deployed]
    rebalancer = deployer.deploy(
        project.PortfolioRebalancer,
        admin,
        quote,
        uni.router,
        configs,
        quote_target_bps,
        params.as_tuple(),
        budgets.as_tuple(),
    )
    for d in deployed:
        if d.params.balance:
            d.token.transfer(rebalancer, d.params.balance, sender=deployer)
    if quote_balance:
        quote.mint(rebalancer, quote_balance, sender=deployer)
    return PortfolioDeployment(rebalancer, quote, quote_decimals, quote_target_bps, deployed)
