"""Whether a stored plan still fits the fund as it is now, pure.

A plan is a bet on the fund it was made from, and others move the fund between two of its
steps: the on-chain recurring rebalancer (executed by anyone), holders' deposits, requests and
cancels, price moves, a keeper restarted in the middle of another's work. Every stage that
reads the chain again (the risk check, the approval, the simulation, each send) asks
``misfits(now, plan, basis)``; what does not fit comes back as values, never as an exception:

- ``cash``: a purchase or allocation needs more cash than L1 holds at that point of the plan;
- ``position``: a sale of more than the position can redeem now (sold, matured, gone), or of
  an asset no longer registered;
- ``venue``: a venue held or at its cap: a purchase of more than the venue can take now (its
  own limit, ``AssetState.investable_now``: an ERC-4626 fund's maxDeposit that someone else
  filled, an asynchronous issuer out of room; or the controller's cap on the position), an
  allocation of more than the tier's venues can take together, or a trade of an asset whose
  feed is down (no price to trade at);
- ``target``: a tier the plan adds to is already at or past the share the plan aims it at, or
  a tier it takes from is already at or under it (someone else made the move);
- ``queue``: the redemption queue grew past what the plan saw, and the cash the plan spends
  would leave L1 under its floor (the cash the new requests need);
- ``model``: the action cannot be applied to the state for another reason (named);
- ``price_held``: a purchase or sale of an asset whose valuation the controller holds (its
  feed stepped past the asset's step bound): its trades revert (PriceHeld) until the step is
  confirmed.

``Basis`` is what the plan was made against, stored with it: the tier positions and the total
it aims for, and the redemption queue it saw. A plan stored before the basis existed is checked
without the ``target`` and ``queue`` rules.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from keepers.core.amounts import format_amount
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.simulate import apply_action
from keepers.fund.planning.state import BPS, FundState

__all__ = ["Basis", "Misfit", "describe", "misfits", "walk"]

_SPEND = (ActionType.PURCHASE, ActionType.ALLOCATE)
_RAISE = (ActionType.REDEEM, ActionType.WATERFALL)


@dataclass(frozen=True)
class Misfit:
    """One way a plan no longer fits: the rule, the reason in words, the action (if one)."""

    rule: str  # cash | position | venue | target | queue | model | price_held
    detail: str
    action_index: int | None = None


@dataclass(frozen=True)
class Basis:
    """What a plan was made against: the tier positions (L1 net of the queue) and the total it
    aims for once it lands, and the redemption queue it saw."""

    aims: tuple[int, int, int]
    total: int
    pending: int

    @classmethod
    def of(cls, planned_on: FundState, plan: Plan) -> Basis:
        after, _ = walk(planned_on, plan.actions, range(len(plan.actions)))
        return cls(after.positions(), after.total_assets, planned_on.pending_redemptions)

    def to_doc(self) -> dict[str, Any]:
        return {
            "aims": [str(x) for x in self.aims],
            "total": str(self.total),
            "pending": str(self.pending),
        }

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Basis | None:
        if not doc:
            return None
        try:
            a = [int(x) for x in doc["aims"]]
            return cls((a[0], a[1], a[2]), int(doc["total"]), int(doc["pending"]))
        except (KeyError, ValueError, TypeError, IndexError):
            return None


def _pct(num: int, den: int) -> str:
    bps = num * BPS // max(den, 1)
    sign = "-" if bps < 0 else ""
    bps = abs(bps)
    return f"{sign}{bps // 100}.{bps % 100:02d}%"


def _venue(state: FundState, a: Action) -> str | None:
    """Why the venues ``a`` trades on cannot take it now (None: they can)."""
    amount = format_amount(a.amount, state.base_decimals)
    if a.asset:
        held = state.asset(a.asset)
        if not held.priced and a.type in (ActionType.PURCHASE, ActionType.REDEEM):
            return f"venue {held.symbol} is held: its feed is down (no price to trade at)"
        room = held.room
        if a.type is ActionType.PURCHASE and room is not None and a.amount > room:
            return (
                f"venue {held.symbol} can take {format_amount(room, state.base_decimals)} now, "
                f"the plan buys {amount} (someone else filled it, or its cap was lowered)"
            )
    elif a.type is ActionType.ALLOCATE and a.to_tier:
        # the controller's _room gives a venue it cannot trade (unpriced, or its valuation
        # held) none: those count for nothing here either
        rooms = [b.room for b in state.assets if b.tier == a.to_tier and b.tradable]
        if None not in rooms and a.amount > sum(r or 0 for r in rooms):
            took = format_amount(sum(r or 0 for r in rooms), state.base_decimals)
            return (
                f"the venues of L{a.to_tier + 1} can take {took} now, the plan allocates {amount}"
            )
    return None


def _check(state: FundState, a: Action) -> tuple[str, str] | None:
    """(rule, why) ``a`` cannot run on ``state`` (None: it can)."""
    if a.asset:
        try:
            held = state.asset(a.asset)
        except KeyError:
            return "position", f"asset {a.asset} is no longer registered with the controller"
    venue = _venue(state, a)
    if venue is not None:
        return "venue", venue
    if a.type in _SPEND and a.amount > state.cash:
        where = f"L{(a.to_tier or 0) + 1}" + (f" ({held.symbol})" if a.asset else "")
        return "cash", (
            f"cash short: {a.type.value} of {a.amount} into {where} needs {a.amount}, "
            f"L1 holds {state.cash}"
        )
    if a.type is ActionType.REDEEM and a.asset and a.amount > held.sellable_value:
        return "position", (
            f"{held.symbol}: sale of {a.amount} but only {held.sellable_value} is redeemable now "
            "(the position was sold, matured or shrank)"
        )
    return None


def _price_held(state: FundState, a: Action) -> str | None:
    """Why ``a`` trades an asset whose valuation is held (None: it does not)."""
    if not a.asset or a.type not in (ActionType.PURCHASE, ActionType.REDEEM):
        return None
    try:
        asset = state.asset(a.asset)
    except KeyError:
        return None  # _check names it
    if not asset.price_held:
        return None
    return (
        f"{asset.symbol}: valuation held (its feed stepped past the asset's step bound): "
        f"its {a.type.value} reverts (PriceHeld) until the guardian's acceptPrice"
    )


def walk(
    state: FundState, actions: Sequence[Action], indexes: Collection[int]
) -> tuple[FundState, list[tuple[int, str, str]]]:
    """The actions at ``indexes`` applied in priority order at the oracle, never raising:
    (the state they leave, [(index, rule, why)] for each that could not be applied, skipped)."""
    problems: list[tuple[int, str, str]] = []
    for i in sorted(indexes, key=lambda i: (actions[i].priority, i)):
        a = actions[i]
        if a.type is ActionType.REBALANCE_BUFFER:  # decided on chain: not modelled
            continue
        held = _price_held(state, a)
        if held is not None:
            problems.append((i, "price_held", held))
            continue
        found = _check(state, a)
        if found is not None:
            problems.append((i, *found))
            continue
        try:
            state = apply_action(state, a)
        except (KeyError, ValueError) as err:
            problems.append((i, "model", f"{a.type.value} cannot apply: {err}"))
    return state, problems


def misfits(
    state: FundState,
    plan: Plan,
    basis: Basis | None,
    done: Collection[int] = (),
) -> tuple[Misfit, ...]:
    """How ``plan``'s actions not in ``done`` (sent or with a result) no longer fit ``state``
    (the chain now, with the plans stored before this one still to land); () when they fit."""
    left = [i for i in range(len(plan.actions)) if i not in set(done)]
    if not left:
        return ()
    after, problems = walk(state, plan.actions, left)
    out = [Misfit(rule, why, i) for i, rule, why in problems]
    if basis is None:
        return tuple(out)
    total = max(state.total_assets, 1)
    now = state.positions()
    moved = after.positions()
    for t in range(3):
        delta = moved[t] - now[t]
        if delta == 0:
            continue
        aim = basis.aims[t]
        # compare shares exactly: now[t] / total against aim / basis.total
        here, there = now[t] * max(basis.total, 1), aim * total
        name = f"L{t + 1}"
        if delta > 0 and here >= there:
            out.append(
                Misfit(
                    "target",
                    f"{name} at {_pct(now[t], total)}, at or past the "
                    f"{_pct(aim, basis.total)} the plan aims it at: what it adds to {name} is "
                    "no longer needed",
                )
            )
        elif delta < 0 and here <= there:
            out.append(
                Misfit(
                    "target",
                    f"{name} at {_pct(now[t], total)}, at or under the "
                    f"{_pct(aim, basis.total)} the plan aims it at: what it takes from {name} "
                    "is no longer there to take",
                )
            )
    spends = sum(plan.actions[i].amount for i in left if plan.actions[i].type in _SPEND)
    raises = sum(plan.actions[i].amount for i in left if plan.actions[i].type in _RAISE)
    floor = state.tiers[0].min_bps * max(after.total_assets, 1)
    if state.pending_redemptions > basis.pending and spends > raises and moved[0] * BPS < floor:
        out.append(
            Misfit(
                "queue",
                f"the redemption queue grew from {basis.pending} to {state.pending_redemptions} "
                f"since the plan was made: its purchases would leave L1 at "
                f"{_pct(moved[0], after.total_assets)}, under its "
                f"{_pct(state.tiers[0].min_bps, BPS)} floor, with cash the new requests need",
            )
        )
    return tuple(out)


def describe(found: Sequence[Misfit]) -> str:
    """The misfits in words, one sentence each (the plan's stale reason)."""
    return "; ".join(
        (f"action {m.action_index}: " if m.action_index is not None else "") + m.detail
        for m in found
    )
