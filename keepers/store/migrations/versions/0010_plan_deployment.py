"""plans.deployment: the deployment a plan was made for ("<chain id>:<vault>@<release>")

Create Date: 2026-11-27 00:00:00

A contract release is a new deployment; a store kept across it holds the old deployment's
plans. Each plan now records the deployment it was made for (keepers.tx.release.deployment_id),
so that `keeper history`, `keeper review` and the console mark a plan of another deployment
and `keeper run` ends it before any simulation. Plans stored before this revision have none
(NULL): they were made by a keeper of 0.1.0 or older, for contracts of 0.1.0 or older
(keepers.tx.release.other_deployment).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("deployment", sa.String(length=160), nullable=True))


def downgrade() -> None:
    # a waiting plan made by a keeper of 0.2.0 or later cannot be read by the older keeper:
    # refused, naming each and the command that ends them (keepers.store.downgrade)
    from keepers.store.downgrade import refusal, stranded

    items = stranded(op.get_bind(), "0010", "0009")
    if items:
        raise RuntimeError(refusal(items, "0009"))
    with op.batch_alter_table("plans", schema=None) as batch_op:
        batch_op.drop_column("deployment")
