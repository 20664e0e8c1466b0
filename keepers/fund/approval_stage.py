"""Stages 3-4 of a fund plan's lifecycle: the approval decision and the freeze.

Without a PlanExecutor a plan's approval is the configured admins' recorded decisions under the
approval policy (keepers.core.approval). With one, the plan is frozen (every action encoded at
one reading, in send order, with its plan id and deadline, a pool leg as its aim (minOut zero)
with a band under the oracle its minOut may never pass at execution: what the admins sign and
the executor runs; the minOut itself is set from the fill simulated when the leg is sent,
keepers.fund.planning.fills), and only EIP-712 signatures of that frozen plan's recomputed hash by the
admin Safe's current owners count, within the SLA; the frozen calls carry those signatures.

`ApprovalStage` holds no state of its own: every document is read from and written to the
plan's row through the plan store, so a keeper killed between two calls loses nothing. It
takes what it needs as values (`ApprovalServices`), not the bot: it imports nothing of
keepers.fund.bot."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from web3 import Web3

from keepers.core import approval as approval_policy
from keepers.core.amounts import format_amount
from keepers.core.logging import get_logger
from keepers.fund.actions import EncodedCall
from keepers.fund.outcome import CycleOutcome
from keepers.fund.plan_reads import AnyPlanRow
from keepers.fund.planning import plan_approval
from keepers.fund.planning.actions import Action, Plan
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.fills import signed_band
from keepers.fund.reader import FundReading
from keepers.fund.records import EXPIRED, PlanStore
from keepers.runtime.alerts import AlertLevel
from keepers.tx.contracts import FundContracts
from keepers.tx.reads import Read, call_all, checksum, fn

log = get_logger("keepers.fundbot")


@dataclass(frozen=True)
class ApprovalServices:
    """What the approval stage reads and tells: ``plans`` (the store of the plans, their
    approvals and frozen documents), ``contracts`` (the executor and the admin Safe), ``w3``
    (the chain id, ERC-1271 checks), ``controller`` (the fund's controller address),
    ``execution_window_s`` (KEEPER_PLAN_EXECUTION_WINDOW_S), ``encode_all(reading, plan)``
    (every action encoded in send order) and ``alert(level, code, message, ref)``."""

    cfg: PlanningConfig
    plans: PlanStore
    contracts: FundContracts
    w3: Web3
    controller: str
    execution_window_s: int
    encode_all: Callable[[FundReading, Plan], list[tuple[int, Action, EncodedCall]]]
    alert: Callable[..., Any]


@dataclass(frozen=True)
class AdminView:
    """What the approval decision reads of the PlanExecutor and of its admin Safe: the
    executor's ``approvalThreshold``, its per-window unapproved total (``unapprovedBudget``:
    budget and used), ``requiredApprovals`` and ``safe``; the Safe's owners (checksummed) and
    threshold. Read in two JSON-RPC batches (:func:`read_admin_view`), not one ``eth_call``
    each: seven round trips a pending plan a tick before, each a remote node's latency."""

    approval_threshold: int
    budget: int
    used: int
    required_approvals: int
    safe: str
    owners: tuple[str, ...]
    safe_threshold: int


_EXECUTOR_READS = ("approvalThreshold", "unapprovedBudget", "requiredApprovals", "safe")


def read_admin_view(w3: Web3, executor: str) -> AdminView:
    """The executor's four views in one batch, then its Safe's owners and threshold in a second,
    each at the node's latest block when it answers: nothing pins the two batches (or the calls
    of one, on a node that spreads a batch) to one block, as nothing pinned the seven calls
    before; the executor checks the signatures against its Safe again when the plan runs. A
    failed read raises as web3's ``.call()`` does (a revert as ``ContractLogicError``, no or an
    undecodable answer as ``BadFunctionCallOutput``, the node's refusal as ``Web3RPCError``)."""
    threshold, (budget, _, used), required, safe = call_all(
        w3, [Read(executor, fn("PlanExecutor", name)) for name in _EXECUTOR_READS], "latest"
    )
    owners, safe_threshold = call_all(
        w3,
        [Read(safe, fn("ISafeView", "getOwners")), Read(safe, fn("ISafeView", "getThreshold"))],
        "latest",
    )
    return AdminView(
        approval_threshold=int(threshold),
        budget=int(budget),
        used=int(used),
        required_approvals=int(required),
        safe=checksum(safe),
        owners=tuple(checksum(o) for o in owners),
        safe_threshold=int(safe_threshold),
    )


