"""audit_roles: the audit policy stored once, read by every process (issue 12)

Create Date: 2026-11-23 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keepers.store.migrations.columns import document, moment, string

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "audit_roles",
        string("name", 64),
        document("policy"),
        string("written_by", 64),
        moment("updated_at"),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("audit_roles")
