"""Plans, actions and approvals in the keeper store (tables plans / actions / approvals).

A plan row's ``ref`` is the planner's content-hash id; its ``payload`` holds the planner's Plan
(round-trips through ``plan_to_dict`` / ``plan_from_dict``), the risk findings, the approval
decision, the simulation, the verification and the report. An action row per planner action
(``seq`` = index in ``plan.actions``) holds its encoded call and its ActionResult.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from keepers.core.approval import ApprovalRecord
from keepers.core.errors import DomainError
from keepers.core.signatures import normalise_v
from keepers.fund import plan_reads
from keepers.fund.plan_docs import (
    action_from_dict,
    action_to_dict,
    plan_from_dict,
    plan_to_dict,
    result_from_dict,
)
from keepers.fund.plan_reads import AnyPlanRow, PlanHead, PlanRow
from keepers.fund.planning.actions import Action, ActionResult, Carry, Plan
from keepers.fund.planning.inflight import InFlight, Leg, remaining
from keepers.fund.planning.plan_approval import (
    Erc1271Check,
    SignedPlan,
    contract_signature,
    plan_hash,
    signature_reason,
)
from keepers.fund.planning.triggers import Trigger, TriggerKind
from keepers.store import models as m
from keepers.store.db import Store
from keepers.store.statuses import PLAN, IntentStatus, PlanStatus, transition

KIND = "fund_rebalance"
COST_JOB = "cost:fund"  # job_runs rows booking each finished plan's fill cost (the cost budget)

# Plan statuses (stored; their transitions: keepers.store.statuses.PLAN)
PROPOSED = PlanStatus.PROPOSED
# the risk check blocked or skipped it, or a gate held it (payload "held" and "note": the cost
# budget; PlanStore.save_held)
BLOCKED = PlanStatus.BLOCKED
PENDING_APPROVAL = PlanStatus.PENDING_APPROVAL
APPROVED = PlanStatus.APPROVED
REJECTED = PlanStatus.REJECTED
EXPIRED = PlanStatus.EXPIRED
ABORTED = PlanStatus.ABORTED  # simulation failed, paused, out of gas funds: nothing (more) sent
EXECUTED = PlanStatus.EXECUTED  # every action succeeded
PARTIAL = PlanStatus.PARTIAL  # some actions failed
FAILED = PlanStatus.FAILED  # every action failed
STALE = PlanStatus.STALE  # the fund moved under it (keepers.fund.lifecycle): payload "ended"
NOTHING = "nothing_to_do"  # an outcome, never stored: the planner found nothing to do
WAITING = (PROPOSED, PENDING_APPROVAL, APPROVED)
# the PostgreSQL advisory lock every fund decision takes (PlanStore.save_decided)
DECISION_LOCK = 727_275


def _waiting(s: Any) -> Any:
    """The fund's plans still to land on chain (WAITING), oldest first, in session ``s``."""
    return s.scalars(
        select(m.Plan).where(m.Plan.kind == KIND, m.Plan.status.in_(WAITING)).order_by(m.Plan.id)
    ).all()


class PlanPendingError(DomainError, ValueError):
    """A plan with the same actions is already pending (waiting for approval or executing):
    no second one is built (exit 1, naming the pending plan)."""


def action_legs(actions: tuple[Action, ...] | list[Action]) -> tuple[tuple[Any, ...], ...]:
    """What makes two plans' actions "the same": each leg's type, tiers and asset, sorted;
    the amounts are left out (they follow the state read, which moves between two reads)."""
    return tuple(
        sorted((a.type.value, a.from_tier, a.to_tier, a.asset or "", a.max_tier) for a in actions)
    )


def _hex_bytes(text: str) -> bytes | None:
    try:
        return bytes.fromhex(text.strip().removeprefix("0x"))
    except ValueError:
        return None


def _ts(x: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(x, dt.UTC)


def _unix(at: dt.datetime) -> float:
    """Unix seconds of a stored time (UTC; a store's naive time is UTC)."""
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).timestamp()


