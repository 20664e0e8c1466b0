"""The admin Safe and PlanExecutor sections of a deploy profile (issue 15), validated before
the first transaction with the field and value named (issue 13, "half-written deploys").
Pure: no chain."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from ballast_dev.deployment.profile import AdminSafe, ProfileError, check_target, load_profile
from ballast_dev.local import actors

ROOT = Path(__file__).resolve().parents[3]
LOCAL_SAFE = ROOT / "scripts" / "profiles" / "local-safe.yaml"
A, B, C = ("0x" + d * 40 for d in "abc")  # lower-case hex: accepted, checksummed


def _doc() -> dict:
    return yaml.safe_load(LOCAL_SAFE.read_text())


def _load(tmp_path: Path, doc: dict):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(doc))
    return load_profile(p)


def _with_safe(safe: dict, **top) -> dict:
    doc = _doc()
    doc["roles"]["admin"] = {"safe": safe}
    doc.update(top)
    return doc


def test_local_safe_profile__safe_of_alice_bob_carol_and_an_executor():
    p = load_profile(LOCAL_SAFE)
    assert isinstance(p.roles["admin"], AdminSafe)
    assert p.admin_safe.owners == [actors.ALICE, actors.BOB, actors.CAROL]
    assert p.admin_safe.threshold == actors.SAFE_THRESHOLD == 2
    assert (p.plan_executor.approval_threshold, p.plan_executor.required_approvals) == (
        200_000,
        2,
    )
    # the demo's fees (issue 54): 1% a year, 10% above the high-water mark, to its recipient
    assert p.fees is not None
    assert (p.fees.management_bps, p.fees.performance_bps) == (100, 1_000)
    assert p.fees.recipient == actors.FEE_RECIPIENT < actors.NUMBER_OF_ACCOUNTS
    # the rest is local.yaml's
    local = yaml.safe_load((ROOT / "scripts" / "profiles" / "local.yaml").read_text())
    doc = _doc()
    for key in ("roles", "plan_executor", "fees"):
        local.pop(key, None)
        doc.pop(key)
    assert doc == local


def test_plain_admin__index_or_address__still_accepted(tmp_path):
    doc = _doc()
    doc.pop("plan_executor")
    doc["roles"]["admin"] = 1
    assert _load(tmp_path, doc).roles["admin"] == 1 and _load(tmp_path, doc).admin_safe is None
    doc["roles"]["admin"] = A
    assert _load(tmp_path, copy.deepcopy(doc)).roles["admin"].lower() == A


@pytest.mark.parametrize(
    ("safe", "expected"),
    [
        (
            {"owners": [10, 11, 10], "threshold": 2},
            "roles.admin.safe: Value error, owners: duplicate owner 10",
        ),
        ({"owners": [A, B, A.upper().replace("0X", "0x")], "threshold": 2}, "duplicate owner"),
        (
            {"owners": [10, 11, 12], "threshold": 0},
            "threshold must lie in [1, 3] (the number of owners), got 0",
        ),
        (
            {"owners": [10, 11, 12], "threshold": 4},
            "threshold must lie in [1, 3] (the number of owners), got 4",
        ),
        ({"owners": [], "threshold": 1}, "owners: at least one owner"),
        ({"owners": [10, 11, 12]}, "give owners and threshold (a new Safe) or address"),
        ({"address": "0x123"}, "roles.admin.safe.address='0x123': Value error, not a 20-byte hex"),
        ({"address": "0x" + "0" * 40}, "the zero address"),
        ({"owners": [10, "0x12"], "threshold": 1}, "roles.admin.safe.owners.1='0x12'"),
        ({"owners": [10, 11], "threshold": 1, "treshold": 2}, "roles.admin.safe.treshold"),
    ],
)
def test_bad_safe_section__refused_naming_field_and_value(tmp_path, safe, expected):
    doc = _with_safe(safe)
    doc.pop("plan_executor")
    with pytest.raises(ProfileError) as info:
        _load(tmp_path, doc)
    assert expected in str(info.value)
    assert "[safe]" not in str(info.value) and "[account]" not in str(info.value)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"plan_executor": {"approval_threshold": 0}}, "plan_executor.approval_threshold=0"),
        (
            {"plan_executor": {"approval_threshold": 10, "required_approvals": 4}},
            "plan_executor.required_approvals=4: more than the Safe's 3 owners",
        ),
        (
            {"plan_executor": {"approval_threshold": 10, "required_approvals": 0}},
            "required_approvals=0",
        ),
    ],
)
def test_bad_plan_executor_section__refused(tmp_path, change, expected):
    doc = _doc()
    doc.update(change)
    with pytest.raises(ProfileError, match="invalid deployment profile") as info:
        _load(tmp_path, doc)
    assert expected in str(info.value)


def test_plan_executor__without_a_safe_admin__refused(tmp_path):
    doc = _doc()
    doc["roles"]["admin"] = 1
    with pytest.raises(ProfileError, match="plan_executor: needs roles.admin: {safe: ...}"):
        _load(tmp_path, doc)


def test_keeper_as_a_safe__refused(tmp_path):
    doc = _doc()
    doc["roles"]["keeper"] = {"safe": {"owners": [10], "threshold": 1}}
    with pytest.raises(ProfileError, match="roles.keeper: an account"):
        _load(tmp_path, doc)


def test_real_network__safe_owners_as_test_account_indices__refused():
    doc = _with_safe({"owners": [10, 11, 12], "threshold": 2})
    doc.update(
        network="mainnet",
        base={"address": C},
        uniswap={},
        assets=[{"symbol": "MMF", "kind": "erc4626", "tier": 1, "token": A, "feed": B}],
    )
    doc["roles"]["keeper"], doc["roles"]["guardian"] = B, C
    from ballast_dev.deployment.profile import Profile

    profile = Profile.model_validate(doc)
    with pytest.raises(
        ProfileError, match="test-account indices on a real network: admin.safe.owners"
    ):
        check_target(profile, "mainnet", 1)
    doc["roles"]["admin"] = {"safe": {"owners": [A, B, C], "threshold": 2}}
    check_target(Profile.model_validate(doc), "mainnet", 1)  # addresses: fine
