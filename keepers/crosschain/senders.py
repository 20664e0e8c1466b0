"""The cross-chain moves' way to the chains: one pipeline per chain (`ChainDriver`, driven by
whichever thread waits on it) and the `TxSender` the route adapters send through
(`PipelineSender`: one idempotent intent per move, step, generation, target and selector; see
keepers.crosschain.moves)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from eth_utils import to_checksum_address
from web3 import Web3

from keepers.crosschain.routes import RouteError
from keepers.store.db import Store
from keepers.tx.outcome import Outcome
from keepers.tx.pipeline import IntentSpec, Pipeline

ROLE = "crosschain"


class StepPending(Exception):  # noqa: N818 - a state, not a failure
    """The step's transaction is not final yet; the move stays in its state."""


class StepFailed(RouteError):
    """A step's transaction ended failed, reverted, rejected or invalid."""


class ChainDriver:
    """One chain's pipeline; whichever thread waits for an intent drives it (under a lock)."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.lock = threading.Lock()

    @property
    def chain_id(self) -> int:
        return self.pipeline.chain_id

    def drive(self) -> int:
        if not self.lock.acquire(blocking=False):
            return 0
        try:
            return self.pipeline.run_once()
        finally:
            self.lock.release()


class PipelineSender:
    """`TxSender` for route adapters: one intent per (move, step, gen, target, selector),
    submitted to that chain's pipeline and waited for (at most `timeout_s`, then
    `StepPending`). Returns the mined receipt; a failed/rejected intent raises `StepFailed`."""

    def __init__(
        self,
        store: Store,
        drivers: Mapping[int, ChainDriver],
        account: str,
        key_prefix: str,
        timeout_s: float = 60.0,
        poll_s: float = 0.05,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.stop = stop  # the keeper is stopping: send nothing new, leave the wait
        self.drivers = drivers
        self.account = to_checksum_address(account)
        self.key_prefix = key_prefix
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.sent: list[int] = []  # intent ids this sender asked for

    def send(self, w3: Web3, to: str, data: bytes, value: int = 0) -> Any:
        chain_id = int(w3.eth.chain_id)
        driver = self.drivers.get(chain_id)
        if driver is None:
            raise RouteError(f"no pipeline for chain id {chain_id}")
        key = f"{self.key_prefix}:{to.lower()}:0x{data[:4].hex()}"
        if self.stop is not None and self.stop.is_set():
            raise StepPending(f"intent {key}: not sent, the keeper is stopping")
        intent = driver.pipeline.submit(
            IntentSpec(
                idempotency_key=key,
                role=ROLE,
                chain_id=chain_id,
                sender=self.account,
                target=to_checksum_address(to),
                calldata="0x" + data.hex(),
                value=value,
            )
        )
        self.sent.append(intent.id)
        outcome = driver.pipeline.wait_final(
            intent.id, self.timeout_s, drive=driver.drive, poll_s=self.poll_s, stop=self.stop
        )
        if outcome.kind is Outcome.HALTED and outcome.halted is not None:
            raise outcome.halted  # another process signs with our key: stop, do not retry
        if outcome.kind in (Outcome.CONFIRMED, Outcome.REVERTED) and outcome.tx_hash:
            return w3.eth.get_transaction_receipt(outcome.tx_hash)  # type: ignore[arg-type]
        if outcome.final:
            raise StepFailed(f"intent {key} {outcome.status}: {outcome.error}")
        # timeout, waiting for gas funds, or stopping (the intent recorded where it stands): the
        # move stays in its step and comes back
        raise StepPending(f"intent {key} still {outcome.status} ({outcome.kind.value})")
