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

Why the steps stay in one module (about 1,300 lines): `Pipeline` is one state machine whose
steps share, inside one database transaction per batch, the claim (row locks), the step log,
the backoff, the batch's new attempts, the hand-over of committed rows between claims and the
nonce filler (Audit and Validate both release a nonce); split over modules (Build, Audit,
Sign, ...), each step would reach back into the others' private state. What is separate lives
beside it: the intents asked for and their recording (keepers.tx.intents: ``IntentSpec``,
``submit_intent(s)``, re-exported here), the nonce allocator (keepers.tx.nonces), the
fault-injection hooks (keepers.tx.hooks), fees, the node calls, the audit policy, validation,
outcomes.

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
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from hexbytes import HexBytes
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.core.settings import KeeperSettings
from keepers.store.db import Store
from keepers.store.models import NonceAllocator, StepLog, TxIntent, utcnow
from keepers.store.rows import ATTEMPTS, INTENTS, AttemptRow, IntentRow, load_intents, write_changes
from keepers.store.statuses import INTENT, transition
from keepers.store.statuses import IntentStatus as S
from keepers.tx import fees as feelib
from keepers.tx.errors import (
    AlreadyKnown,
    ExecutionReverted,
    FeeTooLow,
    NodeError,
    NonceTooLow,
    ReplacementUnderpriced,
    SignerConflict,
)
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
from keepers.tx.metrics import (
    PIPELINE_STEP_SECONDS,
    PIPELINE_STEPS,
    PRIVATE_DROPS,
    PRIVATE_FALLBACK,
    PRIVATE_SENT,
)
from keepers.tx.node import Node, revert_data, rpc_tx
from keepers.tx.nonces import NonceBook
from keepers.tx.outcome import IntentOutcome, Outcome, last_log_id, read_outcomes
from keepers.tx.policy import AuditRequest, audit
from keepers.tx.relay import (
    DROPPED,
    ROUTE_PRIVATE,
    ROUTE_PUBLIC,
    PrivateSubmissionRefused,
    Relay,
    RelayState,
    RelayUnreachable,
    is_private,
)
from keepers.tx.revert import RevertDecoder
from keepers.tx.signers import Signer
from keepers.tx.txcodec import keccak256
from keepers.tx.validate import Expected, check_signed

log = get_logger("keepers.pipeline")

# the statuses and their transitions are data: keepers.store.statuses (INTENT)
FINAL = frozenset(s.value for s in INTENT.final)
ACTIVE = tuple(s.value for s in INTENT.active)
FILLER_GAS = 21_000
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


class PrivateWatch:
    """What Watch read for a transaction at a private relay: the relay's state (None: no
    status API answered), and, when the relay gave it up, the receipts of every hash of
    its intent (the guard before its nonce is used again)."""

    __slots__ = ("dropped", "receipts", "state")

    def __init__(
        self,
        state: RelayState | None,
        receipts: dict[str, dict[str, Any] | None] | None = None,
        dropped: bool = False,
    ) -> None:
        self.state, self.receipts, self.dropped = state, receipts, dropped


