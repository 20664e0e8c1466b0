"""SQLAlchemy 2 models of the keeper store.

Amounts that can exceed 64 bits (wei values, fees, notional) are stored as decimal strings
through :class:`Uint256` so that SQLite and PostgreSQL both keep them exact.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from keepers.store.statuses import INTENT, MOVE, PLAN, check_constraint_sql


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Uint256(TypeDecorator[int]):
    """An unsigned 256-bit integer kept exactly as a decimal string."""

    impl = String(78)
    cache_ok = True

    def process_bind_param(self, value: int | None, dialect: Any) -> str | None:
        if value is None:
            return None
        if value < 0 or value >= 2**256:
            raise ValueError(f"not a uint256: {value}")
        return str(int(value))

    def process_result_value(self, value: str | None, dialect: Any) -> int | None:
        return None if value is None else int(value)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    pass


# --- plans, actions, approvals, job runs (used by the planners' bots) --------------------------


class Plan(Base):
    __tablename__ = "plans"
    __table_args__ = (CheckConstraint(check_constraint_sql(PLAN), name="ck_plans_status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)  # planner's id
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="proposed")
    trigger: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    # the deployment it was made for, "<chain id>:<vault>@<contracts release>" (migration 0010,
    # keepers.tx.release.deployment_id); None: made by a keeper of 0.1.0 or older
    deployment: Mapped[str | None] = mapped_column(String(160))

    actions: Mapped[list[Action]] = relationship(back_populates="plan", order_by="Action.seq")
    approvals: Mapped[list[Approval]] = relationship(back_populates="plan")


class Action(Base):
    __tablename__ = "actions"
    __table_args__ = (UniqueConstraint("plan_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32), default="pending")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    intent_id: Mapped[int | None] = mapped_column(ForeignKey("tx_intents.id"))

    plan: Mapped[Plan] = relationship(back_populates="actions")


class Approval(Base):
    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plans.id"))
    tier: Mapped[str] = mapped_column(String(32))
    approver: Mapped[str | None] = mapped_column(String(128))
    decision: Mapped[str] = mapped_column(String(16), default="pending")
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # signed approvals (0007): the 65-byte EIP-712 signature (0x hex) and the plan hash it
    # signed; None for an unsigned decision (deployments without a PlanExecutor)
    signature: Mapped[str | None] = mapped_column(String(132))
    plan_hash: Mapped[str | None] = mapped_column(String(66))

    plan: Mapped[Plan] = relationship(back_populates="approvals")


class JobRun(Base):
    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16), default="running")
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class FundCarry(Base):
    """A fund plan's slice schedule: what venue depth left of a tier's flow (``amount`` > 0:
    the tier still has to gain, < 0: to give; base units, signed, kept as a decimal string),
    retried from ``next_at`` until a plan leaves none. One active row per tier."""

    __tablename__ = "fund_carry"
    __table_args__ = (Index("ix_fund_carry_status", "status", "next_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_ref: Mapped[str] = mapped_column(String(64))  # the plan that left it
    tier: Mapped[int] = mapped_column(Integer)
    amount: Mapped[str] = mapped_column(String(80))  # signed integer, base units
    status: Mapped[str] = mapped_column(String(16), default="active")  # active|done|superseded
    reason: Mapped[str] = mapped_column(Text, default="")
    slices: Mapped[int] = mapped_column(Integer, default=0)  # slices run since it was opened
    next_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# --- the transaction pipeline ------------------------------------------------------------------


class NonceAllocator(Base):
    """Next nonce to hand out per (chain, account); reconciled with the node at start."""

    __tablename__ = "nonce_allocators"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    account: Mapped[str] = mapped_column(String(42), primary_key=True)
    next_nonce: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TxIntent(Base):
    """One on-chain effect. ``status`` is the last step recorded (see keepers.tx.pipeline;
    the statuses and their transitions: keepers.store.statuses.INTENT)."""

    __tablename__ = "tx_intents"
    __table_args__ = (
        Index("ix_tx_intents_work", "status", "next_try_at"),
        Index("ix_tx_intents_nonce", "chain_id", "sender", "nonce"),
        CheckConstraint(check_constraint_sql(INTENT), name="ck_tx_intents_status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default="call")  # call | filler
    role: Mapped[str] = mapped_column(String(64))
    chain_id: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[str] = mapped_column(String(42))
    target: Mapped[str] = mapped_column(String(42))
    calldata: Mapped[str] = mapped_column(Text)
    value: Mapped[int] = mapped_column(Uint256, default=0)
    notional: Mapped[int] = mapped_column(Uint256, default=0)
    fee_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    status: Mapped[str] = mapped_column(String(16), default="pending")
    nonce: Mapped[int | None] = mapped_column(BigInteger)
    gas_limit: Mapped[int | None] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[int | None] = mapped_column(Uint256)
    max_priority_fee_per_gas: Mapped[int | None] = mapped_column(Uint256)
    fee_cap: Mapped[int | None] = mapped_column(Uint256)
    current_attempt_id: Mapped[int | None] = mapped_column(Integer)
    mined_attempt_id: Mapped[int | None] = mapped_column(Integer)
    mined_block: Mapped[int | None] = mapped_column(BigInteger)
    mined_block_hash: Mapped[str | None] = mapped_column(String(66))
    receipt_status: Mapped[int | None] = mapped_column(Integer)
    checked_block: Mapped[int] = mapped_column(BigInteger, default=-1)
    error: Mapped[str | None] = mapped_column(Text)
    retries: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    audited_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    attempts: Mapped[list[TxAttempt]] = relationship(
        back_populates="intent", order_by="TxAttempt.id"
    )


class TxAttempt(Base):
    """One signed transaction for an intent; all attempts of an intent share its nonce."""

    __tablename__ = "tx_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("tx_intents.id"), index=True)
    # insert_sentinel (no DDL: SQLAlchemy's flag): a batch of new attempts is inserted in one
    # INSERT .. RETURNING and its ids matched to the rows by hash; without it SQLite's ids
    # cannot be put in parameter order, and SQLAlchemy inserts one row per statement
    tx_hash: Mapped[str] = mapped_column(String(66), index=True, insert_sentinel=True)
    raw_tx: Mapped[str] = mapped_column(Text)
    nonce: Mapped[int] = mapped_column(BigInteger)
    max_fee_per_gas: Mapped[int] = mapped_column(Uint256)
    max_priority_fee_per_gas: Mapped[int] = mapped_column(Uint256)
    gas_limit: Mapped[int] = mapped_column(BigInteger)
    # signed | validated | broadcast | mined | replaced | invalid | dropped (nonce used by
    # another transaction) | relay-dropped (the private relay gave it up: never included)
    status: Mapped[str] = mapped_column(String(16), default="signed")
    sent_at_block: Mapped[int | None] = mapped_column(BigInteger)
    # where it was sent (0012): "private" (the relays of KEEPER_PRIVATE_RPC_URLS, followed by
    # their status API) or "public" (the node); None: not sent yet, or by a keeper before 0012
    route: Mapped[str | None] = mapped_column(String(8))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    intent: Mapped[TxIntent] = relationship(back_populates="attempts")


class StepLog(Base):
    """Append-only record of every step outcome, written in the step's own DB transaction."""

    __tablename__ = "step_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    intent_id: Mapped[int] = mapped_column(ForeignKey("tx_intents.id"), index=True)
    step: Mapped[str] = mapped_column(String(16))
    outcome: Mapped[str] = mapped_column(String(32))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    worker: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


