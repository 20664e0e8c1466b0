"""The three persisted state machines: transaction intents, fund plans, cross-chain moves.

Each machine is one ``StrEnum`` of its statuses, its allowed transitions as data (status ->
the statuses it may move to), and the same list as a CHECK constraint on its column
(migration 0006). Every place that changes a status calls :func:`transition`, which refuses a
move the table does not allow with :class:`IllegalTransition` (naming machine, from, to).

Why here and not next to each machine (``keepers/tx/pipeline.py``, ``keepers/fund/``,
``keepers/crosschain/moves.py``): the store's models and its migration need the status lists
for the CHECK constraints, and ``store/`` is the layer every slice already imports while it
imports none of them; one module also lets a reader compare the three machines at a glance.
The diagrams that explain each step stay in the machines' own module docstrings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from keepers.core.errors import DomainError


class IntentStatus(StrEnum):
    """A transaction intent's last recorded step (keepers.tx.pipeline)."""

    PENDING = "pending"
    BUILT = "built"
    AUDITED = "audited"
    SIGNED = "signed"
    VALIDATED = "validated"
    BROADCAST = "broadcast"
    MINED = "mined"
    CONFIRMED = "confirmed"
    REVERTED = "reverted"  # mined, receipt status 0
    FAILED = "failed"  # the Build simulation reverted; nothing was signed
    REJECTED = "rejected"  # the audit policy refused it
    INVALID = "invalid"  # the signed transaction differs from what was built


class PlanStatus(StrEnum):
    """A fund plan's status (keepers.fund.bot); cross-chain approvals use ``proposed`` rows."""

    PROPOSED = "proposed"
    BLOCKED = "blocked"  # risk check blocked or skipped it
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ABORTED = "aborted"  # simulation failed, paused: nothing (more) sent
    EXECUTED = "executed"  # every action succeeded
    PARTIAL = "partial"  # some actions failed
    FAILED = "failed"  # every action failed
    STALE = "stale"  # the fund moved under it: it no longer fits (keepers.fund.lifecycle)


class MoveState(StrEnum):
    """A cross-chain move's next step, or its end (keepers.crosschain.moves)."""

    AWAITING_APPROVAL = "awaiting_approval"
    TRANSFER_OUT = "transfer_out"
    CROSS = "cross"
    TRANSFER_IN = "transfer_in"
    INVEST = "invest"
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"
    EXPIRED = "expired"


_I, _P, _M = IntentStatus, PlanStatus, MoveState
S = TypeVar("S", bound=StrEnum)


def _final(*states: S) -> dict[S, frozenset[S]]:
    """The rows of final states in a transition table: no way out of any of them."""
    return {state: frozenset() for state in states}


INTENT_TRANSITIONS: Mapping[IntentStatus, frozenset[IntentStatus]] = {
    _I.PENDING: frozenset({_I.BUILT, _I.FAILED}),
    _I.BUILT: frozenset({_I.AUDITED, _I.REJECTED}),
    _I.AUDITED: frozenset({_I.SIGNED}),
    # invalid replacement while an earlier attempt is out: back to watching it (broadcast)
    _I.SIGNED: frozenset({_I.VALIDATED, _I.INVALID, _I.BROADCAST}),
    # node: sent | nonce used by our mined attempt | underpriced (re-sign) | at the fee cap
    # (same bytes again) | nonce used by a foreign tx (build again)
    _I.VALIDATED: frozenset({_I.BROADCAST, _I.MINED, _I.AUDITED, _I.VALIDATED, _I.PENDING}),
    _I.BROADCAST: frozenset({_I.MINED, _I.AUDITED, _I.VALIDATED, _I.PENDING}),
    # deep enough | reorg moved it to another block | reorged out (same bytes again)
    _I.MINED: frozenset({_I.CONFIRMED, _I.REVERTED, _I.MINED, _I.VALIDATED}),
    **_final(_I.CONFIRMED, _I.REVERTED, _I.FAILED, _I.REJECTED, _I.INVALID),
}

PLAN_TRANSITIONS: Mapping[PlanStatus, frozenset[PlanStatus]] = {
    # stale (any status still in flight): the fund moved under the plan (keepers.fund.lifecycle);
    # -> aborted: a plan of another deployment, ended before any simulation (keepers.fund.bot)
    _P.PROPOSED: frozenset({_P.BLOCKED, _P.PENDING_APPROVAL, _P.ABORTED, _P.STALE}),
    _P.PENDING_APPROVAL: frozenset(
        {_P.PENDING_APPROVAL, _P.APPROVED, _P.REJECTED, _P.EXPIRED, _P.ABORTED, _P.STALE}
    ),
    # approved -> approved: execution paused (keeper out of gas funds), resumed next tick;
    # approved -> expired: its executor deadline passed before it could run
    _P.APPROVED: frozenset(
        {_P.APPROVED, _P.ABORTED, _P.EXECUTED, _P.PARTIAL, _P.FAILED, _P.STALE, _P.EXPIRED}
    ),
    **_final(
        _P.BLOCKED,
        _P.REJECTED,
        _P.EXPIRED,
        _P.ABORTED,
        _P.EXECUTED,
        _P.PARTIAL,
        _P.FAILED,
        _P.STALE,
    ),
}

