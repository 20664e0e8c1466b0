"""``keeper ...`` as a process forked from the repository's pre-fork server
(:class:`ballast_dev.demo.forks.KeeperForks`), for the tests whose property is what the keeper
process does, not its console script: the same ``keepers.cli:main`` the ``keeper`` script calls,
``sys.argv[0]`` the script's path, in a process of its own (own pid; a signal sent to it reaches
it alone, with a fresh interpreter's dispositions), exactly the environment given, the working
directory given, /dev/null as stdin, and its stdout and stderr in real pipes (FIFOs: a reader
sees lines as they come and a writer blocks on a full pipe, as with ``subprocess.PIPE``) or in
the files given. It skips the second of CPU a fresh interpreter spends importing the keeper.

Every command keeps at least one test that runs the installed console script end to end
(``keeper_exe()`` in tests/support/keeper_proc.py): each user of :func:`keeper_popen` or
:func:`keeper_run` names it in its docstring.

One server per test process, started at the first use, with the keeper's CLI, every bot's
module, the pipeline's worker and the runtime imported; closed (its children SIGKILLed) at exit.
"""

from __future__ import annotations

import atexit
import os
import selectors
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from ballast_dev.demo.forks import KeeperForks
from tests.support.keeper_proc import keeper_exe

PRELOAD = (
    "keepers.cli",
    "keepers.registry:declarations",
    "keepers.fund.cli",
    "keepers.console.cli",
    "keepers.crosschain.cli",
    "keepers.runtime.runner",
    "keepers.runtime.health",
    "keepers.store.db",
    "keepers.tx.worker",
    "keepers.tx.signers",
    "keepers.tx.relay",
)

_servers: dict[tuple[str, ...], KeeperForks] = {}


def server(preload: tuple[str, ...]) -> KeeperForks:
    """This test process's server importing ``preload`` (started at the first call, closed at
    exit): one per preload list (the keeper's here, ape's in tests/support/ape_fork.py)."""
    if preload not in _servers:
        _servers[preload] = KeeperForks(preload)
        atexit.register(_servers[preload].close)
    return _servers[preload]


def forks() -> KeeperForks:
    """This test process's keeper server (started at the first call)."""
    return server(PRELOAD)


def _argv(args: list[str]) -> list[str]:
    """``[keeper_exe(), *rest]`` (or ``["keeper", *rest]``) as the server's entry-point call."""
    if Path(args[0]).name != "keeper":
        raise ValueError(f"args[0] {args[0]!r}: expected the keeper console script")
    return ["--call", "keepers.cli:main", keeper_exe(), *args[1:]]


class ForkedPopen:
    """The part of ``subprocess.Popen`` the tests use, for a forked ``keeper`` process.

    ``stdout`` / ``stderr``: ``subprocess.PIPE`` (a FIFO read here), ``subprocess.DEVNULL``, or
    an open file (its path is opened again, truncated, by the child)."""

    def __init__(
        self,
        args: list[str],
        *,
        env: dict[str, str],
        cwd: str | Path | None = None,
        stdout: Any = subprocess.PIPE,
        stderr: Any = subprocess.PIPE,
        text: bool = False,
    ) -> None:
        self.args = list(args)
        self.text = text
        self.returncode: int | None = None
        self.stdout: IO[Any] | None = None
        self.stderr: IO[Any] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="keeper-fork-")
        self._got: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        paths: dict[str, str] = {}
        for name, how in (("stdout", stdout), ("stderr", stderr)):
            if how == subprocess.PIPE:
                fifo = os.path.join(self._tmp.name, name)
                os.mkfifo(fifo, 0o600)
                fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so the child's open succeeds
                os.set_blocking(fd, True)
                setattr(self, name, os.fdopen(fd, "r" if text else "rb"))
                paths[name] = fifo
            elif how == subprocess.DEVNULL:
                paths[name] = os.devnull
            elif hasattr(how, "name"):
                paths[name] = str(how.name)
            else:
                raise ValueError(f"{name}={how!r}: expected PIPE, DEVNULL or an open file")
        self._forks = forks()
        self.pid = self._forks.spawn(
            env, _argv(self.args), cwd=cwd, out=paths["stdout"], err=paths["stderr"]
        )

    def poll(self) -> int | None:
        if self.returncode is None:
            ended = self._forks.poll(self.pid)
            if ended is not None:
                self.returncode = ended[0]
                self._forks.forget(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self.returncode = self._forks.wait(self.pid, 3600 if timeout is None else timeout)[0]
            self._forks.forget(self.pid)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def communicate(self, timeout: float | None = None) -> tuple[Any, Any]:
        """Reads the pipes to their end, then waits for the exit: ``Popen.communicate`` (bytes,
        or str with ``text``; like it, from the descriptors: what a ``readline`` buffered is
        not read again)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        open_pipes = {n: f for n, f in (("stdout", self.stdout), ("stderr", self.stderr)) if f}
        with selectors.DefaultSelector() as sel:
            for name, f in open_pipes.items():
                if not f.closed:
                    sel.register(f, selectors.EVENT_READ, name)
            while sel.get_map():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise subprocess.TimeoutExpired(self.args, timeout or 0)
                for key, _ in sel.select(left):
                    chunk = os.read(key.fd, 65536)
                    if chunk:
                        self._got[key.data].append(chunk)
                    else:
                        sel.unregister(key.fileobj)
                        key.fileobj.close()  # type: ignore[union-attr]
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self.wait(left)
        except subprocess.TimeoutExpired:
            raise subprocess.TimeoutExpired(self.args, timeout or 0) from None
        self._tmp.cleanup()
        got = [b"".join(self._got[n]) if getattr(self, n) else None for n in ("stdout", "stderr")]
        if self.text:
            return tuple(None if g is None else g.decode(errors="replace") for g in got)
        return got[0], got[1]

    def __enter__(self) -> ForkedPopen:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.poll() is None:
            self.kill()
        self.communicate(60)


def keeper_popen(args: list[str], **kw: Any) -> ForkedPopen:
    """``subprocess.Popen(args, **kw)`` for ``args = [keeper_exe(), ...]``, forked."""
    return ForkedPopen(args, **kw)


def run_forked(
    args: list[str],
    argv: list[str],
    *,
    env: dict[str, str],
    cwd: str | Path | None = None,
    timeout: float = 120,
    server: KeeperForks | None = None,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
    timeout=timeout)``, the process forked running the server's ``argv`` (``--call``, ``-m``,
    ``-c``) by ``server`` (this process's keeper server by default); killed (SIGKILL) and
    reaped when it outlives ``timeout``."""
    f = server if server is not None else forks()
    pid = f.spawn(env, argv, cwd=cwd)
    try:
        code, out, err = f.wait(pid, timeout)
    except subprocess.TimeoutExpired:
        os.kill(pid, signal.SIGKILL)
        f.wait(pid, 30)
        raise subprocess.TimeoutExpired(list(args), timeout) from None
    finally:
        f.forget(pid)
    return subprocess.CompletedProcess(list(args), code, out, err)


def keeper_run(
    args: list[str],
    *,
    env: dict[str, str],
    cwd: str | Path | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True,
    timeout=timeout)`` for ``args = [keeper_exe(), ...]``, forked."""
    return run_forked(args, _argv(list(args)), env=env, cwd=cwd, timeout=timeout)
