"""The demo months' keeper processes forked from one server (ballast_dev/demo/forks.py): each
command runs as ``python ARGV`` would, in a process of its own, with the environment given, and
ends with the exit code the interpreter would give (a SIGKILL from outside kills it alone)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import pytest

from ballast_dev.demo.forks import KeeperForks


@pytest.fixture(scope="module")
def forks() -> Iterator[KeeperForks]:
    f = KeeperForks()
    yield f
    f.close()


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def test_forks__exit_code_output_and_environment__as_the_interpreter(forks: KeeperForks) -> None:
    code = "import os, sys; print(os.environ['BALLAST_FORK_PROBE'], os.getpid()); sys.exit(3)"
    rc, out, err = forks.run(_env(BALLAST_FORK_PROBE="seen"), ["-c", code], timeout=60)
    word, pid = out.split()
    assert (rc, word, err) == (3, "seen", "")
    assert int(pid) not in (os.getpid(), forks.proc.pid)  # type: ignore[union-attr]
    # the next command does not see the last one's environment
    rc, out, _ = forks.run(
        _env(), ["-c", "import os; print(os.environ.get('BALLAST_FORK_PROBE'))"], timeout=60
    )
    assert (rc, out) == (0, "None\n")
    rc, out, _ = forks.run(_env(), ["-m", "keepers.cli", "--help"], timeout=60)
    assert rc == 0 and "approve" in out


def test_forks__raised_or_killed__exit_1_with_traceback_or_minus_9(forks: KeeperForks) -> None:
    rc, _, err = forks.run(_env(), ["-c", "raise ValueError('boom')"], timeout=60)
    assert rc == 1 and "ValueError: boom" in err
    pid = forks.start(_env(), ["-c", "import time; time.sleep(60)"])
    time.sleep(0.2)
    assert not forks.ended()
    os.kill(pid, signal.SIGKILL)
    rc, _, _ = forks.result(timeout=30)
    assert rc == -signal.SIGKILL
    assert forks.proc is not None and forks.proc.poll() is None  # the server lives on
    assert forks.run(_env(), ["-c", "pass"], timeout=60)[0] == 0
