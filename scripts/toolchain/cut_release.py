"""Cut a release (docs/development/releases.md, "Cutting a release"), in two commits.

    python -m scripts.toolchain.cut_release 0.2.0 [--date YYYY-MM-DD]   # the release's commit
    python -m scripts.toolchain.cut_release --after 0.2.0 [--next 0.3.0.dev0]

The first, on a clean work tree whose version is ``<version>.devN``: sets the version
(keepers/version.py; ReleaseLib.RELEASE, the contracts' release), moves CHANGELOG.md's
Unreleased under ``## [<version>] - <date>`` (an empty Unreleased left, its Operator actions
ready for the next lines), keeps the release surface (surface-<version>.json: the next
release's baseline), regenerates the references, writes the release's keeper store with plans
in every state as test data (tests/offchain/upgrade/fixtures/<version>/, by
tests/offchain/upgrade/fixtures/make_fixture.py) and commits "Release <version>".

The second names that commit (a commit cannot name itself) in the version's CHANGELOG section
and in docs/development/releases.md's table (``git checkout <commit>``: a clone of the branch
finds the release without tags), opens the next version (``<minor+1>.0.dev0`` unless --next)
and commits. The tag is made by whoever publishes the release, never here.

--dry-run prints what would change and writes nothing; --no-build skips make (compile, abis,
gas) and the references; --no-fixture skips the store; --no-commit leaves the changes staged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION_PY = "keepers/version.py"
RELEASE_LIB = "contracts/libraries/ReleaseLib.sol"
CHANGELOG = "CHANGELOG.md"
RELEASES_DOC = "docs/development/releases.md"
FIXTURES = "tests/offchain/upgrade/fixtures"
KINDS = ("**A contract release**", "**A keeper-only release**")
# the released section's commit line until `--after` names the commit
PLACEHOLDER = "Release commit: named by the commit after it (`cut_release --after`)."
UNRELEASED = """## [Unreleased]

**A keeper-only release** so far: with the first change of an exported ABI this line says it
is a contract release, and each contract fix gets its line under "Needs a redeploy".

### Added

### Changed

### Fixed

### Security

### Removed

### Operator actions

- Migrations: none.
- New settings: none.

"""
SEMVER = re.compile(r"\d+\.\d+\.\d+")


class CutError(Exception):
    """The cut cannot go on: the message says why and what to do."""


# ------------------------------------------------------------------ text (pure)


def set_version(text: str, version: str) -> str:
    out, n = re.subn(r'^__version__ = "[^"]+"$', f'__version__ = "{version}"', text, flags=re.M)
    if n != 1:
        raise CutError(f'{VERSION_PY}: no single `__version__ = "..."` line')
    return out


def set_contract_release(text: str, release: str) -> str:
    out, n = re.subn(
        r'bytes32 internal constant RELEASE = "[^"]+";',
        f'bytes32 internal constant RELEASE = "{release}";',
        text,
    )
    if n != 1:
        raise CutError(f"{RELEASE_LIB}: no single RELEASE constant")
    return out


def _unreleased_span(text: str) -> tuple[int, int]:
    start = text.find("## [Unreleased]\n")
    if start < 0:
        raise CutError(f"{CHANGELOG}: no ## [Unreleased] section")
    nxt = text.find("\n## [", start + 1)
    return start, (len(text) if nxt < 0 else nxt + 1)


def move_unreleased(text: str, version: str, date: str) -> str:
    """Unreleased's lines under ``## [version] - date`` (its commit line a placeholder until
    `--after`), a fresh Unreleased above it."""
    if f"## [{version}]" in text:
        raise CutError(f"{CHANGELOG} already has a [{version}] section")
    start, end = _unreleased_span(text)
    body = text[start + len("## [Unreleased]\n") : end]
    intro, sep, rest = body.partition("\n### ")
    if not any(k in intro for k in KINDS):
        raise CutError(
            f"{CHANGELOG}: Unreleased's intro must say the release's kind, one of {KINDS}"
        )
    if not re.search(r"^- ", rest, flags=re.M):
        raise CutError(f"{CHANGELOG}: Unreleased has no line: nothing to release")
    # empty subsections are dropped from the released section
    subs = re.split(r"^(### [^\n]+\n)", "### " + rest, flags=re.M) if sep else [""]
    kept = "".join(
        head + part for head, part in zip(subs[1::2], subs[2::2], strict=True) if part.strip()
    )
    section = f"## [{version}] - {date}\n{intro.rstrip()}\n{PLACEHOLDER}\n\n{kept.rstrip()}\n\n"
    return text[:start] + UNRELEASED + section + text[end:]


def name_commit(text: str, version: str, commit: str) -> str:
    head = f"## [{version}]"
    at = text.find(head)
    if at < 0:
        raise CutError(f"{CHANGELOG}: no [{version}] section")
    nxt = text.find("\n## [", at + 1)
    nxt = len(text) if nxt < 0 else nxt
    section = text[at:nxt]
    if PLACEHOLDER not in section:
        raise CutError(f"{CHANGELOG}: [{version}] has no commit placeholder (already named?)")
    line = (
        f"Release commit `{commit}` (`git checkout {commit}`; the tag `v{version}` exists only "
        "where whoever published it pushed it)."
    )
    return text[:at] + section.replace(PLACEHOLDER, line) + text[nxt:]


def kind_of(text: str, version: str) -> str:
    at = text.find(f"## [{version}]")
    intro = text[at : text.find("\n### ", at)]
    return "contracts and keepers" if KINDS[0] in intro else "keepers only"


def add_release_row(doc: str, version: str, commit: str, kind: str) -> str:
    rows = list(re.finditer(r"^\| \d+\.\d+\.\d+ \| `[0-9a-f]+` \| [^\n]*\|\n", doc, flags=re.M))
    if not rows:
        raise CutError(f"{RELEASES_DOC}: no release table")
    if any(r.group(0).startswith(f"| {version} |") for r in rows):
        raise CutError(f"{RELEASES_DOC}: {version} is already in the table")
    at = rows[-1].end()
    return doc[:at] + f"| {version} | `{commit}` | {kind} |\n" + doc[at:]


def next_dev(version: str) -> str:
    major, minor, _patch = (int(x) for x in version.split("."))
    return f"{major}.{minor + 1}.0.dev0"


# ------------------------------------------------------------------ the repository


def fixture_readme(version: str) -> str:
    """What the release's fixture folder says of how it was written. The script is not copied
    into the folder (a frozen copy beside the live one, read by no test): it stands at the
    release's own commit, which the table in docs/development/releases.md names."""
    script = f"{FIXTURES}/make_fixture.py"
    return (
        f"# The {version} keeper's store, with plans in every state\n\n"
        f"Written by the release cut (`python -m scripts.toolchain.cut_release {version}`) with\n"
        f'`{script}` as it stands at the commit "Release {version}" (the commit\n'
        f"docs/development/releases.md's table names for {version}). To read or run it again:\n\n"
        "```bash\n"
        f"git show <{version}'s commit>:{script}\n"
        f"git worktree add --detach /tmp/v{version} <{version}'s commit>\n"
        f"cd /tmp/v{version} && make compile && FIXTURE_OUT={FIXTURES}/{version} \\\n"
        f"    ape test {script} -q -n 0 -p no:randomly\n"
        "```\n"
    )


