"""scripts/toolchain/slither_cache.py: the slither gate reuses a report only when everything the
report is made from is unchanged (a contract, an imported npm source, the gate's own script),
and never keeps or hands out half a report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.toolchain import slither_cache
from scripts.toolchain.slither_input import REMAPPINGS

REPORT = {"success": True, "error": None, "results": {"detectors": [{"check": "x"}]}}


def _tree(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A checkout in small: the standard-json input, one imported npm source, the script."""
    root = tmp_path / "repo"
    oz = root / "node_modules/@openzeppelin/contracts/token"
    oz.mkdir(parents=True)
    (oz / "ERC20.sol").write_text("contract ERC20 {}\n")
    inp = root / ".build/slither-input.json"
    inp.parent.mkdir(parents=True)
    doc = {
        "language": "Solidity",
        "sources": {"contracts/Fund.sol": {"content": "contract Fund {}\n"}},
        "settings": {"remappings": REMAPPINGS[:1]},
    }
    inp.write_text(json.dumps(doc))
    script = root / "slither.sh"
    script.write_text("slither-analyzer==0.11.6 --exclude-low\n")
    return root, inp, script


def test_key__same_inputs_same_key__each_input_changes_it(tmp_path):
    root, inp, script = _tree(tmp_path)
    k = slither_cache.key(inp, root, script)
    assert k == slither_cache.key(inp, root, script)
    keys = {k}

    doc = json.loads(inp.read_text())  # a production contract edited
    doc["sources"]["contracts/Fund.sol"]["content"] = "contract Fund { uint x; }\n"
    inp.write_text(json.dumps(doc))
    keys.add(slither_cache.key(inp, root, script))

    erc20 = root / "node_modules/@openzeppelin/contracts/token/ERC20.sol"  # an import changed
    erc20.write_text("contract ERC20 { uint y; }\n")
    keys.add(slither_cache.key(inp, root, script))

    extra = erc20.with_name("ERC4626.sol")  # an import added (a new npm version)
    extra.write_text("contract ERC4626 {}\n")
    keys.add(slither_cache.key(inp, root, script))

    script.write_text("slither-analyzer==0.11.7 --exclude-low\n")  # another slither, other flags
    keys.add(slither_cache.key(inp, root, script))
    assert len(keys) == 5


def test_the_real_input__keys_the_npm_folders_it_remaps():
    doc = {"settings": {"remappings": REMAPPINGS}}
    folders = slither_cache.imported_packages(doc)
    assert [str(f.relative_to(slither_cache.ROOT)) + "/" for f in folders] == [
        r.split("=", 1)[1] for r in REMAPPINGS
    ]
    assert (slither_cache.ROOT / "node_modules/@openzeppelin/contracts/") in folders


def test_put_then_get__the_same_report__a_miss_for_another_key(tmp_path, monkeypatch):
    monkeypatch.setenv("BALLAST_SLITHER_CACHE_DIR", str(tmp_path / "cache"))
    report = tmp_path / "slither.json"
    report.write_text(json.dumps(REPORT))
    assert slither_cache.put("k1", report)
    out = tmp_path / "out.json"
    assert slither_cache.get("k1", out)
    assert json.loads(out.read_text()) == REPORT
    assert not slither_cache.get("k2", tmp_path / "other.json")
    assert not (tmp_path / "other.json").exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["k1.json"]  # no temp file left


@pytest.mark.parametrize("text", ["", '{"results": {"detec', '{"success": false}', "[]"])
def test_half_a_report__never_kept_and_never_handed_out(tmp_path, monkeypatch, text):
    cache = tmp_path / "cache"
    monkeypatch.setenv("BALLAST_SLITHER_CACHE_DIR", str(cache))
    report = tmp_path / "slither.json"
    report.write_text(text)
    assert not slither_cache.put("k", report)
    assert not (cache / "k.json").exists()
    cache.mkdir()
    (cache / "k.json").write_text(text)  # left by a run killed while writing, say
    out = tmp_path / "out.json"
    assert not slither_cache.get("k", out)
    assert not out.exists()


def test_cli__key_get_put_and_usage(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BALLAST_SLITHER_CACHE_DIR", str(tmp_path / "cache"))
    report = tmp_path / "slither.json"
    report.write_text(json.dumps(REPORT))
    assert slither_cache.main(["get", "k", str(tmp_path / "o.json")]) == 1
    assert slither_cache.main(["put", "k", str(report)]) == 0
    assert slither_cache.main(["get", "k", str(tmp_path / "o.json")]) == 0
    assert slither_cache.main(["nonsense"]) == 2
    assert "usage" in capsys.readouterr().err
