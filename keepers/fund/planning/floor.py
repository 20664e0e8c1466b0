"""The exit horizon's floor, the sales side (issue 67), pure: when the fund's 0-day horizon is
under ``REBALANCE_HORIZON_FLOOR_BPS`` after a plan, the plan gets the sales that raise it.

Which 0-day horizon a sale can raise. The chain's horizon (``FundLens.exitHorizon``) counts L1's
free cash in full and the liquid positions (ERC-4626 venues, pools) only inside the notional
budget's room: the keeper may sell no more than that at once. A sale made now is neutral for
the horizon read right after it (it turns a counted position into cash and spends as much of
the room), but not for every read after: the cash stays counted whatever the budget, the room
comes back as the window drains. So the floor is kept on the horizon the fund offers on a
fresh window, **free cash + min(liquid positions, one window's notional budget)**
(``fresh_horizon``): what a run starting at any later window is paid at once. A fund whose
liquid positions exceed the budget raises it by selling them; a fund whose liquid positions
all fit in the budget is already counted in full, and no sale raises it (the plan then only
says it is under, ``keep_floor``'s note). With no budget known (``notional_budget`` None:
the keeper could not read it) nothing is sold for the floor.

Before any sale, the plan's own purchases are cut (latest first) where cutting them raises that
horizon (a venue bought beyond what the budget counts is cash turned into what pays later):
buying and selling for the floor in one plan would pay twice for nothing. Then what is sold,
the cheapest first: ERC-4626 venues' instant redemption (at the oracle), then
pool-traded assets by their venue's marginal cost, each inside the depth the planner already
respects (REBALANCE_MAX_SLIPPAGE, less what the plan's own legs take); never an asynchronous RWA
(a request pays after its notice period, never on day 0) nor an unpriced or held asset. No more
than the shortfall is sold (a last leg under REBALANCE_MIN_AMOUNT is raised to it when the
position allows, else left out), and no more than the budget the plan's own legs leave in the
window. While the off-chain cost budget is spent only venue sales (no cost) are planned.

The bands win over the floor: a floor sale never takes L2 or L3 under its band minimum nor L1
over its band maximum (the controller's own guard refuses a move that leaves L1 over it, and
every leg of a plan moves tiers toward their bands, never out). The floor is a target the
operator sets; the bands are the fund's stated allocation, which the admin changes through the
timelock. What the bands hold back is noted (reason ``horizon_floor``), so the operator sees
that the floor setting and the bands disagree. Every leg carries the reason ``horizon_floor``.
Amounts are integer base units; ratios bps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from keepers.fund.planning.actions import Action, ActionType, Plan, Unresolved, plan_id
from keepers.fund.planning.depth import AssetDepth
from keepers.fund.planning.horizon import HORIZON_FLOOR, floor_value
from keepers.fund.planning.simulate import apply, apply_action, tier_deltas
from keepers.fund.planning.state import BPS, CLOSED, AssetState, FundState, Tier

__all__ = ["fresh_horizon", "liquid_now", "raise_floor"]


def _sell_room(token: str, depth: Mapping[str, AssetDepth], sold: Mapping[str, int]) -> int | None:
    """What a pool still sells inside the slippage limit after ``sold`` (None: not a pool)."""
    d = depth.get(token)
    if d is None or d.max_sell is None:
        return None
    return max(0, d.max_sell - sold.get(token, 0))


def _sold_by(p: Plan) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in p.actions:
        if a.type is ActionType.REDEEM and a.asset:
            out[a.asset] = out.get(a.asset, 0) + a.amount
    return out


def _liquid(a: AssetState, depth: Mapping[str, AssetDepth], sold: Mapping[str, int]) -> int:
    """What ``a`` pays at once through a sale: a venue's redeemable value, a pool's depth."""
    if not a.instant or not a.tradable:
        return 0
    room = _sell_room(a.token, depth, sold)
    return a.sellable_value if room is None else min(a.sellable_value, room)


def liquid_now(
    state: FundState, depth: Mapping[str, AssetDepth], sold: Mapping[str, int] | None = None
) -> int:
    """The liquid positions' part of the 0-day horizon (venues, pools inside their depth)."""
    return sum(_liquid(a, depth, sold or {}) for a in state.assets)


def fresh_horizon(
    state: FundState,
    depth: Mapping[str, AssetDepth],
    notional_budget: int | None,
    sold: Mapping[str, int] | None = None,
) -> int:
    """The 0-day horizon on a fresh budget window: free cash + the liquid positions inside one
    window's notional budget (all of them when the budget is not known)."""
    liquid = liquid_now(state, depth, sold)
    return state.cash + (liquid if notional_budget is None else min(liquid, notional_budget))


