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


def test_forks__a_command_that_ends_at_once__its_end_seen_and_read(forks: KeeperForks) -> None:
    """Both answers of a command that ends at once can arrive before the client reads the
    first: it must still see the command ended and read its result (a buffered readline took
    the second answer out of select's sight, and the kill scene then waited out its deadline).
    The request is written by hand and the answers left to arrive together."""
    forks.run(_env(), ["-c", "pass"], timeout=60)  # the server up, its imports done
    assert forks.proc is not None and forks.proc.stdin is not None
    forks.proc.stdin.write(b'{"env": {}, "argv": ["-c", "pass"]}\n')
    forks.proc.stdin.flush()
    time.sleep(1)  # the child forked, ran and ended: both answers are in the pipe
    assert forks._line(5)["pid"] > 0
    assert forks.ended()
    assert forks.result(timeout=5)[0] == 0


def test_forks__a_command_reading_stdin__reads_nothing_not_the_next_request(
    forks: KeeperForks,
) -> None:
    rc, out, _ = forks.run(_env(), ["-c", "import sys; print(repr(sys.stdin.read()))"], timeout=30)
    assert (rc, out) == (0, "''\n")
    assert forks.run(_env(), ["-c", "pass"], timeout=30)[0] == 0
