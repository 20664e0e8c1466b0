"""The demo months' keeper processes forked from one server (ballast_dev/demo/forks.py): each
command runs as ``python ARGV`` would, in a process of its own, with the environment given, and
ends with the exit code the interpreter would give (a SIGKILL from outside kills it alone)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ballast_dev.demo.forks import KeeperForks, reaped_cpu


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


def test_forks__a_childs_cpu__reported_at_its_end_and_counted(forks: KeeperForks) -> None:
    """The server reaps its children, so their CPU reaches this process only through its
    answers: each ended child's CPU (user + system, from ``wait4``) is added to
    ``reaped_cpu`` (the tests' per-file CPU counts it: tests/support/file_cpu.py)."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    before = reaped_cpu()
    rc, _, _ = forks.run(_env(), ["-c", burn], timeout=60)
    assert rc == 0
    assert 0.3 <= reaped_cpu() - before < 5, reaped_cpu() - before


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
    forks._last = forks._line(5)["pid"]  # what start() does with the first answer
    assert forks._last > 0
    assert forks.ended()
    assert forks.result(timeout=5)[0] == 0


def test_forks__a_command_reading_stdin__reads_nothing_not_the_next_request(
    forks: KeeperForks,
) -> None:
    rc, out, _ = forks.run(_env(), ["-c", "import sys; print(repr(sys.stdin.read()))"], timeout=30)
    assert (rc, out) == (0, "''\n")
    assert forks.run(_env(), ["-c", "pass"], timeout=30)[0] == 0


def test_forks__children_at_once__each_its_own_end_pid_and_output(
    forks: KeeperForks, tmp_path: Path
) -> None:
    """Several children run at once (the replicas, a keeper beside a CLI command): each one's
    end is answered by pid whichever ends first, a SIGKILL or SIGTERM sent to one pid ends that
    child alone (as a signal to a process started by ``subprocess``: -9, -15), and output given
    as a path goes there, nothing captured."""
    sleeper = forks.spawn(_env(), ["-c", "import time; time.sleep(60)"])
    other = forks.spawn(_env(), ["-c", "import time; time.sleep(60)"])
    out, err = tmp_path / "out", tmp_path / "err"
    quick = forks.spawn(
        _env(),
        ["-c", "import sys; print('to out'); print('to err', file=sys.stderr); sys.exit(4)"],
        out=out,
        err=err,
    )
    assert forks.wait(quick, 30) == (4, "", "")
    assert (out.read_text(), err.read_text()) == ("to out\n", "to err\n")
    assert forks.poll(sleeper) is None and forks.poll(other) is None
    os.kill(other, signal.SIGTERM)
    assert forks.wait(other, 30)[0] == -signal.SIGTERM
    assert forks.poll(sleeper) is None  # the other child lives on
    os.kill(sleeper, signal.SIGKILL)
    assert forks.wait(sleeper, 30)[0] == -signal.SIGKILL


def test_forks__entry_point_call_cwd_signals__as_a_fresh_interpreter(
    forks: KeeperForks, tmp_path: Path
) -> None:
    """``--call MODULE:FUNC ARGV0 ARGS`` is the console script's ``sys.exit(FUNC())`` with
    ``sys.argv = [ARGV0, *ARGS]``; the working directory is the one asked for; the child's
    signal dispositions are a fresh interpreter's (the server's SIGCHLD handler is not
    inherited), an uncaught KeyboardInterrupt ends it by SIGINT (-2) as CPython does, and
    atexit handlers and non-daemon threads finish before it exits."""
    rc, out, _ = forks.run(
        _env(), ["--call", "keepers.cli:main", "/x/bin/keeper", "--help"], timeout=60
    )
    assert rc == 0 and "Usage: keeper" in out and "approve" in out
    code = (
        "import os, signal, sys, atexit, threading, time\n"
        "print(sys.argv[1:], os.getcwd())\n"
        "print(signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL,"
        " signal.getsignal(signal.SIGTERM) == signal.SIG_DFL)\n"
        "atexit.register(lambda: print('atexit ran', flush=True))\n"
        "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
    )
    pid = forks.spawn(_env(), ["-c", code, "a", "b"], cwd=tmp_path)
    rc, out, err = forks.wait(pid, 30)
    assert rc == 0, err
    assert out.splitlines() == [
        f"['a', 'b'] {tmp_path}",
        "True True",
        "thread done",
        "atexit ran",
    ]
    rc, _, err = forks.run(_env(), ["-c", "raise KeyboardInterrupt"], timeout=30)
    assert rc == -signal.SIGINT and "KeyboardInterrupt" in err


def test_forks__a_child__inherits_no_descriptor_thread_or_buffer_of_the_server(
    forks: KeeperForks, tmp_path: Path
) -> None:
    """While another child runs (its output files open somewhere), a new child's descriptors
    are its stdin (/dev/null), stdout and stderr only: not the server's request or answer pipe,
    not its wake-up pipe, not another child's output; one thread; nothing buffered by the
    server comes out of its stdout."""
    running = forks.spawn(_env(), ["-c", "import time; time.sleep(60)"], out=tmp_path / "o")
    code = (
        "import os, threading\n"
        "fds = sorted(int(f) for f in os.listdir('/proc/self/fd'))\n"
        "print([(f, os.readlink(f'/proc/self/fd/{f}')) for f in fds[:-1]],"
        " threading.active_count())\n"
    )
    rc, out, err = forks.run(_env(), ["-c", code], timeout=30)
    assert rc == 0, err
    fds, threads = out.rsplit(" ", 1)
    links = dict(eval(fds))  # noqa: S307 - our own child's repr of a list of pairs
    assert sorted(links) == [0, 1, 2], links
    assert links[0] == os.devnull and threads.strip() == "1"
    os.kill(running, signal.SIGKILL)
    assert forks.wait(running, 30)[0] == -signal.SIGKILL


def test_forks__closed__kills_the_children_left() -> None:
    f = KeeperForks(preload=())
    pid = f.spawn(_env(), ["-c", "import time; time.sleep(60)"])
    f.close()
    with pytest.raises(ProcessLookupError):  # killed and reaped by the server before it exits
        os.kill(pid, 0)


def test_forks__an_output_path_it_cannot_open__refused_naming_it_server_lives_on(
    forks: KeeperForks, tmp_path: Path
) -> None:
    """An output the server cannot open (a missing directory) is refused before any fork, with
    the path in the error; nothing is left behind and the next command runs."""
    bad = tmp_path / "missing" / "out"
    with pytest.raises(RuntimeError, match=str(bad)):
        forks.spawn(_env(), ["-c", "pass"], out=bad)
    assert forks.proc is not None and forks.proc.poll() is None
    assert forks.run(_env(), ["-c", "pass"], timeout=30)[0] == 0
