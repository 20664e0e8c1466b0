"""Cross-chain config: a bad value refuses to start and the error names field and value."""

import json
from decimal import Decimal

import pytest

from keepers.crosschain.config import (
    ENV_JSON,
    ENV_PATH,
    Asset,
    ConfigError,
    RouteName,
    load_config,
    parse_config,
)


def test_parse_config__good_document__scaled_bases_and_routes(cc_doc):
    cfg = parse_config(cc_doc)
    assert cfg.trigger_percentage == Decimal("0.5")
    eth, bsc = cfg.chain("ethereum"), cfg.chain("bsc")
    assert eth.tokens[Asset.USDT].decimals == 6
    assert bsc.tokens[Asset.USDT].decimals == 18
    assert eth.base_balance_scaled(Asset.USDT) == 50000_5 * 10**17
    assert bsc.base_balance_scaled(Asset.USDT) == 75000 * 10**18 + 1
    # CCTP is only on ethereum, so USDC between them falls back to the CEX.
    assert cfg.route_between(Asset.USDC, "ethereum", "bsc") is RouteName.CEX
    assert cfg.route_between(Asset.USDT, "bsc", "ethereum") is RouteName.USDT0
    table = cfg.route_cost_table()
    assert table[("USDT", "bsc", "ethereum")] == 2
    assert table[("USDC", "ethereum", "bsc")] == 10


def _mutate(doc: dict, path: str, value) -> dict:
    node = doc
    parts = path.split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is _DELETE:
        del node[last]
    elif last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return doc


_DELETE = object()

BAD_VALUES = [
    # (path, bad value, text the error must contain: field and value)
    ("trigger_percentage", "1.5", ["trigger_percentage", "1.5"]),
    ("trigger_percentage", "0", ["trigger_percentage", "0"]),
    ("trigger_percentage", "1", ["trigger_percentage", "1"]),
    ("trigger_percentage", "-0.1", ["trigger_percentage", "-0.1"]),
    ("trigger_percentage", 0.5, ["trigger_percentage", "float", "0.5"]),
    ("trigger_percentage", "NaN", ["trigger_percentage", "NaN"]),
    ("chains.1.name", "ethereum", ["duplicate name 'ethereum'"]),
    ("chains.0.base_balances.USDT", "1e30", ["chains.0", "USDT must be in [0, 1e24)", "1E+30"]),
    # a known chain id's published identifiers, with no route file given
    ("chains.0.cctp_domain", 3, ["cctp_domain=3", "Circle's CCTP domain for chain_id 1 is 0"]),
    ("chains.1.lz_endpoint_id", 30101, ["lz_endpoint_id=30101", "chain_id 56 is 30102"]),
    # EIP-55: a mis-cased address is refused naming the field, the value and the right form
    (
        "chains.0.tokens.USDC.address",
        "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eB48",
        [
            "chains.0.tokens.USDC.address",
            "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eB48 is not EIP-55 checksummed",
            "expected 0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
        ],
    ),
    (
        "chains.1.tokens.USDT.address",
        "0x55d398326f99059ff775485246999027b3197955",
        ["chains.1.tokens.USDT.address", "expected 0x55d398326f99059fF775485246999027B3197955"],
    ),
    ("chains.0.rpc_timeout_s", 20, ["chains.0.rpc_timeout_s=20.0 is above chain_budget_s=10"]),
    ("chains.0.confirmations", 0, ["chains.0.confirmations", "0"]),
    ("stuck_after_s", {"crosss": 60}, ["stuck_after_s.crosss: not a waiting state"]),
    ("stuck_after_s", {"cross": 0}, ["stuck_after_s.cross must be > 0"]),
    ("chains.0.chain_id", 0, ["chains.0.chain_id", "0"]),
    (
        "chains.0.base_balances.USDC",
        "-5",
        ["chains.0", "base_balances.USDC must be in [0, 1e24)", "-5"],
    ),
    ("chains.0.base_balances.USDC", "1.0000001", ["chains.0", "USDC=1.0000001", "6 decimals"]),
    ("chains.0.base_balances.USDC", 100.5, ["chains.0.base_balances", "float 100.5"]),
    ("chains.0.base_balances.USDC", "lots", ["chains.0.base_balances.USDC", "lots"]),
    ("chains.0.routes.2", "WORMHOLE", ["chains.0.routes.2", "WORMHOLE"]),
    ("chains.0.routes.2", "CCTP", ["routes lists a route twice", "CCTP"]),
    ("chains.1.routes.0", "CCTP", ["route CCTP needs cctp_domain"]),
    ("chains.0.tokens.USDT.decimals", 37, ["chains.0.tokens.USDT.decimals", "37"]),
    ("chains.0.tokens.USDT.decimals", -1, ["chains.0.tokens.USDT.decimals", "-1"]),
    ("chains.0.tokens.USDT.address", "0x1234", ["chains.0.tokens.USDT.address", "0x1234"]),
    ("chains.0.tokens.DAI", {"address": "0x" + "11" * 20, "decimals": 18}, ["chains.0.tokens.DAI"]),
    ("chains.0.rpc_url", "localhost:8545", ["chains.0.rpc_url", "localhost:8545"]),
    ("chains.0.name", "Ethereum Mainnet", ["chains.0.name", "Ethereum Mainnet"]),
    ("chains.0.cctp_domain", -1, ["chains.0.cctp_domain", "-1"]),
    ("chains.0.surprise", 1, ["chains.0.surprise", "1"]),
    ("route_costs.CEX", -3, ["route_costs.CEX must be >= 0", "-3"]),
    ("chains", [], ["chains", "[]"]),
]


