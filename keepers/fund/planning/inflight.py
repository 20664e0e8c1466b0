"""The fund as it will be once what is in flight lands, pure: every trigger plans against this,
never against the chain alone.

A plan is *in flight* from the moment it is stored (proposed) until it ends (executed, partial,
failed, aborted, rejected, expired, blocked). What of it the chain does not hold yet is its
*remaining* actions: the ones not sent, and the ones sent whose transaction is not mined yet
(``remaining``). An action with a result, or whose transaction is mined (a keeper killed
between the receipt and recording the result), is already in the chain's state; one that
failed or was aborted never will be. ``project(state, flights)`` applies every in-flight plan's
remaining actions to the chain's state, in the order the plans were stored.

The policy for plans still waiting for a human (proposed or pending approval), argued:

- They are **counted** (in the projection), like approved and executing plans. Planning the
  chain alone while plan A waits for signatures plans A's move a second time (issue 47: a
  400,000 deposit's plan A pending, the hourly check then recorded B with A's legs again, and
  only the concentration cap stopped the fund moving twice).
- They also **hold the non-urgent flow** (tier flows to target, rotations, carry slices):
  while a plan waits for signatures, a new plan carries only what cannot wait, redemption
  preparation and band restoration, netted against it. A plan made on top of a waiting one
  is sized to a future the owners may still refuse (reject, let expire); moving the rest of
  the way to target is cheap to postpone by the time the owners take to sign, and asking
  them to sign a second plan for what the first one started is what the issue reports. If
  the waiting plan is refused or expires, it leaves the projection and the next trigger
  plans from the chain again.
- A manual request (an operator asked) is netted but not held.

Approved and executing plans are counted and hold nothing: they land without a human.

Venue depth is netted the same way (``net_depth``): what the in-flight legs will buy or sell
of a depth-limited venue is no longer there for the new plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from keepers.fund.planning.actions import Action, ActionType, Plan, Unresolved
from keepers.fund.planning.closing import plan_for_phase as make_plan
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.depth import AssetDepth
from keepers.fund.planning.floor import raise_floor
from keepers.fund.planning.horizon import keep_floor
from keepers.fund.planning.plan import IN_FLIGHT
from keepers.fund.planning.simulate import apply_action
from keepers.fund.planning.state import FundState
from keepers.fund.planning.triggers import Trigger, TriggerKind

__all__ = [
    "InFlight",
    "Leg",
    "net_depth",
    "plan_in_flight",
    "project",
    "remaining",
]

#: the statuses of a plan still waiting for a human (counted, and holding the non-urgent flow)
WAITING_FOR_HUMAN = ("proposed", "pending_approval")


class Leg(StrEnum):
    """Where one stored action stands against the chain's state."""

    UNSENT = "unsent"  # not sent yet: remaining
    SENT = "sent"  # its transaction is not mined yet: remaining
    LANDED = "landed"  # mined, result not recorded yet: in the chain's state
    DONE = "done"  # succeeded, result recorded: in the chain's state
    FAILED = "failed"  # failed, skipped or aborted: it never lands


def remaining(legs: Sequence[tuple[Action, Leg]]) -> tuple[Action, ...]:
    """The actions of a plan the chain does not hold yet (not sent, or sent and not mined)."""
    return tuple(a for a, leg in legs if leg in (Leg.UNSENT, Leg.SENT))


@dataclass(frozen=True)
class InFlight:
    """One stored plan that has not ended: its ref, its status and its remaining actions."""

    ref: str
    status: str
    actions: tuple[Action, ...]

    @property
    def waits_for_human(self) -> bool:
        return self.status in WAITING_FOR_HUMAN


def project(state: FundState, flights: Sequence[InFlight]) -> FundState:
    """``state`` with every in-flight plan's remaining actions applied (oracle fills), in the
    order given (the order the plans were stored) and each plan's priority order. A sale the
    projected state can no longer take in full (an earlier plan sold the same liquidity) is
    counted at what is still sellable; an action that cannot apply at all is left out (it
    will fail on chain too)."""
    for f in flights:
        for a in sorted(f.actions, key=lambda a: a.priority):
            state = _apply_clamped(state, a)
    return state


