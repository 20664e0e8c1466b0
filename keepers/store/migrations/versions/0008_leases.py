"""leases and replicas: one leader per bot and deployment when several keepers share a store

Create Date: 2026-11-25 09:30:00

Several `keeper run` processes on one PostgreSQL store (replicas) elect one leader per bot and
deployment (keepers/runtime/leases.py): ``leases`` holds who leads and until when (on the
database's clock), ``replicas`` what each process last reported of itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=160), primary_key=True),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("replica", sa.String(length=64), nullable=False),
        sa.Column("term", sa.Integer(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "replicas",
        sa.Column("id", sa.String(length=64), primary_key=True),
        sa.Column("instance", sa.String(length=200), nullable=False),
        sa.Column("host", sa.String(length=128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("bots", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("replicas")
    op.drop_table("leases")