@pytest.mark.parametrize(
    ("path", "value", "expected"), BAD_VALUES, ids=[f"{b[0]}={b[1]!r}" for b in BAD_VALUES]
)
def test_parse_config__bad_value__refuses_naming_field_and_value(cc_doc, path, value, expected):
    with pytest.raises(ConfigError) as err:
        parse_config(_mutate(cc_doc, path, value))
    for text in expected:
        assert text in str(err.value)


@pytest.mark.parametrize(
    ("field", "value"), [("chain_id", 31337), ("lz_endpoint_id", 40999), ("cctp_domain", 99)]
)
def test_parse_config__an_id_twice__refused_naming_both_chains(cc_doc, field, value):
    for chain in cc_doc["chains"]:  # chain ids no table knows: only the duplicate is wrong
        chain["chain_id"] = 31337 if chain["name"] == "ethereum" else 31338
        chain["cex_network"] = "ETH" if chain["name"] == "ethereum" else "BSC"
        chain[field] = value
    with pytest.raises(ConfigError) as err:
        parse_config(cc_doc)
    assert f"chains.1.{field}: duplicate {field} {value!r}" in str(err.value)
    assert "'ethereum' (chains.0)" in str(err.value) and "'bsc' (chains.1)" in str(err.value)


def test_parse_config__unknown_chain_id__any_domain_and_eid_accepted(cc_doc):
    cc_doc["chains"][0].update(
        chain_id=31337, cctp_domain=5, lz_endpoint_id=40123, cex_network="ETH"
    )
    cfg = parse_config(cc_doc)
    assert cfg.chain("ethereum").cctp_domain == 5
    assert cfg.chain_budget_s == 10 and cfg.chain("ethereum").rpc_timeout_s == 5
    assert cfg.stuck_after_s["cross"] == 3600 and cfg.chain("ethereum").confirmations is None


def test_parse_config__base_without_token__refused(cc_doc):
    doc = cc_doc
    del doc["chains"][1]["tokens"]["USDC"]
    with pytest.raises(ConfigError, match=r"base_balances.USDC is set but tokens.USDC"):
        parse_config(doc)


def test_parse_config__route_without_cost__refused(cc_doc):
    doc = cc_doc
    del doc["route_costs"]["CEX"]
    doc["route_costs"].setdefault("CCTP", 1)
    with pytest.raises(ConfigError, match=r"chain 'ethereum' uses route CEX with no cost"):
        parse_config(doc)


def test_load_config__yaml_and_json_files_and_env__same_config(cc_doc, tmp_path):
    yaml = pytest.importorskip("yaml")
    doc = cc_doc
    y = tmp_path / "cc.yaml"
    y.write_text(yaml.safe_dump(doc))
    j = tmp_path / "cc.json"
    j.write_text(json.dumps(doc))
    a = load_config(y)
    assert load_config(j) == a
    assert load_config(env={ENV_PATH: str(y)}) == a
    assert load_config(env={ENV_JSON: json.dumps(doc)}) == a


def test_load_config__nothing_configured__refuses():
    with pytest.raises(ConfigError, match=ENV_PATH):
        load_config(env={})


def test_load_config__bad_file__names_field_and_value(cc_doc, tmp_path):
    doc = cc_doc
    doc["trigger_percentage"] = "2"
    p = tmp_path / "cc.json"
    p.write_text(json.dumps(doc))
    with pytest.raises(ConfigError, match=r"trigger_percentage.*2"):
        load_config(p)


def test_load_config__unparsable_json__refuses(tmp_path):
    p = tmp_path / "cc.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot parse"):
        load_config(p)
