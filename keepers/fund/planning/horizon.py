"""The exit horizon (issue 67), pure: what the fund can pay in base coin within 0, 1, 7 and 30
days without the keeper breaking a budget, and the planner's floor on the 0-day horizon.

The chain states most of it (``FundLens.exitHorizon``, read by keepers.fund.horizon): L1's
free cash, the ERC-4626 venues, the asynchronous RWA positions by window and notice, inside
the notional budget's room. What the lens cannot read cheaply, the pools' depth, the keeper
adds here: the pool-traded positions' sale at a stated cost (``KEEPER_HORIZON_POOL_COST_BPS``)
from the pool's state, inside what the lens left of the notional budget and the loss budget.

A pool is counted as if its price were no dearer than the oracle (``fair_venue``): an outsider
who buys the asset in the pool right before a read (its price above the oracle) would make a
sale look deeper than it is once they sell back; the liquidity below the oracle is what they
cannot move without paying for it. Only the depth now is counted, for every horizon (a pool
that arbitrage refills later pays more, uncounted).

The floor (``REBALANCE_HORIZON_FLOOR_BPS``, default 500 = 5% of the fund's value): after a plan the fund
must still pay at once its queued redemptions plus this share of its value. A plan's purchases
of what does not pay at once (an asynchronous RWA, a pool-traded asset, a tier allocation that
may land in either) are cut to keep it (reason ``horizon_floor``); when the fund is under the
floor before any purchase, the plan says so, and keepers.fund.planning.floor adds the sales
that raise it on a fresh budget window. Amounts are integer base units; ratios bps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from math import isqrt
from typing import Any

from keepers.core import univ3
from keepers.fund.planning.actions import Action, ActionType, Plan, Unresolved, plan_id
from keepers.fund.planning.depth import AssetDepth, PoolVenue, largest_within
from keepers.fund.planning.state import BPS, FundState

__all__ = [
    "HORIZON_DAYS",
    "HORIZON_FLOOR",
    "ChainHorizon",
    "ExitHorizon",
    "combine",
    "day_forecast",
    "fair_venue",
    "floor_value",
    "keep_floor",
    "now_horizon",
    "pool_sale_value",
]

HORIZON_DAYS = (0, 1, 7, 30)
HORIZON_FLOOR = "horizon_floor"  # the reason of a purchase cut to keep the floor


@dataclass(frozen=True)
class ChainHorizon:
    """``FundLens.exitHorizon`` as decoded (base units; per-horizon tuples in HORIZON_DAYS order)."""

    at: int
    cash: int
    venues: int
    venues_oracle: int
    pool_value: int
    venues_paid: tuple[int, ...]
    async_paid: tuple[int, ...]
    total: tuple[int, ...]
    notional_left: tuple[int, ...]
    loss_room: tuple[int, ...]

    @classmethod
    def decode(cls, raw: Sequence[Any]) -> ChainHorizon:
        at, cash, venues, venues_oracle, pool_value, vp, ap, total, left, loss = raw
        return cls(
            int(at),
            int(cash),
            int(venues),
            int(venues_oracle),
            int(pool_value),
            *(tuple(int(x) for x in seq) for seq in (vp, ap, total, left, loss)),
        )


@dataclass(frozen=True)
class ExitHorizon:
    """The chain's horizon plus the pools' part at ``pool_cost_bps``."""

    chain: ChainHorizon
    pool_cost_bps: int
    pool_depth_value: int  # oracle value of the pool sales inside the cost, fair pool states
    pool_paid: tuple[int, ...]  # base coin the pools pay by each horizon, inside the budgets
    total: tuple[int, ...]

    def by_days(self) -> dict[int, int]:
        return dict(zip(HORIZON_DAYS, self.total, strict=True))


def fair_venue(v: PoolVenue) -> PoolVenue:
    """``v`` with its pool moved down to the oracle price when the asset is dearer there (a
    sale of the asset up to the oracle: what an outsider's buy before the read added)."""
    if v.mid_offset_bps() <= 0:
        return v
    # the oracle as the pool's sqrt(token1 / token0) in Q96
    num, den = (v.price_num, v.price_den) if v.token_is_0 else (v.price_den, v.price_num)
    target = isqrt(num * univ3.Q192 // den)
    try:
        moved = univ3.swap(v.pool, v.token_is_0, 2**200, target).state
    except univ3.V3MathError:
        return replace(v, pool=replace(v.pool, liquidity=0))  # nothing to count
    return replace(v, pool=moved)


def pool_sale_value(v: PoolVenue, value_cap: int, cost_bps: int) -> int:
    """The oracle value of the largest sale (up to ``value_cap``) whose fill is at most
    ``cost_bps`` under the oracle, from the fair pool state; 0 when it cannot be quoted."""
    fair = fair_venue(v)
    tokens = largest_within(fair.sell_slippage_bps, fair.oracle_tokens(value_cap), cost_bps)
    return fair.oracle_value(tokens) * (BPS - 1) // BPS  # a bps back from the edge, as depth


def combine(chain: ChainHorizon, pool_depth_value: int, cost_bps: int) -> ExitHorizon:
    """The pools' part added to the chain's horizon: at each horizon the sale is capped by the
    notional room the lens left and by the loss budget's room at ``cost_bps``; each unit of
    value sold pays at least ``1 - cost`` of it in base coin."""
    paid = []
    for k in range(len(HORIZON_DAYS)):
        value = min(pool_depth_value, chain.pool_value, chain.notional_left[k])
        if cost_bps:
            value = min(value, chain.loss_room[k] * BPS // cost_bps)
        paid.append(value * (BPS - cost_bps) // BPS)
    pool_paid = tuple(paid)
    total = tuple(t + p for t, p in zip(chain.total, pool_paid, strict=True))
    return ExitHorizon(chain, cost_bps, pool_depth_value, pool_paid, total)


def day_forecast(total_assets: int, forecast_bps: int) -> int:
    """The stated forecast of a day's redemptions beyond the queue (KEEPER_HORIZON_FORECAST_BPS
    of the fund's value): the liquidity check prepares cash for it, the need adds the queue."""
    return max(total_assets, 0) * forecast_bps // BPS


def need(pending: int, total_assets: int, forecast_bps: int) -> int:
    """What the next day asks of the fund: the queue plus the stated forecast (bps of value)."""
    return pending + day_forecast(total_assets, forecast_bps)


# ---------------------------------------------------------------------- the planner's floor


def _is_pool(token: str, depth: Mapping[str, AssetDepth]) -> bool:
    d = depth.get(token)
    return d is not None and d.max_sell is not None


def now_horizon(state: FundState, depth: Mapping[str, AssetDepth]) -> int:
    """The 0-day horizon as the planner counts it: free cash, what the ERC-4626 venues redeem
    now, and the pools' sale inside the slippage limit (depth), at the oracle."""
    total = state.cash
    for a in state.assets:
        if not a.instant or not a.tradable:
            continue
        if _is_pool(a.token, depth):
            total += min(a.value, depth[a.token].max_sell or 0)
        else:
            total += a.sellable_value
    return total


def floor_value(state: FundState, floor_bps: int) -> int:
    """What must stay payable at once: the queue plus ``floor_bps`` of the fund's value."""
    return state.pending_redemptions + max(state.total_assets, 0) * floor_bps // BPS


def _lowers_horizon(a: Action, state: FundState, depth: Mapping[str, AssetDepth]) -> bool:
    """A purchase of what does not pay at once (async, pool) or an allocation to a tier with
    any such member (the controller picks the members)."""
    if a.type is ActionType.PURCHASE and a.asset is not None:
        asset = next((x for x in state.assets if x.token == a.asset), None)
        return asset is None or not asset.instant or _is_pool(a.asset, depth)
    if a.type is ActionType.ALLOCATE:
        members = [x for x in state.assets if x.tier == a.to_tier]
        return any(not x.instant or _is_pool(x.token, depth) for x in members)
    return False


def keep_floor(
    p: Plan,
    state: FundState,
    floor_bps: int,
    depth: Mapping[str, AssetDepth] | None,
    min_amount: int,
) -> Plan:
    """``p`` with its purchases of what does not pay at once cut (latest first) so that the
    0-day horizon after it stays at or above ``floor_value``; a leg cut under ``min_amount``
    is dropped. Sales that raise cash from pools count for the floor; nothing else changes."""
    if floor_bps == 0 or not p.actions:
        return p
    depth = depth or {}
    floor = floor_value(state, floor_bps)
    h = now_horizon(state, depth)
    for a in p.actions:  # what the plan's pool sales add at once (venue sales change nothing)
        if a.type is ActionType.REDEEM and a.asset and _is_pool(a.asset, depth):
            h += a.amount
    lowering = [i for i, a in enumerate(p.actions) if _lowers_horizon(a, state, depth)]
    spent = sum(p.actions[i].amount for i in lowering)
    short = floor - (h - spent)
    if short <= 0:
        return p
    actions = list(p.actions)
    notes: list[Unresolved] = []
    for i in reversed(lowering):
        if short <= 0:
            break
        a = actions[i]
        cut = min(a.amount, short)
        left = a.amount - cut
        if 0 < left < min_amount:
            cut, left = a.amount, 0
        short -= cut
        tier = a.to_tier if a.to_tier is not None else None
        scaled = tuple(d * left // a.amount if a.amount else 0 for d in a.expected_deltas)
        actions[i] = replace(a, amount=left, expected_deltas=scaled)  # type: ignore[arg-type]
        notes.append(
            Unresolved(
                tier,
                HORIZON_FLOOR,
                f"{a.type.value} of {a.amount} cut by {cut}: the 0-day exit horizon stays at "
                f"{floor_bps / 100:g}% of the fund's value above the queue (REBALANCE_HORIZON_FLOOR_BPS)",
            )
        )
    kept = tuple(a for a in actions if a.amount > 0)
    if short > 0:
        notes.append(
            Unresolved(
                None,
                HORIZON_FLOOR,
                f"the 0-day exit horizon is {short} base units under REBALANCE_HORIZON_FLOOR_BPS="
                f"{floor_bps} even with no purchase that lowers it",
            )
        )
    return replace(
        p, id=plan_id(p.created_at, kept), actions=kept, unresolved=p.unresolved + tuple(notes)
    )
