"""Random portfolios with realistic Uniswap V3 pools, for benchmarks and property tests (pure).

`random_case(rng)` draws 2-10 assets (6/8/18 decimals, prices $0.01-$100k), random target
weights (the quote has a target in half the cases), a portfolio of $100k-$10M whose weights
drifted from target by up to +-60% each, and one asset/quote pool per asset with a TVL of
`depth` times the portfolio (DEEP: 10x-200x, SHALLOW: 1x-10x) and a fee from `fees` (0.05%,
0.3% or 1%; FEES_WITH_001 adds the 0.01% tier), shaped as one full range, one concentrated
range or 2-3 nested ranges, priced at the oracle. `offset_pools` moves every pool a given
number of bps above or below its oracle (a sale can then return more than the oracle value).
Everything is integers; `rng` is a `random.Random` so a seed reproduces the set.
`case_portfolio`/`case_market` build the planner's types with pool state computed exactly as
NonfungiblePositionManager would mint it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from ballast_dev.deployment.fund import FEED_DECIMALS  # the test feeds' decimals
from keepers.core import univ3
from keepers.portfolio.planning import BPS, AssetSpec, Portfolio, V3Market, V3Pool

DEEP = (10, 200)  # pool TVL as a multiple of the portfolio's value
SHALLOW = (1, 10)
FEES = (500, 3000, 10000)  # pool fee tiers, pips
FEES_WITH_001 = (100, 500, 3000, 10000)


@dataclass(frozen=True)
class CaseAsset:
    symbol: str
    decimals: int
    price: int  # 8-decimal answer
    target_bps: int
    balance: int
    pool_fee: int
    pool_amounts: tuple[int, int]  # (asset, quote) offered to the pool
    ranges: tuple[tuple[int, int], ...] | None
    asset_is_token0: bool
    pool_offset_bps: int = 0  # pool price against the oracle, signed


@dataclass(frozen=True)
class Case:
    assets: tuple[CaseAsset, ...]
    quote_decimals: int
    quote_balance: int
    quote_target_bps: int


def _split(rng: random.Random, n: int, total: int) -> list[int]:
    raw = [rng.randint(1, 100) for _ in range(n)]
    parts = [total * r // sum(raw) for r in raw]
    parts[0] += total - sum(parts)
    return parts


def random_case(
    rng: random.Random, depth: tuple[int, int] = DEEP, fees: tuple[int, ...] = FEES
) -> Case:
    n = rng.randint(2, 10)
    quote_weighted = rng.random() < 0.5
    weights = _split(rng, n + (1 if quote_weighted else 0), BPS)
    quote_target = weights.pop() if quote_weighted else 0
    qd = rng.choice((6, 18))
    q = 10**qd
    total_usd = rng.randint(100_000, 10_000_000)
    # current weights: target * U(0.4, 1.6), renormalised (quote included when it has a target)
    drift = [w * rng.randint(40, 160) for w in weights]
    quote_drift = quote_target * rng.randint(40, 160)
    norm = sum(drift) + quote_drift
    assets = []
    for i in range(n):
        decimals = rng.choice((6, 8, 18))
        price = rng.randint(10**6, 10**13)  # $0.01 .. $100,000 with 8 decimals
        value = total_usd * q * drift[i] // norm  # quote base units
        balance = value * 10 ** (decimals + FEED_DECIMALS) // (price * q)
        tvl = total_usd * rng.randint(*depth) * q
        pool_asset = (tvl // 2) * 10 ** (decimals + FEED_DECIMALS) // (price * q)
        shape = rng.choice(("full", "one", "nested"))
        ranges: tuple[tuple[int, int], ...] | None
        if shape == "full":
            ranges = None
        elif shape == "one":
            w = rng.randint(600, 6000)
            ranges = ((-w, w),)
        else:
            w = rng.randint(200, 1200)
            ranges = tuple((-w * k, w * k) for k in range(1, rng.randint(2, 3) + 1))
        assets.append(
            CaseAsset(
                f"T{i}",
                decimals,
                price,
                weights[i],
                balance,
                rng.choice(fees),
                (pool_asset, tvl // 2),
                ranges,
                rng.random() < 0.5,
            )
        )
    quote_balance = total_usd * q * quote_drift // norm
    return Case(tuple(assets), qd, quote_balance, quote_target)


def offset_pools(case: Case, rng: random.Random, bps: int) -> Case:
    """The same case with each pool `bps` above or below its oracle price (sign drawn)."""
    assets = tuple(replace(a, pool_offset_bps=rng.choice((-bps, bps))) for a in case.assets)
    return replace(case, assets=assets)


def case_portfolio(case: Case) -> Portfolio:
    return Portfolio(
        tuple(AssetSpec(a.symbol, a.decimals, a.price) for a in case.assets),
        tuple(a.balance for a in case.assets),
        tuple(a.target_bps for a in case.assets),
        case.quote_decimals,
        case.quote_balance,
        case.quote_target_bps,
    )


def pool_state(a: CaseAsset, quote_decimals: int) -> univ3.PoolState:
    """The pool ballast_dev.deployment.uniswap.create_pool would make for this asset."""
    quote_raw = a.price * 10**quote_decimals * (BPS + a.pool_offset_bps)
    asset_raw = 10 ** (a.decimals + FEED_DECIMALS) * BPS
    if a.asset_is_token0:
        sqrt_p = univ3.encode_price_sqrt(quote_raw, asset_raw)
        amount0, amount1 = a.pool_amounts
    else:
        sqrt_p = univ3.encode_price_sqrt(asset_raw, quote_raw)
        amount1, amount0 = a.pool_amounts
    spacing = univ3.TICK_SPACINGS[a.pool_fee]
    tick = univ3.get_tick_at_sqrt_ratio(sqrt_p)
    ranges = a.ranges or (None,)
    positions = []
    for rng in ranges:
        lower, upper = univ3.position_ticks(tick, spacing, rng)
        liq = univ3.liquidity_for_amounts(
            sqrt_p,
            univ3.get_sqrt_ratio_at_tick(lower),
            univ3.get_sqrt_ratio_at_tick(upper),
            amount0 // len(ranges),
            amount1 // len(ranges),
        )
        positions.append((lower, upper, liq))
    return univ3.PoolState.from_positions(sqrt_p, a.pool_fee, positions, spacing)


def case_market(case: Case) -> V3Market:
    return V3Market(
        tuple(V3Pool(pool_state(a, case.quote_decimals), a.asset_is_token0) for a in case.assets)
    )
