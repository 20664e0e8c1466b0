"""Fund fixtures: a vault + controller over a 6- or 18-decimal base stablecoin with six assets
(two money-market funds in L2; three instant credit funds and one asynchronous RWA in L3),
deployed once per test process (``_funds_once``) and taken by each module, for each base coin,
as it was when deployed: ape reverts to the snapshot taken when each module starts, which is
after the session's deploy (ape sets session fixtures up first, and rebases a module whose
first test did not take the fund)."""

import pytest

from ballast_dev.deployment.fund import FEED_DECIMALS, RiskSpec, add_asset, deploy_core, grant_roles
from tests.support.deployed_once import (
    ApeKnowledge,
    check_as_deployed,
    fund_fingerprint,
    module_copy,
    reverted_after,
)

ONE_DAY = 86_400


@pytest.fixture(scope="module", params=[6, 18], ids=["usdt6", "usdt18"])
def base_decimals(request, chain):
    """The base coin's decimals; each module runs its tests for 6, then for 18. Every module
    fixture that depends on it is set up after it and torn down before it, so the chain is
    reverted here when the module moves on to the next base coin: the 18-decimal tests start
    from the fund as deployed, not after the 6-decimal part's module set-up (its deposits, its
    day's warp: the 18-decimal fund's feeds would be a day old and its fees accrued over it).
    ape's own module snapshot, taken before this one, is reverted when the module ends."""
    with reverted_after(chain):
        yield request.param


@pytest.fixture(scope="module")
def unit(base_decimals):
    """One whole base token in base units."""
    return 10**base_decimals


def _feed(project, deployer, price_e8: int = 10**FEED_DECIMALS):
    """A test feed (Chainlink's MockV3Aggregator) answering ``price_e8``, updated now."""
    return deployer.deploy(project.TestPriceFeed, FEED_DECIMALS, price_e8)


@pytest.fixture(scope="module")
def create_feed(project, deployer):
    def create(price_e8: int = 10**FEED_DECIMALS):
        return _feed(project, deployer, price_e8)

    return create


def _deploy_fund(project, deployer, gov, keeper, guardian, usdt, adapters):
    """The fund of this folder's tests over ``usdt``: five ERC-4626 assets (two in L2, three in
    L3) and one asynchronous RWA in L3, each with its own feed at 1.0."""
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(min_move_value=0))
    grant_roles(f, gov, keepers=[keeper], guardians=[guardian], sender=deployer)
    for symbol, tier in (("mmfA", 1), ("mmfB", 1), ("crA", 2), ("crB", 2), ("crC", 2)):
        token = deployer.deploy(project.TestMoneyMarketFund, usdt.address, symbol, symbol)
        add_asset(
            f,
            deployer,
            symbol=symbol,
            token=token,
            tier=tier,
            adapter=adapters["erc4626"],
            feed=_feed(project, deployer),
        )
    nav = _feed(project, deployer)
    rwa = deployer.deploy(
        project.TestAsyncRwaIssuer,
        "Async RWA",
        "aRWA",
        usdt.address,
        nav.address,
        ONE_DAY,
        7 * ONE_DAY,
        2 * ONE_DAY,
    )
    add_asset(f, deployer, symbol="rwa", token=rwa, tier=2, adapter=adapters["async"], feed=nav)
    f.adapters.update(adapters)
    return f


class _Funds:
    """Both funds of this folder, the adapters they share and each fund's figures right after
    the deploy (``fund_fingerprint``); ``addresses()`` as a deployment record gives them (what
    ``ApeKnowledge`` keeps ape's entries for)."""

    def __init__(self, adapters, funds, holders):
        self.adapters = adapters
        self.funds = funds  # base decimals -> FundDeployment (its cash: the base coin)
        self.holders = holders
        self.deployed = {d: fund_fingerprint(f, holders) for d, f in funds.items()}

    def addresses(self):
        return {str(d): f.addresses() for d, f in self.funds.items()}


