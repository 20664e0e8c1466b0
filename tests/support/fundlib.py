"""Builders for the pure fund-planning tests (imported by name: `from fundlib import ...`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from keepers.core import univ3
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.depth import AssetDepth, PoolVenue, pool_depth
from keepers.fund.planning.state import AssetState, FundState

NOW = 1_767_571_200  # 2026-01-05 00:00:00 UTC, a Monday
BANDS = ((1_000, 500, 2_000), (3_000, 2_000, 4_000), (6_000, 5_000, 7_000))


def make_asset(
    symbol: str,
    tier: int,
    value: int,
    *,
    instant: bool = True,
    redeemable: int | None = None,
    conc: int = 10_000,
    price_num: int = 1,
    **extra: int,
) -> AssetState:
    """An asset worth ``value`` base units; its balance is value * price_num (token units)."""
    return AssetState(
        token=f"0x{symbol.lower():0>40}"[:42],
        symbol=symbol,
        tier=tier,
        balance=value * price_num,
        value=value,
        instant=instant,
        redeemable_now_value=value if redeemable is None else redeemable,
        max_concentration_bps=conc,
        **extra,
    )


# the local profile's assets (scripts/profiles/local.yaml), in its order, with their tier and
# kind: two ERC-4626 money funds in L2; in L3 two tokens traded on Uniswap V3 pools, an ERC-4626
# credit fund and an asynchronous one (nothing redeemable now)
LOCAL_ASSETS: tuple[tuple[str, int, dict[str, Any]], ...] = (
    ("MMF-A", 1, {}),
    ("MMF-B", 1, {}),
    ("TBILL-A", 2, {}),
    ("TBILL-B", 2, {}),
    ("CREDIT", 2, {}),
    ("PRIVCRED", 2, {"instant": False, "redeemable": 0}),
)


def local_assets(*values: int, conc: int = 2_500) -> list[AssetState]:
    """The local profile's six assets (``LOCAL_ASSETS``) worth ``values`` base units, in that
    order, each under the concentration limit ``conc``: the fund the keeper reads on the local
    chain, for the planning tests that replay what it read there."""
    if len(values) != len(LOCAL_ASSETS):
        raise ValueError(f"local_assets: {len(LOCAL_ASSETS)} values, got {len(values)}")
    return [
        make_asset(symbol, tier, value, conc=conc, **kind)
        for (symbol, tier, kind), value in zip(LOCAL_ASSETS, values, strict=True)
    ]


def make_state(
    cash: int,
    assets: Sequence[AssetState],
    *,
    decimals: int = 6,
    pending: int = 0,
    paused: bool = False,
    now: int = NOW,
) -> FundState:
    return FundState.build(
        timestamp=now,
        base_decimals=decimals,
        cash=cash,
        pending_redemptions=pending,
        bands=BANDS,
        assets=assets,
        paused=paused,
    )


def v3_venue(
    price: int, fee: int, decimals: int, usd: int = 100_000_000, range_ticks: int = 2000
) -> PoolVenue:
    """An asset/base Uniswap V3 pool as the local profile seeds it (exact V3 math, no chain):
    ``price`` whole base units per token, ``usd`` whole base units and their worth of tokens in
    +-``range_ticks`` (the local profile's pool_liquidity 200,000,000 is 100M a side), the
    oracle at the pool's mid; the asset (18 decimals) is token0."""
    price_num, price_den = price * 10**decimals, 10**18  # base units per token unit
    sqrt0 = univ3.encode_price_sqrt(price_num, price_den)
    spacing = univ3.TICK_SPACINGS[fee]
    tick0 = univ3.get_tick_at_sqrt_ratio(sqrt0)
    lower, upper = univ3.position_ticks(tick0, spacing, (-range_ticks, range_ticks))
    liq = univ3.liquidity_for_amounts(
        sqrt0,
        univ3.get_sqrt_ratio_at_tick(lower),
        univ3.get_sqrt_ratio_at_tick(upper),
        usd * 10**18 // price,
        usd * 10**decimals,
    )
    pool = univ3.PoolState.from_positions(sqrt0, fee, [(lower, upper, liq)], spacing)
    return PoolVenue(pool, True, price_num, price_den)


def local_pool_fund(
    cash: int, decimals: int, pending: int = 0
) -> tuple[FundState, dict[str, PoolVenue]]:
    """The local fund as the keeper reads it after deployment, with ``cash`` whole units in L1
    and ``pending`` base units queued: six assets of about 300,000 (local_assets), TBILL-A and
    TBILL-B on their V3 pools at 30 and 5 bps (v3_venue) holding their value's tokens at the
    oracle; with each pool venue by token."""
    u, x = 10**decimals, 10 ** (decimals - 6)
    venues = {"TBILL-A": v3_venue(100, 3000, decimals), "TBILL-B": v3_venue(100, 500, decimals)}
    assets = local_assets(
        300_000 * u, 300_000 * u, 299_012_876_036 * x, 299_764_136_138 * x, 300_000 * u, 300_000 * u
    )
    assets = [
        replace(a, balance=venues[a.symbol].oracle_tokens(a.value)) if a.symbol in venues else a
        for a in assets
    ]
    state = make_state(cash * u, assets, decimals=decimals, pending=pending)
    return state, {a.token: venues[a.symbol] for a in assets if a.symbol in venues}


def pool_depths(
    state: FundState, venues: dict[str, PoolVenue], cfg: PlanningConfig
) -> dict[str, AssetDepth]:
    """Each pool's depth as the depth reader reads it."""
    return {
        t: pool_depth(
            t,
            v,
            cfg.rebalance_max_slippage,
            state.total_assets,
            state.asset(t).value,
            cfg.rebalance_target_slippage,
        )
        for t, v in venues.items()
    }
