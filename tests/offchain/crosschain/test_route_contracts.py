"""Route-contract files (CCTP V2 and USDT0 per chain): the shipped examples, and what the
validation refuses (naming file, field and value), without a chain."""

import copy
from pathlib import Path

import pytest
import yaml

from keepers.crosschain.config import ConfigError, parse_config
from keepers.crosschain.route_contracts import (
    IOFT_INTERFACE_ID,
    apply_routes,
    load_route_files,
    parse_routes,
)
from keepers.registry import declarations

NETWORKS = Path(__file__).resolve().parents[3] / "keepers" / "crosschain" / "networks"


def example(name: str) -> dict:
    return yaml.safe_load((NETWORKS / f"{name}.yaml").read_text())


def test_examples__ethereum_and_arbitrum__valid_and_sourced():
    routes = load_route_files([NETWORKS])
    assert sorted(c.name for c in routes.chains) == ["arbitrum", "ethereum"]
    for c in routes.chains:
        assert c.network == "mainnet" and c.source  # every file says where it comes from
        assert c.cctp is not None and c.usdt0 is not None
        assert c.usdt0.oft_interface_id == IOFT_INTERFACE_ID
    for path in NETWORKS.glob("*.yaml"):
        assert "Where the values come from" in path.read_text()


def _refused(docs, *needles):
    with pytest.raises(ConfigError) as err:
        parse_routes(docs)
    text = str(err.value)
    for n in needles:
        assert n in text, text
    return text


def test_address__not_checksummed__refused_with_the_checksummed_form():
    doc = example("ethereum")
    doc["cctp"]["token_messenger"] = doc["cctp"]["token_messenger"].lower()
    _refused(
        [("ethereum.yaml", doc)],
        "ethereum.yaml:cctp.token_messenger",
        "0x28b5a0e9c621a5badaa536219b3a228c8168cf5d",
        "expected 0x28b5a0e9C621a5BadaA536219b3a228C8168cf5d",
    )


def test_address__one_typo_in_a_checksummed_address__refused():
    doc = example("arbitrum")
    good = doc["usdt0"]["oft"]
    doc["usdt0"]["oft"] = good[:-1] + ("3" if good[-1] != "3" else "4")
    _refused([("arbitrum.yaml", doc)], "arbitrum.yaml:usdt0.oft", "not EIP-55 checksummed")


def test_domain__not_circles_for_the_chain__refused():
    doc = example("arbitrum")
    doc["cctp"]["domain"] = 6
    _refused([("arbitrum.yaml", doc)], "cctp.domain=6", "chain_id 42161 is 3")


def test_domain__chain_without_a_known_domain__refused_on_mainnet_allowed_on_custom():
    doc = example("arbitrum")
    doc["chain_id"] = 424242
    doc.pop("usdt0")
    _refused([("x.yaml", doc)], "chain_id 424242 has no known CCTP domain")
    doc["network"] = "custom"
    assert parse_routes([("x.yaml", doc)]).chains[0].cctp.domain == 3


@pytest.mark.parametrize(
    "eid, needle", [(40110, "not a LayerZero mainnet eid"), (30184, "is 30110")]
)
def test_eid__wrong_for_the_chain__refused(eid, needle):
    doc = example("arbitrum")
    doc["usdt0"]["eid"] = eid
    _refused([("arbitrum.yaml", doc)], f"usdt0.eid={eid}", needle)


def test_files__same_chain_twice__refused_naming_both():
    a, b = example("ethereum"), example("ethereum")
    b["name"] = "ethereum2"
    _refused([("a.yaml", a), ("b.yaml", b)], "chains.1.chain_id=1", "chains.0 (ethereum)")


def test_files__same_domain_on_two_chains__refused():
    a, b = example("ethereum"), example("arbitrum")
    a["network"] = b["network"] = "custom"
    b["cctp"]["domain"] = 0
    _refused([("a.yaml", a), ("b.yaml", b)], "chains.1.cctp.domain=0")


