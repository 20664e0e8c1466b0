"""The nonce allocator of one pipeline's chain: one row per (chain, account) holding the next
nonce to hand out, locked while a batch builds (``SELECT ... FOR UPDATE``) and handed out in
memory for the batch (``allocate``), written back by the batch's commit; at start-up aligned
with the node (``reconcile``). Separate from the pipeline's steps (keepers.tx.pipeline): it
reads and writes only its rows, in the session the step hands it."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keepers.store.models import NonceAllocator, TxIntent


class NonceBook:
    """``pending(account)``: the node's pending transaction count, the first nonce of an
    account this chain has no allocator row for yet."""

    def __init__(self, chain_id: int, pending: Callable[[str], int]) -> None:
        self.chain_id = chain_id
        self._pending = pending
        self._rows: dict[str, NonceAllocator] = {}  # the batch's locked rows, by account

    def start_batch(self) -> None:
        """A new batch (a new transaction): the rows are locked again at first use."""
        self._rows = {}

    def row(self, s: Session, account: str) -> NonceAllocator | None:
        q = select(NonceAllocator).where(
            NonceAllocator.chain_id == self.chain_id, NonceAllocator.account == account
        )
        return s.scalars(q.with_for_update()).first()

    def allocate(self, s: Session, account: str) -> int:
        """Next nonce of ``account``; the allocator row is locked once per batch and handed
        out in memory (batch allocation), written back by the batch's commit."""
        row = self._rows.get(account)
        if row is None:
            with s.no_autoflush:
                row = self.row(s, account)
            self._rows[account] = row  # type: ignore[assignment]
        if row is None:
            row = NonceAllocator(
                chain_id=self.chain_id,
                account=account,
                next_nonce=self._pending(account),
            )
            s.add(row)
            self._rows[account] = row
        nonce = row.next_nonce
        row.next_nonce = nonce + 1
        return nonce

    def reconcile(self, s: Session, account: str, pending: int) -> tuple[int, int]:
        """Align ``account``'s row with the node (``pending``) and our own highest nonce:
        returns (the stored next nonce before, the next nonce now)."""
        row = self.row(s, account)
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
