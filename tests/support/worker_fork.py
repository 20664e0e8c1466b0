"""Worker processes forked from a server that has the worker's modules imported already.

``python -m keepers.tx.worker`` spends about a second of CPU importing web3, SQLAlchemy and
the bot registry before its first step, and its work in a crash trial (three intents on a
local anvil) takes about a tenth of that: the crash tests (tests/offchain/pipeline/
test_pipeline_crash.py) start two workers per trial, 32 in the default run. :func:`fork_worker`
runs the same ``keepers.tx.worker.main`` in a process of its own, forked (``os.fork``) from a
server process (``python -m tests.support.worker_fork``, started once per test process) that
imported ``keepers.tx.worker`` and every bot's module (``keepers.registry``) once: each worker is still a separate
process with its own store connection, exactly ``env`` as its environment, the checkout as its
working directory, its own stdout and stderr, and it is killed as before (``KEEPER_CRASH_AT``'s
``os._exit(137)``: no clean-up, no pending commit). The entry point itself
(``python -m keepers.tx.worker``) stays covered by the tests that start it with
:func:`tests.support.pipeline_helpers.run_worker`.

(multiprocessing's fork server is no help here: each of its children imports the parent's
``__main__`` again, under ``ape test`` the ape command's own module, which costs what the
preload saved.)

The protocol, one JSON line each way per worker: the request ``{"env", "argv", "out", "err"}``,
the answers ``{"pid"}`` once forked and ``{"code"}`` (``subprocess``'s returncode: the exit
status, or minus the signal) once it ended.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

_server: subprocess.Popen[bytes] | None = None
_pending = b""  # what the server wrote past the last answer read


def _serve() -> None:
    from keepers.registry import declarations
    from keepers.tx.worker import main

    declarations()  # imports every bot's module, as the worker's main does on each start

    for line in sys.stdin:
        req = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the worker
            code = 1
            try:
                os.environ.clear()
                os.environ.update(req["env"])
                os.chdir(ROOT)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)
                for fd, path in ((1, req["out"]), (2, req["err"])):
                    target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    os.dup2(target, fd)
                    os.close(target)
                code = main(req["argv"])
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:  # noqa: BLE001 - reported as python -m would, exit 1
                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        _answer({"pid": pid})
        _, status = os.waitpid(pid, 0)
        _answer({"code": os.waitstatus_to_exitcode(status)})


def _answer(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()


def _read(fd: int, timeout: float) -> dict[str, Any] | None:
    """The server's next answer, or None if none came in ``timeout`` seconds."""
    global _pending
    deadline = time.monotonic() + timeout
    while b"\n" not in _pending:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError("the worker fork server exited")
        _pending += chunk
    line, _, _pending = _pending.partition(b"\n")
    return dict(json.loads(line))


def _started() -> subprocess.Popen[bytes]:
    global _server, _pending
    if _server is None or _server.poll() is not None:
        _pending = b""
        _server = subprocess.Popen(
            [sys.executable, "-m", "tests.support.worker_fork"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        atexit.register(_server.kill)
    return _server


def fork_worker(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``python -m keepers.tx.worker *args`` with ``env``, as :func:`run_worker` runs it (its
    exit status, stdout and stderr), in a process forked from the preloaded server."""
    server = _started()
    assert server.stdin is not None and server.stdout is not None
    with tempfile.TemporaryDirectory(prefix="worker-fork-") as tmp:
        out, err = Path(tmp) / "out", Path(tmp) / "err"
        req = {"env": dict(env), "argv": list(args), "out": str(out), "err": str(err)}
        server.stdin.write(json.dumps(req).encode() + b"\n")
        server.stdin.flush()
        fd = server.stdout.fileno()
        forked = _read(fd, 60)  # the server's own imports, on its first request
        assert forked is not None, "the worker fork server did not answer in 60 s"
        done = _read(fd, timeout)
        if done is None:
            os.kill(forked["pid"], signal.SIGKILL)
            _read(fd, 30)
            raise subprocess.TimeoutExpired(["keepers.tx.worker", *args], timeout)
        return subprocess.CompletedProcess(
            ["keepers.tx.worker", *args],
            int(done["code"]),
            out.read_text(errors="replace") if out.exists() else "",
            err.read_text(errors="replace") if err.exists() else "",
        )


if __name__ == "__main__":
    _serve()
