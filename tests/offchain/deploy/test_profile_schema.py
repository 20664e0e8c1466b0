"""The deployment profile's JSON Schema (issue 48: what `tier: 1` means, the asset kinds,
`heartbeat` and the automation keys were learned from test code): generated from the pydantic
model into docs/reference (committed, kept fresh by the docs test), every key described, and a
bad profile refused naming the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ballast_dev.deployment.profile import Profile, ProfileError, load_profile, profile_schema
from scripts.docs import gen_reference

ROOT = Path(__file__).resolve().parents[3]
SCHEMA_FILE = ROOT / "docs" / "reference" / "deploy-profile.schema.json"
LOCAL_SAFE = ROOT / "scripts" / "profiles" / "local-safe.yaml"


def _models(schema: dict) -> dict[str, dict]:
    return {"Profile": schema, **schema["$defs"]}


def test_schema__committed_file_is_the_models():
    assert json.loads(SCHEMA_FILE.read_text()) == profile_schema()
    assert SCHEMA_FILE.read_text() == gen_reference.profile_schema_json()


def test_schema__every_key_of_every_section_described_with_its_choices():
    schema = profile_schema()
    assert schema["$schema"].endswith("2020-12/schema")
    for name, model in _models(schema).items():
        assert model["additionalProperties"] is False, name  # an unknown key is an error
        for key, prop in model["properties"].items():
            assert prop.get("description"), f"{name}.{key} has no description"
    asset = schema["$defs"]["AssetSpec"]["properties"]
    assert asset["kind"]["enum"] == ["erc4626", "uniswap", "async"]
    assert asset["tier"]["enum"] == [1, 2] and "1 is L2" in asset["tier"]["description"]
    assert "stale" in asset["heartbeat"]["description"]
    assert set(schema["$defs"]["AutomationSpec"]["properties"]) == set(
        Profile.model_fields["automation"].annotation.__args__[0].model_fields  # type: ignore[union-attr]
    )
    assert asset["token"]["anyOf"][0]["pattern"] == "^0x[0-9a-fA-F]{40}$"
    page = (ROOT / "docs" / "reference" / "deploy-profile.md").read_text()
    assert "| `heartbeat` | integer | `86400` | > 0 |" in page


@pytest.mark.parametrize(
    "edit,needle",
    [
        (lambda d: d["assets"][0].update(tier=3), r"assets\.0\.tier=3: Input should be 1 or 2"),
        (
            lambda d: d["assets"][0].update(kind="aave"),
            r"assets\.0\.kind='aave': Input should be 'erc4626', 'uniswap' or 'async'",
        ),
        (
            lambda d: d["assets"][0].update(heartbeats=60),
            r"assets\.0\.heartbeats=60: Extra inputs are not permitted",
        ),
        (
            lambda d: d["automation"].update(interval=0),
            r"automation\.interval=0: Input should be greater than 0",
        ),
        (lambda d: d["risk"].pop("loss_budget"), r"risk\.loss_budget: Field required"),
        (
            lambda d: d["assets"][0].update(rounds_bumped="maybe"),
            r"assets\.0\.rounds_bumped='maybe': Input should be a valid boolean",
        ),
    ],
    ids=["tier", "kind", "unknown-key", "automation", "missing", "rounds-bumped"],
)
def test_load_profile__bad_value__refused_naming_the_field(tmp_path, edit, needle):
    doc = yaml.safe_load(LOCAL_SAFE.read_text())
    edit(doc)
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(ProfileError, match=needle):
        load_profile(bad)
