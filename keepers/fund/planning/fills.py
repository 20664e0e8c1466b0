"""A pool leg's minOut from its fill, not from the slippage stop (issue 62). Pure: no chain.

A transaction waiting in a public pool is read by searchers; whatever a pool leg accepts below
what it would get is theirs (a front-run moves the pool until the leg fills exactly at its
minOut, a back-run takes the difference). So the minOut the keeper offers is the leg's fill as
simulated on the node just before sending, less REBALANCE_FILL_TOLERANCE_BPS for the blocks
until it is included. The slippage stop (REBALANCE_MAX_SLIPPAGE, SLIPPAGE_BLOCK_BPS) stays what
it was: a refusal to trade worse, checked on that fill; it is never the price offered.

A signed plan binds each pool leg to a band (``maxSlippageBps``, keepers.fund.planning
.plan_approval): the minOut sent may be at most that far under the oracle value of the leg at
execution. `signed_band` is the band the keeper asks the owners to sign: the leg's shortfall
under the oracle at signing, plus the tolerance, plus REBALANCE_SIGNED_BAND_MARGIN_BPS (how
far pool and oracle may drift apart before the owners are asked again), never past
SLIPPAGE_BLOCK_BPS. Because the band is relative to the oracle read when the leg runs, a price
move of the market as a whole (pool and oracle together) leaves the plan sendable; a pool that
moved away from its oracle makes the leg unsendable and the plan ends stale.
"""

from __future__ import annotations

from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.risk import Quote, slippage_bps
from keepers.fund.planning.state import BPS


def min_out_from_fill(fill: int, floor: int, config: PlanningConfig) -> int:
    """The minOut a pool leg is sent with: its simulated ``fill`` less the tolerance, never
    under ``floor`` (the loosest minOut allowed: the stop's, or the signed band's)."""
    if fill < 0 or floor < 0:
        raise ValueError(f"fill {fill} and floor {floor} must be >= 0")
    return max(fill * (BPS - config.rebalance_fill_tolerance_bps) // BPS, floor)


def signed_band(quote: Quote | None, config: PlanningConfig) -> int:
    """The band (bps under the oracle at execution) a pool leg is signed with: its quote's
    shortfall now + REBALANCE_FILL_TOLERANCE_BPS + REBALANCE_SIGNED_BAND_MARGIN_BPS, at most
    SLIPPAGE_BLOCK_BPS. A leg with no pool quote (an ERC-4626 or asynchronous venue, which
    fills at its own price) is signed with SLIPPAGE_BLOCK_BPS: no pool to sandwich, the
    controller's own oracle minimum binds it."""
    if quote is None or quote.oracle_out <= 0:
        return config.slippage_block_bps
    short = slippage_bps(quote.quote_out, quote.oracle_out)
    band = short + config.rebalance_fill_tolerance_bps + config.rebalance_signed_band_margin_bps
    return min(band, config.slippage_block_bps)


def purchase_cash_floor(cash: int, band: int) -> int:
    """The least oracle value (base units) a purchase's minOut may be worth under ``band``: the
    executor's rule, ``cash * (10000 - band) / 10000``."""
    return cash * max(BPS - band, 0) // BPS


def redeem_floor(oracle_value: int, band: int) -> int:
    """The least minOut (base units) a redemption of tokens worth ``oracle_value`` may carry
    under ``band`` (the executor's rule)."""
    return oracle_value * max(BPS - band, 0) // BPS
