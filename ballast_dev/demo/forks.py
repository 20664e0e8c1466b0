"""Keeper processes forked from one process that imported the keeper once (dev only; issues
64 and 68): the one pre-fork server of the repository, used by the demo months and the tests.

A demo month starts keeper processes of its own: the chaos month's fund keeper every day
(``python -m ballast_dev.demo.chaos NOW JOBS``, SIGKILLed at its kill point), and in the kill
scene the owners' ``keeper approve`` commands and the keeper tick held with a transaction in
flight and SIGKILLed (ballast_dev/demo/world.py); the tests start ``keeper run`` and the
pipeline's worker the same way (tests/support/keeper_proc.py, tests/support/worker_fork.py).
Each would be a fresh interpreter that spends about a second importing the keeper before its
first step. :class:`KeeperForks` starts one server process (``python -m ballast_dev.demo.forks
MODULE...``) that imports the keeper once (the modules given, :data:`PRELOAD` by default;
``MODULE:FUNC`` also calls FUNC, such as the bot registry's loader), and
forks a child per command, as a pre-fork server (gunicorn's ``--preload``) does. The child is a
process of its own (its own pid, store connections, node session and signer; a signal sent to
its pid reaches it alone, with the interpreter's own dispositions: SIGTERM and SIGKILL end it,
SIGINT raises KeyboardInterrupt) that runs the command as the interpreter would:

- ``["-m", MODULE, *ARGS]``: the module as ``__main__`` with ``sys.argv``, as ``python -m``;
- ``["-c", CODE, *ARGS]``: as ``python -c``;
- ``["--call", "MODULE:FUNC", ARGV0, *ARGS]``: ``sys.exit(FUNC())`` with ``sys.argv`` =
  ``[ARGV0, *ARGS]``, as the console script pip writes for an entry point does (``keeper`` is
  ``keepers.cli:main``).

It runs with exactly the environment given, in the working directory given (the client's by
default), with /dev/null as stdin (never the server's request pipe), its stdout and stderr in
the files given (paths: regular files or FIFOs) or in files of the server's whose text comes
back in the answer, and it ends as the interpreter ends: ``SystemExit``'s code, 1 after a
traceback, non-daemon threads joined and ``atexit`` run, streams flushed; ``os._exit`` and a
signal end it at once as they end any process. Several children may run at once. The server
imports only: no store, no node, no thread, no lock held and no buffered output when it forks.

Protocol (a line of JSON each way): the client sends ``{"env": {...}, "argv": [...], "cwd":
..., "out": PATH|null, "err": PATH|null}``; the server answers ``{"pid": PID}`` once the child
is forked, then, whenever a child ends, ``{"pid": PID, "rc": CODE, "out": ..., "err": ...}``
(``rc`` as ``subprocess`` gives it: -9 for a SIGKILL; ``out``/``err`` the captured text, empty
where a path was given; ``cpu`` the child's CPU-seconds, user + system, its own reaped children's
included, as ``wait4`` gives them). When its stdin closes the server SIGKILLs the children left
and exits.

The server reaps its children, so their CPU reaches the client's ``RUSAGE_CHILDREN`` only when
the server itself ends: :func:`reaped_cpu` adds up what the answers said, in this process, for
the tests' per-file CPU (tests/support/file_cpu.py).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import os
import runpy
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import types
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

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


_shared: KeeperForks | None = None

_reaped = [0.0]  # CPU-seconds of the children whose end this process was told, every server's
_reaped_lock = threading.Lock()


def reaped_cpu() -> float:
    """The CPU-seconds (user + system) of every forked child that has ended, as the servers of
    this process reported them (a child's own reaped children included)."""
    with _reaped_lock:
        return _reaped[0]


def shared_forks() -> KeeperForks:
    """This process's server for the demo's keeper processes, shared by every month it plays
    (``Demo``): the slow runs' five chaos seeds, the deep and the shallow months, the tests'
    months on one worker start one server, not one each (its imports cost about a CPU-second).
    Closed at exit; a month that raised closes it (its children killed) and the next command
    starts another."""
    global _shared
    if _shared is None:
        _shared = KeeperForks()
        atexit.register(_shared.close)
    return _shared


class KeeperForks:
    """The client: one server process, started at the first command; any number of children.

    ``spawn`` / ``poll`` / ``wait`` address a child by pid; ``start`` / ``ended`` / ``result`` /
    ``run`` address the one started last (the demo's one-at-a-time use). Safe to share between
    threads."""

    def __init__(self, preload: Sequence[str] = PRELOAD) -> None:
        self.preload = tuple(preload)
        self.proc: subprocess.Popen[bytes] | None = None
        self._pending = b""  # what the server wrote past the last answer read
        self._ended: dict[int, tuple[int, str, str]] = {}  # pid -> (rc, out, err), not yet taken
        self._last: int | None = None
        self._lock = threading.RLock()

    # -- the server's answers ------------------------------------------------------------------

    def _line(self, timeout: float) -> dict[str, Any]:
        """The server's next answer. Read from the pipe's descriptor with a buffer of our own: a
        buffered ``readline`` may take the next answer too (a command that ends at once), which
        ``select`` on the descriptor would then never report."""
        got = self._next(timeout)
        if got is None:
            self.close()
            raise RuntimeError(f"keeper fork server: no answer within {timeout}s")
        return got

    def _next(self, timeout: float) -> dict[str, Any] | None:
        """The next answer within ``timeout`` seconds, None if none came (0: only what is there)."""
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], left)[0]:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                self.close()
                raise RuntimeError("keeper fork server: exited")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return dict(json.loads(line))

    def _keep(self, rep: dict[str, Any]) -> None:
        """An answer that a child ended, kept until its pid is asked for (its CPU counted)."""
        self._ended[int(rep["pid"])] = (int(rep["rc"]), str(rep["out"]), str(rep["err"]))
        with _reaped_lock:
            _reaped[0] += float(rep.get("cpu", 0.0))

    # -- children by pid -----------------------------------------------------------------------

    def spawn(
        self,
        env: dict[str, str],
        argv: list[str],
        *,
        cwd: str | Path | None = None,
        out: str | Path | None = None,
        err: str | Path | None = None,
    ) -> int:
        """Forks a keeper process running ``python *argv`` (or ``--call``) with exactly ``env``,
        in ``cwd`` (this process's working directory if None), its stdout and stderr written to
        the paths ``out`` and ``err`` (captured and returned by ``wait`` if None); its pid."""
        req = {
            "env": dict(env),
            "argv": list(argv),
            "cwd": str(cwd if cwd is not None else os.getcwd()),
            "out": None if out is None else str(out),
            "err": None if err is None else str(err),
        }
        with self._lock:
            if self.proc is None or self.proc.poll() is not None:
                self._pending, self._ended = b"", {}
                path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "ballast_dev.demo.forks", *self.preload],
                    env={**os.environ, "PYTHONPATH": path},
                    cwd=ROOT,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                )
            assert self.proc.stdin is not None
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
            while True:  # the server's imports, on its first request
                rep = self._line(60)
                if "error" in rep:
                    raise RuntimeError(f"keeper fork server: {rep['error']}")
                if "rc" not in rep:
                    self._last = int(rep["pid"])
                    return self._last
                self._keep(rep)

    def poll(self, pid: int) -> tuple[int, str, str] | None:
        """(exit code, stdout, stderr) if the child ``pid`` has ended, else None (no wait)."""
        with self._lock:
            while pid not in self._ended:
                rep = self._next(0)
                if rep is None:
                    return None
                self._keep(rep)
            return self._ended[pid]

    def wait(self, pid: int, timeout: float) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of the child ``pid`` once it has ended; raises
        ``subprocess.TimeoutExpired`` if it has not within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if pid in self._ended:
                    return self._ended[pid]
                rep = self._next(min(0.05, max(0.0, deadline - time.monotonic())))
                if rep is not None:
                    self._keep(rep)
                    continue
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"forked keeper process {pid}", timeout)

    def forget(self, pid: int) -> None:
        """Drops what is kept of the ended child ``pid``."""
        with self._lock:
            self._ended.pop(pid, None)

    # -- the one started last ------------------------------------------------------------------

    def start(self, env: dict[str, str], argv: list[str]) -> int:
        """Forks a keeper process running ``python *argv`` with ``env``; returns its pid."""
        return self.spawn(env, argv)

    def ended(self) -> bool:
        """Whether the process started last has ended (its answer is waiting)."""
        assert self._last is not None
        return self.poll(self._last) is not None

    def result(self, timeout: float) -> tuple[int, str, str]:
        """(exit code, stdout, stderr) of the process started last, once it has ended."""
        assert self._last is not None
        try:
            got = self.wait(self._last, timeout)
        except subprocess.TimeoutExpired:
            self.close()
            raise RuntimeError(f"keeper fork server: no answer within {timeout}s") from None
        self.forget(self._last)
        return got

    def run(self, env: dict[str, str], argv: list[str], timeout: float) -> tuple[int, str, str]:
        """``start`` then ``result``: what ``subprocess.run`` would give."""
        self.start(env, argv)
        return self.result(timeout)

    def close(self) -> None:
        """Stops the server (it SIGKILLs the children still running)."""
        with self._lock:
            if self.proc is None:
                return
            proc, self.proc = self.proc, None
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _fresh_main(file: str | None) -> types.ModuleType:
    """A ``__main__`` as the interpreter makes for ``-c`` or a script (no ``__spec__``: click,
    for one, names the program after ``__main__.__spec__``), in place of the server's."""
    main = types.ModuleType("__main__")
    main.__spec__ = None
    if file is not None:
        main.__file__ = file
    sys.modules["__main__"] = main
    return main


