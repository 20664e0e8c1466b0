"""ape's own anvil on a port a client connection holds (ballast_dev.local.anvil_local.
retry_ape_anvil_on_a_taken_port): ape-foundry picks a random port without checking it, anvil
exits at once with "Address already in use", and ape waited its whole timeout (20 s; 90 s for
the deploy's fork) before failing with RPCTimeoutError, as two fresh-clone CI runs did. Played
in a process of its own that makes ape's first pick a port held by a live client connection:
the node comes up on another port within seconds; without the retry the same start fails."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import random, socket, sys, time
import ape_foundry.provider as fp
from ape import networks
from ballast_dev.local.anvil_local import forget_exited_ape_nodes, retry_ape_anvil_on_a_taken_port
if sys.argv[1] == "retry":  # both, as tests/conftest.py, the demo and the deploy commands do
    retry_ape_anvil_on_a_taken_port()
    forget_exited_ape_nodes()
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen()
client = socket.create_connection(srv.getsockname())
taken = client.getsockname()[1]  # a client connection's local port: anvil cannot bind it
real, picks = random.randint, [taken]
fp.random.randint = lambda a, b: picks.pop(0) if picks else real(a, b)
t = time.monotonic()
try:
    with networks.ethereum.local.use_provider("foundry") as p:
        port = int(p.uri.rsplit(":", 1)[1])
        listed = " ".join(str(pid) for pid in sorted(networks.running_nodes.nodes))
        print("LISTED", p.process.pid, "|", listed, flush=True)
        print("UP", taken, port, p.web3.eth.chain_id, round(time.monotonic() - t, 1))
except Exception as err:
    print("FAILED", type(err).__name__, round(time.monotonic() - t, 1))
"""


def _run(mode: str, timeout: float, data_folder: Path) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode],
        cwd=ROOT,
        env={**os.environ, "APE_DATA_FOLDER": str(data_folder)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith(("UP", "FAILED"))]
    assert lines, out.stdout[-2000:] + out.stderr[-2000:]
    return [*out.stdout.splitlines(), lines[-1]]


def test_apes_anvil_on_a_taken_port__started_on_another_within_seconds(tmp_path):
    """The node answers on another port within seconds, and ape's node list
    (``processes/nodes.json``) holds only the anvil that answered while it runs, and nothing
    once it stopped: the one that exited at start is taken off (it stayed listed, and
    tests/offchain/test_ape_node_map.py failed on it now and then)."""
    started = time.monotonic()
    out = _run("retry", timeout=120, data_folder=tmp_path)
    _, taken, port, chain_id, seconds = out[-1].split()
    assert port != taken and int(chain_id) == 31337
    assert float(seconds) < 15, seconds  # not ape's 20 s wait for a process that had exited
    assert time.monotonic() - started < 60
    ((pid, listed),) = [
        line.removeprefix("LISTED ").split(" | ") for line in out if line.startswith("LISTED")
    ]
    assert listed.split() == [pid], (pid, listed)
    nodes_json = tmp_path / "processes" / "nodes.json"
    assert not nodes_json.exists() or json.loads(nodes_json.read_text())["nodes"] == {}
