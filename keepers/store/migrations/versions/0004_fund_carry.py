"""fund_carry: the fund keeper's slice schedule (flow left by venue depth, carried to the next
cycles)

Create Date: 2026-11-22 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "fund_carry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_ref", sa.String(length=64), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.Column("amount", sa.String(length=80), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("slices", sa.Integer(), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("fund_carry", schema=None) as batch_op:
        batch_op.create_index("ix_fund_carry_status", ["status", "next_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("fund_carry", schema=None) as batch_op:
        batch_op.drop_index("ix_fund_carry_status")
    op.drop_table("fund_carry")
