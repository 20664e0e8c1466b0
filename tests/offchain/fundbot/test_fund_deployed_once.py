"""The local fund deployed once per test process (tests/support/fixtures_fund.py,
tests/support/deployed_once.py): every module gets the deploy's own contracts as the deploy left
them, whatever the module before it on that process did, and a module that finds it otherwise
fails at once naming what moved.

This module is also one of the "modules before": its ``moved_for_the_module`` fixture changes
the fund for the whole module (a deposit, a price, a pool swap, a contract deployed, the clock
a year on), and whichever module with the fund runs after it on the same process checks, when
its ``fund`` is set up, that none of it is left."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.deployed_once import ApeKnowledge, check_as_deployed, fund_fingerprint
from tests.support.fundbotlib import DEX, UNIT

YEAR = 365 * 86_400


@pytest.fixture(scope="module")
def moved_for_the_module(fund: Any, accounts: Any, chain: Any, project: Any) -> dict[str, Any]:
    """What a module may do to the fund and the chain for all its tests: the module's
    isolation must put every bit of it back before the next module."""
    admin, deployer, trader = accounts[1], accounts[0], accounts[7]
    fund.vault.deposit(123_456 * UNIT, admin, sender=admin)
    sym = next(iter(DEX))
    fund.assets[sym].mint(trader, 10**21, sender=deployer)
    feed = next(iter(fund.feeds.values()))
    feed.updateAnswer(int(feed.latestAnswer()) * 2, sender=deployer)
    extra = deployer.deploy(project.TestStablecoin, "Extra", "XTR", 6)
    chain.mine(1, timestamp=chain.pending_timestamp + YEAR)
    return {"extra": extra.address, "at": chain.blocks.head.timestamp}


def test_module_copy__same_contracts_as_the_process_deploy__record_is_the_modules_own(
    fund: Any, local_fund_deployed: Any
) -> None:
    d = local_fund_deployed.fund
    assert fund is not d
    assert fund.addresses() == d.addresses()
    # what a module's fixture writes into its record (executor_fund.py does) stays in it
    fund.automation["plan_executor"] = "0x" + "11" * 20
    fund.assets["XTR"] = fund.cash
    assert "plan_executor" not in d.automation and "XTR" not in d.assets


def test_check_as_deployed__fund_moved__names_each_figure_that_moved(
    fresh: Any, local_fund_deployed: Any, accounts: Any
) -> None:
    d = local_fund_deployed
    check_as_deployed(d.fund, d.holders, d.fingerprint)  # this test's start: as deployed
    admin, deployer, trader = accounts[1], accounts[0], accounts[7]
    fresh.vault.deposit(1 * UNIT, admin, sender=admin)
    sym = next(iter(DEX))
    fresh.assets[sym].mint(trader, 1, sender=deployer)
    with pytest.raises(AssertionError) as err:
        check_as_deployed(d.fund, d.holders, d.fingerprint)
    msg = str(err.value)
    for figure in (
        "vault.totalSupply",
        "cash.balanceOf(admin)",
        f"assets[{sym}].totalSupply",
        "lens.fundState.totalAssets",
    ):
        assert figure in msg
    assert "cash.totalSupply" not in msg  # a figure that did not move is not named


def test_check_as_deployed__a_price_alone__named(
    fresh: Any, local_fund_deployed: Any, accounts: Any
) -> None:
    d = local_fund_deployed
    feed = next(iter(fresh.feeds.values()))
    feed.updateAnswer(int(feed.latestAnswer()) + 1, sender=accounts[0])
    now = fund_fingerprint(d.fund, d.holders)
    moved = [k for k in d.fingerprint if now[k] != d.fingerprint[k]]
    assert any(k.endswith(".price") for k in moved)
    assert all(k.startswith("lens.fundState.") for k in moved)


def test_module_moves__seen_by_this_modules_tests(
    fund: Any, moved_for_the_module: dict[str, Any], local_fund_deployed: Any, chain: Any
) -> None:
    """The module's own changes hold for its tests (the next module's check, when its ``fund``
    is set up, is what shows they were all put back)."""
    d = local_fund_deployed
    assert chain.provider.web3.eth.get_code(moved_for_the_module["extra"]) != b""
    assert chain.blocks.head.timestamp >= moved_for_the_module["at"]
    now = fund_fingerprint(d.fund, d.holders)
    assert now["vault.totalSupply"] > d.fingerprint["vault.totalSupply"]


def test_ape_knowledge__local_caches_cleared__the_deploys_contracts_taught_again(
    fresh: Any, local_fund_deployed: Any, chain: Any, accounts: Any
) -> None:
    """A test that plays a new process clears ape's local caches (test_deploy_safe.py,
    test_deploy_record.py): the next module's ``fund`` teaches ape the deploy's contract types
    again, without which a receipt's return value and the fund's logs cannot be decoded."""
    vault = str(fresh.vault.address)
    chain.contracts.clear_local_caches()
    assert vault not in chain.contracts.contract_types.memory
    local_fund_deployed.known.teach(chain)
    assert chain.contracts.contract_types.memory[vault].name == "TieredVault"
    tx = fresh.cash.approve(fresh.vault, 1, sender=accounts[1])
    assert tx.return_value is True
    assert [e.event_name for e in tx.events] == ["Approval"]


def test_ape_knowledge__address_cached_before_with_the_very_same_type__taught_all_the_same(
    fresh: Any, chain: Any, accounts: Any
) -> None:
    """An earlier module of the process deployed the same contract at the same address (each
    module's nonces start again): the deploy caches the very object ape already held there, and
    the deploy's address is taught again all the same (ci20: the cash's approve undecodable in
    this module after such a module and a cache clear)."""
    cash = str(fresh.cash.address)
    types = chain.contracts.contract_types.memory
    held = types[cash]

    class Deployed:
        @staticmethod
        def addresses() -> dict[str, Any]:
            return {"cash": cash, "assets": {}}

    def deploy() -> Deployed:
        types[cash] = held  # what ape's cache_deployment does: the object it held
        return Deployed()

    _, known = ApeKnowledge.around(chain, deploy)
    chain.contracts.clear_local_caches()
    known.teach(chain)
    assert types[cash] is held
    tx = fresh.cash.approve(fresh.vault, 1, sender=accounts[1])
    assert tx.return_value is True
