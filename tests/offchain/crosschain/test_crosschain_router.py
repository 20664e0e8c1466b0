"""Route choice with fallback, against recording fake adapters (no chain)."""

import pytest

from keepers.crosschain.config import Asset, ConfigError, RouteName, parse_config
from keepers.crosschain.router import NoRouteError, dispatch
from keepers.crosschain.routes import Quote, RouteError, RouteHandle


class FakeRoute:
    def __init__(self, name, down=None, initiate_error=None):
        self.name, self.down, self.initiate_error = name, down, initiate_error
        self.initiated = []

    def quote(self, amount):
        if self.down:
            raise RouteError(self.down)
        return Quote(self.name, amount, 0, amount)

    def initiate(self, amount, recipient):
        if self.initiate_error:
            raise RouteError(self.initiate_error)
        self.initiated.append((amount, recipient))
        return RouteHandle(self.name, "a", "b", b"\x01" * 32, 0, b"", amount=amount)


def _factory(adapters):
    return lambda route, asset, src, dst: adapters.get(route)


def test_routes_between__usdt_eth_bsc__usdt0_then_cex(cc_doc):
    cfg = parse_config(cc_doc)
    assert cfg.routes_between(Asset.USDT, "ethereum", "bsc") == [RouteName.USDT0, RouteName.CEX]
    assert cfg.routes_between(Asset.USDC, "bsc", "ethereum") == [RouteName.CEX]
    assert cfg.chain("bsc").exchange_network == "BEP20"


def _dispatch_usdt_eth_bsc(cfg, usdt0, cex, amount):
    return dispatch(
        cfg,
        _factory({RouteName.USDT0: usdt0, RouteName.CEX: cex}),
        Asset.USDT,
        "ethereum",
        "bsc",
        amount,
        "0xb0b",
    )


def test_dispatch__preferred_route_up__used_and_cex_untouched(cc_doc):
    cfg = parse_config(cc_doc)
    usdt0, cex = FakeRoute("USDT0"), FakeRoute("CEX")
    got = _dispatch_usdt_eth_bsc(cfg, usdt0, cex, 5)
    assert got.route is RouteName.USDT0 and got.skipped == ()
    assert usdt0.initiated == [(5, "0xb0b")] and cex.initiated == []


def test_dispatch__usdt0_down__falls_back_to_cex(cc_doc):
    cfg = parse_config(cc_doc)
    usdt0, cex = FakeRoute("USDT0", down="blocked library"), FakeRoute("CEX")
    got = _dispatch_usdt_eth_bsc(cfg, usdt0, cex, 7)
    assert got.route is RouteName.CEX
    assert got.skipped == ((RouteName.USDT0, "blocked library"),)
    assert usdt0.initiated == [] and cex.initiated == [(7, "0xb0b")]


def test_dispatch__every_route_down__no_route_error_names_each(cc_doc):
    cfg = parse_config(cc_doc)
    adapters = {
        RouteName.USDT0: FakeRoute("USDT0", down="lz down"),
        RouteName.CEX: FakeRoute("CEX", down="withdrawals off"),
    }
    with pytest.raises(NoRouteError, match="USDT0: lz down; CEX: withdrawals off") as err:
        dispatch(cfg, _factory(adapters), Asset.USDT, "ethereum", "bsc", 1, "0xb0b")
    assert [r for r, _ in err.value.tried] == [RouteName.USDT0, RouteName.CEX]


def test_dispatch__initiate_fails__not_retried_elsewhere(cc_doc):
    cfg = parse_config(cc_doc)
    cex = FakeRoute("CEX")
    adapters = {
        RouteName.USDT0: FakeRoute("USDT0", initiate_error="send reverted"),
        RouteName.CEX: cex,
    }
    with pytest.raises(RouteError, match="send reverted"):
        dispatch(cfg, _factory(adapters), Asset.USDT, "ethereum", "bsc", 1, "0xb0b")
    assert cex.initiated == []


