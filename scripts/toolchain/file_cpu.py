"""Prints the test files that cost the last `make test` the most CPU: the rows every xdist
worker wrote to .build/file-cpu/ (tests/support/file_cpu.py: a file's own CPU in its worker
and its reaped subprocesses' CPU), summed per file and per folder. On a machine whose cores
the suite keeps busy, CPU, not a file's seconds, is what a speed-up has to remove.

usage: python scripts/toolchain/file_cpu.py [.build/file-cpu] [N files]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def load(folder: Path) -> dict[str, list[float]]:
    """Every worker's rows summed per file: ``[own, children, wall, tests]``."""
    rows: dict[str, list[float]] = {}
    for part in sorted(folder.glob("*.json")):
        for file, row in json.loads(part.read_text()).items():
            acc = rows.setdefault(file, [0.0, 0.0, 0.0, 0])
            for i in range(4):
                acc[i] += row[i]
    return rows


def folder_of(file: str) -> str:
    """``tests/contracts/fund`` for a file under it; a file at a folder's top stands alone."""
    parts = file.split("/")
    return "/".join(parts[:3]) if len(parts) > 3 else file


def report(rows: dict[str, list[float]], n: int = 15) -> str:
    own = sum(r[0] for r in rows.values())
    kids = sum(r[1] for r in rows.values())
    tests = int(sum(r[3] for r in rows.values()))
    out = [
        f"CPU of the test files: {own + kids:.0f} CPU-s ({own:.0f} in the workers, {kids:.0f} in "
        f"the subprocesses they started, forked ones included) over {len(rows)} files, {tests} "
        "tests; the workers' start, collection, ape's own anvils and the pre-fork servers' "
        "imports are not in it",
        f"{'CPU-s':>7} {'own':>7} {'subproc':>7} {'wall s':>7} {'tests':>5}  file",
    ]
    by_cpu = sorted(rows.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))
    for file, r in by_cpu[:n]:
        out.append(f"{r[0] + r[1]:7.1f} {r[0]:7.1f} {r[1]:7.1f} {r[2]:7.1f} {int(r[3]):5d}  {file}")
    folders: dict[str, list[float]] = {}
    for file, r in rows.items():
        acc = folders.setdefault(folder_of(file), [0.0, 0.0, 0.0, 0])
        for i in range(4):
            acc[i] += r[i]
    out.append("by folder:")
    for name, r in sorted(folders.items(), key=lambda kv: (-(kv[1][0] + kv[1][1]), kv[0]))[:n]:
        out.append(f"{r[0] + r[1]:7.1f} {r[0]:7.1f} {r[1]:7.1f} {r[2]:7.1f} {int(r[3]):5d}  {name}")
    return "\n".join(out)


def main(argv: list[str]) -> int:
    folder = Path(argv[1] if len(argv) > 1 else ".build/file-cpu")
    try:
        n = int(argv[2]) if len(argv) > 2 else 15
    except ValueError:
        print(f"file_cpu: N files must be a whole number, got {argv[2]!r}", file=sys.stderr)
        return 2
    rows = load(folder) if folder.is_dir() else {}
    if not rows:
        print(f"file_cpu: no rows in {folder} (run `make test` first)", file=sys.stderr)
        return 2
    print(report(rows, n))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
