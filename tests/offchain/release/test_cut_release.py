"""The release cut as a script (scripts/toolchain/cut_release.py): its text steps on their own,
and both commits run in a throwaway clone of this commit (no build, no fixture store: the
store's writer, tests/offchain/upgrade/fixtures/make_fixture.py, is the 0.1.0 one's with the
new states, run by the cut)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scripts.toolchain import cut_release as cr

ROOT = Path(__file__).resolve().parents[3]

NOTES = """# Changelog

## [Unreleased]

**A contract release** (new contracts).

### Added

- `keeper store downgrade`.

### Fixed

### Operator actions

- Migrations: 0009.
- New settings: none.

## [0.1.0] - 2026-11-26

**A contract release**, the first. Release commit `f7cf037` (`git checkout f7cf037`).

### Added

- Everything.
"""


def test_move_unreleased__lines_under_the_version__fresh_unreleased_empty_sections_dropped():
    out = cr.move_unreleased(NOTES, "0.2.0", "2026-11-27")
    head, _, rest = out.partition("## [0.2.0] - 2026-11-27\n")
    assert head.endswith(cr.UNRELEASED) and "keeper store downgrade" not in head
    section = rest.split("\n## [0.1.0]")[0]
    assert section.lstrip().startswith("**A contract release** (new contracts).\n" + cr.PLACEHOLDER)
    assert "### Added\n\n- `keeper store downgrade`." in section
    assert "### Fixed" not in section  # empty: dropped
    assert "- Migrations: 0009." in section
    assert out.count("## [0.1.0]") == 1


def test_move_unreleased__no_kind_or_no_line_or_cut_twice__refused_saying_why():
    with pytest.raises(cr.CutError, match="kind"):
        cr.move_unreleased(NOTES.replace("**A contract release** (new", "(new"), "0.2.0", "d")
    empty = NOTES.replace("- `keeper store downgrade`.\n", "").replace("- Migrations: 0009.\n", "")
    with pytest.raises(cr.CutError, match="no line"):
        cr.move_unreleased(empty.replace("- New settings: none.\n", ""), "0.2.0", "d")
    once = cr.move_unreleased(NOTES, "0.2.0", "d")
    with pytest.raises(cr.CutError, match="already"):
        cr.move_unreleased(once, "0.2.0", "d")


def test_name_commit_and_table_row__the_release_findable_by_its_commit():
    cut = cr.move_unreleased(NOTES, "0.2.0", "2026-11-27")
    named = cr.name_commit(cut, "0.2.0", "abc1234")
    assert cr.PLACEHOLDER not in named and "`git checkout abc1234`" in named
    assert "the tag `v0.2.0` exists only where whoever published it" in named
    with pytest.raises(cr.CutError, match="placeholder"):
        cr.name_commit(named, "0.2.0", "abc1234")
    doc = "| version | commit | kind |\n|---|---|---|\n| 0.1.0 | `f7cf037` | the first |\n\nafter\n"
    row = cr.add_release_row(doc, "0.2.0", "abc1234", cr.kind_of(named, "0.2.0"))
    assert (
        "| 0.1.0 | `f7cf037` | the first |\n| 0.2.0 | `abc1234` | contracts and keepers |\n" in row
    )
    assert cr.next_dev("0.2.0") == "0.3.0.dev0"


def test_fixture_readme__names_the_script_by_the_release_commit_once_after_names_it():
    text = cr.fixture_readme("0.3.0")
    script = f"{cr.FIXTURES}/make_fixture.py"
    assert f"git show <0.3.0's commit>:{script}" in text
    named = cr.name_fixture_commit(text, "0.3.0", "abc1234")
    assert f"git show abc1234:{script}" in named and "<0.3.0's commit>" not in named
    assert "git worktree add --detach /tmp/v0.3.0 abc1234" in named
    with pytest.raises(cr.CutError, match="0.3.0's commit"):
        cr.name_fixture_commit(named, "0.3.0", "abc1234")
    # the released folders keep the script by commit, not a copy
    for version in ("0.1.0", "0.2.0"):
        folder = ROOT / cr.FIXTURES / version
        assert not (folder / "make_fixture.py").exists()
        assert "git show " in (folder / "README.md").read_text()


def _git(clone: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(clone), *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def test_cut_release__both_commits_in_a_throwaway_clone__version_notes_surface_commit_named(
    tmp_path,
):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(ROOT), str(clone)], check=True)
    _git(clone, "checkout", "-q", head)
    _git(clone, "config", "user.email", "cut@test")
    _git(clone, "config", "user.name", "cut")
    env = {**os.environ, "PYTHONPATH": str(clone)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scripts.toolchain.cut_release", *args],
                              cwd=clone, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip

    text = (clone / cr.VERSION_PY).read_text()
    if not re.search(r'__version__ = "[^"]*\.dev\d+"', text):
        pytest.skip("this checkout is a release's own commit: nothing to cut from it")
    version = re.search(r'__version__ = "(\d+\.\d+\.\d+)', text)
    assert version, text
    v = version.group(1)
    r = run(v, "--date", "2026-11-27", "--no-build", "--no-fixture")
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert f'__version__ = "{v}"' in (clone / cr.VERSION_PY).read_text()
    assert f'RELEASE = "{v}"' in (clone / cr.RELEASE_LIB).read_text()
    notes = (clone / cr.CHANGELOG).read_text()
    assert notes.index("## [Unreleased]") < notes.index(f"## [{v}] - 2026-11-27")
    assert cr.PLACEHOLDER in notes
    assert (clone / f"tests/offchain/release/surface-{v}.json").exists()
    release = _git(clone, "rev-parse", "--short=7", "HEAD")
    assert _git(clone, "log", "-1", "--format=%s") == f"Release {v}"
    assert _git(clone, "status", "--porcelain") == ""
    again = run(v, "--no-build", "--no-fixture")  # a version is cut once
    assert again.returncode == 1 and "cut_release:" in again.stderr

    r = run("--after", v, "--no-build")
    assert r.returncode == 0, (r.stdout, r.stderr)
    notes = (clone / cr.CHANGELOG).read_text()
    assert f"`git checkout {release}`" in notes and cr.PLACEHOLDER not in notes
    assert f"| {v} | `{release}` |" in (clone / cr.RELEASES_DOC).read_text()
    nxt = cr.next_dev(v)
    assert f'__version__ = "{nxt}"' in (clone / cr.VERSION_PY).read_text()
    assert _git(clone, "show", f"{release}:{cr.VERSION_PY}").count(f'"{v}"') == 1
    assert _git(clone, "log", "-1", "--format=%s").startswith(f"After {v}")
    assert "git tag -a" in r.stdout  # the tag is left to whoever publishes
    assert _git(clone, "tag") == ""
