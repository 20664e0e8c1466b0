"""plans.ref: the planner's content-hash plan id (unique), so operators name plans by it

Create Date: 2026-11-21 10:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ref", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_plans_ref", ["ref"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_index("ix_plans_ref")
        batch_op.drop_column("ref")
