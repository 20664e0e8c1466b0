"""CEX fallback route between two anvil chains through ccxt's real `binance` class pointed at
the local exchange simulator (USDT 6 decimals on 'ethereum', 18 on 'bsc')."""

import time
from decimal import Decimal

import pytest

from ballast_dev.local.cex_sim_local import BinanceSim, SimCoin, SimNetwork, make_sim_exchange
from keepers.crosschain.cex import CexRoute, CexSide
from keepers.crosschain.routes import RouteError, RouteStatus, Web3Sender
from tests.support.xchainlib import deploy_ct, transact

E6, E18 = 10**6, 10**18
FEE_ETH, FEE_BSC = Decimal("1"), Decimal("0.1")  # withdrawal fees (USDT)


@pytest.fixture(scope="module")
def cex(project, two_chains):
    eth, bsc = two_chains
    ct = project.TestStablecoin.contract_type
    usdt_e = deploy_ct(eth.w3, ct, eth.accounts[0], "Tether USD", "USDT", 6)
    usdt_b = deploy_ct(bsc.w3, ct, bsc.accounts[0], "Tether USD (BSC)", "USDT", 18)
    hot_e, hot_b = eth.accounts[8], bsc.accounts[8]
    transact(eth.w3, usdt_e.functions.mint(hot_e, 1_000_000 * E6), hot_e)
    transact(bsc.w3, usdt_b.functions.mint(hot_b, 1_000_000 * E18), hot_b)
    deposit_e = "0x000000000000000000000000000000000000dE05"
    deposit_b = "0x000000000000000000000000000000000000dE56"
    sim = BinanceSim(
        [
            SimNetwork(
                "ETH", eth.w3, deposit_e, hot_e, {"USDT": SimCoin(usdt_e.address, 6, FEE_ETH)}
            ),
            SimNetwork(
                "BSC", bsc.w3, deposit_b, hot_b, {"USDT": SimCoin(usdt_b.address, 18, FEE_BSC)}
            ),
        ],
        # the watcher thread never runs in these tests: every deposit credited and every
        # withdrawal paid here is the simulator catching up when the route asks (a signed
        # request brings its books up to date before it is answered)
        interval=3600,
    ).start()
    try:
        yield {
            "eth": eth,
            "bsc": bsc,
            "usdt_e": usdt_e,
            "usdt_b": usdt_b,
            "sim": sim,
            "side_e": CexSide("ethereum", eth.w3, "ERC20", usdt_e.address, 6),
            "side_b": CexSide("bsc", bsc.w3, "BEP20", usdt_b.address, 18),
        }
    finally:
        sim.stop()


