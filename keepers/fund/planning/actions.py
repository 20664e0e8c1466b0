"""What a plan is made of: actions (AssetController calls), unresolved reasons, the plan, and
the result of executing an action. Plain frozen dataclasses, integer base units."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from keepers.fund.planning.triggers import Trigger


class ActionType(StrEnum):
    """Values are the AssetController functions the keeper calls."""

    ALLOCATE = "allocateToLayer"
    PURCHASE = "purchaseAsset"
    REDEEM = "redeemAsset"
    REBALANCE_BUFFER = "rebalanceBuffer"
    WATERFALL = "executeWaterfallLiquidation"


@dataclass(frozen=True)
class Action:
    type: ActionType
    amount: int  # base units: cash spent (purchase, allocate) or value redeemed (redeem, waterfall)
    priority: int  # 0 first
    reason: str
    from_tier: int | None = None
    to_tier: int | None = None
    asset: str | None = None  # token address (purchase, redeem)
    token_amount: int | None = None  # redeemAsset's tokenAmount (minOut: risk.min_out)
    max_tier: int | None = None  # executeWaterfallLiquidation's maxTier
    expected_deltas: tuple[int, int, int] = (0, 0, 0)  # change of cash, L2 value, L3 value


@dataclass(frozen=True)
class Unresolved:
    tier: int | None
    # liquidity | window | concentration | below_minimum | redemptions | slippage | paused |
    # depth (a leg cut to what its venue fills inside the cost target or slippage limit) |
    # feed_down | cost_budget (the off-chain cost budget is spent: band restoration only) |
    # closing (the vault is winding down: sales toward cash only, keepers.fund.planning.closing);
    # rollback plans also: missing_receipt | irreversible
    reason: str
    detail: str


@dataclass(frozen=True)
class Carry:
    """Flow a depth-limited plan leaves for the next cycles (a slice schedule): ``amount`` is
    what tier ``tier`` still has to gain (> 0) or give (< 0), in base units."""

    tier: int
    amount: int
    reason: str


@dataclass(frozen=True)
class Plan:
    id: str
    created_at: int
    triggers: tuple[Trigger, ...]
    actions: tuple[Action, ...]
    unresolved: tuple[Unresolved, ...] = ()
    manual: bool = False
    parent_id: str | None = None  # the plan a rollback reverses
    carry: tuple[Carry, ...] = ()  # left undone by venue depth, for the next cycles

    @property
    def total_amount(self) -> int:
        return sum(a.amount for a in self.actions)

    def ordered(self) -> list[Action]:
        return sorted(self.actions, key=lambda a: a.priority)


@dataclass(frozen=True)
class ActionResult:
    """What executing one action did (filled by the keeper's verify step)."""

    action: Action
    success: bool
    received: int | None = None  # tokens (purchase) or cash (redeem, waterfall) received
    actual_deltas: tuple[int, int, int] | None = None  # measured change of cash, L2, L3
    tx_hash: str | None = None
    error: str | None = None
    cost: int | None = None  # the fill's shortfall against the oracle, base units (costs.py)


def plan_id(created_at: int, actions: Sequence[Action], salt: str = "") -> str:
    text = f"{salt}|{created_at}|" + "|".join(repr(a) for a in actions)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
