"""A keeper killed with SIGKILL leaves no simulation fork behind, and a starting keeper reaps
what an earlier run left (keepers.tx.children). With real processes: a child Python process
opens a ForkSimulator fork of a standalone anvil and is SIGKILLed while the fork runs; the
fork must be gone within seconds. Without PR_SET_PDEATHSIG it ran on with parent PID 1."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keepers.tx import children
from tests.support.pipeline_anvil import Anvil

ROOT = Path(__file__).resolve().parents[3]
HOLDER = """
import sys, time
from keepers.tx.revert import RevertDecoder
from keepers.tx.simulation import ForkSimulator
sim = ForkSimulator(sys.argv[1], RevertDecoder.default())
with sim.fork(int(sys.argv[2])):
    print("forked", flush=True)
    time.sleep(600)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alive(pid: int, start: int | None) -> bool:
    return start is not None and children.start_time(pid) == start


def wait_gone(pid: int, start: int | None, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid, start):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_sigkilled_keeper__its_simulation_fork_dies_with_it(anvil: Anvil, tmp_path: Path) -> None:
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    block = anvil.w3.eth.block_number
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, anvil.url, str(block)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        line = holder.stdout.readline()
        assert line.strip() == "forked", holder.stderr.read() if holder.stderr else ""
        folder = tmp_path / f"ballast-children-{os.getuid()}"
        (rec,) = list(folder.glob("*.json"))
        doc = json.loads(rec.read_text())
        pid, start = int(doc["pid"]), doc["start"]
        assert doc["parent"] == holder.pid and alive(pid, start)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
        assert wait_gone(pid, start), f"anvil fork {pid} outlived its SIGKILLed keeper"
    finally:
        if holder.poll() is None:
            holder.kill()


def test_reap__kills_an_orphan_leaves_a_live_keepers_and_a_recycled_pid(tmp_path: Path) -> None:
    folder = tmp_path / "children"
    dead_parent = subprocess.Popen(["true"])
    dead_parent.wait()
    orphan = subprocess.Popen(["anvil", "--port", str(free_port()), "--silent"])
    other = subprocess.Popen(["sleep", "60"])  # a live process that is not what was recorded
    kept = subprocess.Popen(["anvil", "--port", str(free_port()), "--silent"])
    try:
        time.sleep(0.2)
        folder.mkdir()

        def write(pid: int, parent: int, parent_start: int | None, what: str = "anvil") -> None:
            doc = {
                "pid": pid,
                "start": children.start_time(pid),
                "parent": parent,
                "parent_start": parent_start,
                "what": what,
            }
            (folder / f"{pid}.json").write_text(json.dumps(doc))

        write(orphan.pid, dead_parent.pid, 12345)  # its keeper is gone
        write(other.pid, dead_parent.pid, 12345)  # same pid, but not an anvil: a recycled pid
        write(kept.pid, os.getpid(), children.start_time(os.getpid()))  # a live keeper's
        assert children.reap_orphans(folder) == [orphan.pid]
        orphan.wait(timeout=10)
        assert other.poll() is None and kept.poll() is None
        assert sorted(p.name for p in folder.iterdir()) == [f"{kept.pid}.json"]
    finally:
        for p in (orphan, other, kept):
            if p.poll() is None:
                p.kill()
                p.wait()