def wait_status(route, handle, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    while True:
        got = route.status(handle)
        if got is want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _usdt_route(cex, keeper, source="side_b", dest="side_e"):
    """A USDT CexRoute through the exchange simulator, signed and paid by `keeper`."""
    sim = make_sim_exchange(cex["sim"])
    return CexRoute(sim, "USDT", cex[source], cex[dest], Web3Sender(keeper), keeper)


def test_cex_route__bsc_to_eth__deposit_credited_withdrawn_once_and_conserved(cex):
    eth, bsc, sim = cex["eth"], cex["bsc"], cex["sim"]
    keeper, bob = bsc.accounts[2], eth.accounts[5]
    route = _usdt_route(cex, keeper)
    amount = 2_500 * E18 + 123_456_789  # 18-dec source with dust below 1e-8
    transact(bsc.w3, cex["usdt_b"].functions.mint(keeper, amount), keeper)
    q = route.quote(amount)
    assert q.min_received == 2_499 * E6  # floored to 6 decimals, less the 1 USDT fee
    handle = route.initiate(amount, bob)
    assert cex["usdt_b"].functions.balanceOf(keeper).call() == 0
    assert wait_status(route, handle, RouteStatus.ATTESTED) is RouteStatus.ATTESTED

    before = cex["usdt_e"].functions.balanceOf(bob).call()
    assert not route.finalize(handle).already_received
    assert route.finalize(handle).already_received  # a restarted keeper repeating the step
    assert wait_status(route, handle, RouteStatus.COMPLETED) is RouteStatus.COMPLETED, (
        sim.errors[-3:],
        sim.state.withdrawals,
    )
    received = cex["usdt_e"].functions.balanceOf(bob).call() - before
    assert received == q.min_received
    assert route.payout(handle) == (received, 1 * E6)
    # Conservation: deposited = paid out + fee + left on the exchange (sub-step dust).
    deposited = Decimal(amount).scaleb(-18)
    paid = Decimal(received).scaleb(-6)
    left = sim.state.balances["USDT"]
    assert deposited == paid + FEE_ETH + left
    assert left == Decimal(123_456_789).scaleb(-18)
    assert len([w for w in sim.state.withdrawals if w.withdraw_order_id == handle.ref]) == 1


def test_cex_route__eth_to_bsc__six_to_eighteen_decimals(cex):
    eth, bsc = cex["eth"], cex["bsc"]
    keeper, carol = eth.accounts[2], bsc.accounts[7]
    route = _usdt_route(cex, keeper, "side_e", "side_b")
    amount = 40 * E6 + 250_000  # 40.25 USDT
    transact(eth.w3, cex["usdt_e"].functions.mint(keeper, amount), keeper)
    assert route.quote(amount).min_received == 40_150_000_000_000_000_000  # 40.25 - 0.1
    handle = route.initiate(amount, carol)
    assert wait_status(route, handle, RouteStatus.ATTESTED) is RouteStatus.ATTESTED
    route.finalize(handle)
    assert wait_status(route, handle, RouteStatus.COMPLETED) is RouteStatus.COMPLETED
    assert cex["usdt_b"].functions.balanceOf(carol).call() == 40_150_000_000_000_000_000


def test_cex_route__finalize_before_credit__refused_and_nothing_withdrawn(cex):
    bsc, sim = cex["bsc"], cex["sim"]
    keeper = bsc.accounts[3]
    route = _usdt_route(cex, keeper)
    transact(bsc.w3, cex["usdt_b"].functions.mint(keeper, 5 * E18), keeper)
    sim.networks["BSC"].confirmations = 10**9  # never confirmed
    try:
        handle = route.initiate(5 * E18, keeper)
        time.sleep(0.3)
        assert route.status(handle) is RouteStatus.PENDING_ATTESTATION
        with pytest.raises(RouteError, match="not credited"):
            route.finalize(handle)
    finally:
        sim.networks["BSC"].confirmations = 1
    assert wait_status(route, handle, RouteStatus.ATTESTED) is RouteStatus.ATTESTED


def _withdrawals_off(sim, off: bool) -> None:
    sim.networks["ETH"].coins["USDT"].withdraw_enable = not off


def _exchange_down(sim, down: bool) -> None:
    sim.down = down


@pytest.mark.parametrize(
    ("outage", "message"),
    [(_withdrawals_off, "withdrawals on ETH off"), (_exchange_down, "fetch_currencies failed")],
)
def test_cex_route__withdrawals_disabled_or_exchange_down__quote_raises_route_error(
    cex, outage, message
):
    sim, bsc = cex["sim"], cex["bsc"]
    outage(sim, True)
    try:
        route = _usdt_route(cex, bsc.accounts[2])
        with pytest.raises(RouteError, match=message):
            route.quote(10 * E18)
    finally:
        outage(sim, False)


def test_cex_sim__bad_signature__refused(cex):
    import ccxt

    ex = make_sim_exchange(cex["sim"])
    ex.secret = "not-the-secret"
    with pytest.raises(ccxt.AuthenticationError):
        ex.fetch_deposits("USDT")


def test_cex_route__withdrawal_applied_by_another_instance__finalize_reports_already(cex):
    """Two keeper instances race: the exchange refuses the second withdrawal under the same
    client id, and the loser reports `already_received` instead of failing."""
    bsc, sim = cex["bsc"], cex["sim"]
    keeper = bsc.accounts[4]
    route = _usdt_route(cex, keeper)
    transact(bsc.w3, cex["usdt_b"].functions.mint(keeper, 12 * E18), keeper)
    handle = route.initiate(12 * E18, keeper)
    assert wait_status(route, handle, RouteStatus.ATTESTED) is RouteStatus.ATTESTED
    route.finalize(handle)
    with pytest.raises(RouteError, match="duplicate withdrawOrderId"):  # the exchange refuses
        route._call(
            "withdraw",
            make_sim_exchange(sim).withdraw,
            "USDT",
            "11",
            keeper,
            params={"network": "ERC20", "withdrawOrderId": handle.ref},
        )
    real_lookup = route._withdrawal
    calls = []

    def stale_then_real(h):  # first lookup misses (the race), the re-check sees it
        calls.append(h.ref)
        return None if len(calls) == 1 else real_lookup(h)

    route._withdrawal = stale_then_real
    assert route.finalize(handle).already_received
    assert len([w for w in sim.state.withdrawals if w.withdraw_order_id == handle.ref]) == 1


def test_cex_route__payout_fails_on_destination__failed_and_refunded_on_exchange(cex):
    eth, bsc, sim = cex["eth"], cex["bsc"], cex["sim"]
    keeper = bsc.accounts[5]
    route = _usdt_route(cex, keeper)
    transact(bsc.w3, cex["usdt_b"].functions.mint(keeper, 20 * E18), keeper)
    handle = route.initiate(20 * E18, eth.accounts[5])
    assert wait_status(route, handle, RouteStatus.ATTESTED) is RouteStatus.ATTESTED
    net = sim.networks["ETH"]
    hot, net.hot_wallet = net.hot_wallet, eth.accounts[1]  # a hot wallet holding no USDT
    try:
        balance0 = sim.state.balances["USDT"]
        route.finalize(handle)
        assert wait_status(route, handle, RouteStatus.FAILED) is RouteStatus.FAILED
    finally:
        net.hot_wallet = hot
    assert route.payout(handle) is None
    assert sim.state.balances["USDT"] == balance0  # the exchange refunded the account
