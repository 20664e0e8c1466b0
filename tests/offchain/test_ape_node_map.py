"""ape's list of the nodes it started (``processes/nodes.json`` in its data folder) keeps only
processes that still run (ballast_dev.local.anvil_local.forget_exited_ape_nodes): ape-foundry
never took its own anvils off it, and every ape process's exit compared its provider with each
entry, about 26 ms an entry (455 entries here: 10-13 CPU-s an exit instead of about 4). Played
in a process of its own, with its own data folder, as an `ape run` starts and stops its anvil.
Without the fix both assertions fail: the exited entries stay, and so does the anvil's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from ape import networks
from ballast_dev.local.anvil_local import forget_exited_ape_nodes, retry_ape_anvil_on_a_taken_port
retry_ape_anvil_on_a_taken_port()  # ape's random port may be a client connection's (ci of 02d6b6c)
before = len(networks.running_nodes.nodes)  # read before the fix is installed: all of it
forget_exited_ape_nodes()
read_before = len(networks.running_nodes.nodes)  # that list, cut
del vars(networks)["running_nodes"]
read_after = len(networks.running_nodes.nodes)  # read again, through the fix
print("LISTED", before, read_before, read_after, flush=True)
with networks.ethereum.local.use_provider("foundry") as p:
    print("STARTED", p.process.pid, flush=True)
"""


def _entry(port: int) -> dict[str, str]:
    return {
        "network_choice": "ethereum:local:foundry",
        "http_uri": f"http://127.0.0.1:{port}",
        "ws_uri": f"ws://127.0.0.1:{port}",
    }


def test_ape_node_list__exited_entries_dropped__the_anvil_it_started_removed(tmp_path):
    # process ids above the kernel's pid_max never run; the test process itself does
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    exited = {str(pid_max + i): _entry(50_000 + i) for i in range(200)}
    alive = {str(os.getpid()): _entry(1)}
    nodes_json = tmp_path / "processes" / "nodes.json"
    nodes_json.parent.mkdir(parents=True)
    nodes_json.write_text(json.dumps({"nodes": {**exited, **alive}}))
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env={**os.environ, "APE_DATA_FOLDER": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    started = [line.split()[1] for line in out.stdout.splitlines() if line.startswith("STARTED")]
    assert started, out.stdout[-2000:] + out.stderr[-2000:]
    (listed,) = [line.split()[1:] for line in out.stdout.splitlines() if line.startswith("LISTED")]
    # a list the process read before the fix is cut too, and one read after it
    assert listed == ["201", "1", "1"], listed
    left = json.loads(nodes_json.read_text())["nodes"]
    assert started[0] not in left, left  # its anvil exited with it
    assert left == alive, sorted(left)  # the running process is kept, the exited ones are not