def _leg(row: Any, intent_status: str | None) -> Leg:
    """Where a stored action stands against the chain (see PlanStore.in_flight): ``row`` has an
    action row's ``payload``, ``status`` and ``intent_id``."""
    if "result" in row.payload:
        return Leg.DONE if row.payload["result"].get("success") else Leg.FAILED
    if row.status in ("aborted", "skipped", "failed"):
        return Leg.FAILED
    if row.intent_id is None:
        return Leg.UNSENT
    if intent_status in (IntentStatus.MINED, IntentStatus.CONFIRMED):
        return Leg.LANDED
    if intent_status in (
        IntentStatus.REVERTED,
        IntentStatus.FAILED,
        IntentStatus.REJECTED,
        IntentStatus.INVALID,
    ):
        return Leg.FAILED
    return Leg.SENT


# ---------------------------------------------------------------------- repository


def approval_record(a: Any) -> ApprovalRecord:
    """An approve or reject decision row (models.Approval) as the approval policy reads it."""
    return ApprovalRecord(
        a.approver or "",
        int(a.decided_at.timestamp()) if a.decided_at else 0,
        a.decision == "approve",
        a.reason or "",
        a.signature or "",
        a.plan_hash or "",
    )


def _not_waiting(ref: str, status: Any) -> DomainError:
    return DomainError(f"plan {ref} is {status}, not waiting for approval")


