"""A FundBot driving the deployed local fund (``fund``/``fresh``: tests/support/fixtures_fund.py)
through web3 with its own SQLite store per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from keepers.fund.bot import FundBot
from keepers.fund.settings import load_fund_config
from keepers.runtime.alerts import Alert, Alerter
from keepers.store.db import Store
from keepers.tx.signers import RawKeySigner
from tests.support.fundbotlib import DEX, ROOT, UNIT, local_fund_env


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
        full = {
            "KEEPER_RPC_URL": chain.provider.uri,
            "KEEPER_DB_URL": f"sqlite:///{tmp_path}/keeper-{len(stores)}.db",
            "KEEPER_DEPLOYMENT": str(deployment_file),
            "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
            "KEEPER_CHAIN_ID": str(chain.chain_id),
            "KEEPER_LOG_LEVEL": "WARNING",
            "KEEPER_RETRY_BACKOFF_S": "0.05",
            "REBALANCE_ADMINS": "alice,bob,carol",
            **(env or {}),
        }
        cfg = load_fund_config(full)
        store = Store(cfg.keeper.db_url)
        stores.append(store)
        signer = RawKeySigner(accounts[2].private_key)
        return FundBot(cfg, store, signer=signer, alerter=Alerter([alerts.append]))

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
