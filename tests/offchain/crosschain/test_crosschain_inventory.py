"""Config -> plan -> executable orders: decimals per chain, routes, exact amounts; the
inventory's gauges (keepers.crosschain.metrics.observe_positions)."""

import pytest

from keepers.crosschain.config import RouteName, parse_config
from keepers.crosschain.inventory import holdings_from_config, orders, plan_from_config


@pytest.fixture
def cfg(cc_doc):
    return parse_config(cc_doc)


def test_plan_from_config__usdt_short_on_6_dec_chain__18_dec_source_exact_units(cfg):
    # ethereum USDT (6 dec) base 50000.5, holds 100; bsc USDT (18 dec) base 75000 + 1e-18.
    balances = {
        ("ethereum", "USDC"): 100_000 * 10**6,
        ("ethereum", "USDT"): 100 * 10**6,
        ("bsc", "USDC"): 20_000 * 10**18,
        ("bsc", "USDT"): 200_000 * 10**18,
    }
    plan = plan_from_config(cfg, balances)
    (order,) = orders(cfg, plan)
    assert order.route is RouteName.USDT0
    assert (order.source, order.destination, order.coin) == ("EVM-56", "EVM-1", "USDT")
    assert order.amount == "49900.5"
    assert order.destination_units == 49_900_500_000
    assert order.source_units == 49_900_500_000 * 10**12


def test_plan_from_config__usdc_between_cctp_and_non_cctp_chain__cex_route(cfg):
    balances = {
        ("ethereum", "USDC"): 200_000 * 10**6,
        ("ethereum", "USDT"): 60_000 * 10**6,
        ("bsc", "USDC"): 0,
        ("bsc", "USDT"): 80_000 * 10**18,
    }
    (order,) = orders(cfg, plan_from_config(cfg, balances))
    assert order.route is RouteName.CEX
    assert (order.coin, order.amount, order.source_units) == ("USDC", "20000", 20_000 * 10**6)


def test_holdings_from_config__missing_balance__refused(cfg):
    with pytest.raises(KeyError, match="bsc/USDT"):
        holdings_from_config(
            cfg, {("ethereum", "USDC"): 0, ("ethereum", "USDT"): 0, ("bsc", "USDC"): 0}
        )


def test_observe_positions__each_amount__on_its_own_gauge_in_asset_units():
    """Every amount of a ``CrosschainBot.positions`` row (18-decimal integers) reaches the gauge
    of its field, in asset units: a field read into another's gauge shows here."""
    from prometheus_client import REGISTRY

    from keepers.crosschain import metrics as xm

    e18 = 10**18
    row = {
        "chain": "positions-test",
        "asset": "USDT",
        "balance": 1_500 * e18,
        "base": 2_000 * e18,
        "trigger_at": 1_000 * e18,
        "deficit": 250 * e18 + e18 // 2,
        "surplus": 7 * e18,
    }
    xm.observe_positions([row])
    labels = {"chain": "positions-test", "asset": "USDT"}
    got = {
        name: REGISTRY.get_sample_value(f"crosschain_{name}", labels)
        for name in ("balance", "base", "trigger", "deficit", "surplus")
    }
    assert got == {
        "balance": 1_500.0,
        "base": 2_000.0,
        "trigger": 1_000.0,
        "deficit": 250.5,
        "surplus": 7.0,
    }
