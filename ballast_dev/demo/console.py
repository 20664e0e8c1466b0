"""The web console beside the demo (`make demo`; scripts/demo.py --console, the default): a
`keeper console` process on a free loopback port, reading the demo keeper's store and the
demo's chain, its address printed at the start of the month. It gets the fund keeper's
environment without the keeper's key (the console signs nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any


def start_console(fund_env: dict[str, str], echo: Any) -> subprocess.Popen[str] | None:
    """Start `keeper console` for the demo's store and chain; echo its address. None (and a
    line saying why) when it did not start."""
    env = {k: v for k, v in {**os.environ, **fund_env}.items() if k != "KEEPER_SIGNER_KEY"}
    env |= {"KEEPER_CONSOLE_HOST": "127.0.0.1", "KEEPER_CONSOLE_PORT": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "keepers.cli", "console"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().strip()
    if not line.startswith("keeper console at "):
        proc.kill()
        echo(f"web console did not start ({line or f'exit {proc.wait()}'})")
        return None
    echo(f"web console: {line.removeprefix('keeper console at ').split(' ')[0]}")
    return proc


def stop_console(proc: subprocess.Popen[str] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
