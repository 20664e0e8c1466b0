"""The ABIs the keepers call come from the build (issue 12): keepers/abis/*.json equal what
`make abis` exports from the current .build/__local__.json, every name the keepers load is
exported (and every exported name is loaded), and no hand-written ABI fragment is left in the
runtime."""

from __future__ import annotations

import ast
import fnmatch
import json
import shutil
import tomllib
from pathlib import Path

import pytest

from keepers import abis
from keepers.automation.chain import CONTRACTS
from keepers.tx.revert import RevertDecoder
from scripts.toolchain.export_abis import exported, main, render

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / ".build" / "__local__.json"
PACKAGE = ROOT / "keepers" / "abis"


@pytest.fixture(scope="module")
def manifest() -> dict:
    assert BUILD.exists(), f"{BUILD} missing: run `make compile`"
    return json.loads(BUILD.read_text())


def _loaded_names(tree_root: Path) -> dict[str, list[str]]:
    """name -> where, for every `abis.load("Name")` with a literal name, and every batched
    read's `fn("Name", "function")` (keepers.tx.reads, which loads the ABI by that name)."""
    found: dict[str, list[str]] = {}
    for path in sorted(tree_root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            fn = node.func
            is_load = (
                isinstance(fn, ast.Attribute)
                and fn.attr == "load"
                and isinstance(fn.value, ast.Name)
                and fn.value.id == "abis"
            ) or (isinstance(fn, ast.Name) and fn.id == "fn" and len(node.args) >= 2)
            arg = node.args[0]
            if is_load and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.setdefault(arg.value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_committed_abis__equal_the_current_build(manifest):
    want = {f"{k}.json": render(v) for k, v in exported(manifest).items()}
    have = {p.name: p.read_text() for p in PACKAGE.glob("*.json")}
    stale = sorted(n for n in want if have.get(n) != want[n])
    extra = sorted(set(have) - set(want))
    assert (stale, extra) == ([], []), "keepers/abis is stale: run `make abis` and commit"


def test_export__a_contract_abi_changes__check_fails_until_reexported(tmp_path, manifest):
    changed = json.loads(json.dumps(manifest))
    changed["contractTypes"]["AssetController"]["abi"].append(
        {
            "type": "function",
            "name": "newGuard",
            "stateMutability": "view",
            "inputs": [],
            "outputs": [{"name": "", "type": "uint256", "internalType": "uint256"}],
        }
    )
    build = tmp_path / "build.json"
    build.write_text(json.dumps(changed))
    out = tmp_path / "abis"
    shutil.copytree(PACKAGE, out, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    (out / "Removed.json").write_text("[]")
    args = ["--build", str(build), "--out", str(out)]
    assert main([*args, "--check"]) == 1
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    assert not (out / "Removed.json").exists()
    names = [i.get("name") for i in json.loads((out / "AssetController.json").read_text())]
    assert "newGuard" in names


def test_export__a_name_missing_from_the_build__is_named(manifest):
    partial = {
        "contractTypes": {k: v for k, v in manifest["contractTypes"].items() if k != "ILzOFT"}
    }
    with pytest.raises(KeyError, match="ILzOFT"):
        exported(partial)


def test_every_name_the_keepers_load__is_exported_and_every_export_is_loaded():
    loaded = _loaded_names(ROOT / "keepers")
    names = set(loaded) | set(CONTRACTS)  # the automation bots load their tuple by name
    assert sorted(names - set(abis.NAMES)) == [], loaded
    assert sorted(set(abis.NAMES) - names) == [], "exported but loaded by no keeper"
    for name in names:
        assert abis.load(name), name
        assert (PACKAGE / f"{name}.json").exists()


def test_keepers__no_hand_written_abi_fragment():
    offenders = []
    for path in sorted((ROOT / "keepers").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in ("inputs", "outputs") for k in node.keys
            ):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_load__a_name_not_exported__is_refused_with_the_name():
    with pytest.raises(abis.AbiNotExported, match="TestStablecoin"):
        abis.load("TestStablecoin")


def test_pyproject__the_wheel_carries_every_exported_abi():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = data["tool"]["setuptools"]["package-data"]["keepers"]
    files = [f"abis/{p.name}" for p in PACKAGE.glob("*.json")]
    assert len(files) == len(abis.NAMES) + 1
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []


def test_revert_decoder__default__knows_every_custom_error_of_the_build(manifest):
    dec = RevertDecoder.default()
    errors = {
        (i["name"], tuple(abis.abi_type(x) for x in i["inputs"]))
        for t in manifest["contractTypes"].values()
        for i in t.get("abi", [])
        if i.get("type") == "error"
    }
    assert len(errors) > 50
    assert {(s.name, s.types) for s in dec.errors.values()} == errors
