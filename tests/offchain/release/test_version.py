"""One version for the wheel, the contracts and the docs (keepers/version.py), and
`keeper --version` answering it with no configuration at all."""

from __future__ import annotations

import json
import re
import tomllib
from importlib import metadata
from pathlib import Path

from click.testing import CliRunner

from keepers.cli import main
from keepers.version import CONTRACTS_RELEASE, __version__

ROOT = Path(__file__).resolve().parents[3]
PEP440 = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")


def test_keeper_version__no_settings__prints_version_and_contract_release():
    r = CliRunner(mix_stderr=False).invoke(main, ["--version"], env={}, catch_exceptions=False)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    assert r.stdout.strip() == (
        f"keeper (ballast-keepers) {__version__}, contracts release {CONTRACTS_RELEASE}"
    )


def test_keeper_version__json_either_side__machine_readable():
    for args in (["--json", "--version"], ["--version", "--json"]):
        r = CliRunner(mix_stderr=False).invoke(main, args, env={})
        assert r.exit_code == 0, (args, r.stdout, r.stderr)
        assert json.loads(r.stdout) == {
            "version": __version__,
            "contracts_release": CONTRACTS_RELEASE,
        }


def test_version__one_source__wheel_contracts_and_docs_read_it():
    assert PEP440.match(__version__), __version__
    assert __version__.startswith(CONTRACTS_RELEASE)
    # the wheel: pyproject's version is keepers.version's (setuptools reads the attribute)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"] and "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {
        "attr": "keepers.version.__version__"
    }
    assert metadata.version("ballast-keepers") == __version__  # the installed metadata
    # the contracts: the one constant every deployable contract answers with RELEASE()
    lib = (ROOT / "contracts/libraries/ReleaseLib.sol").read_text()
    (constant,) = re.findall(r'bytes32 internal constant RELEASE = "([^"]+)";', lib)
    assert constant == CONTRACTS_RELEASE
    # the docs: the hook that puts it in the site's footer reads the same module
    hooks = (ROOT / "scripts/docs/mkdocs_hooks.py").read_text()
    assert "keepers.version" in hooks
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert "scripts/docs/mkdocs_hooks.py" in mkdocs


def test_changelog__released_versions__are_below_the_version_in_development():
    text = (ROOT / "CHANGELOG.md").read_text()
    released = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", text, re.M)
    assert released and released[-1] == "0.1.0"  # the first

    def key(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.split("."))

    # on a release's own commit (scripts/toolchain/cut_release.py) the newest is this version
    newer = released[1:] if released[0] == __version__ else released
    assert all(key(v) < key(CONTRACTS_RELEASE) for v in newer), released
    assert released == sorted(released, key=key, reverse=True), released
