"""Alembic environment: run programmatically by keepers.store.db.migrate (no alembic.ini).

The caller passes an open connection in ``config.attributes["connection"]``; offline mode is
not supported.
"""

from __future__ import annotations

from alembic import context

from keepers.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable through misuse
    raise RuntimeError("run migrations through keepers.store.db.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
