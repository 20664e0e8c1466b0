"""Simulate a plan's calls in order, state carried from one to the next (seed 001 section 4.1
step 4), before anything is sent.

Two implementations serve the one interface (:class:`Simulator`):

- :class:`NodeSimulator` (the default): the node's own ``eth_simulateV1`` (the execution-API
  method; anvil 1.7, geth, reth, Nethermind, Erigon and the large RPC providers answer it). The
  plan's calls go into one simulated block on top of the block the plan was read at, in order,
  each on the state the previous ones leave; the sender gets its gas money by a state override
  (its real balance is checked before execution); the reads of the state the plan leaves are
  appended to the same block as further calls. One JSON-RPC request, nothing started.
- :class:`ForkSimulator` (the fallback for a node without the method): a throwaway anvil fork
  (``anvil --fork-url <rpc> --fork-block-number <n>`` on a free port) that impersonates the
  keeper and mines the calls one by one. It needs the ``anvil`` binary (KEEPER_ANVIL_BIN).

:func:`choose_simulator` picks one by the setting ``KEEPER_SIMULATOR`` (``auto``: the node's
method when it answers, else the fork; ``node``; ``fork``) and refuses, with a ConfigError
(exit 2) naming the setting, a choice that cannot work: a node without ``eth_simulateV1`` under
``node``, a fork whose anvil binary cannot be found under ``fork`` or as ``auto``'s fallback.
The keepers choose when they start, never on a tick. Under ``auto`` with anvil at hand too, a
plan the node no longer answers eth_simulateV1 for (a provider's load balancer mixing node
kinds) is simulated on the fork (:class:`FallbackSimulator`).

In both, the first revert stops the simulation; its custom error is decoded with the project's
ABIs (keepers.tx.revert). Each call's gas is measured, and the reads (:class:`SimRead`, an
eth_call-style call with the caller's decoder) give the state the plan leaves, so the plan's
expected end state can be checked before anything is sent. Nothing ever reaches the real chain.

Calls that depend on nothing before them (the executor's batches, the supervisor's fixes and
ticks, the cross-chain relay's replay check) go through the same simulator with
:meth:`Simulator.simulate_each`: each call alone on the same base block, no state carried from
one to the next. On the node that is one JSON-RPC batch of separate ``eth_simulateV1`` requests
(one call each, so one round trip for all); on the fork fallback it is what a node without the
method answers anyway, ``eth_call`` + ``eth_estimateGas`` per call in one batch on the node (no
fork needed: nothing builds on anything). Each :class:`SimStep` gives ok, the gas, the decoded
revert and the return data.

Gas: ``SimStep.gas_used`` is the node's ``gasUsed`` under ``eth_simulateV1`` (what the call
burns, refunds applied) but the ``eth_estimateGas`` figure on the fallback; gasUsed is not an
upper bound for a gas limit (a call may need more gas available than it uses: the 63/64 rule,
refunds). No caller uses it as a limit: the pipeline sets every transaction's limit from its own
``eth_estimateGas`` at signing times ``KEEPER_GAS_MARGIN_BPS``. A caller that needs the upper
bound asks ``simulate_each(..., estimate=True)``: an ``eth_estimateGas`` per call rides in the
same JSON-RPC batch (``SimStep.gas_estimate``). The executor does, and prices a batch with the
estimate as before (a scheduled run's handler is given its whole booked effort: the estimate
covers it, gasUsed may be far below), so the executor's profitability rule is unchanged.

The pipeline's own check before signing stays ``eth_estimateGas`` (it needs the limit).

Node methods the node simulator needs: ``eth_simulateV1`` with ``stateOverrides`` (balance)
and ``validation: false`` (``traceTransfers`` and ``returnFullTransactions`` off).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol, TypeVar

from hexbytes import HexBytes
from web3 import Web3

from keepers.core.errors import ChainError, ConfigError
from keepers.core.logging import get_logger
from keepers.tx import children
from keepers.tx.node import connect_web3, shown_url
from keepers.tx.revert import RevertDecoder

log = get_logger("keepers.tx.simulation")

SimulatorChoice = Literal["auto", "node", "fork"]
SIMULATOR_CHOICES: tuple[str, ...] = ("auto", "node", "fork")
# the gas money a simulated sender is given (on the simulation only): 1,000 native coins
SIM_BALANCE = 10**21
_ZERO = "0x" + "00" * 20
_T = TypeVar("_T")


@dataclass(frozen=True)
class SimCall:
    sender: str
    target: str
    calldata: str
    label: str = ""

    def rpc_tx(self) -> dict[str, str]:
        """The call as a JSON-RPC transaction object (eth_call, eth_estimateGas, eth_simulateV1)."""
        return {"from": self.sender, "to": self.target, "data": self.calldata}


@dataclass(frozen=True)
class SimRead:
    """A read of the state the plan's calls leave: an eth_call-style call run after them, in
    the same simulation; ``decode`` turns its return data into what the caller needs."""

    target: str
    calldata: str
    decode: Callable[[bytes], Any]
    label: str = ""


@dataclass(frozen=True)
class SimStep:
    index: int
    ok: bool
    gas_used: int = 0
    error: str | None = None  # decoded custom error on failure
    revert_data: str | None = None
    return_data: str | None = None  # a passed call's return data (hex), when the node gave it
    # eth_estimateGas's figure (an upper bound to send with), when asked for: simulate_each(...,
    # estimate=True); gas_used under eth_simulateV1 is what the call burns, not a limit
    gas_estimate: int | None = None


@dataclass
class SimulationResult:
    steps: list[SimStep] = field(default_factory=list)
    # the decoded reads (SimRead, in order) of the state the calls leave; None unless every
    # call passed
    after: list[Any] | None = None
    seconds: float = 0.0
    simulator: str = ""  # "node" or "fork"

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def failure(self) -> SimStep | None:
        return next((s for s in self.steps if not s.ok), None)

    @property
    def gas_used(self) -> int:
        return sum(s.gas_used for s in self.steps)


class SimulationError(ChainError):
    """The simulation itself could not run (the node refused the request, a read of the
    post-state reverted): not a revert of the plan's calls, which is a failed SimStep."""


