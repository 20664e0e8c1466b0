"""Rollback plans (seed 001 section 7.2): on-chain moves cannot be undone, but a MANUAL plan
can reverse what executed. It is approved like any plan (approval.decide on its own total).

Fixes against the seed's create_rollback_plan:
- it reversed actions in their original order with their original priorities; a reversal runs
  in reverse execution order (the last move is undone first);
- a PURCHASE was reversed by a REDEEM of the *cash* amount; it is a redeemAsset of the tokens
  actually received;
- everything that was not a purchase became a PURCHASE: a redeem is reversed by buying the
  same asset with the cash received, a waterfall liquidation by allocateToLayer into the tiers
  it drew from (amounts from the measured deltas when the verifier has them), an allocation
  to L2 by a waterfall capped at L2; what cannot be reversed exactly (an allocation to L3,
  rebalanceBuffer, a purchase without its receipt) is listed in ``unresolved``, not guessed;
- it copied ``requires_approval`` and the pre/target states of the failed plan; the rollback
  plan carries its own actions and the caller runs the approval policy on its total;
- ``datetime.utcnow()``: time is passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from keepers.fund.planning.plan import Action, ActionResult, ActionType, Plan, Unresolved, plan_id
from keepers.fund.planning.simulate import purchase, redeem, tier_deltas
from keepers.fund.planning.state import Tier
from keepers.fund.planning.triggers import manual_trigger


def reverse_action(result: ActionResult) -> Action | Unresolved:
    """The action that undoes one executed action, or why there is none."""
    a = result.action
    why = f"rollback of {a.type.value}: {a.reason}"
    if a.type is ActionType.PURCHASE:
        if result.received is None or a.asset is None or a.to_tier is None:
            return Unresolved(a.to_tier, "missing_receipt", f"{why}: tokens received unknown")
        value = result.actual_deltas[a.to_tier] if result.actual_deltas else a.amount
        return redeem(a.to_tier, a.asset, value, result.received, 1, why)
    if a.type is ActionType.REDEEM:
        cash = result.received if result.received is not None else a.amount
        tier = a.from_tier if a.from_tier is not None else Tier.L2
        return purchase(tier, a.asset, cash, 1, why)
    if a.type is ActionType.ALLOCATE and a.to_tier == Tier.L2:
        return Action(
            ActionType.WATERFALL,
            a.amount,
            1,
            why,
            from_tier=Tier.L2,
            to_tier=Tier.L1,
            max_tier=Tier.L2,
            expected_deltas=tier_deltas(Tier.L2, a.amount, -a.amount),
        )
    return Unresolved(
        a.to_tier,
        "irreversible",
        f"{why}: no exact reverse call (per-asset effect decided on chain); plan it by hand",
    )


def _waterfall_reversals(result: ActionResult) -> list[Action | Unresolved]:
    """A waterfall drew from L2 then L3: allocate back what it took from each, L3 first."""
    a = result.action
    deltas = result.actual_deltas or a.expected_deltas
    out: list[Action | Unresolved] = []
    for tier in (Tier.L3, Tier.L2):
        taken = -deltas[tier]
        if taken > 0:
            out.append(
                Action(
                    ActionType.ALLOCATE,
                    taken,
                    1,
                    f"rollback of waterfall: {a.reason}",
                    from_tier=Tier.L1,
                    to_tier=tier,
                    expected_deltas=tier_deltas(tier, -taken, taken),
                )
            )
    if not out:
        out.append(Unresolved(None, "irreversible", "waterfall with no known tier deltas"))
    return out


def create_rollback_plan(
    failed: Plan, executed: Sequence[ActionResult], now: int, requested_by: str
) -> Plan:
    """A MANUAL plan reversing the successful results of ``failed``, given in execution order."""
    actions: list[Action] = []
    unresolved: list[Unresolved] = []
    for result in reversed([r for r in executed if r.success]):
        if result.action.type is ActionType.WATERFALL:
            steps = _waterfall_reversals(result)
        else:
            steps = [reverse_action(result)]
        for step in steps:
            if isinstance(step, Action):
                actions.append(step)
            else:
                unresolved.append(step)
    numbered = tuple(replace(a, priority=i) for i, a in enumerate(actions, start=1))
    trigger = manual_trigger(requested_by, f"rollback of plan {failed.id}")
    return Plan(
        id=plan_id(now, numbered, salt=f"rollback-{failed.id}"),
        created_at=now,
        triggers=(trigger,),
        actions=numbered,
        unresolved=tuple(unresolved),
        manual=True,
        parent_id=failed.id,
    )