MOVE_TRANSITIONS: Mapping[MoveState, frozenset[MoveState]] = {
    # failed: the approval check itself errored max_attempts times (MoveEngine._failure)
    _M.AWAITING_APPROVAL: frozenset({_M.TRANSFER_OUT, _M.REJECTED, _M.EXPIRED, _M.FAILED}),
    _M.TRANSFER_OUT: frozenset({_M.CROSS, _M.FAILED}),
    _M.CROSS: frozenset({_M.TRANSFER_IN, _M.FAILED}),
    _M.TRANSFER_IN: frozenset({_M.INVEST, _M.FAILED}),
    _M.INVEST: frozenset({_M.DONE, _M.FAILED}),
    **_final(_M.DONE, _M.FAILED, _M.REJECTED, _M.EXPIRED),
}


class IllegalTransition(DomainError):
    """A status change the machine's transition table does not allow."""

    def __init__(self, machine: str, current: str, new: str) -> None:
        self.machine, self.current, self.new = machine, current, new
        super().__init__(f"{machine}: {current!r} -> {new!r} is not an allowed transition")


# (machine name, current, new) -> the new status, for transitions found allowed
_ALLOWED: dict[tuple[str, str, str], Any] = {}


@dataclass(frozen=True)
class Machine(Generic[S]):
    """A state machine: its statuses, transition table, start statuses and stored column."""

    name: str
    states: type[S]
    table: Mapping[S, frozenset[S]]
    initial: frozenset[S]
    db_table: str
    column: str

    @property
    def final(self) -> frozenset[S]:
        return frozenset(s for s, nxt in self.table.items() if not nxt)

    @property
    def active(self) -> tuple[S, ...]:
        """The statuses that still move, in declaration order."""
        return tuple(s for s in self.states if self.table[s])

    def values(self) -> tuple[str, ...]:
        """Every status as stored (the CHECK constraint's list)."""
        return tuple(s.value for s in self.states)

    def check(self, current: str, new: str) -> S:
        """``new`` as a status when ``current -> new`` is allowed, else IllegalTransition.
        An allowed pair is remembered (the pipeline checks thousands a second)."""
        allowed = _ALLOWED.get((self.name, current, new))
        if allowed is not None:
            return allowed  # type: ignore[no-any-return]
        try:
            frm, to = self.states(current), self.states(new)
        except ValueError:
            raise IllegalTransition(self.name, current, new) from None
        if to not in self.table[frm]:
            raise IllegalTransition(self.name, current, new)
        _ALLOWED[(self.name, current, new)] = to
        return to

    def start(self, status: str) -> S:
        """``status`` as the first status of a new row (IllegalTransition if it cannot be)."""
        try:
            s = self.states(status)
        except ValueError:
            raise IllegalTransition(self.name, "(new)", status) from None
        if s not in self.initial:
            raise IllegalTransition(self.name, "(new)", status)
        return s


INTENT: Machine[IntentStatus] = Machine(
    "intent",
    IntentStatus,
    INTENT_TRANSITIONS,
    frozenset({_I.PENDING, _I.BUILT}),  # built: a nonce filler is created with its nonce
    "tx_intents",
    "status",
)
PLAN: Machine[PlanStatus] = Machine(
    "plan", PlanStatus, PLAN_TRANSITIONS, frozenset({_P.PROPOSED}), "plans", "status"
)
MOVE: Machine[MoveState] = Machine(
    "move",
    MoveState,
    MOVE_TRANSITIONS,
    frozenset({_M.AWAITING_APPROVAL, _M.TRANSFER_OUT}),
    "crosschain_moves",
    "state",
)
MACHINES: tuple[Machine[Any], ...] = (INTENT, PLAN, MOVE)


def transition(machine: Machine[S], row: Any, new: str) -> S:
    """Move ``row`` (a model instance) to ``new`` if the machine allows it from its current
    status; the one place any of the three statuses is changed."""
    to = machine.check(getattr(row, machine.column), new)
    setattr(row, machine.column, to.value)
    return to


def check_constraint_sql(machine: Machine[Any]) -> str:
    """The CHECK constraint's condition for the machine's column."""
    listed = ", ".join(f"'{v}'" for v in machine.values())
    return f"{machine.column} IN ({listed})"
