"""The state a batch of intents carries through the pipeline's steps (keepers.tx.pipeline):
the node, signers and settings, the claimed batch, its step-log rows and new attempts, the nonce
book and the head as this process saw it; and what every step does with them (log a step's
outcome, find an attempt, halt on a foreign signer).

The steps build on it one module each, in their order (each class extends the one before, so
a later step may call an earlier one's helpers, and every step's private state stays on the one
object): build (Build, Audit), sign (Sign, Validate), broadcast (Broadcast, and what it shares
with Watch: receipts, a used nonce, a replacement), confirm (Watch, Confirm). ``Pipeline`` is the
last of them: the claim, the batch's transaction and the worker loop."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.core.settings import KeeperSettings
from keepers.store.db import Store
from keepers.store.models import utcnow
from keepers.store.rows import AttemptRow, IntentRow
from keepers.tx.errors import SignerConflict
from keepers.tx.hooks import CrashHook
from keepers.tx.node import Node
from keepers.tx.nonces import NonceBook
from keepers.tx.relay import Relay
from keepers.tx.revert import RevertDecoder
from keepers.tx.signers import Signer

log = get_logger("keepers.pipeline")


class StepBatch:
    """The pipeline's state and the helpers every step shares (see the module)."""

    def __init__(
        self,
        store: Store,
        node: Node,
        signers: Iterable[Signer],
        settings: KeeperSettings,
        decoder: RevertDecoder | None = None,
        worker_id: str | None = None,
        crash: Callable[..., None] | None = None,
    ) -> None:
        self.store = store
        self.node = node
        self.settings = settings
        self.signers = {s.address.lower(): s for s in signers}
        self.decoder = decoder or RevertDecoder.default()
        self.worker_id = worker_id or f"pid-{os.getpid()}"
        self.crash = crash or CrashHook.from_env()
        self.chain_id = node.chain_id
        self.confirmations = settings.confirmations_for(self.chain_id)
        self._head = -1
        # the highest block a receipt read in this pass was mined in: the chain has reached it
        # even if it was above the head read at the pass's start (automine, a fast chain)
        self._receipt_head = -1
        self._head_moved_at = time.monotonic()
        self._latest_nonce: dict[str, int] = {}
        self._steplog: list[dict[str, Any]] = []
        self._new_attempts: list[tuple[IntentRow, dict[str, Any]]] = []
        self._batch: list[IntentRow] = []  # the claimed batch, while its step runs
        self._debug = False  # debug logging on (read at each batch)
        # intent id -> its row as this run_once pass committed it (None outside a pass): the
        # pass's later claims (Broadcast after Build, Watch after Broadcast) take the rows they
        # claim from here instead of loading them again
        self._handoff: dict[int, IntentRow] | None = None
        # intent id -> its attempt signed in this transaction, inserted at the batch's write
        self._unsaved_attempts: dict[int, dict[str, Any]] = {}
        self.nonces = NonceBook(self.chain_id, lambda a: self.node.tx_count(a, "pending"))
        # intent id -> when its nonce was first seen used with none of its receipts found
        self._nonce_passed: dict[int, float] = {}
        # sender -> (its chain nonce, the head at which this process first saw that nonce): a
        # sender whose nonce keeps moving is mining its queue, and what waits behind an
        # earlier transaction of ours is not stuck (Watch replaces only when it stands still)
        self._queue_moved: dict[str, tuple[int, int]] = {}
        self.halted: SignerConflict | None = None
        # private submission (keepers.tx.relay): the relays pool trades go to, and whether
        # the public pool may take them when no relay is configured or none answers
        self.relay: Relay | None = Relay.from_settings(settings)
        self.public_fallback = settings.public_fallback_allowed(self.chain_id)

    def _halt(self, err: SignerConflict) -> None:
        self.halted = err
        log.critical("signer.conflict", account=err.account, error=str(err))
        raise err

    def _latest(self, account: str) -> int:
        if account not in self._latest_nonce:
            self._latest_nonce[account] = self.node.tx_count(account, "latest")
        return self._latest_nonce[account]

    @staticmethod
    def _attempt(intent: IntentRow, attempt_id: int | None) -> AttemptRow:
        for a in intent.attempts:
            if a.id == attempt_id:
                return a
        raise LookupError(f"intent {intent.id} has no attempt {attempt_id}")

    def _log(self, s: Session, intent: IntentRow, step: str, outcome: str, **detail: Any) -> str:
        """Queue the step-log row (written in this step's transaction) and log the outcome."""
        self._steplog.append(
            {
                "intent_id": intent.id,
                "step": step,
                "outcome": outcome,
                "detail": detail,
                "worker": self.worker_id,
                "at": utcnow(),
            }
        )
        routine = outcome in ("ok", "sent", "mined", "confirmed")
        if routine and not self._debug:
            return outcome  # logged at debug, which is off: the fields are not even built
        fields: dict[str, Any] = {
            "intent": intent.id,
            "key": intent.idempotency_key,
            "step": step,
            "outcome": outcome,
            "status": intent.status,
            "nonce": intent.nonce,
        }
        fields.update(detail)
        (log.debug if routine else log.info)("step", **fields)
        return outcome
