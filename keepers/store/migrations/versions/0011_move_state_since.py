"""crosschain_moves.state_since: when a move entered its state

Create Date: 2026-11-26 23:30:00

The cross-chain keeper exports the age of the oldest move in each state and alerts on a move
standing in a state past the config's ``stuck_after_s``; ``updated_at`` moves with every
retry, so the time the state began is kept on its own. Rows of earlier releases start from
their ``updated_at`` (the best the store knows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("crosschain_moves") as batch:
        batch.add_column(sa.Column("state_since", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE crosschain_moves SET state_since = updated_at WHERE state_since IS NULL")


def downgrade() -> None:
    with op.batch_alter_table("crosschain_moves") as batch:
        batch.drop_column("state_since")