# --- cross-chain moves (keepers.crosschain.moves) ----------------------------------------------


class CrosschainMove(Base):
    """One cross-chain transfer driven through Transfer_Out -> Cross -> Transfer_In -> Invest.

    ``state`` is the next step to run (or a terminal state); amounts are base units of the
    source token (``amount_source``) and of the destination token (the others)."""

    __tablename__ = "crosschain_moves"
    __table_args__ = (
        Index("ix_crosschain_moves_work", "state", "next_try_at"),
        CheckConstraint(check_constraint_sql(MOVE), name="ck_crosschain_moves_state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # small (planner) | big (operator)
    asset: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(32))
    dest: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(24), index=True)
    route: Mapped[str | None] = mapped_column(String(16))
    routes_skipped: Mapped[list[Any]] = mapped_column(JSON, default=list)
    amount_scaled: Mapped[int] = mapped_column(Uint256)  # 18-decimal planning scale
    amount_source: Mapped[int] = mapped_column(Uint256)
    amount_dest: Mapped[int] = mapped_column(Uint256)  # planned, destination units
    amount_sent: Mapped[int | None] = mapped_column(Uint256)  # left the source (dust kept)
    amount_received: Mapped[int | None] = mapped_column(Uint256)  # arrived, destination units
    source_decimals: Mapped[int] = mapped_column(Integer)
    dest_decimals: Mapped[int] = mapped_column(Integer)
    source_holder: Mapped[str | None] = mapped_column(String(42))  # pulled from (None: keeper)
    dest_holder: Mapped[str | None] = mapped_column(String(42))  # invested into (None: keeper)
    handle_tx: Mapped[str | None] = mapped_column(String(66))
    handle_log_index: Mapped[int | None] = mapped_column(Integer)
    handle_message: Mapped[str | None] = mapped_column(Text)  # 0x hex
    handle_ref: Mapped[str | None] = mapped_column(String(80))  # LayerZero guid, CEX client id
    finalize_tx: Mapped[str | None] = mapped_column(String(66))
    invest_tx: Mapped[str | None] = mapped_column(String(66))
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("plans.id"))  # approvals (big moves)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed step runs
    gen: Mapped[int] = mapped_column(Integer, default=0)  # bumped when a step's tx failed
    error: Mapped[str | None] = mapped_column(Text)
    next_try_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    # when the move entered its state (its age in it: crosschain_move_oldest_age_seconds)
    state_since: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


