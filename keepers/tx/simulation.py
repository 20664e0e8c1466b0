"""Simulate a plan's calls in order on a throwaway anvil fork (seed 001 section 4.1 step 4).

Each call runs on the state the previous ones leave: the fork (``anvil --fork-url <rpc>
--fork-block-number <n>`` on a free port) impersonates the keeper and mines the calls one by
one. The first revert stops the simulation; its custom error is decoded with the project's
ABIs (keepers.tx.revert). Nothing ever reaches the real chain.

The fork also measures each call's gas and lets the caller read the state the plan leaves
(``after``), so the plan's expected end state can be checked before anything is sent.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes
from web3 import Web3

from keepers.tx import children
from keepers.tx.node import connect_web3
from keepers.tx.revert import RevertDecoder


@dataclass(frozen=True)
class SimCall:
    sender: str
    target: str
    calldata: str
    label: str = ""


@dataclass(frozen=True)
class SimStep:
    index: int
    ok: bool
    gas_used: int = 0
    error: str | None = None  # decoded custom error on failure
    revert_data: str | None = None


@dataclass
class SimulationResult:
    steps: list[SimStep] = field(default_factory=list)
    after: Any = None  # what ``read_after`` returned on the fork (when every call passed)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def failure(self) -> SimStep | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def gas_used(self) -> int:
        return sum(s.gas_used for s in self.steps)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _revert_data(err: Exception) -> str | None:
    """Revert data out of a web3 error or a JSON-RPC error dict."""
    for attr in ("data",):
        data = getattr(err, attr, None)
        if isinstance(data, str) and data.startswith("0x"):
            return data
    args = getattr(err, "args", ())
    for a in args:
        if isinstance(a, dict):
            d = a.get("data")
            if isinstance(d, dict):
                d = d.get("data")
            if isinstance(d, str) and d.startswith("0x"):
                return d
        if isinstance(a, str) and a.startswith("0x"):
            return a
    return None


class ForkSimulator:
    """Starts one anvil fork per simulation (isolated, so no state leaks between plans)."""

    def __init__(
        self,
        upstream_url: str,
        decoder: RevertDecoder,
        anvil_bin: str = "anvil",
        startup_timeout_s: float = 20.0,
    ) -> None:
        self.upstream_url = upstream_url
        self.decoder = decoder
        self.anvil_bin = shutil.which(anvil_bin) or anvil_bin
        self.startup_timeout_s = startup_timeout_s

    @contextmanager
    def fork(self, block: int) -> Iterator[Web3]:
        port = _free_port()
        proc = subprocess.Popen(
            [
                self.anvil_bin,
                "--fork-url",
                self.upstream_url,
                "--fork-block-number",
                str(block),
                "--port",
                str(port),
                "--silent",
                "--no-storage-caching",
                # a throwaway fork: no state written under ~/.foundry/anvil/tmp (anvil leaves
                # that directory behind when it is stopped)
                "--max-persisted-states",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            # killed by the kernel if the keeper dies (SIGKILL included): no orphan fork
            preexec_fn=children.die_with_parent(),  # noqa: PLW1509 - prctl only, resolved before
        )
        children.record(proc.pid, "anvil")  # a starting keeper reaps it if ever orphaned
        try:
            w3 = connect_web3(f"http://127.0.0.1:{port}", 30)
            deadline = time.monotonic() + self.startup_timeout_s
            while True:
                if proc.poll() is not None:
                    err = (proc.stderr.read() if proc.stderr else b"").decode(errors="replace")
                    raise RuntimeError(f"anvil fork exited: {err.strip()[:500]}")
                try:
                    w3.eth.chain_id  # noqa: B018 - readiness probe
                    break
                except Exception:  # noqa: BLE001 - not listening yet
                    if time.monotonic() > deadline:
                        raise RuntimeError("anvil fork did not start in time") from None
                    time.sleep(0.05)
            yield w3
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            children.forget(proc.pid)

    def simulate(
        self,
        block: int,
        calls: Sequence[SimCall],
        read_after: Callable[[Web3], Any] | None = None,
    ) -> SimulationResult:
        started = time.perf_counter()
        result = SimulationResult()
        with self.fork(block) as w3:
            for sender in {c.sender for c in calls}:
                w3.provider.make_request("anvil_impersonateAccount", [sender])  # type: ignore[arg-type]
                # Gas money on the fork only: the real balance is checked before execution.
                w3.provider.make_request("anvil_setBalance", [sender, hex(10**21)])  # type: ignore[arg-type]
            for i, call in enumerate(calls):
                step = self._one(w3, i, call)
                result.steps.append(step)
                if not step.ok:
                    break
            if result.ok and read_after is not None:
                result.after = read_after(w3)
        result.seconds = time.perf_counter() - started
        return result

    def _one(self, w3: Web3, index: int, call: SimCall) -> SimStep:
        tx = {"from": call.sender, "to": call.target, "data": call.calldata}
        try:
            w3.eth.call(tx)  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 - any revert: decode it
            data = _revert_data(err)
            reason = self.decoder.describe(data) if data else str(err)
            return SimStep(index, False, error=reason, revert_data=data)
        try:
            gas = int(w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 - a revert found by the estimate
            data = _revert_data(err)
            reason = self.decoder.describe(data) if data else str(err)
            return SimStep(index, False, error=reason, revert_data=data)
        # the pipeline sends with a gas margin too (KEEPER_GAS_MARGIN_BPS)
        sent = {**tx, "gas": hex(gas * 3 // 2)}
        resp = w3.provider.make_request("eth_sendTransaction", [sent])  # type: ignore[arg-type]
        if resp.get("error"):
            err_obj = resp["error"]
            data = err_obj.get("data") if isinstance(err_obj, dict) else None
            data = data if isinstance(data, str) else None
            reason = self.decoder.describe(data) if data else str(err_obj)
            return SimStep(index, False, error=reason, revert_data=data)
        receipt = w3.eth.wait_for_transaction_receipt(HexBytes(resp["result"]), timeout=30)
        if int(receipt["status"]) != 1:
            return SimStep(
                index,
                False,
                int(receipt["gasUsed"]),
                f"mined but reverted (gas limit {gas * 3 // 2})",
            )
        return SimStep(index, True, int(receipt["gasUsed"]))
