"""How an intent ended, as a type: what bots act on instead of matching error text.

:meth:`keepers.tx.pipeline.Pipeline.wait_final` drives the pipeline until an intent ends and
returns an :class:`IntentOutcome`; :func:`read_outcomes` reads the outcomes of intents that
ended without waiting (the automation bots settle their in-flight intents each tick).

The kinds, from the intent's status and its step log:

- ``confirmed``: mined with receipt status 1, ``confirmations`` deep.
- ``reverted``: mined with receipt status 0 (``tx_hash`` names it; the gas was spent).
- ``simulation_reverted``: the Build simulation reverted, nothing was signed; ``revert`` is
  the decoded custom error (``revert.name == "EnforcedPause"``, its arguments).
- ``rejected``: the audit policy refused it; ``rule`` names the rule.
- ``invalid``: the signed transaction differed from what was built (never sent).
- ``out_of_gas_funds``: not final: the node refused it for the sender's balance and the
  pipeline backs off; a bot may stop waiting and resume when the keeper has gas again.
- ``halted``: the pipeline stopped itself (another process signs with our key); ``halted``
  holds the error, which the caller should raise.
- ``timeout``: not final when the wait ended.
- ``stopped``: not final; the keeper is stopping (``wait_final(stop=...)``) and left the
  intent recorded where it stands, for a restart to follow.

There is no ``dropped``: a transaction the node dropped is re-sent at the same nonce, and a
nonce used by a foreign transaction sends the intent back to Build; neither ends an intent.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, bindparam, select

from keepers.store import models as m
from keepers.store.db import Store
from keepers.store.statuses import IntentStatus
from keepers.tx.errors import InsufficientFunds, SignerConflict
from keepers.tx.revert import DecodedRevert, RevertDecoder


class Outcome(StrEnum):
    CONFIRMED = "confirmed"
    REVERTED = "reverted"
    SIMULATION_REVERTED = "simulation_reverted"
    REJECTED = "rejected"
    INVALID = "invalid"
    OUT_OF_GAS_FUNDS = "out_of_gas_funds"
    HALTED = "halted"
    TIMEOUT = "timeout"
    STOPPED = "stopped"


FINAL_OUTCOMES = frozenset(
    {
        Outcome.CONFIRMED,
        Outcome.REVERTED,
        Outcome.SIMULATION_REVERTED,
        Outcome.REJECTED,
        Outcome.INVALID,
    }
)
_OF_STATUS = {
    IntentStatus.CONFIRMED: Outcome.CONFIRMED,
    IntentStatus.REVERTED: Outcome.REVERTED,
    IntentStatus.FAILED: Outcome.SIMULATION_REVERTED,
    IntentStatus.REJECTED: Outcome.REJECTED,
    IntentStatus.INVALID: Outcome.INVALID,
}


@dataclass(frozen=True)
class IntentOutcome:
    intent_id: int
    kind: Outcome
    status: str  # the intent's status when the outcome was read
    tx_hash: str | None = None  # the mined attempt (confirmed, reverted)
    block: int | None = None
    revert: DecodedRevert | None = None  # simulation_reverted: the decoded error
    rule: str | None = None  # rejected: the audit rule
    error: str | None = None  # for people (logs, alerts); never matched on
    halted: SignerConflict | None = None

    @property
    def final(self) -> bool:
        """The intent ended: nothing more will happen to it."""
        return self.kind in FINAL_OUTCOMES

    @property
    def ok(self) -> bool:
        return self.kind is Outcome.CONFIRMED

    def __str__(self) -> str:
        what = {
            Outcome.SIMULATION_REVERTED: str(self.revert) if self.revert else None,
            Outcome.REJECTED: f"rule {self.rule}" if self.rule else None,
            Outcome.REVERTED: self.tx_hash,
        }.get(self.kind)
        return (
            f"{self.kind.value}"
            + (f" ({what})" if what else "")
            + (
                f": {self.error}"
                if self.error and self.kind is not Outcome.SIMULATION_REVERTED
                else ""
            )
        )


_INTENTS: Any = m.TxIntent.__table__
_LOGS: Any = m.StepLog.__table__
_ATTEMPTS: Any = m.TxAttempt.__table__
# prebuilt (a waiting keeper reads an intent's outcome at every poll): the intents' columns an
# outcome names, an intent's newest step-log row (of one step), a mined attempt's hash
_INTENT_ROWS = (
    select(
        _INTENTS.c.id,
        _INTENTS.c.status,
        _INTENTS.c.error,
        _INTENTS.c.mined_attempt_id,
        _INTENTS.c.mined_block,
    )
    .where(_INTENTS.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(_INTENTS.c.id)
)
_LAST_LOG = (
    select(_LOGS.c.id, _LOGS.c.outcome, _LOGS.c.detail)
    .where(_LOGS.c.intent_id == bindparam("intent"))
    .order_by(_LOGS.c.id.desc())
    .limit(1)
)
_LAST_STEP_LOG = _LAST_LOG.where(_LOGS.c.step == bindparam("step"))
_TX_HASH = select(_ATTEMPTS.c.tx_hash).where(_ATTEMPTS.c.id == bindparam("id"))


def read_outcomes(
    store: Store,
    intent_ids: Iterable[int],
    decoder: RevertDecoder | None = None,
    *,
    refused_after: int | None = None,
) -> dict[int, IntentOutcome]:
    """The outcomes of the intents among ``intent_ids`` that ended or wait for gas funds
    (intents still on their way are left out). With ``refused_after`` (a step-log id), a
    refusal for gas funds counts only when it was logged after that row. Read in one
    transaction, by prebuilt Core statements (tests/offchain/pipeline/test_outcome_reads.py
    compares them with the ORM reads they replaced)."""
    ids = list(intent_ids)
    if not ids:
        return {}
    decoder = decoder or RevertDecoder()
    out: dict[int, IntentOutcome] = {}
    with store.connection() as c:
        for row in c.execute(_INTENT_ROWS, {"ids": ids}).all():
            found = _outcome(c, row, decoder, refused_after)
            if found is not None:
                out[row.id] = found
    return out


def _last_log(c: Connection, intent_id: int, step: str | None = None) -> Any:
    """The intent's newest step-log row (``id``, ``outcome``, ``detail``), of ``step`` if
    given; None if it has none."""
    if step is None:
        return c.execute(_LAST_LOG, {"intent": intent_id}).first()
    return c.execute(_LAST_STEP_LOG, {"intent": intent_id, "step": step}).first()


def last_log_id(store: Store, intent_id: int) -> int:
    """The id of the intent's latest step-log row (0 if none)."""
    with store.connection() as c:
        last = _last_log(c, intent_id)
    return last.id if last is not None else 0


