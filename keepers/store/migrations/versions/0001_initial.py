"""initial store: plans, actions, approvals, job runs, tx pipeline

Create Date: 2026-11-21 09:51:48.300628
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from keepers.store.migrations.columns import (
    address,
    amount,
    create_indexes,
    document,
    drop_table,
    integer,
    moment,
    refers,
    serial_id,
    string,
    tx_hash,
)

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "job_runs",
        serial_id(),
        string("job", 64),
        string("status", 16),
        moment("started_at"),
        moment("finished_at", null=True),
        document("detail"),
        sa.PrimaryKeyConstraint("id"),
    )
    create_indexes("job_runs", {"ix_job_runs_job": ["job"]})

    op.create_table(
        "nonce_allocators",
        integer("chain_id", big=True),
        address("account"),
        integer("next_nonce", big=True),
        moment("updated_at"),
        sa.PrimaryKeyConstraint("chain_id", "account"),
    )
    op.create_table(
        "plans",
        serial_id(),
        string("kind", 64),
        string("status", 32),
        string("trigger", 64, null=True),
        document("payload"),
        moment("created_at"),
        moment("updated_at"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "tx_intents",
        serial_id(),
        string("idempotency_key", 200),
        string("kind", 16),
        string("role", 64),
        integer("chain_id", big=True),
        address("sender"),
        address("target"),
        sa.Column("calldata", sa.Text(), nullable=False),
        amount("value"),
        amount("notional"),
        document("fee_policy"),
        string("status", 16),
        integer("nonce", big=True, null=True),
        integer("gas_limit", big=True, null=True),
        amount("max_fee_per_gas", null=True),
        amount("max_priority_fee_per_gas", null=True),
        amount("fee_cap", null=True),
        integer("current_attempt_id", null=True),
        integer("mined_attempt_id", null=True),
        integer("mined_block", big=True, null=True),
        tx_hash("mined_block_hash", null=True),
        integer("receipt_status", null=True),
        integer("checked_block", big=True),
        sa.Column("error", sa.Text(), nullable=True),
        integer("retries"),
        moment("next_try_at"),
        moment("audited_at", null=True),
        moment("created_at"),
        moment("updated_at"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("idempotency_key"),
    )
    create_indexes(
        "tx_intents",
        {
            "ix_tx_intents_nonce": ["chain_id", "sender", "nonce"],
            "ix_tx_intents_work": ["status", "next_try_at"],
        },
    )

    op.create_table(
        "actions",
        serial_id(),
        integer("plan_id"),
        integer("seq"),
        string("kind", 64),
        string("status", 32),
        document("payload"),
        integer("intent_id", null=True),
        refers("intent_id", "tx_intents.id"),
        refers("plan_id", "plans.id"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "seq"),
    )
    op.create_table(
        "approvals",
        serial_id(),
        integer("plan_id"),
        string("tier", 32),
        string("approver", 128, null=True),
        string("decision", 16),
        sa.Column("reason", sa.Text(), nullable=True),
        moment("decided_at", null=True),
        moment("created_at"),
        refers("plan_id", "plans.id"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "step_log",
        serial_id(),
        integer("intent_id"),
        string("step", 16),
        string("outcome", 32),
        document("detail"),
        string("worker", 64, null=True),
        moment("at"),
        refers("intent_id", "tx_intents.id"),
        sa.PrimaryKeyConstraint("id"),
    )
    create_indexes("step_log", {"ix_step_log_intent_id": ["intent_id"]})

    op.create_table(
        "tx_attempts",
        serial_id(),
        integer("intent_id"),
        tx_hash("tx_hash"),
        sa.Column("raw_tx", sa.Text(), nullable=False),
        integer("nonce", big=True),
        amount("max_fee_per_gas"),
        amount("max_priority_fee_per_gas"),
        integer("gas_limit", big=True),
        string("status", 16),
        integer("sent_at_block", big=True, null=True),
        moment("created_at"),
        refers("intent_id", "tx_intents.id"),
        sa.PrimaryKeyConstraint("id"),
    )
    create_indexes(
        "tx_attempts",
        {
            "ix_tx_attempts_intent_id": ["intent_id"],
            "ix_tx_attempts_tx_hash": ["tx_hash"],
        },
    )


def downgrade() -> None:
    drop_table("tx_attempts", ["ix_tx_attempts_tx_hash", "ix_tx_attempts_intent_id"])
    drop_table("step_log", ["ix_step_log_intent_id"])
    drop_table("approvals")
    drop_table("actions")
    drop_table("tx_intents", ["ix_tx_intents_work", "ix_tx_intents_nonce"])
    drop_table("plans")
    drop_table("nonce_allocators")
    drop_table("job_runs", ["ix_job_runs_job"])
