"""Fund fixtures (module-scoped: ape restores the chain snapshot taken when each module starts,
so a session fixture first deployed inside one module would vanish from the chain after it):
a vault + controller over a 6- or 18-decimal base stablecoin with six assets (two money-market
funds in L2; three instant credit funds and one asynchronous RWA in L3)."""

import pytest

from ballast_dev.deployment.fund import FEED_DECIMALS, RiskSpec, add_asset, deploy_core, grant_roles

ONE_DAY = 86_400


@pytest.fixture(scope="module", params=[6, 18], ids=["usdt6", "usdt18"])
def base_decimals(request):
    return request.param


@pytest.fixture(scope="module")
def unit(base_decimals):
    """One whole base token in base units."""
    return 10**base_decimals


@pytest.fixture(scope="module")
def usdt(project, deployer, base_decimals):
    return deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", base_decimals)


@pytest.fixture(scope="module")
def create_feed(project, deployer):
    def create(price_e8: int = 10**FEED_DECIMALS):
        return deployer.deploy(project.TestPriceFeed, FEED_DECIMALS, price_e8)

    return create


@pytest.fixture(scope="module")
def adapters(project, deployer):
    return {
        "erc4626": deployer.deploy(project.ERC4626Adapter),
        "async": deployer.deploy(project.AsyncRwaAdapter),
    }


@pytest.fixture(scope="module")
def fund(
    project,
    deployer,
    gov,
    keeper,
    guardian,
    usdt,
    adapters,
    create_feed,
    alice,
    bob,
    whale,
    attacker,
):
    # (alice, bob, whale and attacker are taken so that no session account a test takes is set
    # up after this module fixture: ape warns InvalidIsolationWarning and rebases the module,
    # deploying its fund again, whenever no module before on the worker had taken that account)
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
            feed=create_feed(),
        )
    nav = create_feed()
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
