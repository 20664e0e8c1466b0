"""Fixtures for the portfolio suite: a real Uniswap V3 deployment and token factories."""

import pytest

from keepers.deployment.uniswap import deploy_uniswap


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