class Retry(Exception):
    """A transient condition a step (or a custom signer) may raise: the intent backs off and
    the step is retried; node errors (typed NodeError subclasses) are treated the same way."""


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
        try:
            for status in ACTIVE:
                if status == "broadcast":
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

    def _halt(self, err: SignerConflict) -> None:
        self.halted = err
        log.critical("signer.conflict", account=err.account, error=str(err))
        raise err

    def _latest(self, account: str) -> int:
        if account not in self._latest_nonce:
            self._latest_nonce[account] = self.node.tx_count(account, "latest")
        return self._latest_nonce[account]

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

    # ==================================================================================
    # Build
    # ==================================================================================

    def _fee_cap(self, intent: IntentRow) -> int:
        return min(
            self.settings.max_fee_cap_wei,
            int(intent.fee_policy.get("max_fee_cap_wei", self.settings.max_fee_cap_wei)),
        )

    def _suggest(self, intent: IntentRow) -> feelib.Fees:
        floor = int(intent.fee_policy.get("priority_fee_wei", self.settings.priority_fee_wei))
        return feelib.suggest_fees(
            self.node.fee_history(self.settings.fee_history_blocks), floor, self._fee_cap(intent)
        )

    def _prefetch_build(self, intents: list[IntentRow]) -> dict[int, Any]:
        """eth_call (the simulation) and eth_estimateGas against the pending block, for the
        whole batch in one round trip."""
        calls: list[tuple[str, list[Any]]] = []
        for it in intents:
            tx = rpc_tx(
                {"from": it.sender, "to": it.target, "data": it.calldata, "value": it.value}
            )
            calls += [("eth_call", [tx, "pending"]), ("eth_estimateGas", [tx, "pending"])]
        results = self.node.batch(calls)
        return {it.id: (results[2 * i], results[2 * i + 1]) for i, it in enumerate(intents)}

    def _build(self, s: Session, intent: IntentRow, pre: tuple[Any, Any]) -> str:
        simulated, estimate = pre
        for res in (simulated, estimate):
            if isinstance(res, ExecutionReverted):
                data = revert_data(res)
                reason = self.decoder.describe(data)
                transition(INTENT, intent, S.FAILED)
                intent.error = f"simulation reverted: {reason}"
                return self._log(s, intent, "build", "reverted", reason=reason, data=data)
            if isinstance(res, NodeError):
                raise res
        gas = int(estimate, 16)
        fees = self._suggest(intent)
        intent.gas_limit = gas * (10_000 + self.settings.gas_margin_bps) // 10_000
        intent.max_fee_per_gas = fees.max_fee_per_gas
        intent.max_priority_fee_per_gas = fees.max_priority_fee_per_gas
        intent.fee_cap = self._fee_cap(intent)
        intent.nonce = self.nonces.allocate(s, intent.sender)
        transition(INTENT, intent, S.BUILT)
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

    # ==================================================================================
    # Audit
    # ==================================================================================

    def _audit(self, s: Session, intent: IntentRow, _pre: None = None) -> str:
        role = self.settings.policy.roles.get(intent.role)
        capped = role is not None and role.daily_notional_cap is not None and intent.kind == "call"
        day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
        if capped and self.store.dialect == "postgresql":
            # replicas audit one role's notional one at a time, so the cap holds across them
            s.execute(
                text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"notional:{intent.role}"}
            )
        if capped:
            # the batch's audits so far count: written first, as an ORM autoflush would
            write_changes(s.connection(), self._batch, utcnow())
        approved = (
            []
            if not capped
            else s.scalars(
                select(TxIntent.notional).where(
                    TxIntent.role == intent.role,
                    TxIntent.audited_at >= day,
                    TxIntent.status.not_in(("rejected", "invalid")),
                    TxIntent.id != intent.id,
                )
            ).all()
        )
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
            transition(INTENT, intent, S.REJECTED)
            intent.error = f"audit denied by rule {decision.rule}: {decision.detail}"
            self._release_nonce(s, intent, "rejected")
            return self._log(
                s, intent, "audit", "denied", rule=decision.rule, detail=decision.detail
            )
        transition(INTENT, intent, S.AUDITED)
        intent.audited_at = utcnow()
        return self._log(s, intent, "audit", "ok", rule=decision.rule)

    def _release_nonce(self, s: Session, intent: IntentRow, why: str) -> None:
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
            status=INTENT.start(S.BUILT),
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

    def _sign(self, s: Session, intent: IntentRow, _pre: None = None) -> str:
        signer = self.signers[intent.sender.lower()]
        assert intent.nonce is not None and intent.gas_limit is not None
        tx = {
            "type": 2,
            "chainId": self.chain_id,
            "nonce": intent.nonce,
            "to": intent.target,  # lower case as stored; a remote signer gets it checksummed
            "value": intent.value,
            "data": intent.calldata,
            "gas": intent.gas_limit,
            "maxFeePerGas": intent.max_fee_per_gas,
            "maxPriorityFeePerGas": intent.max_priority_fee_per_gas,
        }
        raw = signer.sign_transaction(tx)
        tx_hash = "0x" + keccak256(raw).hex()
        attempt = {
            "intent_id": intent.id,
            "tx_hash": tx_hash,
            "raw_tx": HexBytes(raw).to_0x_hex(),
            "nonce": intent.nonce,
            "max_fee_per_gas": int(intent.max_fee_per_gas or 0),
            "max_priority_fee_per_gas": int(intent.max_priority_fee_per_gas or 0),
            "gas_limit": intent.gas_limit,
            "status": "signed",
            "sent_at_block": None,
            "created_at": utcnow(),
        }
        self._new_attempts.append((intent, attempt))  # inserted with the batch (_write_batch)
        self._unsaved_attempts[intent.id] = attempt
        transition(INTENT, intent, S.SIGNED)
        return self._log(s, intent, "sign", "ok", tx_hash=tx_hash)

    # ==================================================================================
    # Validate
    # ==================================================================================

    def _validate(self, s: Session, intent: IntentRow, _pre: None = None) -> str:
        # signed in this transaction (its row is inserted at the batch's write) or stored
        fresh = self._unsaved_attempts.get(intent.id)
        stored: AttemptRow | None = None
        if fresh is not None:
            raw, tx_hash = fresh["raw_tx"], fresh["tx_hash"]
        else:
            stored = self._attempt(intent, intent.current_attempt_id)
            raw, tx_hash = stored.raw_tx, stored.tx_hash
        assert intent.nonce is not None and intent.gas_limit is not None
        problems = check_signed(
            raw,
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
        # a stored attempt's hash is checked against its bytes (a row written by a build that
        # crashed, or edited); one signed in this transaction was hashed from these bytes
        if stored is not None and "0x" + keccak256(HexBytes(raw)).hex() != tx_hash:
            problems.append("recorded hash does not match the signed bytes")
        status = "invalid" if problems else "validated"
        if fresh is not None:
            fresh["status"] = status
        else:
            assert stored is not None  # set above when nothing was signed in this transaction
            stored.status = status
        if problems:
            intent.error = "validate refused: " + "; ".join(problems)
            if any(a.status in ("broadcast", "replaced") for a in intent.attempts):
                # a replacement was refused; the earlier attempt may still be mined
                transition(INTENT, intent, S.BROADCAST)
                intent.checked_block = -1
            else:
                transition(INTENT, intent, S.INVALID)
                self._release_nonce(s, intent, "invalid")
            return self._log(s, intent, "validate", "refused", problems=problems)
        transition(INTENT, intent, S.VALIDATED)
        return self._log(s, intent, "validate", "ok", tx_hash=tx_hash)

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

    # ==================================================================================
    # Watch (broadcast, not yet mined): replacement of stuck attempts
    # ==================================================================================

    def _prefetch_watch(self, intents: list[IntentRow]) -> dict[int, Any]:
        """Receipts, in one round trip, of the intents whose nonce the chain has passed (and,
        per sender, the head at which its nonce last moved, as this process saw it)."""
        for sender in {it.sender for it in intents}:
            latest = self._latest(sender)
            seen = self._queue_moved.get(sender)
            if seen is None or seen[0] != latest:
                self._queue_moved[sender] = (latest, self._head)
        passed = [it for it in intents if self._latest(it.sender) > int(it.nonce or 0)]
        receipts = self._receipts([a for it in passed for a in it.attempts])
        out: dict[int, Any] = {it.id: receipts for it in passed}
        out.update(self._relay_states([it for it in intents if it.id not in out]))
        return out

    def _relay_states(self, intents: list[IntentRow]) -> dict[int, PrivateWatch]:
        """The relay's status of each private transaction whose nonce the chain has not
        passed; for one the relay gave up, the receipts of all of its intent's hashes too
        (the guard before its nonce is signed again: none of them may be included)."""
        out: dict[int, PrivateWatch] = {}
        dropped: list[IntentRow] = []
        for it in intents:
            current = self._attempt(it, it.current_attempt_id)
            if current.route != ROUTE_PRIVATE or self.relay is None:
                continue
            try:
                state: RelayState | None = self.relay.status(current.tx_hash)
            except RelayUnreachable as err:
                log.warning("private.status_unreachable", intent=it.id, error=str(err))
                state = None
            out[it.id] = PrivateWatch(state)
            waited = self._head - int(current.sent_at_block or self._head)
            if state in DROPPED or (
                state == RelayState.UNKNOWN and waited >= self.settings.private_unknown_after_blocks
            ):
                dropped.append(it)
        if dropped:
            receipts = self._receipts([a for it in dropped for a in it.attempts])
            for it in dropped:
                out[it.id] = PrivateWatch(out[it.id].state, receipts, dropped=True)
        return out

    def _head_stalled(self) -> bool:
        """The head has not moved for ``stall_replace_after_s`` (as this process saw it)."""
        return time.monotonic() - self._head_moved_at >= self.settings.stall_replace_after_s

    def _stall_cut(self) -> dt.datetime:
        return utcnow() - dt.timedelta(seconds=self.settings.stall_replace_after_s)

    def _watch(
        self, s: Session, intent: IntentRow, receipts: dict[str, Any] | PrivateWatch | None
    ) -> str:
        assert intent.nonce is not None
        if isinstance(receipts, PrivateWatch):
            return self._watch_private(s, intent, receipts)
        if receipts is None and self._attempt(intent, intent.current_attempt_id).route == (
            ROUTE_PRIVATE
        ):
            # at a relay (none configured now: it was sent before a restart without one) and
            # the chain has not passed its nonce: no fee bump to the public pool
            intent.checked_block = self._head
            return "waiting"
        # untouched for the stall time while the head stood still too: waiting for blocks
        # that do not come would wait for ever (read before this step touches the row)
        stalled = self._head_stalled() and intent.updated_at <= self._stall_cut()
        intent.checked_block = self._head
        current = self._attempt(intent, intent.current_attempt_id)
        waited = self._head - int(current.sent_at_block or self._head)
        if receipts is not None:  # the chain is past our nonce
            found = self._find_mined(intent, receipts)
            if found is not None:
                return self._record_mined(s, intent, *found, step="watch")
            if (
                waited >= self.settings.replace_after_blocks
                or stalled
                or intent.id in self._nonce_passed
            ):
                return self._nonce_used(s, intent, "watch", receipts)
            return "waiting"
        # blocks for which the sender's nonce has not moved: while it moves, the chain is
        # mining this keeper's earlier transactions, and this one waits its turn behind them
        # (a burst mined over several blocks: automine mines one a block, a congested chain a
        # few); a fee bump would only pay more for a place it already has. Unknown to a
        # process that has just started until its first watch: it waits that long again.
        still = self._head - self._queue_moved.get(intent.sender, (0, self._head))[1]
        after = self.settings.replace_after_blocks
        if waited >= after and still >= after:
            return self._replace(
                s, intent, "watch",
                reason=f"not mined after {waited} blocks, the sender's nonce unmoved for {still}",
            )  # fmt: skip
        if stalled:
            idle = (utcnow() - intent.updated_at).total_seconds()
            return self._replace(
                s,
                intent,
                "watch",
                reason=f"not mined after {idle:.0f} s with the head still at block {self._head}",
            )
        return "waiting"

    def _watch_private(self, s: Session, intent: IntentRow, pw: PrivateWatch) -> str:
        """A transaction at a private relay whose nonce the chain has not passed: it waits
        while the relay offers it (PENDING; INCLUDED until the node serves the block), and is
        not bumped after N blocks as in the public pool (the relay retries it for its own
        window). Dropped by the relay (FAILED, CANCELLED, or UNKNOWN for
        private_unknown_after_blocks): not sent, as far as the chain goes, once the guard
        holds (the nonce unused, none of the intent's hashes included): signed again at the
        same nonce with fees bumped (the same bytes at the cap) and sent through the relay
        again. Never a gap (the nonce is re-used), never two effects (one nonce)."""
        intent.checked_block = self._head
        current = self._attempt(intent, intent.current_attempt_id)
        if not pw.dropped:
            return "waiting"
        found = self._find_mined(intent, pw.receipts)
        if found is not None:  # included after all: the node serves its receipt
            return self._record_mined(s, intent, *found, step="watch")
        current.status = "relay-dropped"
        state = str(pw.state)
        PRIVATE_DROPS.labels(state).inc()
        waited = self._head - int(current.sent_at_block or self._head)
        log.warning(
            "private.dropped", intent=intent.id, key=intent.idempotency_key,
            nonce=intent.nonce, tx_hash=current.tx_hash, relay_status=state, blocks=waited,
        )  # fmt: skip
        self._log(
            s, intent, "watch", "relay-dropped",
            tx_hash=current.tx_hash, relay_status=state, blocks=waited, nonce=intent.nonce,
        )  # fmt: skip
        return self._replace(s, intent, "watch", reason=f"dropped by the private relay ({state})")

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

    # ==================================================================================
    # Confirm
    # ==================================================================================

    def _prefetch_confirm(self, intents: list[IntentRow]) -> dict[int, Any]:
        """The canonical hash at each mined block (one trip, each block read once however many
        of the batch it holds). A block hash fixes the block's transactions, so an unchanged
        hash means the receipt still stands; only intents whose block changed need their
        receipts again (a second trip, after a reorg)."""
        numbers = sorted({int(it.mined_block or 0) for it in intents})  # a block read once
        blocks = self.node.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        by_number: dict[int, str | None] = {}
        for n, block in zip(numbers, blocks, strict=True):
            if isinstance(block, NodeError):
                raise block
            by_number[n] = None if block is None else block["hash"]
        hashes = {it.id: by_number[int(it.mined_block or 0)] for it in intents}
        moved = [it for it in intents if hashes[it.id] not in (None, it.mined_block_hash)]
        receipts = self._receipts([a for it in moved for a in it.attempts]) if moved else {}
        return {it.id: (receipts, hashes[it.id]) for it in intents}

    def _known_head(self) -> int:
        """The head as this pass knows it: the one it read, or a higher block one of the
        receipts it read was mined in (the node served that block, so the chain reached it).
        Known for the pass only: the next pass reads the head again (a chain can also get
        shorter, in a reorg or on a reverted local node)."""
        return max(self._head, self._receipt_head)

    def _deep_enough(self, intent: IntentRow) -> bool:
        """The mined block is already ``confirmations`` deep at the head this pass knows."""
        head = self._known_head()
        return head - int(intent.mined_block or head + 1) + 1 >= self.confirmations

    def _confirm(
        self, s: Session, intent: IntentRow, pre: tuple[dict[str, Any], str | None]
    ) -> str:
        receipts, canonical_hash = pre
        intent.checked_block = self._head
        attempt = self._attempt(intent, intent.mined_attempt_id)
        assert intent.mined_block is not None
        if canonical_hash is None:
            # no block at that height yet: a node between executing a block and storing it
            # (anvil), or a load-balanced backend behind the one that served the receipt. A
            # reorg replaces the block; a missing one is read again at the next head
            return "waiting"
        if canonical_hash != intent.mined_block_hash:
            found = self._find_mined(intent, receipts)
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
            intent.receipt_status = None
            transition(INTENT, intent, S.VALIDATED)
            return self._log(s, intent, "confirm", "reorged", tx_hash=attempt.tx_hash)
        depth = self._known_head() - intent.mined_block + 1
        if depth < self.confirmations:
            return "waiting"
        ok = intent.receipt_status == 1
        transition(INTENT, intent, S.CONFIRMED if ok else S.REVERTED)
        if not ok:
            intent.error = "mined but reverted"
        return self._log(
            s, intent, "confirm", intent.status, confirmations=depth, block=intent.mined_block
        )
