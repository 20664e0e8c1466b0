"""The pipeline's batch rows: intents and attempts loaded with SQLAlchemy Core, not as ORM
objects.

A pipeline step reads a few columns of up to a few hundred rows and changes a handful of
them. As ORM instances each of those rows costs an identity-map entry, instrumented
attribute reads and writes (history kept for every assignment) and a unit-of-work pass at
the commit: about a third of the pipeline's CPU (docs/development/performance.md). A
``BatchRow`` is a plain object whose attributes are the row's columns (read at the price of
any Python attribute) and which records the names assigned to, so the batch's write sends
only the changed columns, by primary key, in one executemany per set of columns.

The columns and their types are the ORM models' (``keepers.store.models``): the rows are
selected from the same tables, and the type decorators (Uint256, UtcDateTime, JSON) apply to
them as to the ORM's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, select, update

from keepers.store.models import TxAttempt, TxIntent

INTENTS: Any = TxIntent.__table__
ATTEMPTS: Any = TxAttempt.__table__
_COLUMNS = {
    "tx_intents": frozenset(INTENTS.c.keys()),
    "tx_attempts": frozenset(ATTEMPTS.c.keys()),
}


class BatchRow:
    """One row: its columns as attributes; ``changed`` holds the names assigned since the
    row was loaded or last written. Assigning a name that is not a column of the table is
    refused at once (a typo would otherwise be a lost write)."""

    table = ""

    def __init__(self, values: Mapping[Any, Any]) -> None:
        self.__dict__.update(values)
        self.__dict__["changed"] = set()

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _COLUMNS[self.table]:
            raise AttributeError(f"{self.table} has no column {name!r}")
        self.__dict__[name] = value
        self.changed.add(name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.__dict__.get('id')}>"

    id: int
    changed: set[str]


class AttemptRow(BatchRow):
    """A row of tx_attempts (columns as in keepers.store.models.TxAttempt)."""

    table = "tx_attempts"

    intent_id: int
    tx_hash: str
    raw_tx: str
    nonce: int
    max_fee_per_gas: int
    max_priority_fee_per_gas: int
    gas_limit: int
    status: str
    sent_at_block: int | None
    route: str | None
    created_at: dt.datetime


class IntentRow(BatchRow):
    """A row of tx_intents (columns as in keepers.store.models.TxIntent) with its attempts,
    oldest first."""

    table = "tx_intents"

    def __init__(self, values: Mapping[Any, Any]) -> None:
        super().__init__(values)
        self.__dict__["attempts"] = []

    idempotency_key: str
    kind: str
    role: str
    chain_id: int
    sender: str
    target: str
    calldata: str
    value: int
    notional: int
    fee_policy: dict[str, Any]
    status: str
    nonce: int | None
    gas_limit: int | None
    max_fee_per_gas: int | None
    max_priority_fee_per_gas: int | None
    fee_cap: int | None
    current_attempt_id: int | None
    mined_attempt_id: int | None
    mined_block: int | None
    mined_block_hash: str | None
    receipt_status: int | None
    checked_block: int
    error: str | None
    retries: int
    next_try_at: dt.datetime
    audited_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    attempts: list[AttemptRow]


def load_intents(conn: Connection, query: Any) -> list[IntentRow]:
    """Run ``query`` (a select of tx_intents' columns, locks included) and load every
    intent's attempts in one more query."""
    intents = _rows(IntentRow, conn.execute(query))
    if intents:
        by_id = {it.id: it for it in intents}
        q = select(ATTEMPTS).where(ATTEMPTS.c.intent_id.in_(list(by_id))).order_by(ATTEMPTS.c.id)
        for a in _rows(AttemptRow, conn.execute(q)):
            by_id[a.intent_id].attempts.append(a)
    return intents


R = TypeVar("R", bound=BatchRow)


def _rows(cls: type[R], result: Any) -> list[R]:
    """The result's rows as ``cls`` objects: the columns zipped with each row's values (a
    RowMapping per row costs a third more)."""
    keys = list(result.keys())
    out = []
    for values in result:
        row = cls.__new__(cls)
        d = row.__dict__
        d.update(zip(keys, values, strict=True))
        d["changed"] = set()
        if cls is IntentRow:
            d["attempts"] = []
        out.append(row)
    return out


_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}


def _update(table: Any, names: tuple[str, ...]) -> Any:
    """UPDATE <table> SET <names> WHERE id = :_id, compiled once per set of columns."""
    key = (table.name, names)
    stmt = _UPDATES.get(key)
    if stmt is None:
        stmt = _UPDATES[key] = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({n: bindparam(n) for n in names})
        )
    return stmt


def write_changes(conn: Connection, intents: Iterable[IntentRow], now: dt.datetime) -> int:
    """Write the changed columns of the intents (``updated_at`` set to ``now``) and of their
    attempts, in executemany UPDATEs by primary key grouped by set of columns; the rows are
    clean afterwards. Returns the number of rows written."""
    groups: dict[tuple[Any, tuple[str, ...]], list[dict[str, Any]]] = {}
    for it in intents:
        for row in (it, *it.attempts):
            if not row.changed:
                continue
            names = tuple(sorted(row.changed))
            values = {n: row.__dict__[n] for n in names}
            if row is it:
                values["updated_at"] = it.__dict__["updated_at"] = now
                names += ("updated_at",)
            values["_id"] = row.id
            groups.setdefault((row.table, names), []).append(values)
            row.changed.clear()
    tables = {"tx_intents": INTENTS, "tx_attempts": ATTEMPTS}
    written = 0
    for (table, names), rows in groups.items():
        conn.execute(_update(tables[table], names), rows)
        written += len(rows)
    return written
