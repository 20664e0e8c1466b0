"""tx_attempts.route: where a signed transaction was sent (private relay or public node)

Create Date: 2026-11-27 11:40:00

A pool trade goes to a private relay (keepers.tx.relay) and is followed with the relay's
status API, not with the public pool's rules (a fee bump after 5 blocks): a keeper that
restarts, or a replica that takes over, must know which of the two an attempt in flight
went to. Attempts of earlier releases were all sent to the node: NULL reads as public.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("tx_attempts") as batch:
        batch.add_column(sa.Column("route", sa.String(8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tx_attempts") as batch:
        batch.drop_column("route")
