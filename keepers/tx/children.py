"""Child processes that die with the keeper, and the reaping of what a killed keeper left.

The fund keeper simulates every plan on a throwaway anvil fork (keepers.tx.simulation). A keeper
killed with SIGKILL cannot stop it, and before this module such a fork ran on with parent PID 1,
one per kill. Two defences:

- `die_with_parent()`: on Linux the fork is started with ``prctl(PR_SET_PDEATHSIG, SIGKILL)``,
  so the kernel kills it when the keeper dies. The signal follows the *thread* that started the
  child; the fork lives inside a ``with`` in the thread that started it (a job's thread, alive
  until the ``with`` ends), so that thread outlives it. If the keeper died between the fork and
  the ``prctl`` (the parent is no longer the one that forked), the child exits at once.
- a record per child (``<runtime dir>/ballast-children-<uid>/<pid>.json``: its pid and start
  time, its parent's pid and start time) and `reap_orphans()`, which a starting keeper runs: a
  child whose recorded parent is gone and which is still the same process (same start time,
  still anvil) is killed; a record of a live parent is left alone (another keeper's), and
  records of processes that ended are removed. A recycled PID is never killed: the start time
  from /proc must match.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from keepers.core.logging import get_logger

log = get_logger("keepers.children")

PR_SET_PDEATHSIG = 1


def runtime_dir() -> Path:
    """Where the child records live: $XDG_RUNTIME_DIR (per user, cleared at logout) or the
    temporary directory, in a folder per user."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"ballast-children-{os.getuid()}"


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or None
    when there is no such process (or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) is in parentheses and may hold spaces: split after it
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[19])  # field 22 overall: the 20th after "pid (comm)"


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def die_with_parent() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the child get SIGKILL when this process dies (Linux), or None
    where prctl is not available. libc and the parent's pid are resolved here, before the fork,
    so the function the child runs does no lookup."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the prctl took effect
            os._exit(1)

    return preexec


def record(pid: int, what: str, folder: Path | None = None) -> Path | None:
    """Write the record of a child just started (best effort: a keeper that cannot write it
    still runs, the PDEATHSIG still applies)."""
    folder = folder or runtime_dir()
    doc = {
        "pid": pid,
        "start": start_time(pid),
        "parent": os.getpid(),
        "parent_start": start_time(os.getpid()),
        "what": what,
    }
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"{pid}.json"
        path.write_text(json.dumps(doc))
        return path
    except OSError as err:
        log.warning("children.record_failed", pid=pid, error=str(err))
        return None


def forget(pid: int, folder: Path | None = None) -> None:
    with contextlib.suppress(OSError):
        ((folder or runtime_dir()) / f"{pid}.json").unlink()


def reap_orphans(folder: Path | None = None) -> list[int]:
    """Kill the children an earlier, dead keeper left running; returns their pids."""
    folder = folder or runtime_dir()
    killed: list[int] = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            doc = json.loads(path.read_text())
            pid, parent = int(doc["pid"]), int(doc["parent"])
        except (OSError, ValueError, KeyError, TypeError):
            with contextlib.suppress(OSError):
                path.unlink()
            continue
        if doc.get("parent_start") is not None and start_time(parent) == doc["parent_start"]:
            continue  # its keeper is alive: not ours to touch
        alive = doc.get("start") is not None and start_time(pid) == doc["start"]
        if alive and str(doc.get("what", "")) in _cmdline(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                log.warning("children.orphan_killed", pid=pid, what=doc.get("what"), parent=parent)
        with contextlib.suppress(OSError):
            path.unlink()
    return killed