def name_fixture_commit(text: str, version: str, commit: str) -> str:
    """The fixture's README with the release's commit in place of its placeholder."""
    placeholder = f"<{version}'s commit>"
    if placeholder not in text:
        raise CutError(f"{FIXTURES}/{version}/README.md: no {placeholder!r} to name")
    return text.replace(placeholder, commit)


def _run(args: list[str], *, env: dict[str, str] | None = None) -> str:
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, **(env or {})})  # fmt: skip
    if r.returncode != 0:
        raise CutError(
            f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
        )
    return r.stdout


def _current_version() -> str:
    found = re.search(r'^__version__ = "([^"]+)"$', (ROOT / VERSION_PY).read_text(), re.M)
    if not found:
        raise CutError(f"{VERSION_PY}: no __version__")
    return found.group(1)


def _write(path: str, text: str, dry: bool, changed: list[str]) -> None:
    p = ROOT / path
    if p.read_text() == text:
        return
    changed.append(path)
    if not dry:
        p.write_text(text)


def _clean() -> None:
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no"]).strip()
    if dirty:
        raise CutError(
            f"the work tree has uncommitted changes; commit or drop them first:\n{dirty}"
        )


def cut(
    version: str, date: str, *, dry: bool, build: bool, fixture: bool, commit: bool
) -> list[str]:
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        raise CutError(f"VERSION={version!r}: a release is MAJOR.MINOR.PATCH")
    current = _current_version()
    if not current.startswith(version) or current == version:
        raise CutError(f"{VERSION_PY} is {current}: cut {version} from {version}.devN")
    _clean()
    changed: list[str] = []
    _write(VERSION_PY, set_version((ROOT / VERSION_PY).read_text(), version), dry, changed)
    _write(RELEASE_LIB, set_contract_release((ROOT / RELEASE_LIB).read_text(), version), dry,
           changed)  # fmt: skip
    _write(CHANGELOG, move_unreleased((ROOT / CHANGELOG).read_text(), version, date), dry,
           changed)  # fmt: skip
    steps = [f"write {p}" for p in changed]
    py = sys.executable
    steps.append(f"python -m scripts.toolchain.release_surface --release {version}")
    if build:
        if RELEASE_LIB in changed:
            steps.append("make compile abis gas SOLC_STALE=")
        steps += ["python -m scripts.docs.gen_reference", "pip install --no-deps -e ."]
    out = f"{FIXTURES}/{version}"
    if fixture:
        steps.append(f"FIXTURE_OUT={out} ape test {FIXTURES}/make_fixture.py -q -n 0")
    if commit:
        steps.append(f"git commit -m 'Release {version}'")
    if dry:
        return steps
    _run([py, "-m", "scripts.toolchain.release_surface", "--release", version])
    _run([py, "-m", "scripts.toolchain.release_surface", "--write"])
    if build:
        if RELEASE_LIB in changed:
            _run(["make", "compile", "abis", "gas", "SOLC_STALE="])
        _run([py, "-m", "scripts.docs.gen_reference"])
        _run([py, "-m", "pip", "install", "-q", "--no-deps", "-e", "."])  # the wheel's metadata
    if fixture:
        (ROOT / out).mkdir(parents=True, exist_ok=True)
        _run(["ape", "test", f"{FIXTURES}/make_fixture.py", "-q", "-n", "0", "-p", "no:randomly"],
             env={"FIXTURE_OUT": str(ROOT / out)})  # fmt: skip
        (ROOT / out / "README.md").write_text(fixture_readme(version))
    if commit:
        _run(["git", "add", "-A"])
        _run(["git", "commit", "-q", "-m", f"Release {version}"])
    return steps


