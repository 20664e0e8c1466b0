"""The pipeline's Watch and Confirm steps (keepers.tx.pipeline): a sent transaction followed until
it is mined (replaced when stuck; at a private relay, by its status API), then until it is deep
enough (or reorged out)."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from sqlalchemy.orm import Session

from keepers.core.logging import get_logger
from keepers.store.models import utcnow
from keepers.store.rows import IntentRow
from keepers.store.statuses import INTENT, transition
from keepers.store.statuses import IntentStatus as S
from keepers.tx.errors import NodeError
from keepers.tx.metrics import PRIVATE_DROPS
from keepers.tx.relay import (
    DROPPED,
    ROUTE_PRIVATE,
    RelayState,
    RelayUnreachable,
)
from keepers.tx.steps.broadcast import BroadcastSteps

log = get_logger("keepers.pipeline")


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


class ConfirmSteps(BroadcastSteps):
    """Watch and Confirm."""

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