def _cut_buys(
    p: Plan,
    state: FundState,
    floor: int,
    depth: Mapping[str, AssetDepth],
    budget: int,
    min_amount: int,
) -> Plan:
    """``p`` with its purchases cut (latest first) where that raises the fresh-window horizon,
    before any sale is added: buying and then selling for the floor in one plan would pay twice
    for nothing. A purchase of a venue whose liquid positions all fit in the budget lowers
    nothing and stays (keep_floor cuts the purchases of what pays later on its own count)."""
    sold = _sold_by(p)
    actions = list(p.actions)
    notes: list[Unresolved] = []

    def horizon(legs: list[Action]) -> int:
        return fresh_horizon(apply(state, replace(p, actions=tuple(legs))), depth, budget, sold)

    now = horizon(actions)
    for i in reversed(range(len(actions))):
        a = actions[i]
        if a.type not in (ActionType.PURCHASE, ActionType.ALLOCATE) or now >= floor:
            continue
        left = max(0, a.amount - (floor - now))
        if 0 < left < min_amount:
            left = 0
        scaled = tuple(d * left // a.amount for d in a.expected_deltas)
        trial = list(actions)
        trial[i] = replace(a, amount=left, expected_deltas=scaled)  # type: ignore[arg-type]
        try:
            got = horizon([x for x in trial if x.amount > 0])
        except (KeyError, ValueError):
            continue
        if got <= now:
            continue  # cutting it raises nothing
        actions, now = trial, got
        notes.append(
            Unresolved(
                a.to_tier,
                HORIZON_FLOOR,
                f"{a.type.value} of {a.amount} cut by {a.amount - left}: the 0-day exit horizon "
                "on a fresh budget window stays at the floor (REBALANCE_HORIZON_FLOOR_BPS)",
            )
        )
    if not notes:
        return p
    kept = tuple(a for a in actions if a.amount > 0)
    return replace(
        p, id=plan_id(p.created_at, kept), actions=kept, unresolved=p.unresolved + tuple(notes)
    )


def raise_floor(
    p: Plan,
    state: FundState,
    floor_bps: int,
    depth: Mapping[str, AssetDepth] | None,
    min_amount: int,
    notional_budget: int | None,
    cost_budget_spent: bool = False,
) -> Plan:
    """``p`` with the sales that raise the fresh-window 0-day horizon to ``floor_value`` after
    it (see the module doc); ``state`` is the fund ``p`` was planned on."""
    if floor_bps == 0 or notional_budget is None or state.paused or state.phase == CLOSED:
        return p
    depth = depth or {}
    try:
        after = apply(state, p)
    except (KeyError, ValueError):  # a plan the model cannot apply: leave it to the simulation
        return p
    sold = _sold_by(p)
    floor = floor_value(after, floor_bps)
    short = floor - fresh_horizon(after, depth, notional_budget, sold)
    if short <= 0:
        return p
    p = _cut_buys(p, state, floor, depth, notional_budget, min_amount)
    after = apply(state, p)
    short = floor - fresh_horizon(after, depth, notional_budget, sold)
    if short <= 0:
        return p
    # each unit sold beyond what the budget already counts adds one unit; the rest adds none
    beyond = max(0, liquid_now(after, depth, sold) - notional_budget)
    window_left = max(0, notional_budget - p.total_amount)
    want = min(short, beyond, window_left)
    total = after.total_assets
    tiers = after.tiers
    l1_room = tiers[Tier.L1].max_bps * total // BPS - after.position(Tier.L1)
    candidates = sorted(
        (a for a in after.assets if _liquid(a, depth, sold) > 0),
        key=lambda a: (
            a.token in depth and depth[a.token].max_sell is not None,  # venues first
            depth[a.token].sell_cost_bps if a.token in depth else 0,  # then the cheapest pool
            a.tier,
            -_liquid(a, depth, sold),
            a.token,
        ),
    )
    legs: list[Action] = []
    held: list[str] = []
    done = 0
    for a in candidates:
        if want - done <= 0:
            break
        is_pool = _sell_room(a.token, depth, sold) is not None
        if is_pool and cost_budget_spent:
            held.append(f"{a.symbol}: the cost budget is spent (a pool sale costs)")
            continue
        a = after.asset(a.token)
        band = after.position(a.tier) - tiers[a.tier].min_bps * total // BPS
        cap = min(_liquid(a, depth, sold), max(0, band), max(0, l1_room))
        leg = min(want - done, cap)
        if 0 < leg < min_amount <= cap:
            leg = min_amount  # a last leg raised to the minimum trade
        if leg < min_amount:
            if cap < want - done:
                held.append(f"{a.symbol}: {cap} sellable inside its band and L1's maximum")
            continue
        action = Action(
            ActionType.REDEEM,
            leg,
            len(p.actions) + len(legs) + 1,
            f"{HORIZON_FLOOR}: raise the 0-day exit horizon to the queue + "
            f"{floor_bps / 100:g}% of the fund (REBALANCE_HORIZON_FLOOR_BPS)",
            from_tier=a.tier,
            to_tier=Tier.L1,
            asset=a.token,
            token_amount=a.tokens_for_value(leg),
            expected_deltas=tier_deltas(a.tier, leg, -leg),
        )
        after = apply_action(after, action)
        sold[a.token] = sold.get(a.token, 0) + leg
        l1_room -= leg
        legs.append(action)
        done += leg
    notes: list[Unresolved] = []
    left = short - done
    if left > 0:
        why = []
        if beyond < short:
            why.append(
                f"the liquid positions beyond one window's budget are {beyond}: the rest is the "
                "async RWA's or a larger budget's to give"
            )
        if window_left < min(short, beyond):
            why.append(f"the window's notional budget leaves {window_left} after this plan")
        why.extend(held)
        notes.append(
            Unresolved(
                None,
                HORIZON_FLOOR,
                f"the 0-day exit horizon on a fresh window stays {left} base units under "
                f"REBALANCE_HORIZON_FLOOR_BPS={floor_bps} after {done} sold for it"
                + (": " + "; ".join(why) if why else ""),
            )
        )
    if not legs:
        return replace(p, unresolved=p.unresolved + tuple(notes)) if notes else p
    actions = p.actions + tuple(legs)
    return replace(
        p,
        id=plan_id(p.created_at, actions),
        actions=actions,
        unresolved=p.unresolved + tuple(notes),
    )
