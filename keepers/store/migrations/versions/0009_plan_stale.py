"""plan status ``stale``: a plan the fund moved under ends with its reason

Create Date: 2026-11-27 00:00:00

The plans' CHECK constraint (migration 0006) gains ``stale``: a plan that no longer fits the
fund as it is now (cash short, a tier already at its aim, a position gone, a queue it did not
see) ends ``stale`` with the reason in its payload (keepers/fund/lifecycle.py). The list is
frozen here (0006's, from keepers.store.migrations.checks, plus ``stale``); tests/offchain/pipeline/test_statuses.py checks it equals the enum. Downgrading
refuses while a plan is ``stale`` (the older constraint cannot hold it): ``keeper store
downgrade 0008 --end-plans`` archives them first.
"""

from __future__ import annotations

from alembic import op

from keepers.store.migrations.checks import PLAN_STATUSES_0006, in_list

revision = "0009"
down_revision = "0008"

OLD_PLAN_STATUSES = PLAN_STATUSES_0006
PLAN_STATUSES = (*OLD_PLAN_STATUSES, "stale")
NAME = "ck_plans_status"


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, in_list("status", PLAN_STATUSES))


def downgrade() -> None:
    # refused while a plan is stale, naming each and the command that archives them
    from keepers.store.downgrade import refusal, stranded

    items = stranded(op.get_bind(), "0009", "0008")
    if items:
        raise RuntimeError(refusal(items, "0008"))
    with op.batch_alter_table("plans") as batch:
        batch.drop_constraint(NAME, type_="check")
        batch.create_check_constraint(NAME, in_list("status", OLD_PLAN_STATUSES))