class PlanStore:
    def __init__(self, store: Store, deployment: Callable[[], str] | None = None) -> None:
        self.store = store
        # the deployment new plans are recorded for (plans.deployment; the fund bot's
        # ``deployment``, read from the chain on first use); None: read-only use
        self.deployment = deployment

    def save_new(self, plan: Plan, status: str, payload: dict[str, Any]) -> None:
        """Insert a plan and its actions (a plan id already stored is left as it is)."""
        with self.store.transaction() as s:
            self._insert(s, plan, status, payload)

    def save_decided(
        self,
        plan: Plan,
        status: str,
        payload: dict[str, Any],
        *,
        fence: Callable[[Session], Any] | None = None,
    ) -> AnyPlanRow | None:
        """A decision and its record in ONE transaction: take the fund's decision lock (the
        bot's lease row through ``fence``, which raises LeaseLost when this process does not
        lead; on PostgreSQL also an advisory lock every process that plans takes, `keeper
        plan` in a terminal included), then look for a pending plan with the same legs and
        return it (nothing is written), else insert ``plan`` and return None. Two processes
        that decide at once are serialised here: the second finds the first's plan. A plan id
        another process stored meanwhile reads as that (covering) plan, never as an error."""
        legs = action_legs(plan.actions)
        try:
            with self.store.transaction() as s:
                if s.get_bind().dialect.name == "postgresql":
                    s.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": DECISION_LOCK})
                if fence is not None:
                    fence(s)
                rows = _waiting(s)
                for row in rows:
                    if row.ref == plan.id:
                        return row
                    if action_legs(plan_from_dict(row.payload["plan"]).actions) == legs:
                        return row
                self._insert(s, plan, status, payload)
        except IntegrityError:  # the same plan id inserted by another process meanwhile
            return self.get(plan.id)
        return None

    def save_held(self, plan: Plan, held: str, note: str, payload: dict[str, Any]) -> str:
        """A plan a gate held (``held``: the gate, e.g. ``cost_budget``; ``note``: what waits
        and why), stored as ``blocked`` with ``payload["held"]`` and ``payload["note"]`` so
        that ``plans.get`` finds it and ``keeper history`` shows it. The same hold again (the
        newest held plan has the same note) is that plan: one row per cause, not one per
        check. Returns the stored plan's ref."""
        with self.store.transaction() as s:
            last = s.scalars(
                select(m.Plan)
                .where(m.Plan.kind == KIND, m.Plan.status == BLOCKED)
                .order_by(m.Plan.id.desc())
                .limit(1)
            ).first()
            if last is not None and last.ref and last.payload.get("note") == note:
                return last.ref
            self._insert(s, plan, PROPOSED, {**payload, "held": held, "note": note})
            row = s.scalars(select(m.Plan).where(m.Plan.ref == plan.id)).one()
            if row.status == PROPOSED:
                transition(PLAN, row, BLOCKED)
            return plan.id

    def _insert(self, s: Session, plan: Plan, status: str, payload: dict[str, Any]) -> None:
        if s.scalars(select(m.Plan).where(m.Plan.ref == plan.id)).first() is not None:
            return
        trig = ",".join(sorted({t.kind.value for t in plan.triggers})) or None
        row = m.Plan(
            ref=plan.id,
            kind=KIND,
            status=PLAN.start(status),
            trigger=trig[:64] if trig else None,
            payload={"plan": plan_to_dict(plan), **payload},
            created_at=_ts(plan.created_at),
            deployment=self.deployment() if self.deployment is not None else None,
        )
        s.add(row)
        s.flush()
        for i, a in enumerate(plan.actions):
            s.add(
                m.Action(
                    plan_id=row.id,
                    seq=i,
                    kind=a.type.value,
                    payload={"action": action_to_dict(a)},
                )
            )

    def get(self, ref: str) -> PlanRow | None:
        """Plan ``ref``'s row with its actions and approvals, read in one transaction from the
        last commit (it never waits for the pipeline's open batch): a ``PlanRow``."""
        with self.store.connection(view=True) as c:
            return plan_reads.by_ref(c, ref)

    def find(self, prefix: str) -> PlanRow | None:
        """By full ref or a unique prefix of at least 6 characters (taken as written: ``%`` and
        ``_`` match only themselves)."""
        exact = self.get(prefix)
        if exact is not None or len(prefix) < 6:
            return exact
        with self.store.reads() as s:
            refs = s.scalars(
                select(m.Plan.ref).where(m.Plan.ref.startswith(prefix, autoescape=True))
            ).all()
        return self.get(refs[0]) if len(refs) == 1 and refs[0] else None

    def plan(self, ref: str) -> Plan:
        row = self.get(ref)
        if row is None:
            raise KeyError(ref)
        return self.plan_of(row)

    @staticmethod
    def plan_of(row: AnyPlanRow) -> Plan:
        """The plan a row holds (written once, when the plan is saved: a row already read
        gives the same plan as reading it again)."""
        return plan_from_dict(row.payload["plan"])

    def update(self, ref: str, status: str | None = None, **payload: Any) -> None:
        with self.store.transaction() as s:
            row = s.scalars(select(m.Plan).where(m.Plan.ref == ref).with_for_update()).one()
            if status is not None:
                transition(PLAN, row, status)
            if payload:
                row.payload = {**row.payload, **payload}

    def finish(self, ref: str, status: str, at: int, cost: int, **payload: Any) -> None:
        """A plan's final status and documents, and its fills' net cost booked on the cost
        budget at ``at`` (floored at 0), in one transaction."""
        with self.store.transaction() as s:
            row = s.scalars(select(m.Plan).where(m.Plan.ref == ref).with_for_update()).one()
            transition(PLAN, row, status)
            row.payload = {**row.payload, **payload, "cost": str(cost)}
            s.add(
                m.JobRun(
                    job=COST_JOB,
                    status="done",
                    started_at=_ts(at),
                    finished_at=_ts(at),
                    detail={"plan": ref, "cost": str(max(0, cost))},
                )
            )

    def cost_since(self, since: int) -> int:
        """The cost booked by plans finished at or after ``since`` (unix seconds)."""
        with self.store.sessions() as s:
            rows = s.scalars(
                select(m.JobRun.detail).where(
                    m.JobRun.job == COST_JOB, m.JobRun.started_at >= _ts(since)
                )
            ).all()
        return sum(int(d.get("cost", 0)) for d in rows)

    def costs_since(self, *since: int, view: bool = False) -> tuple[int, ...]:
        """``cost_since`` of each of ``since``, in one query (the day's and the 30 days' cost
        of every plan: keepers.fund.sizing). ``view=True`` for a page (the console's budget
        lines): the last commit, never waiting for the pipeline's open batch."""
        if not since:
            return ()
        with self.store.reads() if view else self.store.sessions() as s:
            rows = s.execute(
                select(m.JobRun.started_at, m.JobRun.detail).where(
                    m.JobRun.job == COST_JOB, m.JobRun.started_at >= _ts(min(since))
                )
            ).all()
        at = [(_unix(r[0]), int(r[1].get("cost", 0))) for r in rows]
        return tuple(sum(c for t, c in at if t >= x) for x in since)

    def record_action(self, ref: str, seq: int, status: str, **payload: Any) -> None:
        with self.store.transaction() as s:
            row = s.scalars(select(m.Plan).where(m.Plan.ref == ref)).one()
            act = s.scalars(
                select(m.Action).where(m.Action.plan_id == row.id, m.Action.seq == seq)
            ).one()
            act.status = status
            intent_id = payload.pop("intent_id", None)
            if intent_id is not None:
                act.intent_id = intent_id
            act.payload = {**act.payload, **payload}

    def results(self, ref: str) -> list[ActionResult]:
        """Executed actions' results, in execution (priority) order."""
        row = self.get(ref)
        if row is None:
            raise KeyError(ref)
        out = []
        for a in row.actions:
            if "result" in a.payload:
                out.append(
                    (
                        a.payload.get("order", a.seq),
                        result_from_dict(
                            action_from_dict(a.payload["action"]), a.payload["result"]
                        ),
                    )
                )
        return [r for _, r in sorted(out, key=lambda x: x[0])]

    def add_approval(
        self,
        ref: str,
        admin: str,
        approve: bool,
        at: int,
        requirement: str,
        note: str = "",
        signature: str | None = None,
        plan_hash: str | None = None,
    ) -> None:
        with self.store.transaction() as s:
            # checked inside the write, with the plan's row locked (SQLite's write lock,
            # PostgreSQL's FOR UPDATE): two `keeper approve` of one admin at once, or a decision
            # racing the plan's end, record one decision on a waiting plan, never two or a late
            # one (open_for_decision's status check before reads the last commit, for a clear
            # error before a passphrase is asked)
            row = s.scalars(select(m.Plan).where(m.Plan.ref == ref).with_for_update()).one()
            if row.status != PENDING_APPROVAL:
                raise _not_waiting(ref, row.status)
            earlier = s.scalars(
                select(m.Approval.approver).where(
                    m.Approval.plan_id == row.id, m.Approval.decision.in_(("approve", "reject"))
                )
            ).all()
            if any((a or "").lower() == admin.lower() for a in earlier):
                raise DomainError(f"{admin} already decided on plan {ref}")
            s.add(
                m.Approval(
                    plan_id=row.id,
                    tier=requirement,
                    approver=admin,
                    decision="approve" if approve else "reject",
                    reason=note or None,
                    decided_at=_ts(at),
                    created_at=_ts(at),
                    signature=signature,
                    plan_hash=plan_hash,
                )
            )

    def record_decision(
        self,
        ref: str,
        admin: str,
        now: int,
        approve: bool = True,
        note: str = "",
        signature: str | None = None,
        plan_hash: str | None = None,
        *,
        extra_admins: tuple[str, ...] = (),
    ) -> dict[str, Any]:
        """Record one admin's decision and nothing else (no advance, no transaction): the
        running keeper executes on its next tick. Checked against what the keeper stored with
        the plan (its admins, the approvals required, the deadline), never this process's
        settings; ``extra_admins``: who else may sign (the admin Safe itself, its signature
        checked by the caller). Refusals raise DomainError and record nothing."""
        row = self.open_for_decision(ref, now)
        stored = row.payload.get("approval") or {}
        admins = [str(a).lower() for a in stored.get("admins") or []]
        admins += [a.lower() for a in extra_admins]
        if admin.lower() not in admins:
            raise DomainError(
                f"{admin} is not an admin of plan {ref} (admins: {', '.join(admins) or 'none'})"
            )
        # (an admin who already decided is refused by add_approval, inside the write)
        self.add_approval(
            ref, admin, approve, now, stored.get("requirement", ""), note, signature, plan_hash
        )
        return {
            "plan": ref,
            "status": row.status,
            "recorded": "approve" if approve else "reject",
            "by": admin,
            "required": stored.get("required"),
            "approvals": sum(1 for a in self.approvals(ref) if a.approve),
        }

    def open_for_decision(self, ref: str, now: int) -> PlanRow:
        """The plan row if a decision on it can be recorded now (it exists, waits for
        approval, its approval deadline and, when frozen, its executor deadline have not
        passed), else DomainError naming why. `keeper approve --account` asks this before it
        asks for a passphrase."""
        row = self.get(ref)
        if row is None:
            raise DomainError(f"unknown plan {ref}")
        if row.status != PENDING_APPROVAL:
            raise _not_waiting(ref, row.status)
        deadline = (row.payload.get("approval") or {}).get("deadline")
        if deadline is not None and now > int(deadline):
            raise DomainError(f"plan {ref} expired: approval deadline {deadline} passed")
        frozen = row.payload.get("frozen")
        if frozen and "deadline" in frozen and now > int(frozen["deadline"]):
            raise DomainError(
                f"plan {ref} expired: its executor deadline {frozen['deadline']} passed"
            )
        return row

    def signed_plan(self, ref: str) -> SignedPlan | None:
        """The plan as approvers sign it, rebuilt from the stored ``frozen`` document (its
        hash recomputed, never read), or None for a plan without an executor."""
        row = self.get(ref)
        if row is None:
            raise DomainError(f"unknown plan {ref}")
        return signed_plan_of(row)

    def record_signature(
        self,
        ref: str,
        signature: bytes | str,
        now: int,
        note: str = "",
        *,
        erc1271: Erc1271Check | None = None,
        safe: str | None = None,
    ) -> dict[str, Any]:
        """Record a signed approval of a frozen plan: the signature is recovered over the plan
        hash recomputed from the stored frozen document, and the recovered ADDRESS is the
        admin checked against the stored admins (the Safe owners) by `record_decision`. A
        signature of another plan, chain, executor or of an edited plan recovers to an
        unrelated address and is refused; so are a malformed signature, a repeated signer, an
        expired or a non-waiting plan (DomainError, nothing recorded)."""
        self.open_for_decision(ref, now)
        plan = self.signed_plan(ref)
        if plan is None:
            raise DomainError(
                f"plan {ref} has no frozen plan (a deployment without a PlanExecutor): "
                "approve it with --by NAME"
            )
        sig = signature if isinstance(signature, bytes) else _hex_bytes(signature)
        if sig is None:
            raise DomainError(
                "malformed signature: expected 0x hex (65 bytes r|s|v, or a contract "
                "signer's address followed by its signature bytes)"
            )
        digest = "0x" + plan_hash(plan).hex()
        row = self.get(ref)
        assert row is not None
        admins = [str(a).lower() for a in (row.payload.get("approval") or {}).get("admins") or []]
        if len(sig) == 64:
            raise DomainError(
                "signature not counted by the executor: a 64-byte EIP-2098 short signature; "
                "ask the signer for the 65-byte r|s|v form"
            )
        by_contract = contract_signature(sig)
        if by_contract is not None:
            # a contract signer (ERC-1271): the admin Safe itself (a Safe message of the plan
            # hash its owners signed in Safe{Wallet}) or an owner that is a contract (a nested
            # Safe), checked on chain as the executor checks it
            signer, inner = by_contract
            if erc1271 is None:
                raise DomainError(
                    f"a contract signature (signer {signer}) is checked on chain: "
                    "KEEPER_RPC_URL must answer"
                )
            if signer.lower() not in admins and (safe is None or signer.lower() != safe.lower()):
                raise DomainError(
                    f"contract signer {signer} is neither the admin Safe "
                    f"({safe or 'unknown'}) nor an admin of plan {ref} (admins: "
                    f"{', '.join(admins) or 'none'})"
                )
            if not erc1271(signer, plan_hash(plan), inner):
                raise DomainError(
                    f"signature not counted by the executor: {signer}.isValidSignature does "
                    f"not accept it for plan hash {digest} (a Safe message needs its current "
                    "threshold of current owners; signed over another plan or an edited one?)"
                )
        else:
            # v 0/1 (a raw recovery id from some wallets) is the same signature as v 27/28: it
            # is recorded as 27/28, the form the executor counts
            sig, _ = normalise_v(sig)
            got = signature_reason(plan_hash(plan), sig)
            if got.signer is None:
                raise DomainError(f"signature not counted by the executor: {got.reason}")
            signer = got.signer
            if signer.lower() not in admins:
                raise DomainError(
                    f"the signature recovers to {signer}, not an admin of plan {ref} (admins: "
                    f"{', '.join(admins) or 'none'}): signed by a non-owner, or over another "
                    f"plan, chain, executor or an edited plan (plan hash now {digest})"
                )
        is_safe = safe is not None and signer.lower() == safe.lower()
        out = self.record_decision(
            ref,
            signer,
            now,
            True,
            note,
            signature="0x" + sig.hex(),
            plan_hash=digest,
            extra_admins=(signer,) if is_safe else (),
        )
        return {**out, "signer": signer, "plan_hash": digest}

    def approvals(self, ref: str) -> list[ApprovalRecord]:
        row = self.get(ref)
        if row is None:
            raise KeyError(ref)
        return [approval_record(a) for a in row.approvals if a.decision in ("approve", "reject")]

    def resumable(self) -> list[dict[str, Any]]:
        """The plans a starting keeper takes up again: waiting for approval or executing,
        each with its actions done (a result recorded), in flight (sent, no result yet) and
        in all."""
        out = []
        for row in self.with_status(*WAITING):
            acts = self.get(row.ref or "")
            actions = list(acts.actions) if acts is not None else []
            done = sum(1 for a in actions if "result" in a.payload)
            sent = sum(1 for a in actions if "result" not in a.payload and a.intent_id)
            out.append(
                {
                    "ref": row.ref,
                    "status": str(row.status),
                    "done": done,
                    "in_flight": sent,
                    "total": len(actions),
                }
            )
        return out

    def in_flight(self, exclude: str | None = None) -> list[InFlight]:
        """Every plan that has not ended (proposed, pending approval, approved), oldest first,
        with the actions the chain does not hold yet (keepers.fund.planning.inflight): an
        action with a result is in the chain's state or never will be; one sent is followed
        through its intent (mined or confirmed: in the chain's state; reverted, failed or
        refused: never; otherwise still to land). Read on every tick: two prebuilt queries in
        one transaction (the plans, then every leg of theirs with its intent's status)."""
        with self.store.connection() as c:
            plans, legs_of = plan_reads.legs_in_statuses(c, KIND, WAITING)
        out = []
        for row in plans:
            if row.ref is None or row.ref == exclude:
                continue
            legs = [
                (action_from_dict(a.payload["action"]), _leg(a, a.intent_status))
                for a in legs_of.get(row.id, [])
            ]
            out.append(InFlight(row.ref, str(row.status), remaining(legs)))
        return out

    def executing(self, exclude: str | None = None) -> str | None:
        """The approved plan whose execution has started (a first send recorded, or an action
        sent or done), other than ``exclude``: one plan executes at a time (the fund's
        positions move under one plan only, and each plan verifies against its own start)."""
        for row in self.with_status(APPROVED):
            if row.ref is None or row.ref == exclude:
                continue
            full = self.get(row.ref)
            if full is None:
                continue
            if "start" in full.payload or any(
                a.intent_id is not None or "result" in a.payload for a in full.actions
            ):
                return row.ref
        return None

    def with_status(self, *statuses: str, view: bool = False) -> list[PlanHead]:
        """The plans in ``statuses``, oldest first: their own columns (``PlanHead``; ``get``
        reads one with its actions and approvals). ``view=True`` for a page or a listing (the
        console, `keeper review`): the last commit, never waiting for the pipeline's open
        batch; a keeper's decision keeps the default, which waits for it (``sessions()``)."""
        with self.store.connection(view=view) as c:
            return plan_reads.in_statuses(c, KIND, statuses)

    def history(self, limit: int = 20) -> list[m.Plan]:
        """The newest ``limit`` plans, newest first: for listings only (`keeper history` and
        `status`, the console), so it reads the last commit and never waits for a writer."""
        with self.store.reads() as s:
            return list(
                s.scalars(
                    select(m.Plan)
                    .where(m.Plan.kind == KIND)
                    .order_by(m.Plan.id.desc())
                    .limit(limit)
                ).all()
            )

    # -- job runs (last scheduled checks, for the daily / weekly triggers)

    def last_job_run(self, job: str) -> int | None:
        """When the newest finished run of ``job`` started (unix seconds), if one ran."""
        with self.store.connection() as c:
            at = plan_reads.newest_done_start(c, job)
        return int(at.timestamp()) if at is not None else None

    def last_job_detail(self, job: str) -> dict[str, Any] | None:
        """The detail of the newest finished run of ``job`` (by id), if one ran: each alert
        code's cause is read here on every tick (FundBot.alert_once, end_alert)."""
        with self.store.connection() as c:
            return plan_reads.newest_done_detail(c, job)

    def last_job_details(self, jobs: list[str]) -> dict[str, dict[str, Any]]:
        """``last_job_detail`` of each of ``jobs`` that has run, in one query (the newest
        finished run of each, by id)."""
        if not jobs:
            return {}
        with self.store.connection() as c:
            return plan_reads.newest_done_details(c, jobs)

    def record_job_run(self, job: str, at: int, detail: dict[str, Any]) -> None:
        with self.store.transaction() as s:
            s.add(
                m.JobRun(
                    job=job, status="done", started_at=_ts(at), finished_at=_ts(at), detail=detail
                )
            )


