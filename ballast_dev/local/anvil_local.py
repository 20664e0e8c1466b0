"""LOCAL CHAINS ONLY: the one anvil starter of the repository (the cross-chain scene, the
pipeline tests, the deploy tests, the benchmarks).

anvil comes from PATH or, failing that, the npm package's `node_modules/.bin/anvil`. It listens
on a free loopback port; a start that loses the port race or never answers is retried. It is
ready when it answers `eth_chainId` (with the expected id, where one is given). The caller
owns the process: `stop_anvil(proc)` (or the caller's own teardown) ends it.
"""

from __future__ import annotations

import functools
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from web3 import HTTPProvider, Web3

ROOT = Path(__file__).resolve().parents[2]
# anvil's default mnemonic ("test test ... junk"), accounts 0..3
ANVIL_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]


BUILD_MANIFEST = ROOT / ".build" / "__local__.json"  # ape's build of this project's contracts
_MANIFEST: dict[tuple[int, int], dict[str, Any]] = {}


def contract_type(name: str) -> dict[str, Any]:
    """This build's contract type ``name`` (read-only: shared by every caller). The ~3 MB
    manifest is parsed once per build (its size and modification time), not at each call: a
    hand-over check over web3 binds a contract per view, a scene deploys some dozens."""
    st = BUILD_MANIFEST.stat()
    key = (st.st_mtime_ns, st.st_size)
    if key not in _MANIFEST:
        _MANIFEST.clear()
        _MANIFEST[key] = json.loads(BUILD_MANIFEST.read_text())["contractTypes"]
    return _MANIFEST[key][name]  # type: ignore[no-any-return]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# anvil writes each block's state beyond its in-memory window (a few hundred blocks) as JSON
# under ~/.foundry/anvil/tmp and leaves it there when it exits, SIGINT or SIGKILL: a `make
# test` left about 3 GB there, and months of runs filled the disk (76 GB). A local chain for
# tests and demos needs no state older than that window (every read is at or near the head;
# snapshots for evm_revert are kept apart), so none is written.
NO_DISK_STATE = ("--max-persisted-states", "0")


def no_disk_state(args: Sequence[str]) -> list[str]:
    """``args`` plus ``NO_DISK_STATE`` unless they already say how much history to keep."""
    if any(a in ("--max-persisted-states", "--prune-history") for a in args):
        return list(args)
    return [*args, *NO_DISK_STATE]


def keep_ape_anvil_off_disk() -> None:
    """ape-foundry builds its anvil's command line itself (no option for extra arguments): add
    ``NO_DISK_STATE`` to it, for the anvils ape starts in this process (tests, demo, the
    deploy's dry-run fork)."""
    from ape_foundry.provider import FoundryProvider

    build = FoundryProvider.build_command
    if getattr(build, "__wrapped__", None) is not None:
        return

    def build_command(self: Any) -> list[str]:
        return no_disk_state(build(self))

    build_command.__wrapped__ = build  # type: ignore[attr-defined]
    FoundryProvider.build_command = build_command  # type: ignore[method-assign]


APE_ANVIL_ATTEMPTS = 5  # ports ape's anvil is started on before its start fails
_STARTING: set[int] = set()  # the providers whose anvil is being started (id)


class AnvilExitedAtStart(RuntimeError):
    """ape's anvil exited before it answered: its port is taken (by a client connection's local
    port, which ape's random pick does not avoid) or its arguments are refused."""


