"""Planning configuration: seed 001 section 8.1's environment names and units.

Whole-stablecoin amounts (``REBALANCE_MIN_AMOUNT=10000`` means 10K USDT) are converted to base
units with the fund's ``base_decimals`` by the ``*_units`` helpers; ratios are integer bps;
durations are hours or seconds as named. ``load_planning_config`` turns any validation failure
into a ``ConfigError`` that names the environment variable and the bad value.

Section 2.2's thresholds (seed floats such as ``0.05``) are bps here: L1 low 800, L1 high 1500,
asset concentration 2500, top-3 6000, price move 500; large deposit 100K; approval tiers
10K / 50K / 200K with SLAs of 2 and 4 hours.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from keepers.core.approval import ApprovalPolicy
from keepers.core.settings import ConfigError, load_settings

BPS = 10_000
Bps = Annotated[int, Field(ge=0, le=BPS)]
Whole = Annotated[int, Field(ge=0)]


__all__ = ["BPS", "ConfigError", "PlanningConfig", "load_planning_config"]


def _parse_windows(raw: str) -> tuple[tuple[int, int], ...]:
    """'13:25-13:35,23:50-00:10' -> ((805, 815), (1430, 10)) minutes after 00:00 UTC."""
    windows = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        start, sep, end = part.partition("-")
        if not sep:
            raise ValueError(f"window {part!r} is not HH:MM-HH:MM")
        windows.append((_minutes(start), _minutes(end)))
    return tuple(windows)


def _minutes(hhmm: str) -> int:
    hours, sep, minutes = hhmm.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit():
        raise ValueError(f"time {hhmm!r} is not HH:MM")
    h, m = int(hours), int(minutes)
    if h > 23 or m > 59:
        raise ValueError(f"time {hhmm!r} is out of range")
    return h * 60 + m


class PlanningConfig(ApprovalPolicy):
    """Env names are the upper-cased field names (no prefix, as in seed 001 section 8.1). The
    approval tiers (REBALANCE_APPROVAL_THRESHOLD, APPROVAL_*, REBALANCE_ADMINS) are the shared
    ``keepers.core.approval.ApprovalPolicy``'s, inherited."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    # -- seed 001 section 8.1
    rebalance_min_amount: Whole = 10_000  # whole stablecoins; no action below it
    rebalance_max_slippage: Bps = 200  # bps; above it a quote is a warning
    rebalance_gas_limit: Annotated[int, Field(gt=0)] = 500_000
    l1_target_ratio: Bps = 1_000
    l2_target_ratio: Bps = 3_000
    l3_target_ratio: Bps = 6_000
    l1_min_ratio: Bps = 500
    l1_max_ratio: Bps = 2_000
    deviation_threshold: Bps = 500
    # -- the other bands (design: L2 [20%, 40%], L3 [50%, 70%])
    l2_min_ratio: Bps = 2_000
    l2_max_ratio: Bps = 4_000
    l3_min_ratio: Bps = 5_000
    l3_max_ratio: Bps = 7_000
    # -- seed 001 section 2.2 thresholds
    l1_low_ratio: Bps = 800
    l1_high_ratio: Bps = 1_500
    asset_concentration_limit: Bps = 2_500
    top3_concentration_limit: Bps = 6_000
    large_deposit_amount: Whole = 100_000  # whole
    price_move_threshold: Bps = 500
    daily_check_hour: Annotated[int, Field(ge=0, le=23)] = 0  # UTC
    weekly_check_weekday: Annotated[int, Field(ge=0, le=6)] = 0  # Monday
    # -- seed 001 section 4.1 risk checks
    slippage_block_bps: Bps = 500
    gas_benefit_max_bps: Bps = 1_000  # skip when gas cost > 10% of the benefit
    rebalance_benefit_bps: Bps = 50  # benefit = deviation moved x this (see risk.py)
    liquidity_impact_warn_bps: Bps = 5_000  # of an asset's redeemable liquidity
    liquidity_impact_block_bps: Bps = 10_000
    blackout_windows: Annotated[tuple[tuple[int, int], ...], NoDecode] = ()  # "HH:MM-HH:MM,..."
    # -- partial progress: what venue depth leaves of a flow is carried in slices this far apart
    carry_slice_interval_s: Annotated[int, Field(gt=0)] = 3_600
    # -- cost-aware execution. A leg's cost is its fill's shortfall against the oracle, in bps
    # of the leg. Moves toward target are sized so that no unit of a leg costs more than the
    # target (its marginal cost, as a desk slices an order; the leg's average is then well
    # under it), the rest carried to later slices, after arbitrage refills the venue; only what
    # brings a tier back inside its band, and redemptions, may cost up to REBALANCE_MAX_SLIPPAGE
    # (the hard stop).
    rebalance_target_slippage: Bps = 50
    # -- what a pending pool leg offers a searcher (issue 62). A pool leg's minOut is its fill as
    # simulated on the node just before it is sent, less this tolerance for the blocks until it
    # is included: the most a searcher can take from the leg (docs/trust-model.md: the pools
    # move a few bps a block in normal times; a move past it reverts the leg, nothing traded).
    # REBALANCE_MAX_SLIPPAGE stays the refusal to trade worse, never the price offered.
    rebalance_fill_tolerance_bps: Bps = 10
    # a signed plan's pool leg may be sent with a minOut at most this far under the oracle at
    # execution: its fill's shortfall at signing + the tolerance + this margin (so the pool and
    # the oracle may drift apart by this much before the owners must sign a new plan)
    rebalance_signed_band_margin_bps: Bps = 50
    # off-chain cost budget, bps of NAV: value lost to fills over the last day and the last
    # 30 days. Once either is spent only band restoration and redemptions go ahead.
    rebalance_cost_budget_daily: Bps = 10
    rebalance_cost_budget_30d: Bps = 60
    # a venue that fills at its own price (an ERC-4626 fund's previewDeposit / previewRedeem)
    # more than this under its feed is held for that side (purchases or sales) until the two
    # agree again; the plan uses the other venues (keepers.fund.venues)
    venue_oracle_max_bps: Bps = 100
    # -- the exit horizon (issue 67, keepers.fund.planning.horizon and .floor)
    rebalance_horizon_floor_bps: Bps = Field(
        default=500,
        description="The exit horizon's floor (issue 67), bps of the fund's value: after every "
        "plan the fund pays at once its queued redemptions plus this share of its value. "
        "Purchases of what pays later are cut to keep it; a fund already under it on a fresh "
        "budget window (free cash + the liquid positions inside one window's notional budget) "
        "gets sales of reason horizon_floor, ERC-4626 venues first, then pools by cost, never "
        "an async RWA, inside the bands (which win over the floor), the depth and the budgets.",
    )

    @field_validator("blackout_windows", mode="before")
    @classmethod
    def _parse_blackouts(cls, v: Any) -> Any:
        return _parse_windows(v) if isinstance(v, str) else v

    @model_validator(mode="after")
    def _check_relations(self) -> PlanningConfig:  # the approval tiers: ApprovalPolicy's
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"{name.upper()}={getattr(self, name)!r}: {why}")

        targets = ("l1_target_ratio", "l2_target_ratio", "l3_target_ratio")
        total = sum(getattr(self, n) for n in targets)
        if total != BPS:
            raise ConfigError(
                "L1_TARGET_RATIO + L2_TARGET_RATIO + L3_TARGET_RATIO = "
                f"{'+'.join(str(getattr(self, n)) for n in targets)} = {total}, must be {BPS}"
            )
        for t in (1, 2, 3):
            lo, tgt, hi = (f"l{t}_min_ratio", f"l{t}_target_ratio", f"l{t}_max_ratio")
            if getattr(self, lo) > getattr(self, tgt):
                raise bad(lo, f"above {tgt.upper()}={getattr(self, tgt)}")
            if getattr(self, hi) < getattr(self, tgt):
                raise bad(hi, f"below {tgt.upper()}={getattr(self, tgt)}")
        if not self.l1_min_ratio <= self.l1_low_ratio <= self.l1_target_ratio:
            raise bad("l1_low_ratio", "must lie between L1_MIN_RATIO and L1_TARGET_RATIO")
        if not self.l1_target_ratio <= self.l1_high_ratio <= self.l1_max_ratio:
            raise bad("l1_high_ratio", "must lie between L1_TARGET_RATIO and L1_MAX_RATIO")
        if self.deviation_threshold == 0:
            raise bad("deviation_threshold", "must be > 0")
        if self.rebalance_min_amount == 0:
            raise bad("rebalance_min_amount", "must be > 0")
        if self.rebalance_max_slippage > self.slippage_block_bps:
            raise bad("rebalance_max_slippage", "must be <= SLIPPAGE_BLOCK_BPS")
        if self.rebalance_target_slippage > self.rebalance_max_slippage:
            raise bad("rebalance_target_slippage", "must be <= REBALANCE_MAX_SLIPPAGE")
        if self.rebalance_fill_tolerance_bps > self.rebalance_max_slippage:
            raise bad("rebalance_fill_tolerance_bps", "must be <= REBALANCE_MAX_SLIPPAGE")
        if self.rebalance_cost_budget_daily > self.rebalance_cost_budget_30d:
            raise bad("rebalance_cost_budget_daily", "must be <= REBALANCE_COST_BUDGET_30D")
        if self.rebalance_horizon_floor_bps > self.l1_max_ratio + self.l2_max_ratio:
            raise bad(
                "rebalance_horizon_floor_bps",
                f"must be <= L1_MAX_RATIO + L2_MAX_RATIO = {self.l1_max_ratio + self.l2_max_ratio} "
                "(the most the fund's liquid tiers may hold)",
            )
        if self.liquidity_impact_warn_bps > self.liquidity_impact_block_bps:
            raise bad("liquidity_impact_warn_bps", "must be <= LIQUIDITY_IMPACT_BLOCK_BPS")
        return self

    # ------------------------------------------------------------------ derived values

    def units(self, whole: int, base_decimals: int) -> int:
        """Whole stablecoins -> base units."""
        return whole * 10**base_decimals

    def min_amount_units(self, base_decimals: int) -> int:
        return self.units(self.rebalance_min_amount, base_decimals)

    def bands(self) -> tuple[tuple[int, int, int], ...]:
        """(target, min, max) bps for L1, L2, L3."""
        return tuple(
            (
                getattr(self, f"l{t}_target_ratio"),
                getattr(self, f"l{t}_min_ratio"),
                getattr(self, f"l{t}_max_ratio"),
            )
            for t in (1, 2, 3)
        )


def load_planning_config(env: Mapping[str, str] | None = None, **overrides: Any) -> PlanningConfig:
    """Build the config from ``env`` (or the process environment when None) and overrides,
    through the one loader (keepers.core.settings.load_settings).

    Raises ConfigError naming the upper-case env variable and the offending value.
    """
    return load_settings(PlanningConfig, env=env, **overrides)
