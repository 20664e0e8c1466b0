"""leases and replicas: one leader per bot and deployment when several keepers share a store

Create Date: 2026-11-25 09:30:00

Several `keeper run` processes on one PostgreSQL store (replicas) elect one leader per bot and
deployment (keepers/runtime/leases.py): ``leases`` holds who leads and until when (on the
database's clock), ``replicas`` what each process last reported of itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keepers.store.migrations.columns import document, integer, moment, string

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=160), primary_key=True),
        string("holder", 200),
        string("replica", 64),
        integer("term"),
        moment("acquired_at"),
        moment("renewed_at"),
        moment("expires_at"),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(length=64), primary_key=True),
        string("instance", 200),
        string("host", 128),
        integer("pid"),
        document("bots"),
        moment("started_at"),
        moment("seen_at"),
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("leases")