def after(version: str, nxt: str | None, *, dry: bool, build: bool, commit: bool) -> list[str]:
    if _current_version() != version:
        raise CutError(f"{VERSION_PY} is {_current_version()}, not {version}: run --after on "
                       f"the release's commit")  # fmt: skip
    _clean()
    sha = _run(["git", "rev-parse", "--short=7", "HEAD"]).strip()
    nxt = nxt or next_dev(version)
    if not re.fullmatch(r"\d+\.\d+\.\d+\.dev\d+", nxt):
        raise CutError(f"--next={nxt!r}: the next version is MAJOR.MINOR.PATCH.devN")
    release = SEMVER.match(nxt).group()  # type: ignore[union-attr]
    changed: list[str] = []
    notes = (ROOT / CHANGELOG).read_text()
    _write(CHANGELOG, name_commit(notes, version, sha), dry, changed)
    doc = (ROOT / RELEASES_DOC).read_text()
    _write(RELEASES_DOC, add_release_row(doc, version, sha, kind_of(notes, version)), dry,
           changed)  # fmt: skip
    readme = f"{FIXTURES}/{version}/README.md"
    if (ROOT / readme).exists():  # a cut with --no-fixture wrote none
        _write(readme, name_fixture_commit((ROOT / readme).read_text(), version, sha), dry,
               changed)  # fmt: skip
    _write(VERSION_PY, set_version((ROOT / VERSION_PY).read_text(), nxt), dry, changed)
    _write(RELEASE_LIB, set_contract_release((ROOT / RELEASE_LIB).read_text(), release), dry,
           changed)  # fmt: skip
    steps = [f"write {p}" for p in changed]
    if build:
        steps += ["make compile abis gas SOLC_STALE=", "python -m scripts.docs.gen_reference",
                  "pip install --no-deps -e ."]  # fmt: skip
    if commit:
        steps.append(f"git commit -m 'After {version}: its commit {sha} named, {nxt} opened'")
    if dry:
        return steps
    if build:
        _run(["make", "compile", "abis", "gas", "SOLC_STALE="])
        _run([sys.executable, "-m", "scripts.docs.gen_reference"])
        _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "-e", "."])
    if commit:
        _run(["git", "add", "-A"])
        _run(["git", "commit", "-q", "-m",
              f"After {version}: its commit {sha} named, {nxt} opened"])  # fmt: skip
    return steps


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("version", nargs="?", help="the release to cut, MAJOR.MINOR.PATCH")
    ap.add_argument("--after", metavar="VERSION", help="name VERSION's commit, open the next")
    ap.add_argument("--next", help="the next version (default: MAJOR.MINOR+1.0.dev0)")
    ap.add_argument("--date", default=dt.datetime.now(dt.UTC).date().isoformat())
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-fixture", action="store_true")
    ap.add_argument("--no-commit", action="store_true")
    a = ap.parse_args(argv)
    try:
        if a.after:
            steps = after(a.after, a.next, dry=a.dry_run, build=not a.no_build,
                          commit=not a.no_commit)  # fmt: skip
            follow = [
                f"the tag, by whoever publishes: git tag -a v{a.after} <commit> -F <notes>",
                f"add {a.after} to keepers.version.NOT_IN_OLDER (what its contracts lack) and "
                f"an upgrade test from {FIXTURES}/{a.after}/",
            ]
        elif a.version:
            steps = cut(a.version, a.date, dry=a.dry_run, build=not a.no_build,
                        fixture=not a.no_fixture, commit=not a.no_commit)  # fmt: skip
            follow = [f"python -m scripts.toolchain.cut_release --after {a.version}"]
        else:
            ap.error("name a VERSION to cut, or --after VERSION")
    except CutError as err:
        print(f"cut_release: {err}", file=sys.stderr)
        if not a.dry_run:
            print("cut_release: nothing was committed; to start again: git checkout -- . && "
                  "git status (remove what it wrote)", file=sys.stderr)  # fmt: skip
        return 1
    print("\n".join(("would: " if a.dry_run else "done: ") + s for s in steps))
    print("\n".join("next: " + s for s in follow))
    return 0


if __name__ == "__main__":
    sys.exit(main())