# ---------------------------------------------------------------------- slice schedule


class CarryStore:
    """The fund keeper's slice schedule (table fund_carry): the flow venue depth left undone,
    one active row per tier, replaced by every plan the keeper makes."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def active(self, *, view: bool = False) -> list[m.FundCarry]:
        """The active rows, by tier. ``view=True`` for a page or `keeper status`: the last
        commit, never waiting for the pipeline's open batch (``PlanStore.with_status``)."""
        with self.store.reads() if view else self.store.sessions() as s:
            return list(
                s.scalars(
                    select(m.FundCarry)
                    .where(m.FundCarry.status == "active")
                    .order_by(m.FundCarry.tier)
                ).all()
            )

    def due(self, now: int) -> list[m.FundCarry]:
        return [r for r in self.active() if int(r.next_at.timestamp()) <= now]

    def replace(self, plan: Plan, now: int, next_at: int) -> None:
        """The plan's carry becomes the schedule: earlier rows are closed (``done`` when the
        plan leaves nothing to carry, ``superseded`` otherwise); slices count on."""
        with self.store.transaction() as s:
            rows = s.scalars(select(m.FundCarry).where(m.FundCarry.status == "active")).all()
            slices = max((r.slices for r in rows), default=-1) + 1
            for r in rows:
                r.status = "superseded" if plan.carry else "done"
            for c in plan.carry:
                s.add(
                    m.FundCarry(
                        plan_ref=plan.id,
                        tier=c.tier,
                        amount=str(c.amount),
                        status="active",
                        reason=c.reason,
                        slices=slices,
                        next_at=_ts(next_at),
                        created_at=_ts(now),
                    )
                )

    def join(self, carry: list[Carry], ref: str, now: int, next_at: int) -> None:
        """Flow left by something other than a plan of this keeper (a due run's ``MoveCut``)
        joins the schedule: added to the tier's active row, or a new row from ``next_at``."""
        with self.store.transaction() as s:
            rows = {
                r.tier: r
                for r in s.scalars(select(m.FundCarry).where(m.FundCarry.status == "active"))
            }
            for c in carry:
                row = rows.get(c.tier)
                if row is not None:
                    row.amount = str(int(row.amount) + c.amount)
                    row.reason = f"{row.reason}; {c.reason}"
                    continue
                s.add(
                    m.FundCarry(
                        plan_ref=ref,
                        tier=c.tier,
                        amount=str(c.amount),
                        status="active",
                        reason=c.reason,
                        slices=0,
                        next_at=_ts(next_at),
                        created_at=_ts(now),
                    )
                )

    def postpone(self, next_at: int) -> None:
        with self.store.transaction() as s:
            for r in s.scalars(select(m.FundCarry).where(m.FundCarry.status == "active")).all():
                r.next_at = _ts(next_at)

    def triggers(self) -> list[Trigger]:
        """The active schedule as ``carry`` triggers for the planner."""
        from keepers.fund.planning.plan import CARRY

        return [
            Trigger(TriggerKind.SCHEDULED, CARRY, r.reason, r.tier, None, int(r.amount))
            for r in self.active()
        ]


def signed_plan_of(row: Any) -> SignedPlan | None:
    """The plan as approvers sign it, rebuilt from a row's stored ``frozen`` document (its hash
    recomputed, never read), or None for a plan without an executor; DomainError when the
    document is unusable. For a row already read (the approval queue reads its rows once)."""
    frozen = row.payload.get("frozen")
    if not frozen:
        return None
    try:
        return SignedPlan.from_frozen(frozen)
    except (ValueError, TypeError) as err:
        raise DomainError(f"plan {row.ref}: its frozen document is unusable: {err}") from None