@pytest.fixture(scope="session")
def _funds_once(project, chain, deployer, gov, keeper, guardian, alice, bob, whale, attacker):
    """Both funds of this folder (over a 6- and an 18-decimal base coin, sharing one pair of
    adapters), deployed once per test process instead of in every module that takes one
    (tests/support/fixtures_fund.py's ``local_fund_deployed`` does the same for the keepers'
    fund, and says why ape's isolation gives every module the chain as this deploy left it).

    Each module, for each base coin, gets its own copy of the record (``fund``: a module that
    lists an asset writes its copy), after a check that the fund is as deployed (failing with
    each figure an earlier module left moved: ``check_as_deployed``), with ape taught the
    deploy's contract types again (``ApeKnowledge``: a test playing a new process clears ape's
    caches, which a module's own deploy survived). ``base_decimals`` reverts the chain between
    a module's 6- and 18-decimal parts, which each deployed a fund of their own before.
    (alice, bob, whale and attacker are taken so that no session account a test takes is set
    up after this deploy: ape warns InvalidIsolationWarning and rebases the module whenever no
    module before on the worker had taken that account.)"""

    def deploy():
        adapters = {
            "erc4626": deployer.deploy(project.ERC4626Adapter),
            "async": deployer.deploy(project.AsyncRwaAdapter),
        }
        funds = {}
        for decimals in (6, 18):
            usdt = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", decimals)
            funds[decimals] = _deploy_fund(project, deployer, gov, keeper, guardian, usdt, adapters)
        holders = {"alice": alice, "bob": bob, "whale": whale, "deployer": deployer}
        return _Funds(adapters, funds, holders)

    return ApeKnowledge.around(chain, deploy)


@pytest.fixture(scope="module")
def _funds(_funds_once, chain):
    """The once-per-process deploy, with ape taught its contracts again for this module."""
    funds, known = _funds_once
    known.teach(chain)
    return funds


@pytest.fixture(scope="module")
def usdt(_funds, base_decimals):
    return _funds.funds[base_decimals].cash


@pytest.fixture(scope="module")
def adapters(_funds):
    return dict(_funds.adapters)


@pytest.fixture(scope="module")
def fund(_funds, base_decimals):
    """This module's copy of the record of the fund over ``usdt`` (``_funds_once``), checked
    to be as deployed."""
    f = _funds.funds[base_decimals]
    check_as_deployed(f, _funds.holders, _funds.deployed[base_decimals])
    return module_copy(f)


@pytest.fixture(scope="module")
def vault(fund):
    return fund.vault


@pytest.fixture(scope="module")
def controller(fund):
    return fund.controller


@pytest.fixture(scope="module")
def fund_usdt(usdt, vault, alice, bob, whale, deployer, unit):
    """Mint and approve generous balances for the usual depositors."""
    for who in (alice, bob, whale):
        usdt.mint(who, 100_000_000 * unit, sender=deployer)
        usdt.approve(vault.address, 2**256 - 1, sender=who)
    return usdt


@pytest.fixture
def deposited(vault, fund_usdt, alice, unit):
    """1,000,000 deposited, all in L1 cash."""
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    return 1_000_000 * unit


@pytest.fixture
def frozen_clock(chain):
    """Every block at its parent's second unless the test moves the clock
    (``chain.pending_timestamp``): anvil's interval between blocks set to 0 for the test. With
    fees on, what a call accrues follows the seconds since the last accrual, which the node's
    wall clock decided otherwise: a test comparing two calls' fees failed whenever a second
    ticked between them (test_fees' in-kind exit: 6.4e21 fee shares on 1.7e28, one CI run in
    several)."""
    rpc = chain.provider.web3.provider.make_request
    rpc("anvil_setBlockTimestampInterval", [0])
    yield
    rpc("anvil_removeBlockTimestampInterval", [])


@pytest.fixture(scope="module")
def feed_refresher(project, deployer, fund):
    """TestFeedRefresher: feeds re-report their answers in one transaction (deployed with the
    fund it serves, so it is rebuilt with it for each base-coin parameter)."""
    return deployer.deploy(project.TestFeedRefresher)


@pytest.fixture
def refresh_feeds(fund, deployer, feed_refresher):
    """After a time warp: every feed re-reports its current answer (as live feeds would), all
    in one transaction (TestFeedRefresher: the tests with a warp a day for a month sent a
    transaction per feed per day, a third of their time)."""

    def refresh():
        feed_refresher.refresh(list(fund.feeds.values()), sender=deployer)

    return refresh


@pytest.fixture
def hooked(
    project, fund, deployer, controller, usdt, adapters, create_feed, keeper, deposited, unit
):
    """A listed L3 venue with a transfer hook (TestHookedVenue: a call the test arms runs in the
    middle of the controller's move, as a hooked token's owner could), after 1,000,000
    deposited and 300,000 and 500,000 allocated to L2 and L3."""
    token = deployer.deploy(project.TestHookedVenue, usdt.address, controller.address)
    add_asset(
        fund,
        deployer,
        symbol="hook",
        token=token,
        tier=2,
        adapter=adapters["erc4626"],
        feed=create_feed(),
    )
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 500_000 * unit, sender=keeper)
    return token
