"""scripts/toolchain/result_cache.py: make test's symbolic proofs are skipped only for inputs
already proved. Any edit, added or removed file under the keyed paths gives another key, and
only what was put (a pass) is ever handed back."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.toolchain import result_cache

ROOT = Path(__file__).resolve().parents[2]


def _tree(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "contracts/fund").mkdir(parents=True)
    (root / "contracts/fund/Fund.sol").write_text("contract Fund {}\n")
    (root / "tests/symbolic").mkdir(parents=True)
    (root / "tests/symbolic/Budget.t.sol").write_text("contract BudgetProofs {}\n")
    (root / "foundry.toml").write_text("[profile.symbolic]\n")
    return root


PATHS = ["contracts", "tests/symbolic", "foundry.toml"]


def test_key__stable__and_every_kind_of_change_gives_another(tmp_path):
    root = _tree(tmp_path)
    k = result_cache.key(root, PATHS)
    assert k == result_cache.key(root, PATHS)
    keys = {k}
    (root / "contracts/fund/Fund.sol").write_text("contract Fund { uint x; }\n")  # an edit
    keys.add(result_cache.key(root, PATHS))
    (root / "tests/symbolic/New.t.sol").write_text("contract NewProofs {}\n")  # a file added
    keys.add(result_cache.key(root, PATHS))
    (root / "tests/symbolic/Budget.t.sol").unlink()  # a file removed
    keys.add(result_cache.key(root, PATHS))
    (root / "tests/symbolic/New.t.sol").rename(root / "tests/symbolic/Renamed.t.sol")  # renamed
    keys.add(result_cache.key(root, PATHS))
    (root / "foundry.toml").write_text("[profile.symbolic]\nsolc = '0.8.29'\n")  # a single file
    keys.add(result_cache.key(root, PATHS))
    assert len(keys) == 6


def test_key__bytecode_caches_left_out__a_missing_path_refused(tmp_path):
    root = _tree(tmp_path)
    k = result_cache.key(root, PATHS)
    (root / "tests/symbolic/__pycache__").mkdir()
    (root / "tests/symbolic/__pycache__/x.pyc").write_bytes(b"\0")
    assert result_cache.key(root, PATHS) == k
    with pytest.raises(FileNotFoundError, match="nowhere"):
        result_cache.key(root, [*PATHS, "nowhere"])


def test_prove_sh_keys_every_path_it_names():
    """Each path prove.sh hashes exists (a renamed file would stop the fast proofs' run)."""
    text = (ROOT / "scripts/toolchain/prove.sh").read_text()
    start = text.index("result_cache.py key . ") + len("result_cache.py key . ")
    words = text[start : text.index(")", start)].replace("\\\n", " ").split()
    assert {"contracts", "tests/symbolic", "foundry.toml", "scripts/toolchain/prove.sh"} <= set(
        words
    )
    assert len(result_cache.key(ROOT, words)) == 64


def test_put_get__a_pass_handed_back__another_key_or_name_a_miss(tmp_path, monkeypatch):
    monkeypatch.setenv("BALLAST_RESULT_CACHE_DIR", str(tmp_path / "cache"))
    log = tmp_path / "halmos-fast.log"
    log.write_text("[PASS] check_x()\nsymbolic proofs (fast): 1 proved, 0 failed\n")
    out = tmp_path / "out.log"
    assert not result_cache.get("proofs-fast", "k", out)
    assert not out.exists()
    result_cache.put("proofs-fast", "k", log)
    assert result_cache.get("proofs-fast", "k", out)
    assert out.read_text() == log.read_text()
    assert not result_cache.get("proofs-fast", "other", tmp_path / "o2.log")
    assert not result_cache.get("proofs-full", "k", tmp_path / "o3.log")
    assert sorted(p.name for p in (tmp_path / "cache/proofs-fast").iterdir()) == ["k.log"]


def test_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BALLAST_RESULT_CACHE_DIR", str(tmp_path / "cache"))
    root = _tree(tmp_path)
    assert result_cache.main(["key", str(root), *PATHS]) == 0
    assert capsys.readouterr().out.strip() == result_cache.key(root, PATHS)
    log = tmp_path / "l.log"
    log.write_text("pass\n")
    assert result_cache.main(["get", "n", "k", str(tmp_path / "o.log")]) == 1
    assert result_cache.main(["put", "n", "k", str(log)]) == 0
    assert result_cache.main(["get", "n", "k", str(tmp_path / "o.log")]) == 0
    assert result_cache.main(["put", "n"]) == 2