def test_chain__one_address_in_two_roles__refused():
    doc = example("ethereum")
    doc["usdt0"]["endpoint"] = doc["cctp"]["message_transmitter"]
    _refused([("e.yaml", doc)], "usdt0.endpoint=0x81D40F21F12A8F0E3252Bccb954D722d4c464B64")


def test_chain__native_oft_is_its_own_token__accepted():
    doc = example("arbitrum")
    doc["usdt0"]["token"] = doc["usdt0"]["oft"]
    assert parse_routes([("a.yaml", doc)]).chains[0].usdt0.token == doc["usdt0"]["oft"]


def test_unknown_field__refused_by_name():
    doc = example("ethereum")
    doc["cctp"]["token_minter"] = doc["cctp"]["usdc"]
    _refused([("e.yaml", doc)], "e.yaml:cctp.token_minter")


def test_apply__fills_the_config_chain_by_chain_id(cc_doc):
    doc = cc_doc
    cfg = parse_config(doc)
    out = apply_routes(cfg, load_route_files([NETWORKS / "ethereum.yaml"]))
    eth = out.chain("ethereum")
    assert eth.cctp_domain == 0
    assert eth.cctp_message_transmitter == "0x81D40F21F12A8F0E3252Bccb954D722d4c464B64"
    assert eth.usdt0_oft == "0x6C96dE32CEa08842dcc4058c14d3aaAD7Fa41dee"
    assert eth.lz_endpoint_id == 30101
    assert out.chain("bsc") == cfg.chain("bsc")  # no file for it: untouched


def test_apply__config_disagrees_with_the_file__refused_not_overwritten(cc_doc):
    doc = copy.deepcopy(cc_doc)
    doc["chains"][0]["lz_endpoint_id"] = 30111
    doc["chains"][1]["lz_endpoint_id"] = 30102
    # the published eid of chain id 1 is held against the config itself, file or not
    with pytest.raises(ConfigError) as err:
        apply_routes(parse_config(doc), load_route_files([NETWORKS / "ethereum.yaml"]))
    assert "lz_endpoint_id=30111" in str(err.value) and "30101" in str(err.value)


def test_apply__token_address_differs_from_the_file__refused(cc_doc):
    doc = cc_doc
    doc["chains"][0]["tokens"]["USDT"]["address"] = "0x55d398326f99059fF775485246999027B3197955"
    with pytest.raises(ConfigError) as err:
        apply_routes(parse_config(doc), load_route_files([NETWORKS / "ethereum.yaml"]))
    assert "tokens.USDT.address=0x55d398326f99059fF775485246999027B3197955" in str(err.value)


def test_worker_policy__route_files_applied__burn_on_the_files_messenger_allowed(tmp_path, cc_doc):
    """The standalone worker audits with the contracts of the route files, as the bot does
    (it read the bare config before: the messenger from a file was not in its role)."""
    import json

    from eth_utils import keccak

    from keepers.core.settings import KeeperSettings
    from keepers.runtime.policy import worker_policy
    from keepers.tx.policy import AuditRequest, audit

    cfg = tmp_path / "crosschain.json"
    cfg.write_text(json.dumps(cc_doc))
    env = {"BALLAST_CROSSCHAIN_CONFIG": str(cfg)}
    sig = "depositForBurn(uint256,uint32,bytes32,address,bytes32,uint256,uint32)"
    req = AuditRequest(
        "call",
        "crosschain",
        "0x" + "ab" * 20,
        "0x28b5a0e9C621a5BadaA536219b3a228C8168cf5d",
        "0x" + keccak(text=sig)[:4].hex() + "00" * 224,
        0,
        0,
        1,
        10**12,
    )
    assert not audit(req, worker_policy(KeeperSettings(), declarations(), env), 0).allowed
    env["BALLAST_CROSSCHAIN_ROUTES"] = str(NETWORKS / "ethereum.yaml")
    assert audit(req, worker_policy(KeeperSettings(), declarations(), env), 0).allowed
