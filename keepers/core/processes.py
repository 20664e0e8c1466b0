"""Whether a process runs on this host (the replicas' leases, the local ape node list)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """A process with this id exists on this host (one of another user's counts too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
