"""The slither gate's report cache (issue 68): slither's report is a function of what it reads,
so a report made from the same inputs is reused instead of analysing again.

The key is a SHA-256 over everything the report depends on: the standard-json input
(scripts/toolchain/slither_input.py: every production contract's text, the remappings, the
compiler settings), every Solidity file under the npm packages the remappings point at (the
imports: OpenZeppelin, Chainlink, LayerZero, ...) and scripts/toolchain/slither.sh itself (the
pinned slither version, its flags, the solc wrapper's version). The triage file is not in the
key: the gate (slither_gate.py) reads it on every run, hit or miss. The cache lives outside the
checkout (``~/.cache/ballast/slither/<key>.json``, ``BALLAST_SLITHER_CACHE_DIR`` to move it,
``BALLAST_SLITHER_CACHE=0`` to bypass it), so a fresh clone on a machine that ran the gate for
the same sources reuses the report; a machine with an empty cache pays the whole run.

usage: slither_cache.py key INPUT_JSON        print the key
       slither_cache.py get KEY DEST          copy a cached report to DEST (exit 1 on a miss)
       slither_cache.py put KEY REPORT        keep REPORT under KEY (only a whole report)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "toolchain" / "slither.sh"


def cache_dir() -> Path:
    env = os.environ.get("BALLAST_SLITHER_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ballast" / "slither"


def imported_packages(doc: dict, root: Path = ROOT) -> list[Path]:
    """The folders under node_modules the input's remappings point at."""
    return [root / remap.split("=", 1)[1] for remap in doc["settings"].get("remappings", [])]


def key(input_json: Path, root: Path = ROOT, script: Path = SCRIPT) -> str:
    raw = input_json.read_bytes()
    doc = json.loads(raw)
    h = hashlib.sha256()
    h.update(b"input\0" + raw + b"\0")
    h.update(b"script\0" + script.read_bytes() + b"\0")
    for folder in imported_packages(doc, root):
        files = sorted(f for f in folder.rglob("*.sol") if f.is_file()) if folder.is_dir() else []
        h.update(b"package\0" + str(folder.relative_to(root)).encode() + b"\0")
        for f in files:
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def whole_report(path: Path) -> bool:
    """A report slither finished: JSON with its results (a cut or empty file is never kept)."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and isinstance(doc.get("results"), dict)


def get(k: str, dest: Path) -> bool:
    src = cache_dir() / f"{k}.json"
    if not whole_report(src):
        return False
    shutil.copyfile(src, dest)
    return True


def put(k: str, report: Path) -> bool:
    if not whole_report(report):
        return False
    d = cache_dir()
    d.mkdir(parents=True, exist_ok=True)
    # written whole then renamed: a reader (another checkout's gate) never sees half a report
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    os.close(fd)
    shutil.copyfile(report, tmp)
    os.replace(tmp, d / f"{k}.json")
    return True


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "key":
        print(key(Path(argv[1])))
        return 0
    if len(argv) == 3 and argv[0] == "get":
        return 0 if get(argv[1], Path(argv[2])) else 1
    if len(argv) == 3 and argv[0] == "put":
        return 0 if put(argv[1], Path(argv[2])) else 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
