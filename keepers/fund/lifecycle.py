"""A fund plan's lifecycle policy: its states, the moves between them, what counts as in
flight, and the rules that no plan waits forever and none outlives the fund it was made for.

The states (keepers.store.statuses.PlanStatus, one column on the plan's row) and who moves a
plan between them (``FundBot.advance`` on every tick, event and approval, and the execution
stage, keepers.fund.execution)::

    proposed ──risk check──> pending_approval ──signed──> approved ──sent──> executed
      │  │                     │   │   │                    │  │  │           partial
      │  └─> blocked           │   │   └─> rejected         │  │  │           failed
      │      (risk, a gate)    │   └─> expired              │  │  └─> aborted (simulation
      │                        │       (approval deadline)  │  │      failed, paused, no
      └─> stale                └─> stale                    │  │      frozen document)
                                                            │  └─> expired (executor deadline)
                                                            └─> stale (the actions not sent
                                                                are recorded aborted)

A plan is **in flight** while it is proposed, pending approval or approved
(``keepers.fund.records.WAITING``): the planner plans against the fund as these will leave it
(keepers.fund.planning.inflight), a plan waiting for a human holds the non-urgent flow, and a
plan with the same legs is not made twice. Every other status is final and counts for nothing.

**Stale.** A plan is a bet on the fund it was made from, and the fund has other movers (the
on-chain recurring rebalancer executed by anyone, holders' deposits, requests and cancels,
price moves, a keeper restarted in the middle of another's work). Each stage that reads the
chain again asks ``Lifecycle.fit`` whether the plan still fits the fund as it is now (with the
plans stored before it still to land): the risk check of a proposed plan, every tick of a plan
pending approval, the execution before its simulation and before each send. What does not fit
(keepers.fund.planning.fit: cash short, a tier already at or past the plan's aim, a position
gone, a venue held or at its cap, a redemption queue the plan did not see) ends the plan ``stale`` with the reason in words
(payload ``ended``), a ``plan_stale`` warning, and the next plan is made from the fund as it is
in the same tick when a trigger still holds (``FundBot.tick``). A plan's risk check never
raises on a plan the fund moved under: it reports a ``fit`` finding.

**Nothing waits forever.** A plan left ``proposed`` by a killed keeper is picked up by the next
tick (its risk check, then on or stale). A plan pending approval past its approval deadline
ends ``expired``; an approved plan behind a PlanExecutor whose frozen deadline passed before it
could run ends ``expired`` as well: both with the reason, a ``plan_expired`` alert, the console's
webhook (keepers.console.notify, kind ``ended``) and the reason in ``keeper history``. They end
at the next tick, or earlier, when a check is about to plan (``expire_overdue``): a plan past
its deadline can never run, so it must not cover or hold the plan a trigger makes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from keepers.core.logging import get_logger
from keepers.fund.outcome import CycleOutcome
from keepers.fund.plan_docs import plan_from_dict
from keepers.fund.planning.actions import Plan
from keepers.fund.planning.fit import Basis, describe, misfits
from keepers.fund.planning.inflight import project
from keepers.fund.planning.state import FundState
from keepers.fund.records import (
    APPROVED,
    EXPIRED,
    PENDING_APPROVAL,
    STALE,
    WAITING,
    PlanStore,
)
from keepers.runtime.alerts import AlertLevel

log = get_logger("keepers.fundbot")

IN_FLIGHT = WAITING
STALE_ALERT = "plan_stale"
EXPIRED_ALERT = "plan_expired"


def basis_doc(planned_on: FundState, plan: Plan) -> dict[str, Any]:
    """The ``basis`` stored with a plan: what it was made against (keepers.fund.planning.fit)."""
    return Basis.of(planned_on, plan).to_doc()


class Lifecycle:
    """The policy above over the plan store; ``alert(level, code, message, ref)``."""

    def __init__(self, plans: PlanStore, alert: Callable[..., Any]) -> None:
        self.plans = plans
        self.alert = alert

    def fit(self, ref: str, state: FundState, done: Collection[int] = ()) -> str | None:
        """Why plan ``ref``'s actions not in ``done`` no longer fit ``state`` (the chain now),
        with the plans stored before it still to land; None when they fit."""
        row = self.plans.get(ref)
        if row is None:
            return None
        older = []
        for f in self.plans.in_flight():
            if f.ref == ref:
                break
            older.append(f)
        basis = Basis.from_doc(row.payload.get("basis"))
        # the plan document from the row read above (written once, at the plan's insert)
        found = misfits(project(state, older), plan_from_dict(row.payload["plan"]), basis, done)
        return describe(found) or None

    def end(self, ref: str, status: str, reason: str, now: int, stage: str) -> CycleOutcome:
        """End plan ``ref`` with ``status`` (stale or expired) and its reason: one write, then
        the alert (``plan_stale`` warning, ``plan_expired`` critical)."""
        ended = {"status": str(status), "reason": reason, "at": now, "stage": stage}
        self.plans.update(ref, status, ended=ended)
        if status == STALE:
            msg = f"plan {ref} is stale at its {stage}: {reason}; a new plan is made from the fund as it is"
            self.alert(AlertLevel.WARNING, STALE_ALERT, msg, ref)
        else:
            msg = f"plan {ref} expired at its {stage}: {reason}; the next trigger plans again"
            self.alert(AlertLevel.CRITICAL, EXPIRED_ALERT, msg, ref)
        log.warning("plan.ended", plan=ref, status=str(status), stage=stage, reason=reason)
        return CycleOutcome(ref, str(status), reason)

    def stale(self, ref: str, reason: str, now: int, stage: str) -> CycleOutcome:
        return self.end(ref, STALE, reason, now, stage)

    def expire(self, ref: str, reason: str, now: int, stage: str) -> CycleOutcome:
        return self.end(ref, EXPIRED, reason, now, stage)

    def expire_overdue(self, now: int) -> list[CycleOutcome]:
        """Every plan past its deadline ends expired now, before a check plans (not only at
        the next tick): one pending approval past its approval deadline, one approved with
        nothing sent past its executor deadline. Such a plan can never run, so it must not
        cover or hold the plan a trigger makes."""
        out = []
        for row in self.plans.with_status(PENDING_APPROVAL):
            deadline = (row.payload.get("approval") or {}).get("deadline")
            if row.ref and deadline is not None and now > int(deadline):
                late = f"its approval deadline {int(deadline)} passed unsigned"
                out.append(self.expire(row.ref, late, now, "approval"))
        for row in self.plans.with_status(APPROVED):
            why = self.executor_overdue(row.payload, now)
            full = self.plans.get(row.ref or "") if why is not None else None
            if full is not None and not any(a.intent_id for a in full.actions):
                out.append(self.expire(str(row.ref), str(why), now, "execution"))
        return out

    @staticmethod
    def executor_overdue(payload: dict[str, Any], now: int) -> str | None:
        """Why an approved plan can no longer run behind its PlanExecutor: its frozen deadline
        passed (None: it has none, or it has not passed)."""
        frozen = payload.get("frozen") or {}
        if "deadline" not in frozen or now <= int(frozen["deadline"]):
            return None
        return (
            f"its executor deadline {int(frozen['deadline'])} passed (now {now}): the executor "
            "refuses it; a fresh plan needs fresh signatures"
        )


def ended_of(payload: dict[str, Any]) -> dict[str, Any] | None:
    """How a plan ended (status, reason, at, stage), in one shape whatever a keeper wrote:
    a mapping (`Lifecycle.end`, the approval and execution stages, and from 0.2.0 the
    other-deployment end), or the bare reason string the 0.2.0 development keepers wrote for a
    plan of another deployment (read as ``{"reason": ...}``). None: the payload says nothing."""
    ended = payload.get("ended")
    if ended is None or ended == {}:
        return None
    if isinstance(ended, dict):
        return ended
    return {"reason": str(ended)}


def ended_reason(payload: dict[str, Any]) -> str | None:
    """The reason a plan ended stale, expired or as another deployment's (None: not said)."""
    ended = ended_of(payload) or {}
    return ended.get("reason")
