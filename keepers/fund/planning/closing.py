"""The wind-down's planner (issue 67), pure: while the vault is closing the fund sells toward
cash, within the usual per-day budgets and guards, and buys nothing.

The vault's phase (``FundState.phase``, TieredVault.phase) decides:

- OPEN: the usual planner (keepers.fund.planning.plan).
- CLOSING: the same planner on the fund with every target in L1 (L1 10000 bps, L2 and L3 0,
  each tier's band kept wide enough that nothing is "out of band" merely because the targets
  moved: L2 and L3 keep their max, min 0; L1 keeps its min, max 10000). So redemptions are
  prepared first, then the tiers move to 0 through the normal tier flows: at the cost target,
  the depth caps carry what a venue cannot take now into the next cycles, the off-chain cost
  budget holds the non-urgent flow when spent, and every leg still meets the on-chain
  per-move guards and window budgets. No leg buys: any purchase, allocation or buffer
  rebalance the planner would still make (a rotation's buy leg) is dropped, and the plan says
  so. The chain refuses a purchase anyway (the vault's availableCash() answers 0 from closing
  on, so pullCash refuses): the planner never proposes what would fail.
- CLOSED: nothing to plan (the price per share is fixed; every exit pays it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Unpack

from keepers.fund.planning.actions import ActionType, Plan, Unresolved, plan_id
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.plan import PlanOptions
from keepers.fund.planning.plan import plan as make_plan
from keepers.fund.planning.state import BPS, CLOSED, CLOSING, FundState, TierState
from keepers.fund.planning.triggers import Trigger

CLOSING_REASON = "closing"
# what a closing fund never sends: each would put cash into a position
BUYS = frozenset({ActionType.PURCHASE, ActionType.ALLOCATE, ActionType.REBALANCE_BUFFER})


def closing_targets(state: FundState) -> FundState:
    """``state`` with every target in L1 (the bands widened to keep it inside: see the module)."""
    l1, l2, l3 = state.tiers
    tiers = (
        TierState(tier=0, target_bps=BPS, min_bps=l1.min_bps, max_bps=BPS, value=l1.value),
        TierState(tier=1, target_bps=0, min_bps=0, max_bps=l2.max_bps, value=l2.value),
        TierState(tier=2, target_bps=0, min_bps=0, max_bps=l3.max_bps, value=l3.value),
    )
    return replace(state, tiers=tiers)


def plan_for_phase(
    state: FundState,
    config: PlanningConfig,
    triggers: Sequence[Trigger],
    now: int,
    **options: Unpack[PlanOptions],
) -> Plan:
    """The plan for the vault's phase: the usual one while open, sales toward cash only while
    closing, nothing once closed (arguments as keepers.fund.planning.plan.plan, its optional
    ones by name)."""
    if state.phase == CLOSED:
        note = Unresolved(None, CLOSING_REASON, "the fund is closed: nothing to move")
        return Plan(plan_id(now, [], "closed"), now, tuple(triggers), (), (note,))
    if state.phase != CLOSING:
        return make_plan(state, config, triggers, now, **options)
    p = make_plan(closing_targets(state), config, triggers, now, **options)
    dropped = [a for a in p.actions if a.type in BUYS]
    notes = [
        Unresolved(
            None,
            CLOSING_REASON,
            "the fund is closing: every target is L1 cash, only sales are planned",
        )
    ]
    if not dropped:
        return replace(p, unresolved=p.unresolved + tuple(notes))
    kept = tuple(a for a in p.actions if a.type not in BUYS)
    notes.append(
        Unresolved(
            None,
            CLOSING_REASON,
            f"the fund is closing: {len(dropped)} buying leg(s) dropped, "
            f"{sum(a.amount for a in dropped)} base units not invested",
        )
    )
    return replace(p, id=plan_id(now, kept), actions=kept, unresolved=p.unresolved + tuple(notes))
