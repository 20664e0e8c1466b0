"""scripts/toolchain/test.sh (`make test`): a number of workers that is not one is refused
before anything starts, naming the setting and the value."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("value", ["abc", "-1", "2x", "3 "])
def test_workers_not_a_whole_number__exit_2_named__nothing_started(tmp_path, value):
    # a copy of the script in an empty tree: whatever it started would write under .build there
    script = tmp_path / "scripts/toolchain/test.sh"
    script.parent.mkdir(parents=True)
    shutil.copy(ROOT / "scripts/toolchain/test.sh", script)
    r = subprocess.run(
        ["bash", str(script)],
        env={**os.environ, "BALLAST_TEST_WORKERS": value},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stdout + r.stderr
    assert (
        f"BALLAST_TEST_WORKERS must be a whole number of workers (0: one process), got '{value}'"
        in r.stderr
    )
    assert not (tmp_path / ".build").exists()  # no part started
