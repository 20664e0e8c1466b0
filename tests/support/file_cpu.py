"""pytest plugin (tests/conftest.py's ``pytest_plugins``): the CPU each test file used, per
xdist worker, written to ``$BALLAST_FILE_CPU_DIR/<worker>.json`` at the worker's end (the make
test suite's: ``.build/file-cpu``).

On a 2-core machine the suite's workers keep both cores busy (``vmstat``: 1-2% idle on three
workers), so a file's JUnit seconds say how long it held a worker, not what it cost the run:
a file that waits (a keeper's bounded retry, a lease's expiry) costs little CPU, and a file
whose subprocesses do the work (``ape run deploy``, a keeper process, the runtime venv's build)
shows little of its own. Each file gets the worker's own CPU (``RUSAGE_SELF``, user + system)
and the CPU of the child processes it started and reaped (``RUSAGE_CHILDREN``: ``ape run``,
``keeper``, anvils a test starts and stops; a process forked for it by a pre-fork server, which
reaps it, as the server reported it: ``_forked_cpu``), from its first test's start to the next
file's (a
module's teardown runs inside its last test's protocol). What is not a file's: the worker's
start and collection, ape's own anvil, which runs until the worker ends, and a pre-fork
server's own imports (it ends with the worker).
``scripts/toolchain/file_cpu.py`` sums the workers' files and prints the files that cost most;
scripts/toolchain/test.sh prints them after each run and clears the folder before it.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

# Only where scripts/toolchain/test.sh asks (the ape suite's command; not the fork rehearsal's
# pytest beside it, nor a run by hand): the folder the workers write to.
DIR_VAR = "BALLAST_FILE_CPU_DIR"


def _forked_cpu() -> float:
    """The CPU of the processes forked for this one by a pre-fork server (ballast_dev.demo.forks:
    ``keeper``, the pipeline's worker, ``ape run``), as the server reported each one's end: the
    server reaps them, so ``RUSAGE_CHILDREN`` would count them only when it ends (0 where no
    server was imported)."""
    forks = sys.modules.get("ballast_dev.demo.forks")
    return float(forks.reaped_cpu()) if forks is not None else 0.0


def _now() -> tuple[float, float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (
        own.ru_utime + own.ru_stime,
        kids.ru_utime + kids.ru_stime + _forked_cpu(),
        time.monotonic(),
    )


class FileCpu:
    """Per file: ``[own CPU-s, children's CPU-s, wall s, tests]``; a file met again (a rerun, a
    single-process run's files interleaved by a plugin) adds to its row."""

    def __init__(self, clock: Any = _now) -> None:
        self._clock = clock
        self.rows: dict[str, list[float]] = {}
        self._file: str | None = None
        self._start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def _close(self) -> None:
        if self._file is None:
            return
        end = self._clock()
        row = self.rows.setdefault(self._file, [0.0, 0.0, 0.0, 0])
        for i in range(3):
            row[i] += end[i] - self._start[i]
        self._file = None

    def test_starts(self, nodeid: str) -> None:
        file = nodeid.split("::", 1)[0]
        if file != self._file:
            self._close()
            self._file, self._start = file, self._clock()
        self.rows.setdefault(file, [0.0, 0.0, 0.0, 0])[3] += 1

    def finish(self) -> dict[str, list[float]]:
        self._close()
        return {
            f: [round(r[0], 3), round(r[1], 3), round(r[2], 3), int(r[3])]
            for f, r in self.rows.items()
        }


_RUN = FileCpu()
# Set by the process that runs the tests, at its first test, and so inherited by every process
# a test starts: a pytest session a test runs in a subprocess (``ape test`` of one file) is
# already counted as that test's children and writes nothing. xdist's workers are started
# before any test runs, so the controller's environment does not carry it to them.
OWNER = "BALLAST_FILE_CPU_OWNER"
_NESTED = OWNER in os.environ
_DIR = os.environ.get(DIR_VAR)


def pytest_runtest_protocol(item: Any, nextitem: Any) -> None:
    if _NESTED or not _DIR:
        return
    os.environ.setdefault(OWNER, str(os.getpid()))
    _RUN.test_starts(item.nodeid)


def pytest_sessionfinish(session: Any) -> None:
    rows = _RUN.finish()
    if _NESTED or not _DIR or not rows:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER") or f"main-{os.getpid()}"
    try:
        Path(_DIR).mkdir(parents=True, exist_ok=True)
        (Path(_DIR) / f"{worker}.json").write_text(json.dumps(rows, sort_keys=True) + "\n")
    except OSError:  # only a report: a read-only checkout still runs its tests
        pass