class ApprovalStage:
    """The approval decision and the freeze of the fund's plans (see the module doc)."""

    def __init__(self, services: ApprovalServices) -> None:
        self.services = services
        self.cfg = services.cfg
        self.plans = services.plans
        self.contracts = services.contracts

    def decide(self, ref: str, now: int) -> approval_policy.ApprovalDecision:
        """The plan's approval status at ``now``. A frozen plan (a PlanExecutor is deployed)
        counts only EIP-712 signatures of its recomputed plan hash by current Safe owners,
        recorded before the SLA deadline (``--by`` rows are ignored); otherwise the configured
        admins' recorded decisions (seed 001 section 6.1)."""
        decision, approval = self.decision(ref, now)
        self.plans.update(ref, approval=approval)
        return decision

    def decision(
        self, ref: str, now: int, frozen: dict[str, Any] | None = None
    ) -> tuple[approval_policy.ApprovalDecision, dict[str, Any]]:
        """`decide` without the write: the decision and the plan's ``approval`` document (of
        ``frozen`` when given: the plan about to be stored with it)."""
        row = self.plans.get(ref)
        assert row is not None
        p = self.plans.plan_of(row)
        requested = int(row.payload.get("requested_at", p.created_at))
        dec = self.read_decimals(row)
        frozen = frozen if frozen is not None else row.payload.get("frozen")
        signed = frozen is not None and self.contracts.executor is not None
        view = self.admin_view()
        cfg = self._approval_config(dec, view)
        records = self.plans.approvals(ref)
        decision = approval_policy.decide(
            p.total_amount, dec, requested, [] if signed else records, now, cfg
        )
        admins = [a.lower() for a in self.cfg.rebalance_admins]
        extra: dict[str, Any] = {}
        if signed:
            assert frozen is not None and view is not None
            owners = list(view.owners)
            admins = [o.lower() for o in owners]
            extra = {"signed": True, "plan_hash": frozen.get("plan_hash")}
            if decision.deadline is not None:
                decision = self._decide_signed(decision, frozen, records, view, requested, now)
        approval = {
            "status": decision.status.value,
            "requirement": decision.requirement.value,
            "required": decision.required,
            "approvals": list(decision.approvals),
            "deadline": decision.deadline,
            # the running keeper's own admins (the Safe's current owners behind an
            # executor): `keeper approve` checks against these only
            "admins": admins,
            "detail": decision.detail,
            **extra,
        }
        return decision, approval

    def _decide_signed(
        self,
        base: approval_policy.ApprovalDecision,
        frozen: dict[str, Any],
        records: list[approval_policy.ApprovalRecord],
        view: AdminView,
        requested: int,
        now: int,
    ) -> approval_policy.ApprovalDecision:
        """``base`` (requirement, SLA deadline) decided on the signatures of ``view``'s Safe
        owners."""
        S = approval_policy.ApprovalStatus
        assert base.deadline is not None
        deadline = base.deadline
        required = base.required
        if base.requirement is approval_policy.Requirement.MULTI_ADMIN:
            required = max(required, view.required_approvals)
        lower = {o.lower() for o in view.owners}
        # a rejection by a current owner (signed or not) rejects: refusing only reduces risk
        for r in sorted(records, key=lambda r: r.at):
            if (
                not r.approve
                and r.admin.lower() in lower
                and requested <= r.at <= min(deadline, now)
            ):
                return replace(
                    base,
                    status=S.REJECTED,
                    required=required,
                    detail=f"rejected by {r.admin} at {r.at}",
                )
        count = self.count_signed(frozen, records, view, requested, deadline, now)
        approvers = tuple(a.lower() for a in count.approvers)
        if count.enough(required):
            status, what = S.APPROVED, "signed"
        elif now > deadline:
            status, what = S.EXPIRED, "signed; deadline passed"
        else:
            status, what = S.PENDING, "signed so far"
        detail = (
            f"{count.count} of {required} current Safe owners {what} plan hash "
            f"{frozen.get('plan_hash')} (deadline {deadline})"
        )
        if count.rejected:
            detail += "; not counted: " + "; ".join(why for _, why in count.rejected)
        return replace(base, status=status, required=required, approvals=approvers, detail=detail)

    def count_signed(
        self,
        frozen: dict[str, Any],
        records: list[approval_policy.ApprovalRecord],
        view: AdminView,
        requested: int,
        deadline: int,
        now: int,
    ) -> plan_approval.ApprovalCount:
        """The owners of ``view``'s Safe whose signatures of the frozen plan (its hash
        recomputed from the stored document, so an edited action counts nobody) were recorded
        in time; a Safe message counts as the Safe at ``view``'s threshold."""
        sp = plan_approval.SignedPlan.from_frozen(frozen)
        sigs = [
            r.signature
            for r in records
            if r.approve and r.signature and requested <= r.at <= min(deadline, now)
        ]
        return plan_approval.count_approvals(
            sp,
            list(sigs),
            list(view.owners),
            min(now, deadline),
            deadline,
            safe=view.safe,
            safe_threshold=view.safe_threshold,
            erc1271=plan_approval.erc1271_checker(self.services.w3),
        )

    def signatures(self, ref: str, frozen: dict[str, Any], now: int) -> list[bytes]:
        """The signatures executeAction carries: those of the counted owners (recounted against
        the Safe's owners now: one removed since approval no longer counts)."""
        row = self.plans.get(ref)
        assert row is not None
        approval = row.payload.get("approval") or {}
        if approval.get("deadline") is None:  # no approval needed: the executor asks none
            return []
        p = self.plans.plan_of(row)
        requested = int(row.payload.get("requested_at", p.created_at))
        deadline = int(approval["deadline"])
        records = [
            r
            for r in self.plans.approvals(ref)
            if r.approve and r.signature and requested <= r.at <= min(deadline, now)
        ]
        view = self.admin_view()
        assert view is not None  # a frozen plan with a deadline: an executor is deployed
        count = self.count_signed(frozen, records, view, requested, deadline, now)
        skipped = {i for i, _ in count.rejected}
        return [
            bytes.fromhex(r.signature.removeprefix("0x"))
            for i, r in enumerate(records)
            if i not in skipped
        ]

    def admin_view(self) -> AdminView | None:
        """The executor's and its Safe's views the decision reads (:func:`read_admin_view`);
        None without an executor."""
        ex = self.contracts.executor
        return None if ex is None else read_admin_view(self.services.w3, ex.address)

    def _approval_config(self, base_decimals: int, view: AdminView | None) -> Any:
        """The planning config the approval policy applies: behind a PlanExecutor, a plan above
        the smallest of APPROVAL_MULTISIG_AMOUNT, the executor's approvalThreshold and what is
        left of its per-window unapproved total is multi-admin, so the keeper never sends a plan the contract would refuse for lack of
        signatures (the contract measures notional as the controller's budget delta)."""
        if view is None:
            return self.cfg
        # and what the executor's per-window unapproved total has left: a plan it cannot take
        # without signatures needs them, however small (splitting gains nothing on chain)
        limit = min(view.approval_threshold, max(view.budget - view.used, 0))
        whole = limit // 10**base_decimals
        if whole >= self.cfg.approval_multisig_amount:
            return self.cfg
        return self.cfg.model_copy(
            update={
                "approval_multisig_amount": whole,
                "rebalance_approval_threshold": min(self.cfg.rebalance_approval_threshold, whole),
                "approval_review_amount": min(self.cfg.approval_review_amount, whole),
            }
        )

    def admin_safe(self) -> tuple[str | None, int]:
        """The admin Safe behind the executor and its current threshold (what a Safe message
        of the plan is worth); (None, 0) without an executor."""
        view = self.admin_view()
        return (None, 0) if view is None else (view.safe, view.safe_threshold)

    def freeze(self, ref: str, reading: FundReading, now: int) -> dict[str, Any]:
        """Fix the plan the admins sign and the executor runs: every action encoded at this
        reading (its quote and min_out), in send (priority) order; plan id keccak(ref); deadline
        the approval deadline (or now, when none is needed) plus KEEPER_PLAN_EXECUTION_WINDOW_S.
        Stored as the plan payload's ``frozen`` document; execution sends exactly its calldata."""
        frozen = self.frozen_doc(ref, reading, now)
        self.plans.update(ref, frozen=frozen)
        return frozen

    def frozen_doc(self, ref: str, reading: FundReading, now: int) -> dict[str, Any]:
        """The document `freeze` stores (nothing written)."""
        ex = self.contracts.executor
        assert ex is not None
        row = self.plans.get(ref)
        assert row is not None
        p = self.plans.plan_of(row)
        calls = self.services.encode_all(reading, p)
        requested = int(row.payload.get("requested_at", p.created_at))
        dec = self.read_decimals(row)
        policy = approval_policy.decide(
            p.total_amount, dec, requested, [], now, self._approval_config(dec, self.admin_view())
        )
        base = policy.deadline if policy.deadline is not None else now
        sp = plan_approval.SignedPlan(
            plan_id=plan_approval.SignedPlan.plan_id_for(ref),
            chain_id=int(self.services.w3.eth.chain_id),
            executor=ex.address,
            controller=self.services.controller,
            deadline=base + self.services.execution_window_s,
            actions=tuple(bytes.fromhex(c.calldata.removeprefix("0x")) for _, _, c in calls),
            max_slippage_bps=tuple(
                signed_band(c.quote, self.cfg) if c.min_out is not None else 0 for _, _, c in calls
            ),
        )
        frozen = sp.to_frozen([i for i, _, _ in calls], [c.function for _, _, c in calls])
        # informational: the minOut the legs would have carried at this reading (the send sets
        # its own from the fill then, within the signed band)
        frozen["min_out"] = [None if c.min_out is None else str(c.min_out) for _, _, c in calls]
        frozen["block"] = reading.block
        log.info("plan.frozen", plan=ref, plan_hash=frozen["plan_hash"], actions=len(calls))
        return frozen

    def approval_alert(
        self, ref: str, decision: approval_policy.ApprovalDecision, now: int
    ) -> None:
        """Once per plan, when it starts waiting: what it needs, by when, and how to sign."""
        row = self.plans.get(ref)
        assert row is not None
        if row.payload.get("approval_alerted") is not None:
            return
        p = self.plans.plan_of(row)
        dec = self.read_decimals(row)
        frozen = row.payload.get("frozen")
        when = (
            dt.datetime.fromtimestamp(decision.deadline, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            if decision.deadline is not None
            else "none"
        )
        msg = (
            f"plan {ref} needs approval: total {format_amount(p.total_amount, dec)} "
            f"({p.total_amount} base units), "
            f"{decision.requirement.value}, {decision.required} approval(s) required by {when}"
        )
        if frozen is not None and self.contracts.executor is not None:
            msg += (
                f"; plan hash {frozen.get('plan_hash')}; sign with: "
                f"keeper approve {ref} --account <alias> (a current Safe owner)"
            )
        else:
            msg += f"; approve with: keeper approve {ref} --by <admin>"
        self.services.alert(
            AlertLevel.WARNING,
            "approval_needed",
            msg,
            ref,
            required=decision.required,
            deadline=decision.deadline,
            plan_hash=(frozen or {}).get("plan_hash"),
        )
        self.plans.update(ref, approval_alerted=now)

    def read_decimals(self, row: AnyPlanRow) -> int:
        report = row.payload.get("report") or {}
        return int(report.get("base_decimals", 6))

    def frozen_calls(
        self,
        ref: str,
        frozen: dict[str, Any],
        now: int,
        legs: dict[int, bytes] | None = None,
    ) -> dict[int, EncodedCall]:
        """position -> executor.executeAction(header, position, actions[position], actionHashes,
        signatures) of a frozen plan: the calldata approved, with the counted owners'
        signatures (none when the plan needs no approval). ``legs`` gives the calldata sent for
        some positions (a pool leg with its minOut: its aim must be the approved action)."""
        ex = self.contracts.executor
        assert ex is not None
        sp = plan_approval.SignedPlan.from_frozen(frozen)
        sigs = self.signatures(ref, frozen, now)
        functions = frozen.get("functions") or []
        mins = frozen.get("min_out") or []
        out = {}
        for k in range(len(sp.actions)):
            leg = (legs or {}).get(k)
            data = plan_approval.encode_execute_action(sp, k, sigs, leg)
            fn = functions[k] if k < len(functions) else "executeAction"
            mo = mins[k] if k < len(mins) else None
            if leg is not None:
                mo = plan_approval.leg_min_out(leg)
            out[k] = EncodedCall(
                ex.address,
                "0x" + data.hex(),
                fn,
                (k,),
                None if mo is None else int(mo),
            )
        return out

    def frozen_expired(self, ref: str, frozen: dict[str, Any], now: int) -> CycleOutcome | None:
        """A frozen plan past its on-chain deadline cannot run: expired with an alert (the
        planner makes a fresh plan, which needs fresh approvals; keepers.fund.lifecycle)."""
        deadline = int(frozen["deadline"])
        if now <= deadline:
            return None
        msg = f"frozen plan expired: deadline {deadline} < now {now}; the planner makes a new plan"
        self.services.alert(AlertLevel.CRITICAL, "plan_expired", msg, ref)
        ended = {"status": str(EXPIRED), "reason": msg, "at": now, "stage": "execution"}
        self.plans.update(ref, EXPIRED, ended=ended)
        return CycleOutcome(ref, EXPIRED, msg)
