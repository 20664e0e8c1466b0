"""Risk checks before a plan runs (seed 001 section 4.1, step 2), pure.

- Slippage: from a quote and the oracle's value for the same input. Above
  REBALANCE_MAX_SLIPPAGE (2%) warn, above SLIPPAGE_BLOCK_BPS (5%) block.
- Gas: skip a plan whose gas cost is above GAS_BENEFIT_MAX_BPS (10%) of its benefit.
  Benefit model: a rebalance earns the yield differential on the value it moves back toward
  target, ``benefit = deviation reduced (base units) x REBALANCE_BENEFIT_BPS / 10000``, where
  the deviation reduced is the drop of sum(|position - target|) over the three tiers and
  REBALANCE_BENEFIT_BPS (default 50 = 0.5%) is the yield differential earned over the
  horizon until the next rebalance. The caller converts gas to base units (gas x price x
  native/base price); the model stays integer.
- Liquidity impact: a redeem above LIQUIDITY_IMPACT_WARN_BPS of the asset's redeemable
  liquidity warns; above LIQUIDITY_IMPACT_BLOCK_BPS it blocks.
- Blackout windows: UTC time-of-day ranges (BLACKOUT_WINDOWS) in which nothing runs.
- Fit: an action the state cannot take (cash short, a position gone, a venue at its cap) is a ``fit`` finding that
  blocks, never an exception; the keeper ends such a plan ``stale`` (keepers.fund.lifecycle).

A plan that prepares redemptions (has priority-0 actions) or raises the exit horizon to its
floor (legs of reason ``horizon_floor``, keepers.fund.planning.floor) is never skipped for gas:
paying redeemers, today's or a run's, is not a matter of yield. While the vault is closing the deviation is measured against
the wind-down's targets (every tier in L1 cash: keepers.fund.planning.closing), so a sale
toward cash earns its benefit as a move toward target does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from keepers.fund.planning.closing import closing_targets
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.horizon import HORIZON_FLOOR
from keepers.fund.planning.plan import Action, ActionType, Plan, apply
from keepers.fund.planning.state import BPS, CLOSING, FundState

DAY = 86_400


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    SKIP = "skip"  # not worth it (gas); try again later
    BLOCK = "block"  # unsafe; needs a new plan or a human


_ORDER = {Level.OK: 0, Level.WARN: 1, Level.SKIP: 2, Level.BLOCK: 3}


@dataclass(frozen=True)
class Finding:
    rule: str  # slippage | gas | liquidity | blackout | paused | fit (keepers.fund.planning.fit)
    level: Level
    detail: str
    action_index: int | None = None


@dataclass(frozen=True)
class Quote:
    """A router/adapter quote for one action and the oracle's value of the same input."""

    quote_out: int
    oracle_out: int


@dataclass(frozen=True)
class RiskReport:
    findings: tuple[Finding, ...]

    @property
    def level(self) -> Level:
        return max((f.level for f in self.findings), key=_ORDER.__getitem__, default=Level.OK)

    @property
    def proceed(self) -> bool:
        return self.level in (Level.OK, Level.WARN)


# ---------------------------------------------------------------------- single rules