class SimulateUnsupported(SimulationError):
    """The node does not answer ``eth_simulateV1`` (method not found / not available)."""


class Simulator(Protocol):
    name: str

    def simulate(
        self, block: int, calls: Sequence[SimCall], reads: Sequence[SimRead] = ()
    ) -> SimulationResult: ...

    def simulate_each(
        self, block: int | str, calls: Sequence[SimCall], estimate: bool = False
    ) -> list[SimStep]:
        """Each call alone on ``block`` (independent calls: no state carried from one to the
        next), one step per call in order (``index`` its position); with ``estimate`` each
        passed step also carries eth_estimateGas's figure (``gas_estimate``), asked in the
        same round trip."""
        ...


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


# ---------------------------------------------------------------------------------- node

_MISSING_NEEDLES = (
    "method not found",
    "does not exist",
    "not available",
    "not supported",
    "unsupported method",
    "unknown method",
    "not implemented",
)


def _is_missing_method(error: dict[str, Any]) -> bool:
    if error.get("code") == -32601:
        return True
    message = str(error.get("message", "")).lower()
    if "method not found" in message:
        return True
    return "simulate" in message and any(n in message for n in _MISSING_NEEDLES)


def _call_revert_data(call: dict[str, Any]) -> str | None:
    """A failed call's revert data: ``error.data`` (the spec), else ``returnData`` (anvil)."""
    err = call.get("error")
    if isinstance(err, dict):
        data = err.get("data")
        if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
            return data
    data = call.get("returnData")
    if isinstance(data, str) and data.startswith("0x") and len(data) > 2:
        return data
    return None


def _tag(block: int | str) -> str:
    return hex(block) if isinstance(block, int) else block


def _raise_refused(err: dict[str, Any]) -> None:
    if _is_missing_method(err):
        raise SimulateUnsupported(f"eth_simulateV1 not answered: {err.get('message')}")
    raise SimulationError(f"eth_simulateV1 refused: {err.get('message')}")


