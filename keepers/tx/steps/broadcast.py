"""The pipeline's Broadcast step (keepers.tx.pipeline): to the node, or a pool trade to the
private relays; and what it shares with Watch and Confirm: the receipts of an intent's attempts,
a nonce the chain has passed, a replacement at the same nonce."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from hexbytes import HexBytes
from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.store.models import utcnow
from keepers.store.rows import AttemptRow, IntentRow
from keepers.store.statuses import INTENT, transition
from keepers.store.statuses import IntentStatus as S
from keepers.tx import fees as feelib
from keepers.tx.errors import (
    AlreadyKnown,
    FeeTooLow,
    NodeError,
    NonceTooLow,
    ReplacementUnderpriced,
    SignerConflict,
)
from keepers.tx.metrics import PRIVATE_FALLBACK, PRIVATE_SENT
from keepers.tx.relay import (
    ROUTE_PRIVATE,
    ROUTE_PUBLIC,
    PrivateSubmissionRefused,
    RelayUnreachable,
    is_private,
)
from keepers.tx.steps.sign import SignSteps
from keepers.tx.txcodec import keccak256

log = get_logger("keepers.pipeline")


class BroadcastSteps(SignSteps):
    """Broadcast, receipts, a used nonce, a replacement."""

    # ==================================================================================
    # Broadcast
    # ==================================================================================

    def _private(self, intent: IntentRow) -> bool:
        return intent.kind == "call" and is_private(
            self.settings, intent.role, intent.calldata, intent.fee_policy
        )

    def _fallback(self, intent: IntentRow, reason: str) -> None:
        """A private transaction let into the public pool (KEEPER_PUBLIC_MEMPOOL_FALLBACK):
        a warning and a metric each time."""
        PRIVATE_FALLBACK.labels(reason).inc()
        log.warning(
            "private.public_fallback", intent=intent.id, key=intent.idempotency_key,
            nonce=intent.nonce, reason=reason, chain_id=self.chain_id,
        )  # fmt: skip

    def _send_private(self, intent: IntentRow, raw: str) -> Any:
        """The relays' answer to one private transaction: its hash, a typed refusal, or None
        when it is to go to the public pool instead (allowed, with the warning)."""
        if self.relay is None:
            if self.public_fallback:
                self._fallback(intent, "no_relay")
                return None
            return PrivateSubmissionRefused(
                f"intent {intent.id} trades on a pool and must go to a private relay: none is "
                f"configured (KEEPER_PRIVATE_RPC_URLS) and the public pool is not allowed on "
                f"chain {self.chain_id} (KEEPER_PUBLIC_MEMPOOL_FALLBACK)"
            )
        sent = self.relay.send(raw)
        refusal = sent.refusal()
        if refusal is None:
            PRIVATE_SENT.inc()
            return "0x" + keccak256(HexBytes(raw)).hex()
        if isinstance(refusal, RelayUnreachable) and self.public_fallback:
            self._fallback(intent, "relay_unreachable")
            return None
        return refusal

    def _prefetch_broadcast(self, intents: list[IntentRow]) -> dict[int, Any]:
        """eth_sendRawTransaction for the whole batch in one round trip to the node (then the
        head, as the attempts' sent-at block); a pool trade to the private relays instead
        (keepers.tx.relay), one call each. Re-sending a signed transaction is harmless: the
        node (or relay) knows it already, or its nonce is used and the receipt tells whether
        by us."""
        raws = {it.id: self._attempt(it, it.current_attempt_id).raw_tx for it in intents}
        private: dict[int, Any] = {}
        for it in intents:
            if self._private(it):
                answer = self._send_private(it, raws[it.id])
                if answer is not None:
                    private[it.id] = answer
        public = [it for it in intents if it.id not in private]
        results = self.node.batch(
            [("eth_sendRawTransaction", [raws[it.id]]) for it in public] + [("eth_blockNumber", [])]
        )
        self.crash("sent", len(intents))
        head = results[-1]
        sent_at = int(head, 16) if isinstance(head, str) else self._head
        answers = {it.id: (results[i], ROUTE_PUBLIC) for i, it in enumerate(public)}
        answers.update((i, (r, ROUTE_PRIVATE)) for i, r in private.items())
        # a nonce already used (a replacement sent as its original was mined): the receipts
        # of those intents' attempts in one more round trip, not one per intent
        used = [it for it in intents if isinstance(answers[it.id][0], NonceTooLow)]
        receipts = self._receipts([a for it in used for a in it.attempts]) if used else None
        return {it.id: (answers[it.id][0], sent_at, receipts, answers[it.id][1]) for it in intents}

    def _broadcast(
        self, s: Session, intent: IntentRow, pre: tuple[Any, int, dict[str, Any] | None, str]
    ) -> str:
        result, sent_at, receipts, route = pre
        attempt = self._attempt(intent, intent.current_attempt_id)
        outcome = "sent" if route == ROUTE_PUBLIC else "sent-private"
        if isinstance(result, AlreadyKnown):
            outcome = "already-known"
        elif isinstance(result, NonceTooLow):
            return self._nonce_used(s, intent, "broadcast", receipts)
        elif isinstance(result, ReplacementUnderpriced | FeeTooLow):
            return self._replace(s, intent, "broadcast", reason=type(result).__name__)
        elif isinstance(result, NodeError):  # InsufficientFunds and the rest: back off, retry
            raise result
        attempt.status = "broadcast"
        attempt.sent_at_block = sent_at
        attempt.route = route
        transition(INTENT, intent, S.BROADCAST)
        intent.checked_block = -1
        intent.error = None
        return self._log(s, intent, "broadcast", outcome, tx_hash=attempt.tx_hash, block=sent_at)

    def _receipts(self, attempts: list[AttemptRow]) -> dict[str, dict[str, Any] | None]:
        hashes = [a.tx_hash for a in attempts if a.status not in ("signed", "invalid")]
        results = self.node.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        out: dict[str, dict[str, Any] | None] = {}
        for h, r in zip(hashes, results, strict=True):
            if isinstance(r, NodeError):
                raise r
            out[h] = r
        return out

    def _find_mined(
        self, intent: IntentRow, receipts: dict[str, dict[str, Any] | None] | None = None
    ) -> tuple[AttemptRow, dict[str, Any]] | None:
        if receipts is None:
            receipts = self._receipts(intent.attempts)
        for attempt in reversed(intent.attempts):
            receipt = receipts.get(attempt.tx_hash)
            if receipt is not None and receipt.get("blockHash"):
                return attempt, receipt
        return None

    def _record_mined(
        self, s: Session, intent: IntentRow, attempt: AttemptRow, receipt: dict[str, Any], step: str
    ) -> str:
        for a in intent.attempts:
            if a.id != attempt.id and a.status in ("broadcast", "validated", "mined"):
                a.status = "replaced"
        attempt.status = "mined"
        intent.mined_attempt_id = attempt.id
        intent.current_attempt_id = attempt.id
        intent.mined_block = int(receipt["blockNumber"], 16)
        self._receipt_head = max(self._receipt_head, intent.mined_block)
        intent.mined_block_hash = receipt["blockHash"]
        intent.receipt_status = int(receipt.get("status", "0x1"), 16)
        transition(INTENT, intent, S.MINED)
        intent.checked_block = -1
        return self._log(
            s, intent, step, "mined", tx_hash=attempt.tx_hash, block=intent.mined_block
        )

    def _nonce_used(
        self,
        s: Session,
        intent: IntentRow,
        step: str,
        receipts: dict[str, dict[str, Any] | None] | None = None,
    ) -> str:
        """The chain is past our nonce: either one of our attempts was mined, or (proved by
        the absence of all of our receipts) a foreign transaction used it: build again.
        ``receipts`` holds those of the intent's attempts when the caller read them already."""
        found = self._find_mined(intent, receipts)
        if found is not None:
            self._nonce_passed.pop(intent.id, None)
            return self._record_mined(s, intent, *found, step=step)
        # A node can show the new nonce before it serves the receipt of the block that used it
        # (anvil between executing a block and storing it; a load-balanced RPC whose backends
        # stand at different heads). Deciding on that one answer would halt the keeper, or with
        # exclusive_signer off build the effect again: the receipts are read again after
        # nonce_recheck_s, and only their absence then decides.
        first = self._nonce_passed.setdefault(intent.id, time.monotonic())
        if time.monotonic() - first < self.settings.nonce_recheck_s:
            intent.next_try_at = utcnow() + dt.timedelta(seconds=self.settings.nonce_recheck_s)
            return self._log(
                s, intent, step, "nonce-passed-recheck", nonce=intent.nonce,
                recheck_s=self.settings.nonce_recheck_s,
            )  # fmt: skip
        self._nonce_passed.pop(intent.id, None)
        if self.settings.exclusive_signer:
            # not rebuilt: another sender with our key may be executing the same plan
            self._halt(
                SignerConflict(
                    intent.sender,
                    f"nonce {intent.nonce} of intent {intent.id} was used by a transaction "
                    "this keeper did not send",
                )
            )
        for a in intent.attempts:
            if a.status not in ("invalid",):
                a.status = "dropped"
        old = intent.nonce
        intent.nonce = None
        intent.current_attempt_id = None
        transition(INTENT, intent, S.PENDING)
        return self._log(s, intent, step, "nonce-taken", old_nonce=old)

    def _replace(self, s: Session, intent: IntentRow, step: str, reason: str) -> str:
        """Same nonce, fees bumped by at least fee_bump_bps (12.5%), at most the fee cap. At
        the cap the same signed transaction is broadcast again instead."""
        old = feelib.Fees(
            int(intent.max_fee_per_gas or 0), int(intent.max_priority_fee_per_gas or 0)
        )
        bumped = feelib.bump_fees(
            old, self._suggest(intent), self.settings.fee_bump_bps, int(intent.fee_cap or 0)
        )
        if bumped is None:
            transition(INTENT, intent, S.VALIDATED)
            return self._log(s, intent, step, "rebroadcast-at-cap", reason=reason)
        intent.max_fee_per_gas = bumped.max_fee_per_gas
        intent.max_priority_fee_per_gas = bumped.max_priority_fee_per_gas
        transition(INTENT, intent, S.AUDITED)  # Sign -> Validate -> Broadcast again, same nonce
        return self._log(
            s,
            intent,
            step,
            "replace",
            reason=reason,
            max_fee=bumped.max_fee_per_gas,
            tip=bumped.max_priority_fee_per_gas,
        )
