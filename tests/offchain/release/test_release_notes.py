"""Release notes that tell an operator what to do (CHANGELOG.md, docs/development/releases.md).

Each release's section (and Unreleased, the next release's) says which kind of release it is
(a contract release when any exported ABI member changed since the last release), names the
release's commit (`git checkout <commit>`: the branch alone finds it; a tag exists only where
the publisher made one), lists in its Operator actions exactly the migrations and the settings
added since the release before, lists what reaches a fund only through a redeploy (one line
per contract fix, each marked **Contracts** under Fixed and Security), and names only settings,
migrations and ABI members that exist in that release: for 0.1.0, read from its checkout in
git history (`git archive` of the commit its section names), not from today's code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from keepers.version import __version__
from scripts.toolchain import release_surface as rs
from scripts.toolchain.cut_release import PLACEHOLDER

ROOT = Path(__file__).resolve().parents[3]
CHANGELOG = ROOT / "CHANGELOG.md"
RELEASES_DOC = ROOT / "docs" / "development" / "releases.md"

KINDS = ("**A contract release**", "**A keeper-only release**")
SETTING = re.compile(
    r"(?<![A-Za-z0-9_])((?:KEEPER|BALLAST|APPROVAL|REBALANCE)_[A-Z0-9_]*[A-Z0-9])\b"
)
MEMBER = re.compile(r"`\*?([A-Z][A-Za-z0-9]*|\*)\.([A-Za-z_][A-Za-z0-9_]*)`")
MIGRATION = re.compile(r"\b(?:migrations?|revision)\s+(\d{4})(?:\s+to\s+(\d{4}))?")
COMMIT = re.compile(r"`git checkout ([0-9a-f]{7,40})`")
SECTIONS = len(re.findall(r"^## \[", CHANGELOG.read_text(), flags=re.M))


def sections(text: str) -> list[tuple[str, str]]:
    """(version or "Unreleased", body) for each `## [...]` section, newest first."""
    parts = re.split(r"^## \[([^\]]+)\][^\n]*\n", text, flags=re.M)
    return [(parts[i], parts[i + 1]) for i in range(1, len(parts), 2)]


def subsections(body: str) -> dict[str, str]:
    """Each `### kind` subsection's text by kind. A kind written twice in one section is an
    error, not a silent overwrite: Unreleased once held two each of Changed, Fixed, Security
    and Needs a redeploy, and this read only the second of each, so the first Changed's names
    and the contract fixes' redeploy lines went unchecked."""
    parts = re.split(r"^### ([^\n]+)\n", body, flags=re.M)
    out = {"": parts[0]}
    for i in range(1, len(parts), 2):
        kind = parts[i].strip()
        assert kind not in out, f"### {kind} twice in one release's notes"
        out[kind] = parts[i + 1]
    return out


# A line about the project's own tooling (the test suite, its caches and switches) says so:
# the development variables it names (BALLAST_STORE_TEMPLATE, ...) are no setting of a release
DEVELOPMENT = re.compile(r"Development only|developers only")


def released_text(text: str) -> str:
    """``text`` without its development-only bullets (see DEVELOPMENT)."""
    keep, item = [], []
    for line in text.splitlines() + ["- "]:
        if line.startswith("- ") or not line.startswith("  "):
            if not DEVELOPMENT.search(" ".join(item)):
                keep += item
            item = []
        item.append(line)
    return "\n".join(keep)


def bullets(text: str) -> list[str]:
    """Each `- ` item with its continuation lines, joined."""
    items: list[str] = []
    for line in text.splitlines():
        if line.startswith("- "):
            items.append(line[2:])
        elif items and line.startswith("  "):
            items[-1] += " " + line.strip()
    return items


def line_after(text: str, label: str) -> str:
    found = [b for b in bullets(text) if b.startswith(label)]
    assert len(found) == 1, f"one Operator actions line starting {label!r}, found {found}"
    return found[0].removeprefix(label)


