"""fund_carry: the fund keeper's slice schedule (flow left by venue depth, carried to the next
cycles)

Create Date: 2026-11-22 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keepers.store.migrations.columns import (
    create_indexes,
    drop_table,
    integer,
    moment,
    serial_id,
    string,
)

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "fund_carry",
        serial_id(),
        string("plan_ref", 64),
        integer("tier"),
        string("amount", 80),
        string("status", 16),
        sa.Column("reason", sa.Text(), nullable=False),
        integer("slices"),
        moment("next_at"),
        moment("created_at"),
        moment("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    create_indexes("fund_carry", {"ix_fund_carry_status": ["status", "next_at"]})


def downgrade() -> None:
    drop_table("fund_carry", ["ix_fund_carry_status"])