def slippage_bps(quote_out: int, oracle_out: int) -> int:
    """Shortfall of the quote against the oracle in bps, rounded up (0 if the quote is better)."""
    if oracle_out <= 0:
        raise ValueError("oracle_out must be > 0")
    short = oracle_out - quote_out
    return 0 if short <= 0 else -(-short * BPS // oracle_out)


def check_slippage(quote: Quote, config: PlanningConfig, index: int | None = None) -> Finding:
    bps = slippage_bps(quote.quote_out, quote.oracle_out)
    if bps > config.slippage_block_bps:
        level = Level.BLOCK
    elif bps > config.rebalance_max_slippage:
        level = Level.WARN
    else:
        level = Level.OK
    target, limit = config.rebalance_target_slippage, config.rebalance_max_slippage
    against = f"target {target}, limit {limit}"
    if level is Level.OK and bps > target:
        against += ": over the cost target (a band restoration or redemption leg)"
    return Finding("slippage", level, f"quote {bps} bps under the oracle ({against})", index)


def min_out(oracle_out: int, config: PlanningConfig) -> int:
    """minOut for purchaseAsset/redeemAsset: the oracle value less the allowed slippage."""
    return oracle_out * (BPS - config.rebalance_max_slippage) // BPS


def deviation_value(state: FundState) -> int:
    """sum(|position - target|) over the tiers, in base units."""
    total = state.total_assets
    return sum(abs(state.position(t.tier) - t.target_bps * total // BPS) for t in state.tiers)


def benefit(before: FundState, after: FundState, config: PlanningConfig) -> int:
    """Base units a plan earns under the benefit model above (0 if it reduces no deviation)."""
    reduced = max(0, deviation_value(before) - deviation_value(after))
    return reduced * config.rebalance_benefit_bps // BPS


def check_gas(gas_cost: int, gain: int, config: PlanningConfig) -> Finding:
    """Skip when gas_cost > GAS_BENEFIT_MAX_BPS of the benefit (all in base units)."""
    if gas_cost * BPS > gain * config.gas_benefit_max_bps:
        return Finding(
            "gas",
            Level.SKIP,
            f"gas {gas_cost} > {config.gas_benefit_max_bps} bps of benefit {gain}",
        )
    return Finding("gas", Level.OK, f"gas {gas_cost} vs benefit {gain}")


def check_liquidity(
    action: Action, state: FundState, config: PlanningConfig, index: int | None = None
) -> Finding:
    """A redeem's share of the asset's redeemable liquidity."""
    if action.type is not ActionType.REDEEM or action.asset is None:
        return Finding("liquidity", Level.OK, "no redeem", index)
    available = state.asset(action.asset).sellable_value
    if available == 0:
        return Finding("liquidity", Level.BLOCK, f"{action.asset}: nothing redeemable now", index)
    share = action.amount * BPS
    if share > config.liquidity_impact_block_bps * available:
        level = Level.BLOCK
    elif share > config.liquidity_impact_warn_bps * available:
        level = Level.WARN
    else:
        level = Level.OK
    return Finding(
        "liquidity",
        level,
        f"{action.amount} of {available} redeemable ({share // available} bps)",
        index,
    )


def in_blackout(now: int, windows: tuple[tuple[int, int], ...]) -> tuple[int, int] | None:
    """The blackout window (minutes after 00:00 UTC, end exclusive) containing ``now``."""
    minute = now % DAY // 60
    for start, end in windows:
        inside = start <= minute < end if start <= end else (minute >= start or minute < end)
        if inside:
            return (start, end)
    return None


def check_blackout(now: int, config: PlanningConfig) -> Finding:
    window = in_blackout(now, config.blackout_windows)
    if window:
        s, e = window
        return Finding(
            "blackout",
            Level.BLOCK,
            f"inside blackout {s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d} UTC",
        )
    return Finding("blackout", Level.OK, "outside blackout windows")


# ---------------------------------------------------------------------- whole plan


def assess(
    state: FundState,
    plan: Plan,
    config: PlanningConfig,
    now: int,
    *,
    quotes: Mapping[int, Quote] | None = None,
    gas_cost: int = 0,
) -> RiskReport:
    """Every rule over a plan. ``quotes`` is keyed by the action's index in ``plan.actions``;
    ``gas_cost`` is the plan's total gas in base units."""
    findings: list[Finding] = []
    if state.paused:
        findings.append(Finding("paused", Level.BLOCK, "the fund is paused"))
    findings.append(check_blackout(now, config))
    current = state
    order = sorted(range(len(plan.actions)), key=lambda i: plan.actions[i].priority)
    for index in order:
        action = plan.actions[index]
        if quotes and index in quotes:
            findings.append(check_slippage(quotes[index], config, index))
        try:
            findings.append(check_liquidity(action, current, config, index))
            current = apply(current, Plan("", 0, (), (action,)))
        except (KeyError, ValueError) as err:  # the fund moved under the plan: a value
            findings.append(
                Finding("fit", Level.BLOCK, f"{action.type.value} no longer fits: {err}", index)
            )
    exits = any(a.priority == 0 or a.reason.startswith(HORIZON_FLOOR) for a in plan.actions)
    if plan.actions and not exits:
        if state.phase == CLOSING:  # judged against the wind-down's targets (all cash)
            state, current = closing_targets(state), closing_targets(current)
        findings.append(check_gas(gas_cost, benefit(state, current, config), config))
    return RiskReport(tuple(findings))
