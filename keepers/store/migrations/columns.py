"""The column and index shapes the migrations share, stated once: what a timestamp, an amount, an
address or a transaction hash is in this store, a table's serial id, a foreign key, and a table's
indexes made and dropped in batch mode (SQLite's "move and copy").

Frozen like the migrations themselves (0001 to 0012 are released and build on these): a new shape
is a new function, never an edit of one here. tests/offchain/upgrade/test_migration_schema.py
checks that every revision, up and down, makes the schema it made when released.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op


def serial_id() -> sa.Column:
    """A table's integer ``id`` (its primary key names it: ``sa.PrimaryKeyConstraint("id")``)."""
    return sa.Column("id", sa.Integer(), nullable=False)


def string(name: str, length: int, *, null: bool = False) -> sa.Column:
    """A string column of at most ``length`` characters."""
    return sa.Column(name, sa.String(length=length), nullable=null)


def amount(name: str, *, null: bool = False) -> sa.Column:
    """A uint256 in base units, kept as its decimal string (78 digits at the most)."""
    return string(name, 78, null=null)


def address(name: str, *, null: bool = False) -> sa.Column:
    """A 0x-prefixed 20-byte address."""
    return string(name, 42, null=null)


def tx_hash(name: str, *, null: bool = False) -> sa.Column:
    """A 0x-prefixed 32-byte hash (a transaction's or a block's)."""
    return string(name, 66, null=null)


def moment(name: str, *, null: bool = False) -> sa.Column:
    """A point in time, with its time zone."""
    return sa.Column(name, sa.DateTime(timezone=True), nullable=null)


def integer(name: str, *, null: bool = False, big: bool = False) -> sa.Column:
    """An integer column (``big``: 64 bits, for chain ids, nonces, blocks and gas)."""
    return sa.Column(name, sa.BigInteger() if big else sa.Integer(), nullable=null)


def document(name: str) -> sa.Column:
    """A JSON column, never null."""
    return sa.Column(name, sa.JSON(), nullable=False)


def refers(column: str, target: str) -> sa.ForeignKeyConstraint:
    """``column`` holds the key ``target`` (``"table.column"``)."""
    return sa.ForeignKeyConstraint([column], [target])


def create_indexes(table: str, indexes: Mapping[str, Sequence[str]]) -> None:
    """Makes each named index of ``table`` (none unique) on its columns, in the order given."""
    with op.batch_alter_table(table, schema=None) as batch_op:
        for name, columns in indexes.items():
            batch_op.create_index(batch_op.f(name), list(columns), unique=False)


def drop_table(table: str, indexes: Sequence[str] = ()) -> None:
    """Drops ``table``, its named indexes first (in the order given)."""
    if indexes:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name in indexes:
                batch_op.drop_index(batch_op.f(name))
    op.drop_table(table)