# --- the audit policy every process uses (keepers.runtime.policy) ------------------------------


class AuditRole(Base):
    """One role of the audit policy, as the bots that submit its intents declared it.

    ``keeper run`` (and any process that starts a bot) writes the roles of its bots here; every
    pipeline of the deployment, the standalone workers included, audits with these roles plus
    its own ``KEEPER_POLICY*`` (a configured role of the same name wins)."""

    __tablename__ = "audit_roles"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    policy: Mapped[dict[str, Any]] = mapped_column(JSON)  # RolePolicy.model_dump(mode="json")
    written_by: Mapped[str] = mapped_column(String(64))  # the bots that declared it
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# --- replicas and their leases (keepers.runtime.leases) ----------------------------------------


class Lease(Base):
    """Who leads one bot for one deployment (``fund:<vault>``, ``executor:<scheduler>``...).

    The holder is a process (``replica/host/pid/token``); ``expires_at`` is on the database's
    clock, so replicas whose clocks disagree still agree on who leads. ``term`` grows by one
    at every change of holder: a decision fenced under an older term is refused."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(160), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    replica: Mapped[str] = mapped_column(String(64))
    term: Mapped[int] = mapped_column(Integer, default=1)
    acquired_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    renewed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Replica(Base):
    """One `keeper run` process of the fleet, as it last reported itself (the status and the
    metrics read this; a replica id may run in one live process only)."""

    __tablename__ = "replicas"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance: Mapped[str] = mapped_column(String(200))
    host: Mapped[str] = mapped_column(String(128))
    pid: Mapped[int] = mapped_column(Integer)
    bots: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
