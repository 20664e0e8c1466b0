"""Per-tier metrics (seed 001 section 3.1) with integer bps and Decimal ratios, never float.

Fixes against the seed: ratios are taken over ``total_assets`` (net of pending redemptions)
with L1 = cash - pending redemptions, so the three ratios add up to 1; bounds come from the
on-chain bands instead of hard-coded floats; comparisons are exact integer cross-products.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from keepers.fund.planning.state import BPS, FundState


def ratio(value: int, total: int) -> Decimal:
    """value / total as a Decimal (0 when total <= 0)."""
    if total <= 0:
        return Decimal(0)
    with localcontext() as ctx:
        ctx.prec = 50
        return Decimal(value) / Decimal(total)


def bps_of(value: int, total: int) -> int:
    """value / total in bps, rounded toward zero (0 when total <= 0)."""
    if total <= 0:
        return 0
    q = abs(value) * BPS // total
    return q if value >= 0 else -q


def within(value: int, total: int, lo_bps: int, hi_bps: int) -> bool:
    """lo_bps <= value / total <= hi_bps, exactly."""
    return lo_bps * total <= value * BPS <= hi_bps * total


@dataclass(frozen=True)
class TierMetrics:
    tier: int
    value: int  # position (L1: cash - pending redemptions)
    ratio: Decimal  # value / total_assets
    ratio_bps: int
    target_bps: int
    deviation_bps: int  # ratio_bps - target_bps (signed)
    min_bps: int
    max_bps: int
    within_bounds: bool

    @property
    def deviation_abs_bps(self) -> int:
        return abs(self.deviation_bps)


def tier_metrics(state: FundState) -> tuple[TierMetrics, TierMetrics, TierMetrics]:
    total = state.total_assets
    out = []
    for t in state.tiers:
        value = state.position(t.tier)
        r_bps = bps_of(value, total)
        out.append(
            TierMetrics(
                tier=t.tier,
                value=value,
                ratio=ratio(value, total),
                ratio_bps=r_bps,
                target_bps=t.target_bps,
                deviation_bps=r_bps - t.target_bps,
                min_bps=t.min_bps,
                max_bps=t.max_bps,
                within_bounds=within(value, total, t.min_bps, t.max_bps),
            )
        )
    return out[0], out[1], out[2]


def band_distance(state: FundState, tier: int) -> int:
    """How far (base units) a tier's position lies outside its band; 0 inside."""
    t = state.tiers[tier]
    value, total = state.position(tier), state.total_assets
    lo = -(-t.min_bps * total // BPS)
    hi = t.max_bps * total // BPS
    return max(0, lo - value, value - hi)


def asset_concentration_bps(state: FundState) -> dict[str, int]:
    """Each asset's share of total_assets in bps."""
    return {a.token: bps_of(a.value, state.total_assets) for a in state.assets}


def top3_value(state: FundState) -> int:
    return sum(sorted((a.value for a in state.assets), reverse=True)[:3])
