"""What the status migrations (0006, 0009) share: the plans' statuses as 0006 froze them and the
CHECK condition made of a list.

Frozen like the migrations themselves: a later status is a later list (and a later migration),
never an edit of the one here. tests/offchain/pipeline/test_statuses.py checks the lists
against the enums of keepers.store.statuses; tests/offchain/upgrade/test_migration_schema.py
that every schema stays as released.
"""

from __future__ import annotations

# the plans' statuses of revisions 0006 to 0008 (0009 adds ``stale``)
PLAN_STATUSES_0006 = (
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


def in_list(column: str, values: tuple[str, ...]) -> str:
    """The CHECK condition that ``column`` holds one of ``values``."""
    return f"{column} IN ({', '.join(repr(v) for v in values)})"
