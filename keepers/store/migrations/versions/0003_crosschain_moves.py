"""crosschain_moves: the cross-chain move state machine (Transfer_Out, Cross, Transfer_In, Invest)

Create Date: 2026-11-21 11:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keepers.store.migrations.columns import (
    address,
    amount,
    create_indexes,
    document,
    drop_table,
    integer,
    moment,
    refers,
    serial_id,
    string,
    tx_hash,
)

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "crosschain_moves",
        serial_id(),
        string("ref", 64),
        string("kind", 16),
        string("asset", 16),
        string("source", 32),
        string("dest", 32),
        string("state", 24),
        string("route", 16, null=True),
        document("routes_skipped"),
        amount("amount_scaled"),
        amount("amount_source"),
        amount("amount_dest"),
        amount("amount_sent", null=True),
        amount("amount_received", null=True),
        integer("source_decimals"),
        integer("dest_decimals"),
        address("source_holder", null=True),
        address("dest_holder", null=True),
        tx_hash("handle_tx", null=True),
        integer("handle_log_index", null=True),
        sa.Column("handle_message", sa.Text(), nullable=True),
        string("handle_ref", 80, null=True),
        tx_hash("finalize_tx", null=True),
        tx_hash("invest_tx", null=True),
        integer("plan_id", null=True),
        integer("attempts"),
        integer("gen"),
        sa.Column("error", sa.Text(), nullable=True),
        moment("next_try_at"),
        moment("created_at"),
        moment("updated_at"),
        moment("finished_at", null=True),
        refers("plan_id", "plans.id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    create_indexes(
        "crosschain_moves",
        {
            "ix_crosschain_moves_state": ["state"],
            "ix_crosschain_moves_work": ["state", "next_try_at"],
        },
    )


def downgrade() -> None:
    drop_table("crosschain_moves", ["ix_crosschain_moves_work", "ix_crosschain_moves_state"])
