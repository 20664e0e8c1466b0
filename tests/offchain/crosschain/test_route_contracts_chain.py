"""The start-up check of the route contracts against the three local chains (CCTP stand-ins
with Circle's V2 views, LayerZero's own EndpointV2 and OFT / OFTAdapter): what the local
deployment says passes; each kind of mismatch is reported, all in one refusal; the CLI
refuses to start (exit 2) and names the contract."""

import json

import pytest
from click.testing import CliRunner
from eth_utils import to_checksum_address

from ballast_dev.local.crosschain_scene_local import ARTIFACTS, KEEPER, KEEPER_KEY
from keepers.crosschain.cli import crosschain
from keepers.crosschain.route_contracts import (
    IOFT_INTERFACE_ID,
    RouteContractsMismatch,
    check_on_chain,
    parse_routes,
    routes_of_config,
)


def _doc(scene, name: str) -> dict:
    """The route-contract file of one local chain, as the deployment made it."""
    side = scene.sides[name]
    doc = {"name": name, "chain_id": side.spec.chain_id, "network": "custom", "source": "local"}
    if side.messenger is not None:
        doc["cctp"] = {
            "domain": side.spec.cctp_domain,
            "token_messenger": side.messenger.address,
            "message_transmitter": side.transmitter.address,
            "usdc": side.usdc.address,
        }
    if side.oft is not None:
        doc["usdt0"] = {
            "eid": side.spec.lz_eid,
            "endpoint": to_checksum_address(side.lz.endpoint),
            "oft": side.oft.address,
            "token": side.usdt.address,
        }
    return doc


def test_check__local_deployment__every_contract_answers_as_configured(xscene):
    routes = routes_of_config(xscene.config)
    assert sorted(c.name for c in routes.chains) == ["base", "bsc", "ethereum"]
    seen = check_on_chain(routes, xscene.w3s())
    assert "ethereum cctp.message_transmitter localDomain() = 0" in seen
    assert "base cctp.message_transmitter localDomain() = 6" in seen
    assert "ethereum cctp.message_transmitter version() = 1" in seen
    assert "base cctp.token_messenger messageBodyVersion() = 1" in seen
    assert "bsc usdt0.endpoint eid() = 30102" in seen
    assert f"bsc usdt0.oft oftVersion().interfaceId = {IOFT_INTERFACE_ID}" in seen
    assert "bsc usdt0.oft oftVersion().version = 1" in seen  # reported, not pinned
    eth_usdt = xscene.sides["ethereum"].usdt.address
    assert f"ethereum usdt0.oft token() = {eth_usdt}" in seen  # the adapter's locked token


def test_check__pinned_oft_version_matches__passes(xscene):
    doc = _doc(xscene, "bsc")
    doc["usdt0"]["oft_version"] = 1
    check_on_chain(parse_routes([("bsc.yaml", doc)]), xscene.w3s())


def test_check__every_kind_of_mismatch__listed_in_one_refusal(xscene):
    eth, base, bsc = (_doc(xscene, n) for n in ("ethereum", "base", "bsc"))
    base["cctp"]["domain"] = 7  # localDomain() is 6
    base["cctp"]["message_version"] = 2  # version() is 1
    eth["cctp"]["token_messenger"], eth["cctp"]["message_transmitter"] = (
        eth["cctp"]["message_transmitter"],
        eth["cctp"]["token_messenger"],
    )  # swapped: neither answers the other's views
    eth["usdt0"]["token"] = to_checksum_address(xscene.sides["ethereum"].lz.lib)  # not the token
    bsc["usdt0"]["eid"] = 30110  # the endpoint says 30102
    bsc["usdt0"]["oft_version"] = 2  # LayerZero's OFT says 1
    routes = parse_routes([("ethereum.yaml", eth), ("base.yaml", base), ("bsc.yaml", bsc)])
    with pytest.raises(RouteContractsMismatch) as err:
        check_on_chain(routes, xscene.w3s())
    text = "\n".join(err.value.findings)
    mt = base["cctp"]["message_transmitter"]
    assert f"base cctp.message_transmitter={mt}: localDomain() is 6, the file says 7" in text
    assert f"base cctp.message_transmitter={mt}: version() is 1, the file says 2" in text
    assert "ethereum cctp.message_transmitter=" in text and "does not answer localDomain()" in text
    assert "ethereum cctp.token_messenger=" in text
    assert "does not answer localMessageTransmitter()" in text
    assert "ethereum usdt0.oft=" in text and "token() is" in text
    assert "bsc usdt0.endpoint=" in text and "eid() is 30102, the file says 30110" in text
    assert "oftVersion().version is 1, the file says 2" in text
    assert len(err.value.findings) == 9  # 2 views x 2 swapped contracts on ethereum


