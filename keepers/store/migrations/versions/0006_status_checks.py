"""status CHECK constraints: intents, plans and cross-chain moves hold only their statuses

Create Date: 2026-11-23 11:30:00

The lists are frozen here (a migration must not change when the code does; the plans' in
keepers.store.migrations.checks, which 0009 extends); a later status needs a later migration. tests/offchain/pipeline/test_statuses.py checks that they equal the
enums of keepers.store.statuses. SQLite cannot add a constraint to a table: batch mode copies
the table (Alembic's "move and copy", with foreign keys off around it: keepers.store.db);
PostgreSQL adds it in place.
"""

from __future__ import annotations

from alembic import op

from keepers.store.migrations.checks import PLAN_STATUSES_0006, in_list

revision = "0006"
down_revision = "0005"

INTENT_STATUSES = (
    "pending",
    "built",
    "audited",
    "signed",
    "validated",
    "broadcast",
    "mined",
    "confirmed",
    "reverted",
    "failed",
    "rejected",
    "invalid",
)
PLAN_STATUSES = PLAN_STATUSES_0006
MOVE_STATES = (
    "awaiting_approval",
    "transfer_out",
    "cross",
    "transfer_in",
    "invest",
    "done",
    "failed",
    "rejected",
    "expired",
)

# (table, column, constraint name, allowed values)
CHECKS = (
    ("tx_intents", "status", "ck_tx_intents_status", INTENT_STATUSES),
    ("plans", "status", "ck_plans_status", PLAN_STATUSES),
    ("crosschain_moves", "state", "ck_crosschain_moves_state", MOVE_STATES),
)


def upgrade() -> None:
    for table, column, name, values in CHECKS:
        with op.batch_alter_table(table) as batch:
            batch.create_check_constraint(name, in_list(column, values))


def downgrade() -> None:
    for table, _column, name, _values in reversed(CHECKS):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(name, type_="check")
