"""The transaction pipeline: Build -> Audit -> Sign -> Validate -> Broadcast -> Confirm.

Every transaction any keeper sends is a :class:`~keepers.store.models.TxIntent` that moves
through these steps. A step runs for a batch of intents in ONE database transaction: claim
the intents (``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so each intent is worked by
exactly one replica; SQLite is single-process), ask the node what the step needs in one
JSON-RPC batch, record every intent's new status and step-log row, commit. Only then does the
next step start. The exceptions: a batch claimed for Build goes on through Audit, Sign and
Validate in the same transaction (they call no node), so one commit records all four steps'
rows, and the signed transaction is committed validated before Broadcast sends it (a
transient failure in one of the later three commits what the batch got to); and a batch
claimed for Watch goes on to Confirm for the receipts already deep enough (Confirm only
reads the node; a failed read commits what Watch recorded). A process that dies anywhere
resumes from the last recorded status; a step that ran but did not commit simply runs again
(its node calls are all safe to repeat: simulations, re-sending the same signed bytes,
reading receipts).

Why the same effect is never sent twice: an intent gets one nonce at Build (from the per
(chain, account) allocator, in the Build transaction) and every attempt of that intent (the
first one, fee-bumped replacements, re-broadcasts after a reorg) is signed at that nonce, so
at most one of them can ever be mined. A nonce is only given up when the chain proves that a
transaction which is not ours used it; an intent refused after its nonce was allocated hands
the nonce to a 0-value self-send "filler" so later nonces are not blocked.

Where the steps live: `Pipeline` is one state machine whose steps share, inside one database
transaction per batch, the claim (row locks), the step log, the backoff, the batch's new
attempts, the hand-over of committed rows between claims and the nonce filler (Audit and
Validate both release a nonce). It is kept one object and its steps are written one module
per pair, each class extending the one before (keepers.tx.steps: batch, the state they share;
build, Build and Audit; sign, Sign and Validate; broadcast; confirm, Watch and Confirm); this
module is the last: the claim, the batch's transaction and the worker loop. What is separate
lives beside it: the intents asked for and their recording (keepers.tx.intents:
``IntentSpec``, ``submit_intent(s)``, re-exported here), the nonce allocator
(keepers.tx.nonces), the fault-injection hooks (keepers.tx.hooks), fees, the node calls, the
audit policy, validation, outcomes.

Statuses (the last step recorded) and the step that moves each one on:

    pending   --build-->     built | failed (simulation reverted, reason decoded)
    built     --audit-->     audited | rejected (policy rule named)
    audited   --sign-->      signed
    signed    --validate-->  validated | invalid (signed tx differs from what was built)
    validated --broadcast--> broadcast | mined (node: nonce too low, and the receipt is ours)
                             | audited (node: underpriced; fees bumped, signed again)
    broadcast --watch-->     mined | audited (not mined after N blocks: replacement, same
                             nonce, fees +12.5% up to the cap) | validated (at the cap: the
                             same bytes again) | pending (a foreign tx used the nonce)
    mined     --confirm-->   confirmed | reverted | validated (reorg: same nonce, same effect)

A transaction that trades on a pool (keepers.tx.relay.is_private) is broadcast to the private
relays of KEEPER_PRIVATE_RPC_URLS instead of the node (its attempt's ``route`` is stored), and
Watch follows it with the relay's status API instead of bumping it after N blocks: a relay drop
(FAILED, CANCELLED, UNKNOWN too long) with the nonce unused on chain and none of the intent's
hashes included goes ``broadcast --watch--> audited`` (fees bumped, the same nonce signed
again; ``validated`` at the fee cap) and is sent to the relay again. The public pool takes it
only when the operator allows it (KEEPER_PUBLIC_MEMPOOL_FALLBACK), with a warning.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.store.models import NonceAllocator, StepLog, TxIntent, utcnow
from keepers.store.rows import ATTEMPTS, INTENTS, AttemptRow, IntentRow, load_intents, write_changes
from keepers.store.statuses import INTENT
from keepers.tx.errors import NodeError, SignerConflict
from keepers.tx.hooks import (  # noqa: F401 - re-exported: the runner and the tests use them
    CRASH_POINTS,
    STEP_OF,
    CrashHook,
    HoldHook,
)
from keepers.tx.intents import (  # re-exported: every bot and the tests import them from here
    STEPLOG_INSERT,
    IntentSpec,
    submit_intent,
    submit_intents,
)
from keepers.tx.metrics import PIPELINE_STEP_SECONDS, PIPELINE_STEPS
from keepers.tx.outcome import IntentOutcome, Outcome, last_log_id, read_outcomes
from keepers.tx.steps.confirm import ConfirmSteps

log = get_logger("keepers.pipeline")

# the statuses and their transitions are data: keepers.store.statuses (INTENT)
FINAL = frozenset(s.value for s in INTENT.final)
ACTIVE = tuple(s.value for s in INTENT.active)
# A batch claimed before Validate goes on through these steps in its own transaction: they do
# not call the node (Sign may call a remote signer: repeating that sends nothing), so
# committing them together loses nothing a crash could need (the batch resumes where it was
# claimed and gets the same nonces back: the allocator row is in the same transaction); what
# is sent is still committed validated before Broadcast starts. On PostgreSQL the sender's
# nonce-allocator row stays locked until that commit, so replicas building for the same
# sender also wait for the batch's signing. (status reached, its step)
_LOCAL = (("built", "audit"), ("audited", "sign"), ("signed", "validate"))
# A batch claimed for Watch goes on to Confirm in the same transaction, for the intents whose
# receipt Watch just recorded at enough depth already (one confirmation on a local chain id:
# the block that holds it). Confirm only reads the node (the canonical hash at the mined
# block), so a crash before the commit repeats two reads; what it saves is a second claim,
# write and commit of the same rows. A node error in that read commits what Watch recorded,
# and the next pass confirms from ``mined``.
CHAINED_STEPS: dict[str, tuple[tuple[str, str], ...]] = {
    "pending": _LOCAL,
    "built": _LOCAL[1:],
    "audited": _LOCAL[2:],
    "broadcast": (("mined", "confirm"),),
}
# the batch's rows are written with Core on the session's connection: through the Session a
# statement on a mapped table is run as an ORM bulk statement (per-row mapper work)
_ATTEMPT_INSERT = insert(ATTEMPTS)


class Retry(Exception):
    """A transient condition a step (or a custom signer) may raise: the intent backs off and
    the step is retried; node errors (typed NodeError subclasses) are treated the same way."""


class Pipeline(ConfirmSteps):
    """Runs intents of the accounts it holds signers for, on the chain of ``node``."""

    # ==================================================================================
    # submission and start-up
    # ==================================================================================

    def submit(self, spec: IntentSpec) -> IntentRow:
        """Record an intent (status ``pending``); the same idempotency key returns the first."""
        return submit_intent(self.store, spec)

    def submit_many(self, specs: list[IntentSpec]) -> list[IntentRow]:
        """Record many intents in one DB transaction (same idempotency rule)."""
        return submit_intents(self.store, specs)

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
            return self.nonces.reconcile(s, account, pending)

    # ==================================================================================
    # the worker loop
    # ==================================================================================

    def run_once(self) -> int:
        """One pass over the statuses, earliest step first: a whole batch is built, signed and
        broadcast before any receipt is awaited. Returns the number of intents moved.

        Raises SignerConflict (and refuses every later pass) once another sender is seen
        using this keeper's key."""
        if self.halted is not None:
            raise self.halted
        if self._refresh_head() and self.settings.exclusive_signer:
            self._check_foreign_use()
        done = 0
        self._handoff = {}
        self._receipt_head = -1
        due = self._due_statuses()
        try:
            for status in ACTIVE:
                # nothing claimed yet in this pass and nothing due in this status when it began:
                # its claim would find nothing (a pass that finds no work is one query, not a
                # transaction per status; _due_statuses is a superset of what the claims take)
                if done == 0 and status not in due:
                    continue
                if status == "broadcast" and done:  # the head again after this pass's sends
                    self._refresh_head()
                while True:
                    n = self._phase(status)
                    done += n
                    if n < self.settings.batch_size:
                        break
        finally:
            self._handoff = None
        return done

    def run(self, until_idle: bool = False, max_seconds: float | None = None) -> bool:
        """Work intents until ``max_seconds`` pass (forever when None) or, with
        ``until_idle``, until no intent of this pipeline's accounts on its chain is left in a
        non-final status: ``broadcast`` (sent, awaiting its receipt) and ``mined`` (awaiting
        its confirmations) count as in flight, like every status before them.

        Returns True when it stopped with nothing in flight, False when the time limit ended
        it with intents still in flight: a caller that asked for ``until_idle`` must not
        read a False as done (the worker exits EXIT_NOT_IDLE then)."""
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        failures = 0
        while deadline is None or time.monotonic() < deadline:
            try:
                done = self.run_once()
                failures = 0
            except (NodeError, OSError) as err:  # node unreachable: back off, keep state
                failures += 1
                delay = min(self.settings.retry_backoff_s * 2 ** min(failures, 6), 30.0)
                log.warning("loop.node_error", error=str(err), delay_s=delay)
                time.sleep(delay)
                continue
            # checked after every pass, not only after one that found nothing: a pass that
            # confirmed the last intents ends the run without another pass over every status
            if until_idle and self.active_count() == 0:
                return True
            if done == 0:
                time.sleep(self.settings.poll_interval_s)
        # the time limit: a replica may have finished the rest meanwhile
        return self.active_count() == 0

    def wait_final(
        self,
        intent_id: int,
        timeout_s: float,
        *,
        drive: Callable[[], int | None] | None = None,
        poll_s: float | None = None,
        stop: threading.Event | None = None,
    ) -> IntentOutcome:
        """Drive the pipeline until the intent ends (or waits for gas funds, or the pipeline
        halts, or ``timeout_s`` passes) and return how it ended, as a type.

        ``drive`` runs the pipeline once (default: one pass, node errors waited out); pass a
        shared driver's ``drive`` when several threads wait on one pipeline. A halted
        pipeline (SignerConflict) is returned as ``halted``, not raised. ``out_of_gas_funds``
        is returned when the node refuses the intent for gas funds during this wait (a wait
        resumed after the keeper was funded tries again first).

        ``stop`` (the keeper is stopping): once it is set the wait ends after the pass in
        progress, with ``stopped``; every step the pass made is committed, so the intent is
        recorded where it stands (a sent transaction as broadcast) and a restart follows it."""
        step = drive or self._drive_once
        poll = self.settings.poll_interval_s if poll_s is None else poll_s
        deadline = time.monotonic() + timeout_s
        since = last_log_id(self.store, intent_id)  # a gas refusal counts from now on
        while True:
            found = read_outcomes(self.store, [intent_id], self.decoder, refused_after=since).get(
                intent_id
            )
            if found is not None:
                return found
            if self.halted is not None:
                return self._halted_outcome(intent_id, self.halted)
            if stop is not None and stop.is_set():
                with self.store.sessions() as s:
                    row = s.get(TxIntent, intent_id)
                    status = row.status if row is not None else "missing"
                log.warning("wait.stopped", intent=intent_id, status=status)
                return IntentOutcome(intent_id, Outcome.STOPPED, status)
            if time.monotonic() > deadline:
                with self.store.sessions() as s:
                    row = s.get(TxIntent, intent_id)
                    status = row.status if row is not None else "missing"
                    error = row.error if row is not None else None
                return IntentOutcome(intent_id, Outcome.TIMEOUT, status, error=error)
            try:
                moved = step()
            except SignerConflict as err:
                return self._halted_outcome(intent_id, err)
            if not moved:
                time.sleep(poll)

    def _drive_once(self) -> int:
        try:
            return self.run_once()
        except (NodeError, OSError) as err:  # node unreachable: wait, keep state
            log.warning("wait.node_error", error=str(err))
            time.sleep(min(self.settings.retry_backoff_s, 5.0))
            return 0

    def _halted_outcome(self, intent_id: int, err: SignerConflict) -> IntentOutcome:
        with self.store.sessions() as s:
            row = s.get(TxIntent, intent_id)
            status = row.status if row is not None else "missing"
        return IntentOutcome(intent_id, Outcome.HALTED, status, error=str(err), halted=err)

    def active_count(self) -> int:
        """Intents of this pipeline's accounts on its chain in a non-final status."""
        return sum(self.in_flight().values())

    def in_flight(self) -> dict[str, int]:
        """Non-final status -> how many intents of this pipeline's accounts on its chain are
        in it (statuses with none left out): what a time-limited run left behind."""
        with self.store.sessions() as s:
            rows = s.execute(
                select(TxIntent.status, func.count(TxIntent.id))
                .where(
                    TxIntent.status.in_(ACTIVE),
                    TxIntent.chain_id == self.chain_id,
                    TxIntent.sender.in_(list(self.signers)),
                )
                .group_by(TxIntent.status)
            ).all()
        return {status: int(n) for status, n in rows}

    def _refresh_head(self) -> bool:
        """Re-read the head; True when it moved (nonce caches are dropped then)."""
        head = self.node.block_number()
        if head != self._head:
            self._head = head
            self._head_moved_at = time.monotonic()
            self._latest_nonce.clear()
            return True
        return False

    def _check_foreign_use(self) -> None:
        """The chain's nonce of an account must never pass what this keeper (and its replicas,
        which share the allocator row) allocated: if it does, someone else signs with the key."""
        with self.store.sessions() as s:
            rows = s.scalars(
                select(NonceAllocator).where(
                    NonceAllocator.chain_id == self.chain_id,
                    NonceAllocator.account.in_(list(self.signers)),
                )
            ).all()
            allocated = {r.account: r.next_nonce for r in rows}
        for account, nxt in allocated.items():
            latest = self._latest(account)
            if latest > nxt:
                self._halt(
                    SignerConflict(
                        account,
                        f"the chain's nonce is {latest}, this keeper allocated up to {nxt - 1}",
                    )
                )

    def _due_statuses(self) -> frozenset[str]:
        """The active statuses holding an intent of this pipeline's accounts on its chain
        whose next try is due: what a claim in each status could take, in one query. A
        superset of the claims' own answers (Watch's and Confirm's head conditions and the
        locks are theirs), so a pass that skips a status missing here skips only a claim
        that would have found nothing."""
        c = INTENTS.c
        q = (
            select(c.status)
            .where(
                c.status.in_(ACTIVE),
                c.chain_id == self.chain_id,
                c.sender.in_(list(self.signers)),
                c.next_try_at <= utcnow(),
            )
            .distinct()
        )
        with self.store.sessions() as s:
            return frozenset(s.execute(q).scalars())

    def _claim(self, s: Session, status: str) -> list[IntentRow]:
        """Lock up to batch_size intents in ``status`` that no other replica holds, and load
        them with their attempts as plain rows (keepers.store.rows: no ORM objects)."""
        c = INTENTS.c
        q = select(INTENTS).where(
            c.status == status,
            c.chain_id == self.chain_id,
            c.sender.in_(list(self.signers)),
            c.next_try_at <= utcnow(),
        )
        if status == "broadcast" and self._head_stalled():
            # no new block to watch for: what has waited the stall time is watched again
            q = q.where((c.checked_block < self._head) | (c.updated_at <= self._stall_cut()))
        elif status in ("broadcast", "mined"):
            q = q.where(c.checked_block < self._head)
        q = (
            q.order_by(c.nonce, c.id)
            .limit(self.settings.batch_size)
            .with_for_update(skip_locked=True)
        )
        conn = s.connection()
        if not self._handoff:
            return load_intents(conn, q)
        # rows this pass committed (validated before Broadcast, broadcast before Watch): the
        # claim is the same query (conditions, locks, order, limit), for ids only, and the rows
        # this process holds exactly as it wrote them are not loaded again (the others are)
        ids = list(conn.execute(q.with_only_columns(c.id)).scalars())
        rows = {i: self._handoff.pop(i) for i in ids if i in self._handoff}
        missing = [i for i in ids if i not in rows]
        if missing:
            rows.update(
                (it.id, it) for it in load_intents(conn, select(INTENTS).where(c.id.in_(missing)))
            )
        return [rows[i] for i in ids]

    def _phase(self, status: str) -> int:
        """One DB transaction: claim a batch in ``status``, fetch what the step needs from the
        node in one round trip, run the step for each intent, write the step-log rows, commit.
        A batch claimed before Validate goes on in the same transaction through the later
        steps that touch nothing outside the database (CHAINED_STEPS: audit, sign, validate),
        so it commits validated, with every step's row written; a batch claimed for Watch
        goes on to Confirm for the receipts already deep enough.

        If one intent's step fails transiently (Retry, a node or signer error), that intent
        alone backs off. In the claimed step the whole batch rolls back (nothing of it is
        recorded; its node calls are all safe to repeat). In a later local step the batch
        stops where it got and commits that: a signer that is down leaves the batch built
        and audited, so the next passes sign it without simulating it again. Returns the
        number claimed."""
        self._steplog = []
        self._debug = log.is_enabled_for(logging.DEBUG)  # read per batch: logging may be reset
        self._new_attempts = []
        self._unsaved_attempts = {}
        self.nonces.start_batch()
        ran: list[tuple[str, list[str], float]] = []  # (step, outcomes, seconds)
        failed: tuple[int, str, Exception] | None = None
        try:
            with self.store.transaction() as s:
                intents = self._batch = self._claim(s, status)
                if not intents:
                    return 0
                work = intents
                for at, step in ((status, STEP_OF[status]), *CHAINED_STEPS.get(status, ())):
                    work = [it for it in work if it.status == at]
                    if ran and step == "confirm":
                        work = [it for it in work if self._deep_enough(it)]
                    if not work:
                        break
                    started = time.perf_counter()
                    prefetch = getattr(self, f"_prefetch_{step}", None)
                    try:
                        pre: dict[int, Any] = prefetch(work) if prefetch else {}
                    except (NodeError, OSError) as err:
                        if not ran:
                            raise  # the claimed step: the run loop backs off
                        # a chained step's read: keep what the batch got to, the next pass
                        # runs this step from the status it was committed in
                        log.warning("step.deferred", step=step, intents=len(work), error=str(err))
                        break
                    handler = getattr(self, f"_{step}")
                    outcomes = []
                    for intent in work:
                        try:
                            outcomes.append(handler(s, intent, pre.get(intent.id)))
                        except (Retry, NodeError, OSError) as err:
                            failed = (intent.id, step, err)
                            if not ran:
                                raise  # the claimed step: the whole batch rolls back
                            break  # a later local step: keep what the batch got to
                        if intent.retries:
                            intent.retries = 0
                    if outcomes:
                        ran.append((step, outcomes, time.perf_counter() - started))
                    if failed is not None:
                        break
                started = time.perf_counter()
                self._write_batch(s, intents)
                if self._steplog:
                    s.connection().execute(STEPLOG_INSERT, self._steplog)  # Core executemany
        except (Retry, NodeError, OSError):
            if failed is None:
                raise  # the batch's node round trip failed: the run loop backs off
            self._backoff(*failed)
            return 1
        finally:
            self._batch = []
        if self._handoff is not None:  # committed: the pass's later claims may take them
            self._handoff.update((it.id, it) for it in intents if it.status not in FINAL)
        written = time.perf_counter() - started  # the writes and the commit: shared
        for step, outcomes, seconds in ran:
            for outcome, n in Counter(outcomes).items():
                PIPELINE_STEPS.labels(step, outcome).inc(n)
            PIPELINE_STEP_SECONDS.labels(step).observe(
                (seconds + written / len(ran)) / len(outcomes)
            )
        for step, outcomes, _ in ran:
            self.crash(step, len(outcomes))
        if failed is not None:  # after the commit: its row is read with the batch's progress
            self._backoff(*failed)
            if self._handoff is not None:
                self._handoff.pop(failed[0], None)  # backed off in the store, not in memory
        return len(intents)

    def _write_batch(self, s: Session, intents: list[IntentRow]) -> None:
        """Write the batch's rows: the new attempts first (for their ids), then every changed
        intent and attempt in executemany UPDATEs by primary key (one per set of changed
        columns), all with Core on the session's connection. The batch was loaded as plain
        rows (keepers.store.rows), not ORM objects: identity map, instrumented attributes and
        the unit of work were about a third of the pipeline's CPU
        (docs/development/performance.md)."""
        conn = s.connection()
        if self._new_attempts:
            ids = (
                conn.execute(
                    _ATTEMPT_INSERT.returning(ATTEMPTS.c.id, sort_by_parameter_order=True),
                    [attempt for _, attempt in self._new_attempts],
                )
                .scalars()
                .all()
            )
            for (it, attempt), attempt_id in zip(self._new_attempts, ids, strict=True):
                it.current_attempt_id = attempt_id
                it.attempts.append(AttemptRow({**attempt, "id": attempt_id}))
        write_changes(conn, intents, utcnow())

    def _backoff(self, intent_id: int, step: str, err: Exception) -> None:
        with self.store.transaction() as s:
            intent = s.get(TxIntent, intent_id, with_for_update=True)
            if intent is None:
                return
            intent.retries += 1
            delay = min(self.settings.retry_backoff_s * 2 ** min(intent.retries - 1, 6), 60.0)
            intent.next_try_at = utcnow() + dt.timedelta(seconds=delay)
            intent.error = f"{type(err).__name__}: {err}"
            s.add(
                StepLog(
                    intent_id=intent.id,
                    step=step,
                    outcome="retry",
                    worker=self.worker_id,
                    # error_type: read by wait_final (InsufficientFunds: out of gas funds)
                    detail={
                        "error": intent.error,
                        "error_type": type(err).__name__,
                        "delay_s": delay,
                    },
                )
            )
        PIPELINE_STEPS.labels(step, "retry").inc()
        log.warning("step.retry", intent=intent_id, step=step, error=str(err), delay_s=delay)
