"""Fixtures of a deployed local fund on ape's anvil (ballast_dev.deployment.profile, real
Uniswap pools), shared by tests/offchain/fundbot and tests/offchain/cli; loaded for the whole
suite with ``pytest_plugins`` in tests/conftest.py (a conftest fixture of the same name wins)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ballast_dev.deployment.profile import deploy_profile, load_profile
from tests.support.fundbotlib import ROOT, UNIT, fund_bot, local_fund_env

if TYPE_CHECKING:
    from keepers.fund.bot import FundBot


@pytest.fixture(scope="module")
def fund(accounts: Any, chain: Any) -> Any:
    """The local profile deployed once per module: 2M of cash deposited, the controller
    rebalanced once by the keeper."""
    profile = load_profile(ROOT / "scripts/profiles/local.yaml")
    f = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
    admin, keeper = accounts[1], accounts[2]
    f.cash.mint(admin, 10_000_000 * UNIT, sender=accounts[0])
    f.cash.approve(f.vault, 2**256 - 1, sender=admin)
    f.vault.deposit(2_000_000 * UNIT, admin, sender=admin)
    f.controller.rebalance(True, sender=keeper)
    return f


@pytest.fixture
def fresh(fund: Any, chain: Any) -> Iterator[Any]:
    """The module's fund, restored to its deployed state after the test."""
    snap = chain.snapshot()
    yield fund
    chain.restore(snap)


@pytest.fixture
def deployment_file(fresh: Any, tmp_path: Path) -> Path:
    """KEEPER_DEPLOYMENT: the fund's deployment record written to a file."""
    p = tmp_path / "local.json"
    p.write_text(json.dumps(fresh.addresses(), default=str))
    return p


@pytest.fixture
def keeper_bot(
    fresh: Any, chain: Any, accounts: Any, deployment_file: Path, tmp_path: Path
) -> Iterator[Callable[..., tuple[dict[str, str], FundBot]]]:
    """``keeper_bot(**settings)`` -> ``(env, bot)``: the fund keeper of the test's fund (its key
    accounts[2]) on the store ``tmp_path/keeper.db``, its settings `local_fund_env`'s with
    ``settings`` over them (``env``: what the console and the CLI read too); every store it
    opened is closed after the test."""
    bots: list[FundBot] = []

    def make(**settings: str) -> tuple[dict[str, str], FundBot]:
        env = local_fund_env(chain, deployment_file, f"sqlite:///{tmp_path}/keeper.db")
        env |= settings
        bots.append(fund_bot(env, accounts[2]))
        return env, bots[-1]

    yield make
    for bot in bots:
        bot.store.close()