def _child(argv: list[str]) -> int:
    """Runs ``python *argv`` in this (forked) process; the exit code the interpreter gives."""
    try:
        if argv[0] == "-m":
            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            main = _fresh_main(None)
            exec(compile(argv[1], "<string>", "exec"), main.__dict__)  # noqa: S102
        elif argv[0] == "--call":
            module, _, func = argv[1].partition(":")
            sys.argv = list(argv[2:])
            _fresh_main(argv[2])
            sys.exit(getattr(__import__(module, fromlist=[func]), func)())
        else:
            raise ValueError(f"argv {argv!r}: expected -m MODULE, -c CODE or --call MODULE:FUNC")
        return 0
    except KeyboardInterrupt:
        raise  # the interpreter's own ending: a traceback, then killed by SIGINT (-2)
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


def _open_for_child(path: str) -> int:
    """The server opens a child's output before it forks (so a FIFO's reader sees a writer as
    soon as the pid is answered): a FIFO without its reader fails at once instead of blocking
    the server; the descriptor the child gets is blocking, as a pipe's is."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK, 0o600)
    os.set_blocking(fd, True)
    if os.path.isfile(path):
        os.ftruncate(fd, 0)
    return fd


def _become(req: dict[str, Any], outputs: tuple[int, int], wake: tuple[int, int]) -> None:
    """In the forked child: the request's process, then the interpreter's own exit (raises
    SystemExit through the server's frames, which hold nothing to clean up)."""
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in wake:
        os.close(fd)
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)  # not the request pipe
        os.close(null)
        for fd, target in zip((1, 2), outputs, strict=True):
            os.dup2(target, fd)
            os.close(target)
        os.environ.clear()
        os.environ.update(req["env"])
        if req.get("cwd"):
            os.chdir(req["cwd"])
        if os.environ.get("PYTHONUNBUFFERED"):  # as a fresh interpreter would read it
            for stream in (sys.stdout, sys.stderr):
                stream.reconfigure(write_through=True)  # type: ignore[union-attr]
    except BaseException:  # noqa: BLE001 - the set-up failed: said on the child's stderr
        traceback.print_exc()
        sys.exit(1)
    sys.exit(_child(list(req["argv"])))


