"""A FundBot driving the deployed local fund (``fund``/``fresh``: tests/support/fixtures_fund.py)
through web3 with its own SQLite store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keepers.fund.bot import FundBot
from keepers.runtime.alerts import Alert
from keepers.store.db import Store
from tests.support.fundbotlib import DEX, UNIT, fund_bot, fund_keeper_env, local_fund_env


@pytest.fixture
def alerts() -> list[Alert]:
    return []


@pytest.fixture
def make_bot(
    fresh: Any,
    chain: Any,
    accounts: Any,
    deployment_file: Path,
    tmp_path: Path,
    alerts: list[Alert],
) -> Iterator[Any]:
    stores: list[Store] = []

    def make(env: dict[str, str] | None = None) -> FundBot:
        db_url = f"sqlite:///{tmp_path}/keeper-{len(stores)}.db"
        full = fund_keeper_env(chain, deployment_file, db_url) | {"KEEPER_RETRY_BACKOFF_S": "0.05"}
        bot = fund_bot(full | (env or {}), accounts[2], alerts)
        stores.append(bot.store)
        return bot

    yield make
    for s in stores:
        s.close()


@pytest.fixture
def env(fresh: Any, chain: Any, deployment_file: Path, tmp_path: Path) -> dict[str, str]:
    """The environment `keeper` CLI commands read for the deployed local fund."""
    env = local_fund_env(chain, deployment_file, f"sqlite:///{tmp_path}/cli.db")
    return env | {"APPROVAL_MULTISIG_AMOUNT": "1000000"}


@pytest.fixture
def market(fresh: Any, accounts: Any) -> tuple[Any, Any]:
    """A trader (accounts[7]) with plenty of both sides of every pool, and the pools' helper."""
    from ballast_dev.deployment.uniswap import UniswapV3

    m = accounts[7]
    for sym in DEX:
        fresh.assets[sym].mint(m, 10**9 * 10**18, sender=accounts[0])
    fresh.cash.mint(m, 10**12 * UNIT, sender=accounts[0])
    a = fresh.adapters
    return m, UniswapV3(a["uniswap_factory"], a["uniswap_router"], None, None, None)