def _block_calls(resp: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """The per-call results of one eth_simulateV1 answer of one block of ``n`` calls."""
    raw_err: Any = resp.get("error")
    if raw_err:
        _raise_refused(dict(raw_err) if isinstance(raw_err, dict) else {"message": str(raw_err)})
    blocks: Any = resp.get("result") or []
    if len(blocks) != 1 or len(blocks[0].get("calls", [])) != n:
        raise SimulationError("eth_simulateV1 answered a different number of calls")
    return list(blocks[0]["calls"])


def _batch_each(
    w3: Web3,
    block: int | str,
    calls: Sequence[SimCall],
    requests: Callable[[dict[str, Any], str], list[tuple[str, list[Any]]]],
) -> tuple[Any, int]:
    """One JSON-RPC batch of ``requests(tx, block tag)`` for each call, in the calls' order:
    (the node's answer, a list or the batch's refusal; how many requests it was sent)."""
    tag = _tag(block)
    reqs = [r for c in calls for r in requests(c.rpc_tx(), tag)]
    return w3.provider.make_batch_request(reqs), len(reqs)  # type: ignore[attr-defined]


def estimate_each(
    w3: Web3, decoder: RevertDecoder, block: int | str, calls: Sequence[SimCall]
) -> list[SimStep]:
    """Each call alone on ``block`` by ``eth_call`` + ``eth_estimateGas`` (one JSON-RPC batch,
    which every node answers): the return data of the call, the estimate as both gas figures,
    the decoded revert of whichever of the two failed."""
    if not calls:
        return []
    resp, _ = _batch_each(
        w3, block, calls, lambda tx, tag: [("eth_call", [tx, tag]), ("eth_estimateGas", [tx, tag])]
    )
    if not isinstance(resp, list):
        err = resp.get("error") or {}
        raise SimulationError(f"eth_call/eth_estimateGas batch refused: {err.get('message', err)}")
    steps: list[SimStep] = []
    for i in range(len(calls)):
        out, gas = resp[2 * i], resp[2 * i + 1]
        failed = out.get("error") or gas.get("error")
        if failed:
            reason, data = _failed_rpc(failed, decoder)
            steps.append(SimStep(i, False, error=reason, revert_data=data))
            continue
        gas_used = int(gas["result"], 16)
        steps.append(
            SimStep(i, True, gas_used, return_data=out.get("result"), gas_estimate=gas_used)
        )
    return steps


def _failed_rpc(err: Any, decoder: RevertDecoder) -> tuple[str, str | None]:
    """(decoded revert or the message, revert data) of a JSON-RPC error object."""
    failed = dict(err) if isinstance(err, dict) else {"message": str(err)}
    data = failed.get("data")
    data = data.get("data") if isinstance(data, dict) else data
    data = data if isinstance(data, str) and data.startswith("0x") and len(data) > 2 else None
    return (decoder.describe(data) if data else str(failed.get("message", failed))), data


def _with_estimate(step: SimStep, item: dict[str, Any], decoder: RevertDecoder) -> SimStep:
    """A passed step with eth_estimateGas's answer: its figure, or the step failed with the
    estimate's decoded revert (the call needs more gas than a block gives, say)."""
    if item.get("error"):
        reason, data = _failed_rpc(item["error"], decoder)
        return replace(step, ok=False, error=f"eth_estimateGas: {reason}", revert_data=data)
    return replace(step, gas_estimate=int(item["result"], 16))


class NodeSimulator:
    """The plan's calls (then the reads) in one block of the node's ``eth_simulateV1``."""

    name = "node"

    def __init__(self, w3: Web3, decoder: RevertDecoder) -> None:
        self.w3 = w3
        self.decoder = decoder

    def request(self, block: int | str, calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The per-call results of one simulated block on top of ``block``; the senders get
        their gas money by a state override. SimulateUnsupported / SimulationError when the
        node refuses the request as a whole."""
        payload = self.payload(calls)
        resp = self.w3.provider.make_request("eth_simulateV1", [payload, _tag(block)])  # type: ignore[arg-type]
        return _block_calls(dict(resp), len(calls))

    @staticmethod
    def payload(calls: list[dict[str, Any]]) -> dict[str, Any]:
        """One simulated block of ``calls``; the senders get their gas money by override."""
        senders = {c["from"] for c in calls}
        return {
            "blockStateCalls": [
                {
                    "stateOverrides": {s: {"balance": hex(SIM_BALANCE)} for s in senders},
                    "calls": calls,
                }
            ],
            "validation": False,
            "traceTransfers": False,
            "returnFullTransactions": False,
        }

    def simulate_each(
        self, block: int | str, calls: Sequence[SimCall], estimate: bool = False
    ) -> list[SimStep]:
        """One JSON-RPC batch of separate eth_simulateV1 requests, one call each (each alone
        on ``block``), plus an eth_estimateGas per call with ``estimate``. SimulateUnsupported
        when the node does not answer the method; a request the node refuses on its own is
        that call's failed step (the error message)."""
        if not calls:
            return []

        def requests(tx: dict[str, Any], tag: str) -> list[tuple[str, list[Any]]]:
            alone = [("eth_simulateV1", [self.payload([tx]), tag])]
            return [*alone, ("eth_estimateGas", [tx, tag])] if estimate else alone

        resp, sent = _batch_each(self.w3, block, calls, requests)
        if not isinstance(resp, list):  # the whole batch refused
            _raise_refused(dict(resp.get("error") or {"message": str(resp)}))
        if len(resp) != sent:
            raise SimulationError("eth_simulateV1 batch answered a different number of requests")
        per = 2 if estimate else 1
        steps: list[SimStep] = []
        for i in range(len(calls)):
            item = resp[per * i]
            raw_err = item.get("error")
            if raw_err:
                err = dict(raw_err) if isinstance(raw_err, dict) else {"message": str(raw_err)}
                if _is_missing_method(err):
                    raise SimulateUnsupported(f"eth_simulateV1 not answered: {err.get('message')}")
                steps.append(
                    SimStep(i, False, error=f"eth_simulateV1 refused: {err.get('message')}")
                )
                continue
            (ans,) = _block_calls(item, 1)
            step = self._step(i, ans)
            if estimate and step.ok:
                step = _with_estimate(step, resp[per * i + 1], self.decoder)
            steps.append(step)
        return steps

    def _step(self, index: int, ans: dict[str, Any]) -> SimStep:
        gas = int(ans.get("gasUsed", "0x0"), 16)
        if int(ans.get("status", "0x0"), 16) == 1:
            return SimStep(index, True, gas, return_data=ans.get("returnData") or "0x")
        data = _call_revert_data(ans)
        err = ans.get("error") or {}
        reason = self.decoder.describe(data) if data else str(err.get("message", err))
        return SimStep(index, False, gas, error=reason, revert_data=data)

    def probe(self) -> None:
        """Raise SimulateUnsupported unless the node answers eth_simulateV1."""
        self.request("latest", [{"from": _ZERO, "to": _ZERO, "data": "0x"}])

    def simulate(
        self, block: int, calls: Sequence[SimCall], reads: Sequence[SimRead] = ()
    ) -> SimulationResult:
        started = time.perf_counter()
        result = SimulationResult(simulator=self.name)
        reader = calls[0].sender if calls else _ZERO
        rpc_calls = [c.rpc_tx() for c in calls]
        rpc_calls += [{"from": reader, "to": r.target, "data": r.calldata} for r in reads]
        answers = self.request(block, rpc_calls) if rpc_calls else []
        for i, ans in enumerate(answers[: len(calls)]):
            step = self._step(i, ans)
            result.steps.append(step)
            if not step.ok:
                break
        if result.ok and reads:
            after = []
            for r, ans in zip(reads, answers[len(calls) :], strict=True):
                if int(ans.get("status", "0x0"), 16) != 1:
                    data = _call_revert_data(ans)
                    why = self.decoder.describe(data) if data else str(ans.get("error"))
                    raise SimulationError(f"read {r.label or r.target} after the plan: {why}")
                after.append(r.decode(bytes(HexBytes(ans.get("returnData") or "0x"))))
            result.after = after
        result.seconds = time.perf_counter() - started
        return result


# ---------------------------------------------------------------------------------- fork


def find_anvil(anvil_bin: str) -> str | None:
    """The anvil executable KEEPER_ANVIL_BIN names (a path, or a name looked up on PATH)."""
    found = shutil.which(anvil_bin)
    if found:
        return found
    if os.sep in anvil_bin and os.path.isfile(anvil_bin) and os.access(anvil_bin, os.X_OK):
        return anvil_bin
    return None


class ForkSimulator:
    """Starts one anvil fork per simulation (isolated, so no state leaks between plans)."""

    name = "fork"

    def __init__(
        self,
        upstream_url: str,
        decoder: RevertDecoder,
        anvil_bin: str = "anvil",
        startup_timeout_s: float = 20.0,
        w3: Web3 | None = None,
    ) -> None:
        self.upstream_url = upstream_url
        self.decoder = decoder
        self.anvil_bin = find_anvil(anvil_bin) or anvil_bin
        self.startup_timeout_s = startup_timeout_s
        self._w3 = w3  # the upstream node (simulate_each); connected on first use if None

    def simulate_each(
        self, block: int | str, calls: Sequence[SimCall], estimate: bool = False
    ) -> list[SimStep]:
        """Independent calls need no fork: eth_call + eth_estimateGas each on the node (the
        estimate is always there)."""
        if self._w3 is None:
            self._w3 = connect_web3(self.upstream_url, 30)
        return estimate_each(self._w3, self.decoder, block, calls)

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
        reads: Sequence[SimRead] = (),
    ) -> SimulationResult:
        started = time.perf_counter()
        result = SimulationResult(simulator=self.name)
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
            if result.ok and reads:
                result.after = [self._read(w3, calls, r) for r in reads]
        result.seconds = time.perf_counter() - started
        return result

    def _read(self, w3: Web3, calls: Sequence[SimCall], read: SimRead) -> Any:
        tx = {"from": calls[0].sender if calls else _ZERO, "to": read.target, "data": read.calldata}
        try:
            out = w3.eth.call(tx)  # type: ignore[arg-type]
        except Exception as err:  # noqa: BLE001 - a read that reverts: say which
            data = _revert_data(err)
            why = self.decoder.describe(data) if data else str(err)
            raise SimulationError(
                f"read {read.label or read.target} after the plan: {why}"
            ) from None
        return read.decode(bytes(out))

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


class FallbackSimulator:
    """``auto`` with both at hand: the node's method, and the fork for a plan the node stops
    answering eth_simulateV1 for (a provider's load balancer mixing node kinds); the node is
    asked again for the next plan."""

    name = "node"

    def __init__(self, node: NodeSimulator, fork: ForkSimulator) -> None:
        self.node = node
        self.fork = fork

    def simulate(
        self, block: int, calls: Sequence[SimCall], reads: Sequence[SimRead] = ()
    ) -> SimulationResult:
        return self._node_else(
            lambda: self.node.simulate(block, calls, reads),
            "fork",
            lambda: self.fork.simulate(block, calls, reads),
        )

    def simulate_each(
        self, block: int | str, calls: Sequence[SimCall], estimate: bool = False
    ) -> list[SimStep]:
        # the fork's simulate_each needs no fork: eth_call + eth_estimateGas on the node
        return self._node_else(
            lambda: self.node.simulate_each(block, calls, estimate),
            "estimate",
            lambda: self.fork.simulate_each(block, calls, estimate),
        )

    @staticmethod
    def _node_else(on_node: Callable[[], _T], fallback: str, on_fork: Callable[[], _T]) -> _T:
        """``on_node()``; when the node no longer answers the method, a warning naming the
        ``fallback`` and ``on_fork()`` instead."""
        try:
            return on_node()
        except SimulateUnsupported as err:
            log.warning("simulation.node_method_gone", error=str(err), fallback=fallback)
            return on_fork()


# ---------------------------------------------------------------------------------- choice


def choose_simulator(
    choice: str,
    w3: Web3,
    upstream_url: str,
    decoder: RevertDecoder,
    anvil_bin: str = "anvil",
) -> Simulator:
    """The simulator KEEPER_SIMULATOR asks for, checked now (at start-up): ``node`` needs the
    node to answer eth_simulateV1, ``fork`` needs the anvil binary (KEEPER_ANVIL_BIN), ``auto``
    takes the node's method when it answers, else the fork. A choice that cannot work raises
    ConfigError (exit 2) naming the settings; a node that does not answer at all raises its
    network error (exit 3), as every other start-up check does."""
    if choice not in SIMULATOR_CHOICES:
        raise ConfigError(
            f"KEEPER_SIMULATOR={choice!r}: must be one of {', '.join(SIMULATOR_CHOICES)}"
        )
    url = shown_url(upstream_url)
    why_not_node = ""
    if choice in ("auto", "node"):
        node = NodeSimulator(w3, decoder)
        try:
            node.probe()
        except SimulationError as err:
            why_not_node = str(err)
        else:
            if choice == "auto" and find_anvil(anvil_bin) is not None:
                # a node behind a load balancer may lose the method later: the fork then
                return FallbackSimulator(
                    node, ForkSimulator(upstream_url, decoder, anvil_bin, w3=w3)
                )
            return node
        if choice == "node":
            raise ConfigError(
                f"KEEPER_SIMULATOR=node: the node at {url} does not answer eth_simulateV1 "
                f"({why_not_node}); use a node that has it, or KEEPER_SIMULATOR=fork (or auto) "
                "with anvil installed (KEEPER_ANVIL_BIN)"
            )
    if find_anvil(anvil_bin) is None:
        if choice == "fork":
            raise ConfigError(
                f"KEEPER_SIMULATOR=fork: the anvil binary KEEPER_ANVIL_BIN={anvil_bin!r} is not "
                "found (not on PATH, not an executable file); install foundry's anvil and set "
                "KEEPER_ANVIL_BIN to its path, or use KEEPER_SIMULATOR=node (or auto) with a "
                "node that answers eth_simulateV1"
            )
        raise ConfigError(
            f"KEEPER_SIMULATOR=auto: the node at {url} does not answer eth_simulateV1 "
            f"({why_not_node}) and the fork fallback's anvil binary KEEPER_ANVIL_BIN="
            f"{anvil_bin!r} is not found; use a node that has eth_simulateV1, or install "
            "foundry's anvil and set KEEPER_ANVIL_BIN to its path"
        )
    return ForkSimulator(upstream_url, decoder, anvil_bin, w3=w3)
