"""The transaction pipeline: Build -> Audit -> Sign -> Validate -> Broadcast -> Confirm.

Every transaction any keeper sends is a :class:`~keepers.store.models.TxIntent` that moves
through these steps. Each step runs in ONE database transaction that first claims the intent
(``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite is single-process), then does its
node calls, then records the new status and a step-log row. A process that dies anywhere
resumes from the last recorded status; a step that ran but did not commit simply runs again.

Why the same effect is never sent twice: an intent gets one nonce at Build (from the per
(chain, account) allocator, in the Build transaction) and every attempt of that intent (the
first one, fee-bumped replacements, re-broadcasts after a reorg) is signed at that nonce, so
at most one of them can ever be mined. A nonce is only given up when the chain proves that a
transaction which is not ours used it; an intent refused after its nonce was allocated hands
the nonce to a 0-value self-send "filler" so later nonces are not blocked.

Statuses (the last step recorded) and the step that moves each one on:

    pending   --build-->     built | failed (simulation reverted, reason decoded)
    built     --audit-->     audited | rejected (policy rule named)
    audited   --sign-->      signed
    signed    --validate-->  validated | invalid (signed tx differs from what was built)
    validated --broadcast--> broadcast (or mined when the node says nonce too low and it is ours)
    broadcast --watch-->     mined | audited (replacement with bumped fees) | validated
    mined     --confirm-->   confirmed | reverted | validated (reorg: same nonce, same effect)
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keepers.chain import fees as feelib
from keepers.chain.errors import (
    AlreadyKnown,
    ExecutionReverted,
    FeeTooLow,
    InsufficientFunds,
    NodeError,
    NonceTooLow,
    ReplacementUnderpriced,
)
from keepers.chain.metrics import PIPELINE_STEP_SECONDS, PIPELINE_STEPS
from keepers.chain.node import Node, revert_data
from keepers.chain.policy import AuditRequest, audit
from keepers.chain.revert import RevertDecoder
from keepers.chain.signers import Signer
from keepers.chain.validate import Expected, check_signed
from keepers.config import KeeperSettings
from keepers.logging import get_logger
from keepers.store.db import Store
from keepers.store.models import NonceAllocator, StepLog, TxAttempt, TxIntent, utcnow

log = get_logger("keepers.pipeline")

FINAL = frozenset({"confirmed", "reverted", "failed", "rejected", "invalid"})
ACTIVE = ("pending", "built", "audited", "signed", "validated", "broadcast", "mined")
# status -> step that moves it on (the crash points of KEEPER_CRASH_AT are these step names,
# plus "sent": right after eth_sendRawTransaction returned, before Broadcast commits)
STEP_OF = {
    "pending": "build",
    "built": "audit",
    "audited": "sign",
    "signed": "validate",
    "validated": "broadcast",
    "broadcast": "watch",
    "mined": "confirm",
}
CRASH_POINTS = frozenset(STEP_OF.values()) | {"sent"}
FILLER_GAS = 21_000


class Retry(Exception):
    """A transient condition: the step is retried after a back-off."""


@dataclass(frozen=True)
class IntentSpec:
    """What a keeper asks for. ``idempotency_key`` names the effect: asking twice returns the
    first intent."""

    idempotency_key: str
    role: str
    chain_id: int
    sender: str
    target: str
    calldata: str
    value: int = 0
    notional: int | None = None
    fee_policy: dict[str, int] = field(default_factory=dict)


@dataclass
class CrashHook:
    """``KEEPER_CRASH_AT=<step>[:<n>]``: ``os._exit(137)`` right after the n-th commit of
    ``step`` (n defaults to 1). For the crash-safety tests; inert when unset."""

    step: str | None = None
    nth: int = 1
    seen: int = 0

    @classmethod
    def from_env(cls) -> CrashHook:
        spec = os.environ.get("KEEPER_CRASH_AT", "").strip()
        if not spec:
            return cls()
        step, _, nth = spec.partition(":")
        if step not in CRASH_POINTS:
            raise ValueError(
                f"KEEPER_CRASH_AT={spec!r}: step must be one of {sorted(CRASH_POINTS)}"
            )
        return cls(step, int(nth or 1))

    def __call__(self, step: str) -> None:
        if step != self.step:
            return
        self.seen += 1
        if self.seen >= self.nth:
            os._exit(137)


class Pipeline:
    """Runs intents of the accounts it holds signers for, on the chain of ``node``."""

    def __init__(
        self,
        store: Store,
        node: Node,
        signers: Iterable[Signer],
        settings: KeeperSettings,
        decoder: RevertDecoder | None = None,
        worker_id: str | None = None,
        crash: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.node = node
        self.settings = settings
        self.signers = {s.address.lower(): s for s in signers}
        self.decoder = decoder or RevertDecoder.from_artifacts(settings.artifacts_path)
        self.worker_id = worker_id or f"pid-{os.getpid()}"
        self.crash = crash or CrashHook.from_env()
        self.chain_id = node.chain_id
        self.confirmations = settings.confirmations_for(self.chain_id)
        self._head = -1
        self._latest_nonce: dict[str, int] = {}

    # ==================================================================================
    # submission and start-up
    # ==================================================================================

    def submit(self, spec: IntentSpec) -> TxIntent:
        """Record an intent (status ``pending``); the same idempotency key returns the first."""
        return submit_intent(self.store, spec)

    def reconcile_nonces(self) -> dict[str, int]:
        """Align each account's allocator with the node: never below the node's pending count
        (someone else used the account) nor below our own highest allocated nonce + 1 (our
        in-flight transactions may have been dropped by the node; they will be re-sent)."""
        out = {}
        for account in self.signers:
            pending = self.node.tx_count(account, "pending")
            latest = self.node.tx_count(account, "latest")
            for attempt in range(3):  # replicas starting together may race on the insert
                try:
                    stored, nxt = self._reconcile_one(account, pending)
                    break
                except IntegrityError:
                    if attempt == 2:
                        raise
            if pending > stored and stored:
                log.warning("nonce.external_use", account=account, stored=stored, node=pending)
            log.info("nonce.reconciled", account=account, next=nxt, pending=pending, latest=latest)
            out[account] = nxt
        return out

    def _reconcile_one(self, account: str, pending: int) -> tuple[int, int]:
        with self.store.transaction() as s:
            row = self._allocator_row(s, account)
            ours = s.scalar(
                select(func.max(TxIntent.nonce)).where(
                    TxIntent.chain_id == self.chain_id, TxIntent.sender == account
                )
            )
            stored = row.next_nonce if row is not None else 0
            nxt = max(stored, pending, (ours + 1) if ours is not None else 0)
            if row is None:
                s.add(NonceAllocator(chain_id=self.chain_id, account=account, next_nonce=nxt))
            else:
                row.next_nonce = nxt
        return stored, nxt

    # ==================================================================================
    # the worker loop
    # ==================================================================================

    def run_once(self) -> int:
        """One pass: advance up to ``batch_size`` intents per status, earliest step first, so
        that a whole batch is built, signed and broadcast before any receipt is awaited.
        Returns the number of steps done."""
        self._refresh_head()
        done = 0
        for status in ACTIVE:
            if status == "broadcast":
                self._refresh_head()
            for _ in range(self.settings.batch_size):
                if not self._step(status):
                    break
                done += 1
        return done

    def run(self, until_idle: bool = False, max_seconds: float | None = None) -> None:
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        while deadline is None or time.monotonic() < deadline:
            done = self.run_once()
            if until_idle and done == 0 and self.active_count() == 0:
                return
            if done == 0:
                time.sleep(self.settings.poll_interval_s)

    def active_count(self) -> int:
        with self.store.sessions() as s:
            return int(
                s.scalar(
                    select(func.count(TxIntent.id)).where(
                        TxIntent.status.in_(ACTIVE),
                        TxIntent.chain_id == self.chain_id,
                        TxIntent.sender.in_(list(self.signers)),
                    )
                )
                or 0
            )

    def _refresh_head(self) -> None:
        head = self.node.block_number()
        if head != self._head:
            self._head = head
            self._latest_nonce.clear()

    def _latest(self, account: str) -> int:
        if account not in self._latest_nonce:
            self._latest_nonce[account] = self.node.tx_count(account, "latest")
        return self._latest_nonce[account]

    def _claim(self, s: Session, status: str) -> TxIntent | None:
        q = select(TxIntent).where(
            TxIntent.status == status,
            TxIntent.chain_id == self.chain_id,
            TxIntent.sender.in_(list(self.signers)),
            TxIntent.next_try_at <= utcnow(),
        )
        if status in ("broadcast", "mined"):
            q = q.where(TxIntent.checked_block < self._head)
        q = q.order_by(TxIntent.nonce, TxIntent.id).limit(1).with_for_update(skip_locked=True)
        return s.scalars(q).first()

    def _step(self, status: str) -> bool:
        """Claim one intent in ``status`` and run its step in one DB transaction."""
        step = STEP_OF[status]
        started = time.perf_counter()
        intent_id: int | None = None
        try:
            with self.store.transaction() as s:
                intent = self._claim(s, status)
                if intent is None:
                    return False
                intent_id = intent.id
                outcome = getattr(self, f"_{step}")(s, intent)
                intent.retries = 0
        except (Retry, NodeError, OSError) as err:
            if intent_id is None:
                raise
            self._backoff(intent_id, step, err)
            return True
        PIPELINE_STEPS.labels(step, outcome).inc()
        PIPELINE_STEP_SECONDS.labels(step).observe(time.perf_counter() - started)
        self.crash(step)
        return True

    def _backoff(self, intent_id: int, step: str, err: Exception) -> None:
        with self.store.transaction() as s:
            intent = s.get(TxIntent, intent_id, with_for_update=True)
            if intent is None:
                return
            intent.retries += 1
            delay = min(self.settings.retry_backoff_s * 2 ** min(intent.retries - 1, 6), 60.0)
            intent.next_try_at = utcnow() + dt.timedelta(seconds=delay)
            intent.error = f"{type(err).__name__}: {err}"
            self._log(s, intent, step, "retry", error=intent.error, delay_s=delay)
        PIPELINE_STEPS.labels(step, "retry").inc()
        log.warning("step.retry", intent=intent_id, step=step, error=str(err))

    def _log(self, s: Session, intent: TxIntent, step: str, outcome: str, **detail: Any) -> str:
        s.add(
            StepLog(
                intent_id=intent.id,
                step=step,
                outcome=outcome,
                detail=detail,
                worker=self.worker_id,
            )
        )
        fields: dict[str, Any] = {
            "intent": intent.id,
            "key": intent.idempotency_key,
            "step": step,
            "outcome": outcome,
            "status": intent.status,
            "nonce": intent.nonce,
        }
        fields.update(detail)
        log.info("step", **fields)
        return outcome

    # ==================================================================================
    # Build
    # ==================================================================================

    def _fee_cap(self, intent: TxIntent) -> int:
        return min(
            self.settings.max_fee_cap_wei,
            int(intent.fee_policy.get("max_fee_cap_wei", self.settings.max_fee_cap_wei)),
        )

    def _suggest(self, intent: TxIntent) -> feelib.Fees:
        floor = int(intent.fee_policy.get("priority_fee_wei", self.settings.priority_fee_wei))
        return feelib.suggest_fees(
            self.node.fee_history(self.settings.fee_history_blocks), floor, self._fee_cap(intent)
        )

    def _build(self, s: Session, intent: TxIntent) -> str:
        tx = {
            "from": intent.sender,
            "to": intent.target,
            "data": intent.calldata,
            "value": intent.value,
        }
        try:
            self.node.call(tx, "pending")
            gas = self.node.estimate_gas(tx, "pending")
        except ExecutionReverted as err:
            reason = self.decoder.describe(revert_data(err))
            intent.status = "failed"
            intent.error = f"simulation reverted: {reason}"
            return self._log(s, intent, "build", "reverted", reason=reason)
        fees = self._suggest(intent)
        intent.gas_limit = gas * (10_000 + self.settings.gas_margin_bps) // 10_000
        intent.max_fee_per_gas = fees.max_fee_per_gas
        intent.max_priority_fee_per_gas = fees.max_priority_fee_per_gas
        intent.fee_cap = self._fee_cap(intent)
        intent.nonce = self._allocate_nonce(s, intent.sender)
        intent.status = "built"
        intent.error = None
        return self._log(
            s,
            intent,
            "build",
            "ok",
            gas=intent.gas_limit,
            max_fee=fees.max_fee_per_gas,
            tip=fees.max_priority_fee_per_gas,
        )

    def _allocator_row(self, s: Session, account: str) -> NonceAllocator | None:
        q = select(NonceAllocator).where(
            NonceAllocator.chain_id == self.chain_id, NonceAllocator.account == account
        )
        return s.scalars(q.with_for_update()).first()

    def _allocate_nonce(self, s: Session, account: str) -> int:
        row = self._allocator_row(s, account)
        if row is None:
            row = NonceAllocator(
                chain_id=self.chain_id,
                account=account,
                next_nonce=self.node.tx_count(account, "pending"),
            )
            s.add(row)
        nonce = row.next_nonce
        row.next_nonce = nonce + 1
        return nonce

    # ==================================================================================
    # Audit
    # ==================================================================================

    def _audit(self, s: Session, intent: TxIntent) -> str:
        day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        approved = s.scalars(
            select(TxIntent.notional).where(
                TxIntent.role == intent.role,
                TxIntent.audited_at >= day,
                TxIntent.status.not_in(("rejected", "invalid")),
                TxIntent.id != intent.id,
            )
        ).all()
        decision = audit(
            AuditRequest(
                kind=intent.kind,
                role=intent.role,
                sender=intent.sender,
                target=intent.target,
                calldata=intent.calldata,
                value=intent.value,
                notional=intent.notional,
                max_fee_per_gas=int(intent.max_fee_per_gas or 0),
                fee_cap=int(intent.fee_cap or 0),
            ),
            self.settings.policy,
            sum(int(n) for n in approved),
        )
        if not decision.allowed:
            intent.status = "rejected"
            intent.error = f"audit denied by rule {decision.rule}: {decision.detail}"
            self._release_nonce(s, intent, "rejected")
            return self._log(
                s, intent, "audit", "denied", rule=decision.rule, detail=decision.detail
            )
        intent.status = "audited"
        intent.audited_at = utcnow()
        return self._log(s, intent, "audit", "ok", rule=decision.rule)

    def _release_nonce(self, s: Session, intent: TxIntent, why: str) -> None:
        """An intent given up after its nonce was allocated: a filler keeps the nonce
        sequence gap-free (0-value self-send, its own intent through the same steps)."""
        if intent.nonce is None or any(a.status == "broadcast" for a in intent.attempts):
            return
        if intent.kind == "filler":  # a refused filler: no filler for the filler
            log.error("nonce.gap", account=intent.sender, nonce=intent.nonce, intent=intent.id)
            return
        filler = TxIntent(
            idempotency_key=f"filler:{self.chain_id}:{intent.sender}:{intent.nonce}:{intent.id}",
            kind="filler",
            role=intent.role,
            chain_id=intent.chain_id,
            sender=intent.sender,
            target=intent.sender,
            calldata="0x",
            value=0,
            notional=0,
            fee_policy={},
            status="built",
            nonce=intent.nonce,
            gas_limit=FILLER_GAS,
            max_fee_per_gas=intent.max_fee_per_gas,
            max_priority_fee_per_gas=intent.max_priority_fee_per_gas,
            fee_cap=intent.fee_cap,
        )
        s.add(filler)
        s.flush()
        self._log(
            s,
            intent,
            "audit" if why == "rejected" else "validate",
            "nonce-filler",
            filler=filler.id,
            nonce=intent.nonce,
        )

    # ==================================================================================
    # Sign
    # ==================================================================================

    def _sign(self, s: Session, intent: TxIntent) -> str:
        signer = self.signers[intent.sender.lower()]
        assert intent.nonce is not None and intent.gas_limit is not None
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": intent.nonce,
            "to": to_checksum_address(intent.target),
            "value": intent.value,
            "data": intent.calldata,
            "gas": intent.gas_limit,
            "maxFeePerGas": intent.max_fee_per_gas,
            "maxPriorityFeePerGas": intent.max_priority_fee_per_gas,
        }
        raw = signer.sign_transaction(tx)
        attempt = TxAttempt(
            intent_id=intent.id,
            tx_hash="0x" + keccak(raw).hex(),
            raw_tx=HexBytes(raw).to_0x_hex(),
            nonce=intent.nonce,
            max_fee_per_gas=int(intent.max_fee_per_gas or 0),
            max_priority_fee_per_gas=int(intent.max_priority_fee_per_gas or 0),
            gas_limit=intent.gas_limit,
            status="signed",
        )
        s.add(attempt)
        s.flush()
        intent.current_attempt_id = attempt.id
        intent.status = "signed"
        return self._log(s, intent, "sign", "ok", attempt=attempt.id, tx_hash=attempt.tx_hash)

    # ==================================================================================
    # Validate
    # ==================================================================================

    def _validate(self, s: Session, intent: TxIntent) -> str:
        attempt = s.get(TxAttempt, intent.current_attempt_id)
        assert attempt is not None and intent.nonce is not None and intent.gas_limit is not None
        problems = check_signed(
            attempt.raw_tx,
            Expected(
                chain_id=self.chain_id,
                sender=intent.sender,
                nonce=intent.nonce,
                target=intent.target,
                value=intent.value,
                data=intent.calldata,
                gas=intent.gas_limit,
                max_fee_per_gas=int(intent.max_fee_per_gas or 0),
                max_priority_fee_per_gas=int(intent.max_priority_fee_per_gas or 0),
                fee_cap=int(intent.fee_cap or 0),
            ),
        )
        if "0x" + keccak(HexBytes(attempt.raw_tx)).hex() != attempt.tx_hash:
            problems.append("recorded hash does not match the signed bytes")
        if problems:
            attempt.status = "invalid"
            intent.error = "validate refused: " + "; ".join(problems)
            if any(a.status in ("broadcast", "replaced") for a in intent.attempts):
                # a replacement was refused; the earlier attempt may still be mined
                intent.status = "broadcast"
                intent.checked_block = -1
            else:
                intent.status = "invalid"
                self._release_nonce(s, intent, "invalid")
            return self._log(s, intent, "validate", "refused", problems=problems)
        attempt.status = "validated"
        intent.status = "validated"
        return self._log(s, intent, "validate", "ok", attempt=attempt.id)

    # ==================================================================================
    # Broadcast
    # ==================================================================================

    def _broadcast(self, s: Session, intent: TxIntent) -> str:
        attempt = s.get(TxAttempt, intent.current_attempt_id)
        assert attempt is not None
        outcome = "sent"
        try:
            self.node.send_raw(attempt.raw_tx)
        except AlreadyKnown:
            outcome = "already-known"
        except NonceTooLow:
            return self._nonce_used(s, intent, "broadcast")
        except (ReplacementUnderpriced, FeeTooLow) as err:
            return self._replace(s, intent, "broadcast", reason=type(err).__name__)
        except InsufficientFunds as err:
            raise Retry(f"insufficient funds for {attempt.tx_hash}: {err}") from err
        self.crash("sent")
        attempt.status = "broadcast"
        attempt.sent_at_block = self.node.block_number()
        intent.status = "broadcast"
        intent.checked_block = -1
        intent.error = None
        return self._log(s, intent, "broadcast", outcome, tx_hash=attempt.tx_hash, block=self._head)

    def _find_mined(self, intent: TxIntent) -> tuple[TxAttempt, dict[str, Any]] | None:
        for attempt in reversed(intent.attempts):
            if attempt.status in ("signed", "invalid"):
                continue
            receipt = self.node.receipt(attempt.tx_hash)
            if receipt is not None and receipt.get("blockHash"):
                return attempt, receipt
        return None

    def _record_mined(
        self, s: Session, intent: TxIntent, attempt: TxAttempt, receipt: dict[str, Any], step: str
    ) -> str:
        for a in intent.attempts:
            if a.id != attempt.id and a.status in ("broadcast", "validated", "mined"):
                a.status = "replaced"
        attempt.status = "mined"
        intent.mined_attempt_id = attempt.id
        intent.current_attempt_id = attempt.id
        intent.mined_block = int(receipt["blockNumber"], 16)
        intent.mined_block_hash = receipt["blockHash"]
        intent.status = "mined"
        intent.checked_block = -1
        return self._log(
            s, intent, step, "mined", tx_hash=attempt.tx_hash, block=intent.mined_block
        )

    def _nonce_used(self, s: Session, intent: TxIntent, step: str) -> str:
        """The chain is past our nonce: either one of our attempts was mined, or (proved by
        the absence of all of our receipts) a foreign transaction used it: build again."""
        found = self._find_mined(intent)
        if found is not None:
            return self._record_mined(s, intent, *found, step=step)
        for a in intent.attempts:
            if a.status not in ("invalid",):
                a.status = "dropped"
        old = intent.nonce
        intent.nonce = None
        intent.current_attempt_id = None
        intent.status = "pending"
        return self._log(s, intent, step, "nonce-taken", old_nonce=old)

    # ==================================================================================
    # Watch (broadcast, not yet mined): replacement of stuck attempts
    # ==================================================================================

    def _watch(self, s: Session, intent: TxIntent) -> str:
        assert intent.nonce is not None
        intent.checked_block = self._head
        current = s.get(TxAttempt, intent.current_attempt_id)
        assert current is not None
        waited = self._head - int(current.sent_at_block or self._head)
        if self._latest(intent.sender) > intent.nonce:
            found = self._find_mined(intent)
            if found is not None:
                return self._record_mined(s, intent, *found, step="watch")
            if waited >= self.settings.replace_after_blocks:
                return self._nonce_used(s, intent, "watch")
            return "waiting"
        if waited >= self.settings.replace_after_blocks:
            return self._replace(s, intent, "watch", reason=f"not mined after {waited} blocks")
        return "waiting"

    def _replace(self, s: Session, intent: TxIntent, step: str, reason: str) -> str:
        """Same nonce, fees bumped by at least fee_bump_bps (12.5%), at most the fee cap. At
        the cap the same signed transaction is broadcast again instead."""
        old = feelib.Fees(
            int(intent.max_fee_per_gas or 0), int(intent.max_priority_fee_per_gas or 0)
        )
        bumped = feelib.bump_fees(
            old, self._suggest(intent), self.settings.fee_bump_bps, int(intent.fee_cap or 0)
        )
        if bumped is None:
            intent.status = "validated"
            return self._log(s, intent, step, "rebroadcast-at-cap", reason=reason)
        intent.max_fee_per_gas = bumped.max_fee_per_gas
        intent.max_priority_fee_per_gas = bumped.max_priority_fee_per_gas
        intent.status = "audited"  # Sign -> Validate -> Broadcast again, same nonce
        return self._log(
            s,
            intent,
            step,
            "replace",
            reason=reason,
            max_fee=bumped.max_fee_per_gas,
            tip=bumped.max_priority_fee_per_gas,
        )

    # ==================================================================================
    # Confirm
    # ==================================================================================

    def _confirm(self, s: Session, intent: TxIntent) -> str:
        intent.checked_block = self._head
        attempt = s.get(TxAttempt, intent.mined_attempt_id)
        assert attempt is not None and intent.mined_block is not None
        receipt = self.node.receipt(attempt.tx_hash)
        if receipt is None or receipt.get("blockHash") != intent.mined_block_hash:
            found = self._find_mined(intent)
            if found is not None:
                out = self._record_mined(s, intent, *found, step="confirm")
                self._log(s, intent, "confirm", "reorg-moved")
                return out
            # reorged out: back to Broadcast with the same signed transaction (same nonce)
            attempt.status = "validated"
            intent.current_attempt_id = attempt.id
            intent.mined_attempt_id = None
            intent.mined_block = None
            intent.mined_block_hash = None
            intent.status = "validated"
            return self._log(s, intent, "confirm", "reorged", tx_hash=attempt.tx_hash)
        depth = self._head - intent.mined_block + 1
        if depth < self.confirmations:
            return "waiting"
        if self.node.block_hash(intent.mined_block) != intent.mined_block_hash:
            intent.checked_block = -1  # the receipt and the block disagree: look again
            return "not-canonical"
        ok = int(receipt.get("status", "0x1"), 16) == 1
        intent.status = "confirmed" if ok else "reverted"
        if not ok:
            intent.error = "mined but reverted"
        return self._log(
            s, intent, "confirm", intent.status, confirmations=depth, block=intent.mined_block
        )


def submit_intent(store: Store, spec: IntentSpec) -> TxIntent:
    """Insert an intent in its own transaction; an existing idempotency key wins."""
    existing = _by_key(store, spec.idempotency_key)
    if existing is not None:
        return existing
    try:
        with store.transaction() as s:
            intent = TxIntent(
                idempotency_key=spec.idempotency_key,
                kind="call",
                role=spec.role,
                chain_id=spec.chain_id,
                sender=spec.sender.lower(),
                target=spec.target.lower(),
                calldata=spec.calldata,
                value=spec.value,
                notional=spec.value if spec.notional is None else spec.notional,
                fee_policy=dict(spec.fee_policy),
                status="pending",
            )
            s.add(intent)
            s.flush()
            s.add(StepLog(intent_id=intent.id, step="submit", outcome="ok", detail={}))
        return intent
    except IntegrityError:
        found = _by_key(store, spec.idempotency_key)
        assert found is not None
        return found


def _by_key(store: Store, key: str) -> TxIntent | None:
    with store.sessions() as s:
        return s.scalars(select(TxIntent).where(TxIntent.idempotency_key == key)).first()
