"""`keeper run` as a subprocess: the console script of this venv, waiting for a hold marker, and
the stop-on-SIGTERM check that the fund and cross-chain run tests share (a `keeper` command
forked from the preloaded server of tests/support/keeper_fork.py unless asked for the console
script itself)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def keeper_exe() -> str:
    return str(Path(sys.executable).with_name("keeper"))


def wait_file(path: Path, proc: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            return True
        time.sleep(0.05)
    return path.exists()


def sigterm_when_held(
    argv: list[str],
    env: dict[str, str],
    marker: Path,
    bound_s: float,
    *,
    cwd: Path | None = None,
    at_hold: Callable[[], Any] = lambda: None,
    console_script: bool = False,
) -> tuple[str, str, float, Any]:
    """Start `argv`, wait (180 s at most) for the fault injector's hold `marker`, call `at_hold`,
    send SIGTERM and assert the process exits 0 within `bound_s` seconds, logging the signal and
    its stop. Returns its stdout, its stderr, the seconds from SIGTERM to exit and what
    `at_hold` returned. A `keeper` command is forked from the preloaded server (its own
    process: the SIGTERM reaches it alone, as it reaches a started one) unless
    `console_script`."""
    from tests.support.keeper_fork import keeper_popen

    proc: Any
    if Path(argv[0]).name == "keeper" and not console_script:
        proc = keeper_popen(argv, env=env, cwd=cwd)
    else:
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    return stop_when_held(proc, marker, bound_s, at_hold=at_hold)


def stop_when_held(
    proc: Any,
    marker: Path,
    bound_s: float,
    *,
    wait_s: float = 180,
    at_hold: Callable[[], Any] = lambda: None,
) -> tuple[str, str, float, Any]:
    """:func:`sigterm_when_held` for a process already started (with stdout and stderr
    piped), which the test drives to its hold point meanwhile; killed if it does not exit."""
    try:
        assert wait_file(marker, proc, wait_s), proc.communicate(timeout=30)
        held = at_hold()
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=bound_s + 30)
        seconds = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    text = err.decode()
    assert proc.returncode == 0, text[-3_000:]
    assert seconds < bound_s, seconds
    assert "keeper.signal_received" in text and "keeper stopped" in text
    return out.decode(), text, seconds, held
