"""The demo months' keeper processes, forked from one process that imported the keeper once
(dev only; issue 68).

A month starts keeper processes of its own: the chaos month's fund keeper every day (``python
-m ballast_dev.demo.chaos NOW JOBS``, SIGKILLed at its kill point), and in the kill scene the
owners' ``keeper approve`` commands and the keeper tick held with a transaction in flight and
SIGKILLed (ballast_dev/demo/world.py). Each is a fresh interpreter that spent about a second
importing the keeper before its first step. :class:`KeeperForks` starts one server process
(``python -m ballast_dev.demo.forks``) that imports the keeper once, and forks a child per
command, as a pre-fork server (gunicorn's ``--preload``) does: the child is a process of its own
(its own pid, store connections, node session and signer; a SIGKILL kills it alone) that runs the
command as the interpreter would (``-m MODULE ARGS``: the module as ``__main__`` with
``sys.argv``; ``-c CODE``), with the environment given, its stdout and stderr in files of its
own, and exits with the code the interpreter would (``SystemExit``'s, 1 after a traceback). The
server imports only: no store, no node, no thread before it forks.

Protocol (a line of JSON each way): the client sends ``{"env": {...}, "argv": [...]}``; the
server answers ``{"pid": PID}`` once the child is forked and ``{"rc": CODE, "out": ..., "err":
...}`` once it has ended (``rc`` as ``subprocess`` gives it: -9 for a SIGKILL).
"""

from __future__ import annotations

import json
import os
import runpy
import select
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any

# what the server imports before it forks: the keeper's fund bot, its CLI and the chaos worker
PRELOAD = (
    "ballast_dev.demo.chaos",
    "ballast_dev.demo.killpoints",
    "keepers.cli",
    "keepers.cli_base",
    "keepers.fund.bot",
    "keepers.fund.cli",
    "keepers.fund.planning.plan_approval",
    "keepers.tx.signers",
)


class KeeperForks:
    """The client: one server process, started at the first command, one command at a time."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[bytes] | None = None
        self._pending = b""  # what the server wrote past the last answer read

    def _line(self, timeout: float) -> dict[str, Any]:
        """The server's next answer. Read from the pipe's descriptor with a buffer of our own: a
        buffered ``readline`` may take the next answer too (a command that ends at once), which
        ``select`` on the descriptor would then never report."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = deadline - time.monotonic()
            chunk = os.read(fd, 65536) if left > 0 and select.select([fd], [], [], left)[0] else b""
            if not chunk:
                self.close()
                raise RuntimeError(f"keeper fork server: no answer within {timeout}s")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return dict(json.loads(line))

    def start(self, env: dict[str, str], argv: list[str]) -> int:
        """Forks a keeper process running ``python *argv`` with ``env``; returns its pid."""
        if self.proc is None or self.proc.poll() is not None:
            self._pending = b""
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ballast_dev.demo.forks"],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        assert self.proc.stdin is not None
        self.proc.stdin.write((json.dumps({"env": env, "argv": argv}) + "\n").encode())
        self.proc.stdin.flush()
        return int(self._line(60)["pid"])

    def ended(self) -> bool:
        """Whether the process started last has ended (its answer is waiting)."""
        assert self.proc is not None and self.proc.stdout is not None
        return b"\n" in self._pending or bool(select.select([self.proc.stdout], [], [], 0)[0])

    def result(self, timeout: float) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of the process started last, once it has ended."""
        rep = self._line(timeout)
        return int(rep["rc"]), str(rep["out"]), str(rep["err"])

    def run(self, env: dict[str, str], argv: list[str], timeout: float) -> tuple[int, str, str]:
        """``start`` then ``result``: what ``subprocess.run`` would give."""
        self.start(env, argv)
        return self.result(timeout)

    def close(self) -> None:
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _child(argv: list[str]) -> int:
    """Runs ``python *argv`` in this (forked) process; the exit code the interpreter gives."""
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
        else:
            raise ValueError(f"argv {argv!r}: expected -m MODULE ... or -c CODE ...")
        return 0
    except SystemExit as e:
        if e.code is None:
            return 0
        if isinstance(e.code, int):
            return e.code
        print(e.code, file=sys.stderr)
        return 1
    except BaseException:  # noqa: BLE001 - as the interpreter: a traceback, exit 1
        traceback.print_exc()
        return 1


def serve() -> None:
    """The server: the keeper imported once, then a forked child per request line."""
    import importlib

    for name in PRELOAD:
        importlib.import_module(name)
    for line in sys.stdin:
        req = json.loads(line)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            pid = os.fork()
            if pid == 0:  # the keeper process
                code = 1
                try:
                    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)  # not the request pipe
                    os.dup2(out.fileno(), 1)
                    os.dup2(err.fileno(), 2)
                    os.environ.clear()
                    os.environ.update(req["env"])
                    code = _child(list(req["argv"]))
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code)
            sys.stdout.write(json.dumps({"pid": pid}) + "\n")
            sys.stdout.flush()
            _, status = os.waitpid(pid, 0)
            out.seek(0)
            err.seek(0)
            rep = {
                "rc": os.waitstatus_to_exitcode(status),
                "out": out.read().decode(errors="replace"),
                "err": err.read().decode(errors="replace"),
            }
        sys.stdout.write(json.dumps(rep) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    serve()


__all__ = ["KeeperForks", "serve"]
