"""Release notes kept current: a setting, a `keeper` command or option, an exported ABI or a
store migration that changes must come with its line in CHANGELOG.md's Unreleased section.

The surface (scripts/toolchain/release_surface.py) is read live and compared with the committed
manifest (surface.json: a surface change shows in review as a diff of it), and the manifest
with the last release's (surface-<version>.json): every name added, removed or changed since
that release must be named in Unreleased. Each failure says exactly what to run or to write."""

from __future__ import annotations

import json
from pathlib import Path

from scripts.toolchain import release_surface as rs

ROOT = Path(__file__).resolve().parents[3]
CHANGELOG = ROOT / "CHANGELOG.md"


def _missing(old: dict, new: dict, notes: str) -> list[tuple[str, str]]:
    return [(what, token) for what, token in rs.changes(old, new) if not rs.mentioned(token, notes)]


def _advice(missing: list[tuple[str, str]], since: str) -> str:
    lines = "\n".join(f"  - {what}: name `{token}`" for what, token in missing)
    return (
        f"{len(missing)} change(s) since release {since} have no line in CHANGELOG.md's "
        f"## [Unreleased] section (Added/Changed/Removed/Operator actions). Add a line naming "
        f"each:\n{lines}\n(`*.member` names a member of every contract's ABI at once)"
    )


def test_surface__live_code__equals_the_committed_manifest():
    live = rs.surface()
    committed = json.loads(rs.MANIFEST.read_text())
    diff = rs.changes(committed, live)
    assert not diff, (
        "the release surface changed: "
        + "; ".join(what for what, _ in diff)
        + ". Run `python -m scripts.toolchain.release_surface --write`, commit "
        "tests/offchain/release/surface.json, and name each change in CHANGELOG.md's "
        "Unreleased section"
    )


def test_changelog__every_change_since_the_last_release__named_in_unreleased():
    kept = rs.last_release()
    assert kept is not None, "no surface-<version>.json kept in tests/offchain/release"
    version, released = kept
    current = json.loads(rs.MANIFEST.read_text())
    notes = rs.unreleased(CHANGELOG.read_text())
    missing = _missing(released, current, notes)
    assert not missing, _advice(missing, version)


def test_changelog__each_version__names_each_kind_of_change_once():
    """Keep a Changelog's shape: within a version each kind of change (### Added, Changed,
    Fixed, Security, ...) is one section. Branches merged into Unreleased each added their own
    (Unreleased once held two of Changed, Fixed, Security and Needs a redeploy), so an operator
    reading "Needs a redeploy" saw half of what needs one."""
    import re

    repeated = []
    for version in re.split(r"(?m)^## ", CHANGELOG.read_text())[1:]:
        name = version.splitlines()[0]
        heads = re.findall(r"(?m)^### (.+)$", version)
        repeated += [f"{name}: ### {h}" for h in sorted(set(heads)) if heads.count(h) > 1]
    assert not repeated, "a kind of change with more than one section: " + "; ".join(repeated)


def test_changelog__each_released_version__has_its_surface_kept():
    """Every released version in CHANGELOG.md has its surface kept (the next release's
    baseline), and the last one is the one the test above compares with."""
    text = CHANGELOG.read_text()
    released = [
        line.split("]")[0].removeprefix("## [")
        for line in text.splitlines()
        if line.startswith("## [") and not line.startswith("## [Unreleased]")
    ]
    assert released, "CHANGELOG.md has no released version"
    for v in released:
        assert (rs.MANIFESTS / f"surface-{v}.json").exists(), v
    assert rs.last_release()[0] == released[0]


# ------------------------------------------------------------------ the check itself


BASE = {
    "settings": {"KEEPER_A": {"aliases": [], "default": 1}},
    "commands": {"keeper": ["--json"], "keeper plan": ["--dry-run"]},
    "abis": {"AssetController": ["function rebalance(bool) nonpayable returns ()"]},
    "migrations": ["0001_initial"],
}


def test_changelog_check__each_kind_of_change_without_a_line__fails_naming_what_to_add():
    new = json.loads(json.dumps(BASE))
    new["settings"]["KEEPER_A"]["default"] = 2  # a changed default
    new["settings"]["KEEPER_B"] = {"aliases": [], "default": None}
    new["commands"]["keeper plan"].append("--by")
    new["commands"]["keeper audit"] = ["--limit"]
    new["abis"]["AssetController"].append("function RELEASE() view returns (bytes32)")
    new["abis"]["TieredVault"] = ["function asset() view returns (address)"]
    new["migrations"].append("0010_plan_deployment")
    missing = _missing(BASE, new, "### Added\n")
    assert [t for _, t in missing] == [
        "KEEPER_A",
        "KEEPER_B",
        "keeper audit",  # a new command: its options are covered by its name
        "keeper plan --by",
        "AssetController.RELEASE",
        "TieredVault",  # a new ABI: its members are covered by its name
        "migration 0010",
    ]
    message = _advice(missing, "0.1.0")
    assert "setting KEEPER_A changed (" in message and "name `KEEPER_A`" in message
    assert "name `migration 0010`" in message
    notes = (
        "- `KEEPER_A` now 2; `KEEPER_B`; `keeper audit`; `keeper plan --by`; `*.RELEASE`; "
        "TieredVault; store migration 0010"
    )
    assert _missing(BASE, new, notes) == []


def test_changelog_check__line_outside_unreleased__does_not_count():
    new = json.loads(json.dumps(BASE))
    new["migrations"].append("0010_plan_deployment")
    text = "## [Unreleased]\n\n### Added\n\n## [0.1.0] - 2026-11-26\n\n- migration 0010\n"
    assert [t for _, t in _missing(BASE, new, rs.unreleased(text))] == ["migration 0010"]