def serve(preload: Sequence[str] = PRELOAD) -> None:
    """The server: the modules imported once, then a forked child per request line."""
    import importlib

    for name in preload:  # MODULE, or MODULE:FUNC to import and call (a registry's loader)
        module, _, func = name.partition(":")
        imported = importlib.import_module(module)
        if func:
            getattr(imported, func)()
    gc.collect()
    gc.freeze()  # the imported heap: out of every child's collections, its pages left shared
    wake = os.pipe()
    os.set_blocking(wake[1], False)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through the wakeup fd
    signal.set_wakeup_fd(wake[1])
    children: dict[int, tuple[str | None, str | None]] = {}  # pid -> the server's capture files
    pending = b""
    stdin_open = True

    def answer(doc: dict[str, Any]) -> None:
        os.write(1, (json.dumps(doc) + "\n").encode())  # unbuffered: nothing for a child to flush

    def reap(flags: int) -> None:
        while children:
            pid, status, usage = os.wait4(-1, flags)
            if pid == 0:
                return
            texts = []
            for path in children.pop(pid):
                if path is None:
                    texts.append("")
                    continue
                texts.append(Path(path).read_bytes().decode(errors="replace"))
                os.unlink(path)
            rc = os.waitstatus_to_exitcode(status)
            cpu = usage.ru_utime + usage.ru_stime
            answer({"pid": pid, "rc": rc, "out": texts[0], "err": texts[1], "cpu": cpu})

    while stdin_open:
        ready = select.select([0, wake[0]], [], [])[0]
        if wake[0] in ready:
            os.read(wake[0], 4096)
        reap(os.WNOHANG)
        if 0 not in ready:
            continue
        chunk = os.read(0, 65536)
        stdin_open = bool(chunk)
        pending += chunk
        while b"\n" in pending:
            line, _, pending = pending.partition(b"\n")
            req = json.loads(line)
            mine: list[str | None] = []
            paths: list[str] = []
            for given in (req.get("out"), req.get("err")):
                if given is None:
                    fd, given = tempfile.mkstemp(prefix="keeper-fork-")
                    os.close(fd)
                    mine.append(given)
                else:
                    mine.append(None)
                paths.append(given)
            fds: list[int] = []
            try:
                for path in paths:
                    fds.append(_open_for_child(path))
            except OSError as e:
                for fd in fds:
                    os.close(fd)
                for captured in mine:
                    if captured is not None:
                        os.unlink(captured)
                answer({"error": f"out/err {paths}: {e}"})
                continue
            pid = os.fork()
            if pid == 0:  # the keeper process
                _become(req, (fds[0], fds[1]), wake)
            for fd in fds:  # the child's alone: no later child inherits them
                os.close(fd)
            children[pid] = (mine[0], mine[1])
            answer({"pid": pid})
    for pid in list(children):  # the client has gone: no child outlives the server
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    reap(0)


if __name__ == "__main__":
    serve(sys.argv[1:] or PRELOAD)


__all__ = ["PRELOAD", "KeeperForks", "reaped_cpu", "serve"]
