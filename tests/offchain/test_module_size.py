"""Issue 64: no module over 800 lines, so that a file's name says what is inside it (a module
past the limit is split along the seams its own sections show, and the architecture page
follows). Counted over the shipped and the development code (keepers/, ballast_dev/,
scripts/); tests are left out (a test file's length is its scenarios')."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 800


def test_every_module__at_most_800_lines():
    files = subprocess.run(
        ["git", "ls-files", "--", "keepers/*.py", "ballast_dev/*.py", "scripts/*.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert files, "git listed no module"
    over = {}
    for name in files:
        path = ROOT / name
        if path.exists():
            lines = path.read_text().count("\n")
            if lines > LIMIT:
                over[name] = lines
    assert not over, f"modules over {LIMIT} lines (split each along its sections): {over}"