def _apply_clamped(state: FundState, a: Action) -> FundState:
    if a.type is ActionType.REBALANCE_BUFFER:  # decided on chain: not modelled
        return state
    if a.type is ActionType.REDEEM and a.asset:
        try:
            held = state.asset(a.asset)
        except KeyError:
            return state
        amount = min(a.amount, held.sellable_value)
        if amount <= 0:
            return state
        if amount < a.amount:
            a = replace(a, amount=amount, token_amount=held.tokens_for_value(amount))
    try:
        return apply_action(state, a)
    except (KeyError, ValueError):
        return state


def net_depth(
    depth: Mapping[str, AssetDepth], flights: Sequence[InFlight]
) -> dict[str, AssetDepth]:
    """Each venue's depth less what the in-flight plans' remaining legs will buy (cash) or
    sell (oracle value) on it."""
    buys: dict[str, int] = {}
    sells: dict[str, int] = {}
    for f in flights:
        for a in f.actions:
            if a.asset and a.type is ActionType.PURCHASE:
                buys[a.asset] = buys.get(a.asset, 0) + a.amount
            elif a.asset and a.type is ActionType.REDEEM:
                sells[a.asset] = sells.get(a.asset, 0) + a.amount
    out = dict(depth)
    for token, d in depth.items():
        b, s = buys.get(token, 0), sells.get(token, 0)
        if b or s:
            out[token] = replace(
                d,
                max_buy=_less(d.max_buy, b),
                cheap_buy=_less(d.cheap_buy, b),
                max_sell=_less(d.max_sell, s),
                cheap_sell=_less(d.cheap_sell, s),
            )
    return out


def _less(room: int | None, used: int) -> int | None:
    return None if room is None else max(0, room - used)


def plan_in_flight(
    state: FundState,
    config: PlanningConfig,
    triggers: Sequence[Trigger],
    now: int,
    flights: Sequence[InFlight],
    depth: Mapping[str, AssetDepth] | None = None,
    budget_spent: str | None = None,
    notional_budget: int | None = None,
) -> Plan:
    """The planner (keepers.fund.planning.plan.plan; while the vault is closing, its sales
    toward cash only: keepers.fund.planning.closing) run on ``project(state, flights)`` with
    the venues' depth netted; while a plan waits for a human and no operator asked, only
    redemptions and band restoration are planned (see the module doc), and the plan says what
    waits for which plan. Then the exit horizon's floor: purchases of what pays later cut
    (``keep_floor``), and sales that raise the 0-day horizon on a fresh window of
    ``notional_budget`` (one window's notional budget, as the controller's ``moveLimits``
    states it; None: not read, no floor sale) added (keepers.fund.planning.floor)."""
    projected = project(state, flights)
    manual = any(t.kind is TriggerKind.MANUAL for t in triggers)
    waiting = [f for f in flights if f.waits_for_human and f.actions]
    held = None
    if waiting and not manual:
        held = "plan " + ", ".join(f"{f.ref} ({f.status})" for f in waiting) + " waits for approval"
    netted = net_depth(depth or {}, flights)
    p = make_plan(
        projected, config, triggers, now, depth=netted, budget_spent=budget_spent, held_for=held
    )
    # the 0-day exit horizon's floor (issue 67): purchases of what pays later cut to keep it
    p = keep_floor(
        p,
        projected,
        config.rebalance_horizon_floor_bps,
        depth,
        config.min_amount_units(state.base_decimals),
    )
    p = raise_floor(
        p,
        projected,
        config.rebalance_horizon_floor_bps,
        netted,
        config.min_amount_units(state.base_decimals),
        notional_budget,
        cost_budget_spent=budget_spent is not None,
    )
    counted = [f for f in flights if f.actions]
    if counted and p.actions:
        note = Unresolved(
            None,
            IN_FLIGHT,
            "netted against plan "
            + ", ".join(f"{f.ref} ({f.status}, {len(f.actions)} actions to land)" for f in counted),
        )
        p = replace(p, unresolved=p.unresolved + (note,))
    return p