def test_check__no_code_at_an_address__refused(xscene):
    doc = _doc(xscene, "base")
    doc["cctp"]["message_transmitter"] = to_checksum_address(KEEPER)  # an account, no code
    with pytest.raises(RouteContractsMismatch) as err:
        check_on_chain(parse_routes([("base.yaml", doc)]), xscene.w3s())
    assert err.value.findings == [
        f"base cctp.message_transmitter={to_checksum_address(KEEPER)}: no contract code on "
        "chain 8453",
        f"base cctp.token_messenger={doc['cctp']['token_messenger']}: localMessageTransmitter() "
        f"is {xscene.sides['base'].transmitter.address}, the file says "
        f"{to_checksum_address(KEEPER)}",
    ]


def test_check__rpc_of_another_chain__refused(xscene):
    doc = _doc(xscene, "base")
    w3s = {"base": xscene.sides["ethereum"].w3}
    with pytest.raises(RouteContractsMismatch) as err:
        check_on_chain(parse_routes([("base.yaml", doc)]), w3s)
    assert err.value.findings == ["base: chain_id=8453 but the RPC serves chain 1"]


def _env(scene, tmp_path, **extra):
    cfg = tmp_path / "crosschain.json"
    cfg.write_text(json.dumps(scene.config.model_dump(mode="json")))
    env = {
        "BALLAST_CROSSCHAIN_CONFIG": str(cfg),
        "BALLAST_CCTP_LOCAL_ATTESTER_KEY": scene.attestations.inner.attester.account.key.hex(),
        "KEEPER_DB_URL": scene.db_url,
        "KEEPER_SIGNER_KEY": KEEPER_KEY,
        "KEEPER_ARTIFACTS_PATH": str(ARTIFACTS),
        "KEEPER_LOG_LEVEL": "WARNING",
    }
    env.update(extra)
    return env


def test_cli__route_file_with_a_wrong_endpoint_id__refuses_to_start_exit_2(xscene, tmp_path):
    import yaml

    doc = _doc(xscene, "bsc")
    doc["usdt0"]["eid"] = 30111
    (tmp_path / "routes").mkdir()
    (tmp_path / "routes" / "bsc.yaml").write_text(yaml.safe_dump(doc))
    env = _env(xscene, tmp_path, BALLAST_CROSSCHAIN_ROUTES=str(tmp_path / "routes"))
    out = CliRunner().invoke(crosschain, ["status"], env=env)
    assert out.exit_code == 2, out.output
    # the file disagrees with the config's lz_endpoint_id first: refused before any RPC
    assert "lz_endpoint_id=30102" in out.output and "30111" in out.output


def test_cli__route_files_of_the_deployment__start_and_the_chain_is_checked(xscene, tmp_path):
    import yaml

    (tmp_path / "routes").mkdir()
    for name in ("ethereum", "bsc"):
        (tmp_path / "routes" / f"{name}.yaml").write_text(yaml.safe_dump(_doc(xscene, name)))
    env = _env(xscene, tmp_path, BALLAST_CROSSCHAIN_ROUTES=str(tmp_path / "routes"))
    out = CliRunner().invoke(crosschain, ["--json", "status"], env=env)
    assert out.exit_code == 0, out.output

    doc = _doc(xscene, "bsc")
    doc["usdt0"]["oft_version"] = 3  # agrees with the config, not with the chain
    (tmp_path / "routes" / "bsc.yaml").write_text(yaml.safe_dump(doc))
    out = CliRunner().invoke(crosschain, ["status"], env=env)
    assert out.exit_code == 2, out.output
    assert "route contracts do not match the chain" in out.output
    assert "oftVersion().version is 1, the file says 3" in out.output
