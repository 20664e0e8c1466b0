"""Route choice end to end on two anvil chains: USDT ethereum -> bsc goes over USDT0 while
LayerZero is up, falls back to the CEX (ccxt binance -> local simulator) when the OFT's send
library is the endpoint's BlockedMessageLib, and fails loudly when both are down."""

import time
from decimal import Decimal

import pytest

from ballast_dev.local.cex_sim_local import BinanceSim, SimCoin, SimNetwork, make_sim_exchange
from ballast_dev.local.lz_local import LocalLzVerifier
from keepers.crosschain.config import Asset, RouteName, parse_config
from keepers.crosschain.router import NoRouteError, dispatch
from keepers.crosschain.routes import RouteStatus, Web3Sender
from keepers.crosschain.wiring import adapter_factory
from tests.support.xchainlib import BSC_EID, make_usdt0_route, transact

E6, E18 = 10**6, 10**18
FEE_BSC = Decimal("0.25")


@pytest.fixture(scope="module")
def setup(lz):
    eth, bsc = lz["eth"], lz["bsc"]
    hot_e, hot_b = eth.accounts[9], bsc.accounts[9]
    transact(eth.w3, lz["usdt"].functions.mint(hot_e, 100_000 * E6), hot_e)
    transact(bsc.w3, lz["usdt0"].functions.mint(hot_b, 100_000 * E18), bsc.accounts[0])
    sim = BinanceSim(
        [
            SimNetwork(
                "ETH",
                eth.w3,
                "0x00000000000000000000000000000000000FA11e",
                hot_e,
                {"USDT": SimCoin(lz["usdt"].address, 6, Decimal(1))},
            ),
            SimNetwork(
                "BSC",
                bsc.w3,
                "0x00000000000000000000000000000000000fA11B",
                hot_b,
                {"USDT": SimCoin(lz["usdt0"].address, 18, FEE_BSC)},
            ),
        ],
        interval=0.05,
    ).start()
    doc = {
        "trigger_percentage": "0.5",
        "cex_exchange": "binance",
        "chains": [
            _chain("ethereum", eth, 30101, lz["lz_e"], lz["adapter"], lz["usdt"], 6),
            _chain("bsc", bsc, 30102, lz["lz_b"], lz["usdt0"], lz["usdt0"], 18),
        ],
    }
    cfg = parse_config(doc)
    keeper = eth.accounts[2]
    sender = Web3Sender(keeper)
    _usdt0_route, relayer = make_usdt0_route(lz, "e", "b", keeper)
    factory = adapter_factory(
        cfg,
        {"ethereum": eth.w3, "bsc": bsc.w3},
        sender,
        keeper,
        exchange=make_sim_exchange(sim),
        lz_verifiers={"bsc": LocalLzVerifier(lz["side_b"], lz["lz_b"].lib, sender)},
    )
    try:
        yield {"cfg": cfg, "factory": factory, "sim": sim, "relayer": relayer, "keeper": keeper}
    finally:
        sim.stop()


def _block_lz(lz, blocked: bool):
    ep = lz["lz_e"].endpoint_contract()
    lib = ep.functions.blockedLibrary().call() if blocked else lz["lz_e"].lib
    transact(
        lz["eth"].w3,
        ep.functions.setSendLibrary(lz["adapter"].address, BSC_EID, lib),
        lz["eth"].accounts[0],
    )


def _wait(adapter, handle, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    while (got := adapter.status(handle)) is not want and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def _chain(name, node, eid, lz_side, oft, usdt, decimals):
    """One chain of the cross-chain config: USDT on `usdt`, routes USDT0 then CEX."""
    return {
        "name": name,
        "rpc_url": node.w3.provider.endpoint_uri,
        "chain_id": node.chain_id,
        "lz_endpoint_id": eid,
        "lz_endpoint": lz_side.endpoint,
        "usdt0_oft": oft.address,
        "tokens": {"USDT": {"address": usdt.address, "decimals": decimals}},
        "base_balances": {"USDT": "1000"},
        "routes": ["USDT0", "CEX"],
    }


def test_dispatch__lz_up__usdt0_chosen_and_delivered(lz, setup):
    keeper, bob = setup["keeper"], lz["bsc"].accounts[5]
    transact(lz["eth"].w3, lz["usdt"].functions.mint(keeper, 10 * E6), keeper)
    before = lz["usdt0"].functions.balanceOf(bob).call()
    got = dispatch(setup["cfg"], setup["factory"], Asset.USDT, "ethereum", "bsc", 10 * E6, bob)
    assert got.route is RouteName.USDT0 and got.skipped == ()
    setup["relayer"].relay()
    assert lz["usdt0"].functions.balanceOf(bob).call() - before == 10 * E18


def test_dispatch__lz_blocked__falls_back_to_cex_and_pays_on_bsc(lz, setup):
    keeper, carol = setup["keeper"], lz["bsc"].accounts[6]
    amount = 80 * E6 + 500_000
    transact(lz["eth"].w3, lz["usdt"].functions.mint(keeper, amount), keeper)
    locked0 = lz["usdt"].functions.balanceOf(lz["adapter"].address).call()
    before = lz["usdt0"].functions.balanceOf(carol).call()
    _block_lz(lz, True)
    try:
        got = dispatch(setup["cfg"], setup["factory"], Asset.USDT, "ethereum", "bsc", amount, carol)
    finally:
        _block_lz(lz, False)
    assert got.route is RouteName.CEX
    assert got.skipped[0][0] is RouteName.USDT0 and "down" in got.skipped[0][1]
    cex = setup["factory"](RouteName.CEX, Asset.USDT, "ethereum", "bsc")
    assert _wait(cex, got.handle, RouteStatus.ATTESTED) is RouteStatus.ATTESTED
    cex.finalize(got.handle)
    assert _wait(cex, got.handle, RouteStatus.COMPLETED) is RouteStatus.COMPLETED
    paid = lz["usdt0"].functions.balanceOf(carol).call() - before
    assert paid == (80 * E18 + 5 * 10**17) - (FEE_BSC * E18)  # 80.5 USDT less the 0.25 fee
    assert lz["usdt"].functions.balanceOf(lz["adapter"].address).call() == locked0  # no OFT leg


def test_dispatch__lz_blocked_and_exchange_down__no_route_error(lz, setup):
    _block_lz(lz, True)
    setup["sim"].down = True
    try:
        with pytest.raises(NoRouteError, match="USDT0: .*down.*; CEX: binance fetch_currencies"):
            dispatch(
                setup["cfg"],
                setup["factory"],
                Asset.USDT,
                "ethereum",
                "bsc",
                5 * E6,
                setup["keeper"],
            )
    finally:
        setup["sim"].down = False
        _block_lz(lz, False)
