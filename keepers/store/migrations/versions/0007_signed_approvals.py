"""signed approvals: an approval may carry an EIP-712 signature and the plan hash it signed

Create Date: 2026-11-23 16:50:00

An approval of a plan sent through the PlanExecutor is a signature by an admin's key over the
plan's typed hash (keepers/fund/planning/plan_approval.py). The row keeps the signature and the
hash it was made for: a plan edited afterwards has another hash, and its old approvals stop
counting (the keeper and the contract both recompute the hash from the plan itself).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.add_column(sa.Column("signature", sa.String(length=132), nullable=True))
        batch.add_column(sa.Column("plan_hash", sa.String(length=66), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("approvals") as batch:
        batch.drop_column("plan_hash")
        batch.drop_column("signature")
