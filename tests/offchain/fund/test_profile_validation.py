"""A deploy profile is validated whole before the first transaction (issue 13, "half-written
deploys"): a profile with ``roles.admin: "0x123"`` used to pass, send 6 transactions, then fail
with orphaned contracts and nothing recorded."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ballast_dev.deployment.profile import ProfileError, check_target, load_profile
from tests.support.profile_docs import USDT, mainnet_doc

ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, doc: dict) -> Path:
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (("roles", "admin"), "0x123", "roles.admin='0x123': Value error, not a 20-byte hex"),
        (("roles", "admin"), "0x" + "0" * 40, "roles.admin=" + repr("0x" + "0" * 40)),
        (("base", "address"), USDT.replace("d", "D"), "bad EIP-55 checksum"),
        (("base", "address"), "0x" + "zz" * 20, "not a hex address"),
        (("assets", 0, "feed"), "0x" + "00" * 20, "the zero address"),
    ],
)
def test_load_profile__bad_address__refused_naming_field_and_value(tmp_path, path, value, expected):
    doc = mainnet_doc()
    node = doc
    for p in path[:-1]:
        node = node[p]
    node[path[-1]] = value
    with pytest.raises(ProfileError) as info:
        load_profile(_write(tmp_path, doc))
    assert expected in str(info.value)


def test_load_profile__lowercase_address__accepted_and_checksummed(tmp_path):
    doc = mainnet_doc()
    doc["base"]["address"] = USDT.lower()
    assert load_profile(_write(tmp_path, doc)).base.address == USDT


def test_load_profile__example_profile_placeholders__refused_until_filled_in():
    with pytest.raises(ProfileError, match="zero address"):
        load_profile(ROOT / "scripts/profiles/example-mainnet.yaml")


def test_load_profile__not_yaml_or_missing__named_error(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("network: [unclosed")
    with pytest.raises(ProfileError, match="not valid YAML"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="cannot read the profile"):
        load_profile(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    ("network", "chain_id", "ok"),
    [
        ("mainnet", 1, True),
        ("mainnet-fork", 1, True),
        ("sepolia", 11155111, False),
        ("local", 31337, False),
    ],
)
def test_check_target__profile_network_against_connected(tmp_path, network, chain_id, ok):
    profile = load_profile(_write(tmp_path, mainnet_doc()))
    if ok:
        check_target(profile, network, chain_id)
    else:
        with pytest.raises(ProfileError, match="profile network 'mainnet' but connected"):
            check_target(profile, network, chain_id)


def test_check_target__local_profile_on_a_real_chain__refused():
    profile = load_profile(ROOT / "scripts/profiles/local.yaml")
    check_target(profile, "local", 31337)
    check_target(profile, "upstream", 31337)  # the fork rehearsal's standing anvil
    with pytest.raises(ProfileError, match="not a local chain"):
        check_target(profile, "mainnet", 1)


def test_check_target__test_doubles_or_index_roles_on_real_network__refused(tmp_path):
    doc = mainnet_doc()
    doc["assets"][0] = {"symbol": "MMF", "kind": "erc4626", "tier": 1, "deploy_test": True}
    with pytest.raises(ProfileError, match="deploy_test on a real network"):
        check_target(load_profile(_write(tmp_path, doc)), "mainnet", 1)
    doc = mainnet_doc()
    doc["roles"]["keeper"] = 2
    with pytest.raises(ProfileError, match="test-account indices"):
        check_target(load_profile(_write(tmp_path, doc)), "mainnet", 1)
