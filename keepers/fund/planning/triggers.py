"""Rebalance triggers (seed 001 section 2): each check returns Trigger records, never acts.

Time is passed in (unix seconds, UTC). Fixes against the seed: thresholds are integer bps from
the config instead of inline floats; "predicted redemptions above available liquidity" compares
with free L1 cash only (cash - pending redemptions), because L2 must first be liquidated to pay
anybody: that is what the trigger asks for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.metrics import asset_concentration_bps, bps_of, tier_metrics, top3_value
from keepers.fund.planning.state import BPS, FundState

DAY = 86_400
WEEK = 7 * DAY
# 1970-01-01 was a Thursday (weekday 3 with Monday = 0).
_EPOCH_WEEKDAY = 3


class TriggerKind(StrEnum):
    SCHEDULED = "SCHEDULED"
    THRESHOLD = "THRESHOLD"
    LIQUIDITY = "LIQUIDITY"
    EVENT = "EVENT"
    MANUAL = "MANUAL"


@dataclass(frozen=True)
class Trigger:
    kind: TriggerKind
    code: str  # e.g. "daily", "tier_deviation", "l1_low", "redemption_forecast"
    reason: str
    tier: int | None = None
    asset: str | None = None
    amount: int | None = None  # base units, where the trigger carries one


# ---------------------------------------------------------------------- scheduled


def last_daily_boundary(now: int, hour: int = 0) -> int:
    """The most recent HH:00 UTC at or before ``now``."""
    boundary = now - now % DAY + hour * 3600
    return boundary if boundary <= now else boundary - DAY


def last_weekly_boundary(now: int, weekday: int = 0, hour: int = 0) -> int:
    """The most recent <weekday> HH:00 UTC at or before ``now`` (Monday = 0)."""
    day_start = now - now % DAY
    weekday_now = (now // DAY + _EPOCH_WEEKDAY) % 7
    boundary = day_start - ((weekday_now - weekday) % 7) * DAY + hour * 3600
    return boundary if boundary <= now else boundary - WEEK


def scheduled_triggers(
    now: int, last_daily_run: int | None, last_weekly_run: int | None, config: PlanningConfig
) -> list[Trigger]:
    """Daily check (00:00 UTC) and weekly check (Monday) that are due and have not run."""
    out = []
    daily = last_daily_boundary(now, config.daily_check_hour)
    if last_daily_run is None or last_daily_run < daily:
        out.append(Trigger(TriggerKind.SCHEDULED, "daily", f"daily tier check due since {daily}"))
    weekly = last_weekly_boundary(now, config.weekly_check_weekday, config.daily_check_hour)
    if last_weekly_run is None or last_weekly_run < weekly:
        out.append(
            Trigger(TriggerKind.SCHEDULED, "weekly", f"weekly weights check due since {weekly}")
        )
    return out


# ---------------------------------------------------------------------- threshold


def threshold_triggers(state: FundState, config: PlanningConfig) -> list[Trigger]:
    """A tier off target by more than DEVIATION_THRESHOLD, or outside its band; an asset above
    the single-asset limit; the top three assets above the top-3 limit."""
    out = []
    for m in tier_metrics(state):
        if m.deviation_abs_bps > config.deviation_threshold or not m.within_bounds:
            out.append(
                Trigger(
                    TriggerKind.THRESHOLD,
                    "tier_deviation",
                    f"L{m.tier + 1} at {m.ratio_bps} bps, target {m.target_bps} "
                    f"[{m.min_bps}, {m.max_bps}]",
                    tier=m.tier,
                )
            )
    for a in state.assets:
        limit = min(a.max_concentration_bps, config.asset_concentration_limit)
        if a.value * BPS > limit * state.total_assets:
            share = asset_concentration_bps(state)[a.token]
            out.append(
                Trigger(
                    TriggerKind.THRESHOLD,
                    "asset_concentration",
                    f"{a.symbol} at {share} bps > {limit} bps",
                    tier=a.tier,
                    asset=a.token,
                )
            )
    top3 = top3_value(state)
    if top3 * BPS > config.top3_concentration_limit * state.total_assets:
        out.append(
            Trigger(
                TriggerKind.THRESHOLD,
                "top3_concentration",
                f"top 3 assets at {bps_of(top3, state.total_assets)} bps "
                f"> {config.top3_concentration_limit} bps",
            )
        )
    return out


# ---------------------------------------------------------------------- liquidity


def liquidity_triggers(
    state: FundState, config: PlanningConfig, predicted_redemptions: int = 0
) -> list[Trigger]:
    """L1 below its low mark (refill from L2 first, then L3), above its high mark (deploy), or
    predicted redemptions beyond free L1 cash (liquidate early)."""
    out = []
    total = state.total_assets
    l1 = state.position(0)
    if l1 * BPS < config.l1_low_ratio * total:
        need = state.tiers[0].target_bps * total // BPS - l1
        out.append(
            Trigger(
                TriggerKind.LIQUIDITY,
                "l1_low",
                f"L1 at {bps_of(l1, total)} bps < {config.l1_low_ratio}: refill from L2, then L3",
                tier=0,
                amount=need,
            )
        )
    elif l1 * BPS > config.l1_high_ratio * total:
        surplus = l1 - state.tiers[0].target_bps * total // BPS
        out.append(
            Trigger(
                TriggerKind.LIQUIDITY,
                "l1_high",
                f"L1 at {bps_of(l1, total)} bps > {config.l1_high_ratio}: deploy to L3, then L2",
                tier=0,
                amount=surplus,
            )
        )
    available = max(0, l1)
    if predicted_redemptions > available:
        out.append(
            Trigger(
                TriggerKind.LIQUIDITY,
                "redemption_forecast",
                f"predicted redemptions {predicted_redemptions} > free cash {available} by "
                f"{predicted_redemptions - available}: liquidate early",
                tier=0,
                amount=predicted_redemptions,  # the planner reserves cash for all of it
            )
        )
    return out


# ---------------------------------------------------------------------- event


def deposit_trigger(amount: int, base_decimals: int, config: PlanningConfig) -> list[Trigger]:
    """A deposit above LARGE_DEPOSIT_AMOUNT: deploy the new cash."""
    if amount > config.units(config.large_deposit_amount, base_decimals):
        return [
            Trigger(
                TriggerKind.EVENT,
                "large_deposit",
                f"deposit of {amount} above {config.large_deposit_amount} whole units: deploy",
                tier=0,
                amount=amount,
            )
        ]
    return []


def asset_event_triggers(state: FundState, since: int, now: int) -> list[Trigger]:
    """Assets held that matured, or whose redemption window opened, in (since, now]."""
    out = []
    for a in state.assets:
        if a.value == 0:
            continue
        events = (
            (a.matures_at, "asset_maturity", "matured", a.value),
            (a.window_opens_at, "redemption_window", "redemption window opened", a.sellable_value),
        )
        for at, code, what, amount in events:
            if at and since < at <= now:
                out.append(
                    Trigger(
                        TriggerKind.EVENT,
                        code,
                        f"{a.symbol} {what} at {at}",
                        tier=a.tier,
                        asset=a.token,
                        amount=amount,
                    )
                )
    return out


def price_move_triggers(
    previous: Mapping[str, int | Decimal],
    current: Mapping[str, int | Decimal],
    config: PlanningConfig,
) -> list[Trigger]:
    """Assets whose price moved by more than PRICE_MOVE_THRESHOLD since the previous reading."""
    out = []
    for token, before in previous.items():
        after = current.get(token)
        # a price of 0 is how the lens reports a feed that is down (the controller values the
        # position at zero meanwhile): an outage, not a move to trade on
        if after is None or before <= 0 or after <= 0:
            continue
        # |after - before| / before > threshold, exactly (prices may be ints or Decimals).
        if abs(Decimal(after) - Decimal(before)) * BPS > Decimal(config.price_move_threshold) * (
            Decimal(before)
        ):
            move = int(abs(Decimal(after) - Decimal(before)) * BPS / Decimal(before))
            out.append(
                Trigger(
                    TriggerKind.EVENT,
                    "price_move",
                    f"price of {token} moved {move} bps ({before} -> {after})",
                    asset=token,
                )
            )
    return out


# ---------------------------------------------------------------------- manual


def manual_trigger(requested_by: str, reason: str, force_targets: bool = False) -> Trigger:
    """An admin's request; it goes through approval like any plan. ``force_targets`` asks the
    planner to move every tier to its target, not only the ones that are off."""
    return Trigger(
        TriggerKind.MANUAL,
        "manual_force" if force_targets else "manual",
        f"requested by {requested_by}: {reason}",
    )
