"""crosschain_moves: the cross-chain move state machine (Transfer_Out, Cross, Transfer_In, Invest)

Create Date: 2026-11-21 11:25:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "crosschain_moves",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ref", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("dest", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=24), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=True),
        sa.Column("routes_skipped", sa.JSON(), nullable=False),
        sa.Column("amount_scaled", sa.String(length=78), nullable=False),
        sa.Column("amount_source", sa.String(length=78), nullable=False),
        sa.Column("amount_dest", sa.String(length=78), nullable=False),
        sa.Column("amount_sent", sa.String(length=78), nullable=True),
        sa.Column("amount_received", sa.String(length=78), nullable=True),
        sa.Column("source_decimals", sa.Integer(), nullable=False),
        sa.Column("dest_decimals", sa.Integer(), nullable=False),
        sa.Column("source_holder", sa.String(length=42), nullable=True),
        sa.Column("dest_holder", sa.String(length=42), nullable=True),
        sa.Column("handle_tx", sa.String(length=66), nullable=True),
        sa.Column("handle_log_index", sa.Integer(), nullable=True),
        sa.Column("handle_message", sa.Text(), nullable=True),
        sa.Column("handle_ref", sa.String(length=80), nullable=True),
        sa.Column("finalize_tx", sa.String(length=66), nullable=True),
        sa.Column("invest_tx", sa.String(length=66), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("gen", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["plan_id"], ["plans.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("ref"),
    )
    with op.batch_alter_table("crosschain_moves", schema=None) as batch_op:
        batch_op.create_index("ix_crosschain_moves_state", ["state"], unique=False)
        batch_op.create_index("ix_crosschain_moves_work", ["state", "next_try_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crosschain_moves", schema=None) as batch_op:
        batch_op.drop_index("ix_crosschain_moves_work")
        batch_op.drop_index("ix_crosschain_moves_state")
    op.drop_table("crosschain_moves")
