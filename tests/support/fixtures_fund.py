"""Fixtures of a deployed local fund on ape's anvil (ballast_dev.deployment.profile, real
Uniswap pools), shared by tests/offchain/fundbot and tests/offchain/cli; loaded for the whole
suite with ``pytest_plugins`` in tests/conftest.py (a conftest fixture of the same name wins)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ballast_dev.deployment.fund import FundDeployment
from ballast_dev.deployment.profile import deploy_profile, load_profile
from tests.support.deployed_once import (
    ApeKnowledge,
    check_as_deployed,
    fund_fingerprint,
    module_copy,
)
from tests.support.fundbotlib import ROOT, UNIT, fund_bot, local_fund_env

if TYPE_CHECKING:
    from keepers.fund.bot import FundBot


@dataclass(frozen=True)
class DeployedFund:
    fund: FundDeployment
    holders: dict[str, Any]  # whose cash balance the module check reads
    fingerprint: dict[str, Any]  # tests/support/deployed_once.py: read right after the deploy
    known: ApeKnowledge  # what ape learnt of the deploy's addresses


@pytest.fixture(scope="session")
def local_fund_deployed(accounts: Any, chain: Any) -> DeployedFund:
    """The local profile deployed once per test process (each xdist worker): 2M of cash
    deposited, the controller rebalanced once by the keeper. Take ``fund``, never this: a test
    module must see the fund as just deployed, and ape's isolation is what gives it that. Being
    session-scoped, this is set up before the module's ``_module_isolation`` snapshot (ape
    orders a test's fixtures session first, then the module's isolation snapshot, then the
    module's fixtures), so the snapshot every module of the process reverts to when it ends is
    the chain just after this deploy: the next module starts on the same contracts, balances,
    nonces and clock as the first did (anvil's revert puts its clock back to the snapshot's
    block, as it did to the snapshot taken before each module's own deploy). Where a module's
    first test does not take the fund and a later one does (the first time in the process),
    ape rebases: it reverts to the module's snapshot, drops the module's fixtures and
    snapshots again after the deploy. The modules of the process that run after the first one
    taking it see these contracts on the chain too (the deployer's nonce moved on), as they see
    the portfolio suite's session-wide Uniswap (tests/contracts/portfolio/conftest.py)."""
    admin, keeper = accounts[1], accounts[2]

    def deploy() -> FundDeployment:
        profile = load_profile(ROOT / "scripts/profiles/local.yaml")
        f = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
        f.cash.mint(admin, 10_000_000 * UNIT, sender=accounts[0])
        f.cash.approve(f.vault, 2**256 - 1, sender=admin)
        f.vault.deposit(2_000_000 * UNIT, admin, sender=admin)
        f.controller.rebalance(True, sender=keeper)
        return f

    f, known = ApeKnowledge.around(chain, deploy)
    holders = {"admin": admin, "keeper": keeper, "trader": accounts[7]}
    return DeployedFund(f, holders, fund_fingerprint(f, holders), known)


@pytest.fixture(scope="module")
def fund(local_fund_deployed: DeployedFund, chain: Any) -> FundDeployment:
    """The local profile as just deployed (``local_fund_deployed``: once per process, the chain
    put back by ape's module isolation): 2M of cash deposited, the controller rebalanced once
    by the keeper. The record is copied per module (``module_copy``) and the fund's state
    checked against what the deploy left (``check_as_deployed``: fails naming what an earlier
    module left changed); ape is taught the deploy's contracts again (``ApeKnowledge``)."""
    d = local_fund_deployed
    d.known.teach(chain)
    check_as_deployed(d.fund, d.holders, d.fingerprint)
    return module_copy(d.fund)


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
