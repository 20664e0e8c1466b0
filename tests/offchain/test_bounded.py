"""scripts/toolchain/bounded.sh: make test's static checks run under a time limit, so a part that
hangs fails the run with its name instead of using up CI's time."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts/toolchain/bounded.sh"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_bounded__in_time__the_commands_exit_code_and_no_word():
    assert _run("5", "true").returncode == 0
    done = _run("5", "bash", "-c", "exit 7")
    assert done.returncode == 7 and "TIMED OUT" not in done.stderr


def test_bounded__over_its_limit__killed_with_its_children_and_named():
    started = time.monotonic()
    # the child of the command (a sleep started by bash) must go too: timeout signals the group
    done = _run("1", "bash", "-c", "sleep 30 & wait")
    assert time.monotonic() - started < 20
    assert done.returncode == 124
    assert "TIMED OUT: 'bash -c sleep 30 & wait' did not finish in 1 s" in done.stderr


@pytest.mark.parametrize("args", [[], ["5"], ["0", "true"], ["1e3", "true"], ["-1", "true"]])
def test_bounded__bad_limit__refused_with_the_value(args):
    done = _run(*args)
    assert done.returncode == 2
    assert "usage: bounded.sh SECONDS command" in done.stderr
    assert f"got '{args[0] if args else ''}'" in done.stderr