def retry_ape_anvil_on_a_taken_port() -> None:
    """ape-foundry starts its anvil (the tests' node, a local deploy's, the dry run's fork) on
    a random port of 49152-60999 without checking that it is free, then waits for it to answer
    (20 s; 90 s for the deploy's fork). A client connection's local port in that range (the
    kernel gives them out of 32768-60999) makes anvil exit at once with "Address already in
    use", and ape waited its whole timeout and failed (RPCTimeoutError: twice in fresh-clone CI
    runs, the deploy's fork). Here the wait ends as soon as the process has exited, and a
    random port (``host: auto``) is tried again, up to ``APE_ANVIL_ATTEMPTS`` ports; a
    configured port is not changed, and the error names it."""
    from ape_foundry.provider import FoundryProvider

    if getattr(FoundryProvider._start, "_ballast_retries", False):
        return
    start, connected = FoundryProvider._start, FoundryProvider.__dict__["is_connected"]

    def is_connected(self: Any) -> bool:
        proc = getattr(self, "process", None)
        if id(self) in _STARTING and proc is not None and proc.poll() is not None:
            raise AnvilExitedAtStart(
                f"anvil exited with code {proc.returncode} before answering on {self._host} "
                "(its port taken, or its arguments refused)"
            )
        return bool(connected.fget(self))

    def _start(self: Any) -> None:
        random_port = self._host == "auto"
        for attempt in range(1, APE_ANVIL_ATTEMPTS + 1):
            _STARTING.add(id(self))
            try:
                return start(self)  # type: ignore[no-any-return]
            except AnvilExitedAtStart:
                # ape listed the anvil in its node list before waiting for it: take the exited
                # one off (it stayed in nodes.json, and the suite's node-list test saw it)
                failed = getattr(self, "process", None)
                nodes = self.network_manager.running_nodes
                if failed is not None and failed.pid in nodes.nodes:
                    nodes.remove_processes(failed.pid)
                if not random_port or attempt == APE_ANVIL_ATTEMPTS:
                    raise
                self.process, self._host = None, "auto"  # another random port
            finally:
                _STARTING.discard(id(self))

    _start._ballast_retries = True  # type: ignore[attr-defined]
    FoundryProvider._start = _start  # type: ignore[method-assign]
    FoundryProvider.is_connected = property(is_connected)  # type: ignore[method-assign,assignment]


def forget_exited_ape_nodes() -> None:
    """ape lists each node it starts in ``<ape data folder>/processes/nodes.json`` and, when any
    of its providers disconnects (every ``ape run`` and test process at its exit), compares
    that provider with every listed entry, building the provider's settings again for each
    (about 26 ms an entry). ape-foundry (0.8.12) never takes its own anvils off the list: its
    ``disconnect`` clears the provider's host before ape looks the entry up by that host, so
    the entry of every anvil ape started stays after the process is gone. The list only grows
    (455 entries on a machine that had run the suite for some weeks), and each ape process's
    exit cost 10-13 CPU-s instead of about 4. Here: when a process reads the list, entries
    whose process no longer runs are dropped (ape writes the list back at its next change),
    and a provider's disconnect takes the entry of the anvil it started off by process id."""
    from ape.managers.networks import NetworkManager
    from ape_foundry.provider import FoundryProvider

    from keepers.core.processes import pid_alive

    listed = NetworkManager.__dict__["running_nodes"]
    if getattr(listed, "_ballast_forgets", False):
        return

    def forget(nodes: Any) -> Any:
        nodes.nodes = {pid: node for pid, node in nodes.nodes.items() if pid_alive(int(pid))}
        return nodes

    def running_nodes(self: Any) -> Any:
        return forget(listed.func(self))

    fresh = functools.cached_property(running_nodes)
    fresh.__set_name__(NetworkManager, "running_nodes")
    fresh._ballast_forgets = True  # type: ignore[attr-defined]
    NetworkManager.running_nodes = fresh  # type: ignore[assignment]
    # a list this process read before (ape caches it on its one network manager)
    from ape.utils.basemodel import ManagerAccessMixin

    read = vars(ManagerAccessMixin.network_manager).get("running_nodes")
    if read is not None:
        forget(read)

    disconnect = FoundryProvider.disconnect

    def disconnect_and_forget(self: Any) -> None:
        started = getattr(self, "process", None)
        disconnect(self)
        if started is not None and started.pid in self.network_manager.running_nodes.nodes:
            self.network_manager.running_nodes.remove_processes(started.pid)

    FoundryProvider.disconnect = disconnect_and_forget  # type: ignore[method-assign]


def anvil_binary() -> str:
    return shutil.which("anvil") or str(ROOT / "node_modules" / ".bin" / "anvil")


def stop_anvil(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def start_anvil(
    *args: str, chain_id: int | None = None, seconds: float = 20, attempts: int = 3
) -> tuple[subprocess.Popen[bytes], str]:
    """Start anvil with `args` (plus `--chain-id` when `chain_id` is given) on a free port;
    the process and its URL once it answers."""
    argv = [anvil_binary(), "--host", "127.0.0.1", "--silent", *no_disk_state(args)]
    if chain_id is not None:
        argv += ["--chain-id", str(chain_id)]
    for _ in range(attempts):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [*argv, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 30}))
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answered = w3.eth.chain_id
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.05)
                continue
            if chain_id is None or answered == chain_id:
                return proc, url
            break  # another node took the port between free_port() and anvil's bind
        stop_anvil(proc)
    raise RuntimeError(f"anvil {' '.join(args)} (chain id {chain_id}) did not start")
