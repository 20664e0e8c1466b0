"""A passed check remembered by the exact inputs it read (issue 68): the symbolic proofs in
``make test`` (scripts/toolchain/prove.sh) are not run again for sources they already proved.

A proof is a fact about its inputs: the same contracts, proofs, compiler, solver programs and
pinned solvers prove the same rules again. The key is a SHA-256 over the text of every file
under the paths given (folders walked in sorted order; ``__pycache__`` left out), each with its
path, so an edit, an added or a removed file anywhere under them gives another key. Only a run
that passed is kept (its log, which a hit prints again); a failure, a time-out or a run with
extra arguments is never kept, and the next run proves again. The cache is
``~/.cache/ballast/results/<name>/<key>.log`` (``BALLAST_RESULT_CACHE_DIR`` moves it), outside
the checkout, so a fresh clone on a machine that proved the same sources reuses it; a machine
with an empty cache, as a fresh CI machine, pays the whole run.

usage: result_cache.py key ROOT PATH...      print the key of the files under ROOT/PATH...
       result_cache.py get NAME KEY DEST     copy the kept log to DEST (exit 1 on a miss)
       result_cache.py put NAME KEY LOG      keep LOG as NAME's pass for KEY
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path


def cache_dir(name: str) -> Path:
    env = os.environ.get("BALLAST_RESULT_CACHE_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "ballast" / "results"
    return base / name


def files_under(root: Path, rel: str) -> list[Path]:
    p = root / rel
    if p.is_file():
        return [p]
    if not p.is_dir():
        raise FileNotFoundError(f"result_cache: no file or folder {rel!r} under {root}")
    return sorted(f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts)


def key(root: Path, paths: list[str]) -> str:
    h = hashlib.sha256()
    for rel in paths:
        h.update(b"path\0" + rel.encode() + b"\0")
        for f in files_under(root, rel):
            h.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def get(name: str, k: str, dest: Path) -> bool:
    src = cache_dir(name) / f"{k}.log"
    if not src.is_file():
        return False
    shutil.copyfile(src, dest)
    return True


def put(name: str, k: str, log: Path) -> None:
    d = cache_dir(name)
    d.mkdir(parents=True, exist_ok=True)
    # written whole, then renamed: another checkout's run never reads half a log
    fd, tmp = tempfile.mkstemp(dir=d, suffix=".tmp")
    os.close(fd)
    shutil.copyfile(log, tmp)
    os.replace(tmp, d / f"{k}.log")


def main(argv: list[str]) -> int:
    if len(argv) >= 3 and argv[0] == "key":
        print(key(Path(argv[1]), argv[2:]))
        return 0
    if len(argv) == 4 and argv[0] == "get":
        return 0 if get(argv[1], argv[2], Path(argv[3])) else 1
    if len(argv) == 4 and argv[0] == "put":
        put(argv[1], argv[2], Path(argv[3]))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
