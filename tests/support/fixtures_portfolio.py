"""Fixtures of the portfolio rebalancer: a real Uniswap V3 deployment, token factories and
``make_portfolio``, shared by tests/contracts/portfolio and the portfolio bench; loaded for the
whole suite with ``pytest_plugins`` in tests/conftest.py (a conftest fixture of the same name
wins)."""

import pytest

from ballast_dev.deployment.portfolio import AssetParams, Budgets, Params, deploy_portfolio
from ballast_dev.deployment.uniswap import deploy_uniswap


@pytest.fixture(scope="session")
def uni(deployer):
    return deploy_uniswap(deployer)


@pytest.fixture(scope="session")
def create_token(project, deployer):
    def make(symbol: str, decimals: int, mint_to=None, amount: int = 0):
        token = deployer.deploy(project.TestStablecoin, symbol, symbol, decimals)
        if amount:
            token.mint(mint_to or deployer, amount, sender=deployer)
        return token

    return make


E8 = 10**8


def scenario2_assets(quote_decimals: int) -> list[AssetParams]:
    """Seed 004 scenario 2 (BTC 50%, ETH 15%, BNB 16.67%, USDT 18.33% -> 30/30/30/10) on
    pools ~100x deeper than the trades, one full-range, one concentrated, one multi-range."""
    q = 10**quote_decimals
    return [
        AssetParams("WBTC", 8, 50_000 * E8, 3000, 6 * 10**7, (40 * 10**8, 2_000_000 * q), 3000),
        AssetParams(
            "WETH",
            18,
            3_000 * E8,
            3000,
            3 * 10**18,
            (700 * 10**18, 2_100_000 * q),
            500,
            [(-2000, 2000)],
        ),
        AssetParams(
            "WBNB",
            18,
            500 * E8,
            3000,
            20 * 10**18,
            (4_000 * 10**18, 2_000_000 * q),
            3000,
            [(-1200, 1200), (-12000, 12000)],
        ),
    ]


@pytest.fixture(scope="session")
def scenario2():
    """``scenario2_assets``, for a test that deploys a variant of them (``dataclasses.replace``
    on the assets it changes)."""
    return scenario2_assets


@pytest.fixture(scope="session")
def make_portfolio(project, uni, deployer, gov, keeper, guardian, create_token):
    """Deploys a scenario-2 portfolio over a fresh quote with the given decimals; the keeper
    holds REBALANCER_ROLE and KEEPER_ROLE, the guardian GUARDIAN_ROLE."""

    def make(
        quote_decimals: int,
        params: Params | None = None,
        assets=None,
        quote_balance=None,
        quote_target_bps: int = 1000,
        budgets: Budgets | None = None,
    ):
        quote = create_token(f"USDT{quote_decimals}", quote_decimals)
        q = 10**quote_decimals
        dep = deploy_portfolio(
            project,
            uni,
            deployer,
            gov,
            quote,
            assets or scenario2_assets(quote_decimals),
            11_000 * q if quote_balance is None else quote_balance,
            quote_target_bps,
            params or Params(),
            budgets or Budgets(1_000 * q, 1_000_000 * q),  # roomy: scenario 2 is $60,000
        )
        r = dep.rebalancer
        r.grantRole(r.REBALANCER_ROLE(), keeper, sender=gov)
        r.grantRole(r.KEEPER_ROLE(), keeper, sender=gov)
        r.grantRole(r.GUARDIAN_ROLE(), guardian, sender=gov)
        return dep

    return make