def migrations_named(text: str) -> set[str]:
    out: set[str] = set()
    for a, b in MIGRATION.findall(text):
        out |= {f"{n:04d}" for n in range(int(a), int(b or a) + 1)}
    for extra in re.findall(r"(?<=, )(\d{4})\b|\((\d{4})\)", text):  # "0009, 0010", "(0009)"
        out |= {x for x in extra if x}
    return out


@cache
def surface_at(commit: str) -> dict[str, Any]:
    """The release surface of ``commit``'s checkout (its keepers package, read by today's
    scripts/toolchain/release_surface.py, which reads only names every release has)."""
    tmp = Path(subprocess.run(["mktemp", "-d"], capture_output=True, text=True).stdout.strip())
    try:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", commit, "keepers", "pyproject.toml"],
            capture_output=True,
        )
        if archive.returncode != 0:
            pytest.skip(f"commit {commit} is not in this clone (a shallow clone)")
        subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive.stdout, check=True)
        (tmp / "scripts" / "toolchain").mkdir(parents=True)
        for p in ("scripts/__init__.py", "scripts/toolchain/__init__.py"):
            (tmp / p).write_text("")
        shutil.copy(ROOT / "scripts/toolchain/release_surface.py", tmp / "scripts/toolchain")
        out = tmp / "surface.json"
        r = subprocess.run(
            [sys.executable, "-m", "scripts.toolchain.release_surface", "--out", str(out)],
            cwd=tmp, env={"PYTHONPATH": str(tmp), "PATH": "/usr/bin:/bin",
                          "HOME": str(tmp)}, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        return dict(json.loads(out.read_text()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def version_at(commit: str) -> str:
    for path, pattern in (
        ("keepers/version.py", r'__version__ = "([^"]+)"'),
        ("pyproject.toml", r'^version = "([^"]+)"'),
    ):
        r = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                           capture_output=True, text=True)  # fmt: skip
        found = re.search(pattern, r.stdout, flags=re.M) if r.returncode == 0 else None
        if found:
            return found.group(1)
    raise AssertionError(f"no version at {commit}")


def members(surface: dict[str, Any]) -> dict[str, set[str]]:
    return {
        c: {e.split(" ", 2)[1].split("(")[0] for e in entries}
        for c, entries in surface["abis"].items()
    }


def names_in(surface: dict[str, Any], text: str) -> list[str]:
    """What ``text`` names that ``surface`` does not have (settings, migrations, ABI members)."""
    known = set(surface["settings"]) | {
        a for s in surface["settings"].values() for a in s["aliases"]
    }
    missing = [s for s in SETTING.findall(text) if s not in known]
    numbers = {m[:4] for m in surface["migrations"]}
    missing += [f"migration {n}" for n in sorted(migrations_named(text) - numbers)]
    abi = members(surface)
    every = set.union(*abi.values())
    for contract, member in MEMBER.findall(text):
        if contract == "*":
            ok = member in every
        elif contract in abi:
            ok = member in abi[contract]
        else:
            continue  # not an exported contract (an interface, a library): not in the surface
        if not ok:
            missing.append(f"{contract}.{member}")
    return missing


@cache
def releases() -> list[dict[str, Any]]:
    """Each section, newest first, with its surface and the previous release's."""
    out = []
    parsed = sections(CHANGELOG.read_text())
    for version, body in parsed:
        subs = subsections(body)
        commits = COMMIT.findall(subs[""])
        if version == "Unreleased":
            surface = json.loads(rs.MANIFEST.read_text())
        elif commits:
            surface = surface_at(commits[0])
        else:  # the release's own commit: `cut_release --after` names it in the next one
            assert version == __version__ and PLACEHOLDER in subs[""], (
                f"[{version}]: name the release's commit (`git checkout <commit>`)"
            )
            surface = json.loads(rs.MANIFEST.read_text())
        out.append({"version": version, "body": body, "subs": subs, "commits": commits,
                    "surface": surface})  # fmt: skip
    for i, r in enumerate(out):
        r["previous"] = out[i + 1] if i + 1 < len(out) else None
    return out


def test_notes__0_1_0_surface_read_from_its_commit__is_the_kept_manifest():
    (first,) = [r for r in releases() if r["version"] == "0.1.0"]
    kept = json.loads((rs.MANIFESTS / "surface-0.1.0.json").read_text())
    assert rs.changes(kept, first["surface"]) == []


@pytest.mark.parametrize("index", range(SECTIONS))
def test_notes__each_section__names_only_what_its_release_has(index):
    r = releases()[index]
    own = "".join(released_text(text) for name, text in r["subs"].items() if name != "Removed")
    missing = names_in(r["surface"], own)
    assert not missing, f"[{r['version']}] names what its release does not have: {missing}"
    if r["previous"] is not None and "Removed" in r["subs"]:
        gone = names_in(r["previous"]["surface"], r["subs"]["Removed"])
        assert not gone, f"[{r['version']}] Removed names what the release before lacked: {gone}"


@pytest.mark.parametrize("index", range(SECTIONS))
def test_notes__each_section__says_its_kind_and_what_an_operator_must_do(index):
    r = releases()[index]
    v, intro, subs = r["version"], r["subs"][""], r["subs"]
    kind = [k for k in KINDS if k in intro]
    assert len(kind) == 1, f"[{v}] its intro says which kind of release it is, one of {KINDS}"
    prev = r["previous"]
    contracts_changed = prev is None or prev["surface"]["abis"] != r["surface"]["abis"]
    if contracts_changed:
        assert kind == [KINDS[0]], f"[{v}] ABI members changed: a contract release"
    actions = subs.get("Operator actions", "")
    base = prev["surface"] if prev else {"settings": {}, "migrations": []}
    new_settings = sorted(set(r["surface"]["settings"]) - set(base["settings"]))
    new_migrations = {m[:4] for m in set(r["surface"]["migrations"]) - set(base["migrations"])}
    # "Migrations: 0009, 0010, 0011 (...)" or "0001 to 0008 (...)": the list before any "("
    listed_text = line_after(actions, "Migrations:").split("(")[0]
    listed = set(re.findall(r"\d{4}", listed_text))
    for a, b in re.findall(r"(\d{4}) to (\d{4})", listed_text):
        listed |= {f"{n:04d}" for n in range(int(a), int(b) + 1)}
    assert listed == new_migrations, (v, listed_text, sorted(new_migrations))
    if prev is not None:
        settings = line_after(actions, "New settings:")
        assert sorted(set(SETTING.findall(settings))) == new_settings, (v, settings)
    if contracts_changed and prev is not None:
        redeploy = bullets(subs.get("Needs a redeploy", ""))
        fixes = [
            b for s in ("Fixed", "Security") for b in bullets(subs.get(s, ""))
            if b.startswith("**Contracts**")
        ]  # fmt: skip
        assert fixes and len(redeploy) == len(fixes), (
            f"[{v}] Needs a redeploy: one line per contract fix (Fixed and Security lines "
            f"marked **Contracts**: {len(fixes)}), found {len(redeploy)}"
        )


@pytest.mark.parametrize("index", range(SECTIONS))
def test_notes__each_release__commit_named_checks_out_that_version(index):
    r = releases()[index]
    if r["version"] == "Unreleased":
        assert not r["commits"], "Unreleased has no commit yet"
        return
    if not r["commits"]:  # this is the release's commit (checked by releases())
        return
    commit = r["commits"][0]
    assert version_at(commit) == r["version"], (r["version"], commit)
    doc = RELEASES_DOC.read_text()
    assert f"| {r['version']} | `{commit}` |" in doc, "docs/development/releases.md's table"
    for page in ("CHANGELOG.md", "docs/operator/upgrades.md", "docs/development/releases.md",
                 "README.md"):  # fmt: skip
        text = (ROOT / page).read_text()
        assert not re.search(r"git checkout v\d", text), f"{page}: a tag the branch lacks"