def test_config__cex_route_on_unknown_chain_without_network__refused(cc_doc):
    cc_doc["chains"][1]["chain_id"] = 999
    with pytest.raises(ConfigError, match="route CEX needs cex_network"):
        parse_config(cc_doc)
    cc_doc["chains"][1]["cex_network"] = "bep20"
    with pytest.raises(ConfigError, match=r"cex_network.*'bep20'"):
        parse_config(cc_doc)
    cc_doc["chains"][1]["cex_network"] = "BEP20"
    assert parse_config(cc_doc).chain("bsc").exchange_network == "BEP20"


def test_config__cex_exchange_bad_id__refused(cc_doc):
    cc_doc["cex_exchange"] = "Binance US!"
    with pytest.raises(ConfigError, match="cex_exchange"):
        parse_config(cc_doc)


class _Exchange:
    def __init__(self, exchange_id):
        self.id = exchange_id


def _w3s():
    from web3 import Web3

    return {n: Web3(Web3.HTTPProvider("http://127.0.0.1:9")) for n in ("ethereum", "bsc")}


def test_adapter_factory__usdt0_addresses_missing__no_adapter_and_dispatch_falls_back(cc_doc):
    from keepers.crosschain.routes import Web3Sender
    from keepers.crosschain.wiring import adapter_factory

    cfg = parse_config(cc_doc)  # lz_endpoint / usdt0_oft not configured
    factory = adapter_factory(cfg, _w3s(), Web3Sender("0x" + "11" * 20), "0x" + "11" * 20)
    assert factory(RouteName.USDT0, Asset.USDT, "ethereum", "bsc") is None
    assert factory(RouteName.CEX, Asset.USDT, "ethereum", "bsc") is None  # no exchange given
    with pytest.raises(NoRouteError, match="USDT0: no adapter wired; CEX: no adapter wired"):
        dispatch(cfg, factory, Asset.USDT, "ethereum", "bsc", 1, "0xb0b")


def test_adapter_factory__fully_configured__builds_each_route_with_its_sides(cc_doc):
    from eth_utils import to_checksum_address

    from keepers.crosschain.cex import CexRoute
    from keepers.crosschain.routes import Web3Sender
    from keepers.crosschain.usdt0 import DvnVerification, Usdt0Route
    from keepers.crosschain.wiring import adapter_factory

    for i, chain in enumerate(cc_doc["chains"]):
        chain["lz_endpoint"] = to_checksum_address("0x" + "1a" * 20)
        chain["usdt0_oft"] = to_checksum_address(f"0x{i + 1:040x}")
    cfg = parse_config(cc_doc)
    owner = "0x" + "11" * 20
    factory = adapter_factory(cfg, _w3s(), Web3Sender(owner), owner, exchange=_Exchange("binance"))
    usdt0 = factory(RouteName.USDT0, Asset.USDT, "bsc", "ethereum")
    assert isinstance(usdt0, Usdt0Route)
    assert (usdt0.source.eid, usdt0.dest.eid) == (30102, 30101)
    assert usdt0.dest.oft == f"0x{1:040x}" and isinstance(usdt0.verifier, DvnVerification)
    cex = factory(RouteName.CEX, Asset.USDC, "ethereum", "bsc")
    assert isinstance(cex, CexRoute) and cex.asset == "USDC"
    assert (cex.source.network, cex.dest.network) == ("ERC20", "BEP20")
    assert (cex.source.decimals, cex.dest.decimals) == (6, 18)
    assert factory(RouteName.CCTP, Asset.USDC, "ethereum", "bsc") is None  # bsc has no CCTP
    assert factory(RouteName.USDT0, Asset.USDC, "ethereum", "bsc") is None  # wrong asset


def test_adapter_factory__exchange_not_the_configured_one__refused(cc_doc):
    from keepers.crosschain.routes import Web3Sender
    from keepers.crosschain.wiring import adapter_factory

    cfg = parse_config(cc_doc)
    with pytest.raises(ValueError, match="'okx' is not cex_exchange 'binance'"):
        adapter_factory(
            cfg, _w3s(), Web3Sender("0x" + "11" * 20), "0x" + "11" * 20, exchange=_Exchange("okx")
        )


def test_config__usdt0_oft_not_an_address__refused_naming_field(cc_doc):
    cc_doc["chains"][0]["usdt0_oft"] = "0x1234"
    with pytest.raises(ConfigError, match=r"chains\.0\.usdt0_oft.*0x1234"):
        parse_config(cc_doc)
