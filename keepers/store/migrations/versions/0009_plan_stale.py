"""plan status ``stale``: a plan the fund moved under ends with its reason

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 00:00:00

The plans' CHECK constraint (migration 0006) gains ``stale``: a plan that no longer fits the
fund as it is now (cash short, a tier already at its aim, a position gone, a queue it did not
see) ends ``stale`` with the reason in its payload (keepers/fund/lifecycle.py). The list is
frozen here; tests/offchain/pipeline/test_statuses.py checks it equals the enum. Downgrading
refuses while a plan is ``stale`` (the older constraint cannot hold it).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

OLD_PLAN_STATUSES = (
    "proposed",
    "blocked",
    "pending_approval",
    "approved",
    "rejected",
    "expired",
    "aborted",
    "executed",
    "partial",
    "failed",
)
PLAN_STATUSES = (*OLD_PLAN_STATUSES, "stale")
NAME = "ck_plans_status"


def _condition(values: tuple[str, ...]) -> str:
    return f"status IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, _condition(PLAN_STATUSES))


def downgrade() -> None:
    stale = op.get_bind().execute(sa.text("SELECT count(*) FROM plans WHERE status = 'stale'"))
    n = int(stale.scalar() or 0)
    if n:
        raise RuntimeError(
            f"{n} plan(s) are 'stale', a status revision 0008 cannot hold: "
            "keep the store at 0009 or archive those plans first"
        )
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, _condition(OLD_PLAN_STATUSES))