def _outcome(
    c: Connection, row: Any, decoder: RevertDecoder, refused_after: int | None = None
) -> IntentOutcome | None:
    """``row``: an intent's ``id``, ``status``, ``error``, ``mined_attempt_id`` and
    ``mined_block``."""
    status = IntentStatus(row.status)
    kind = _OF_STATUS.get(status)
    if kind is None:  # on its way: only a gas-funds back-off is an outcome
        last = _last_log(c, row.id)
        if (
            last is not None
            and last.outcome == "retry"
            and (refused_after is None or last.id > refused_after)
            and last.detail.get("error_type") == InsufficientFunds.__name__
        ):
            return IntentOutcome(row.id, Outcome.OUT_OF_GAS_FUNDS, row.status, error=row.error)
        return None
    tx_hash = None
    if row.mined_attempt_id is not None:
        tx_hash = c.execute(_TX_HASH, {"id": row.mined_attempt_id}).scalar()
    revert = rule = None
    if kind is Outcome.SIMULATION_REVERTED:
        log = _last_log(c, row.id, "build")
        revert = decoder.decode(log.detail.get("data")) if log is not None else None
    elif kind is Outcome.REJECTED:
        log = _last_log(c, row.id, "audit")
        rule = log.detail.get("rule") if log is not None else None
    return IntentOutcome(
        row.id,
        kind,
        row.status,
        tx_hash=tx_hash,
        block=row.mined_block,
        revert=revert,
        rule=rule,
        error=row.error,
    )
