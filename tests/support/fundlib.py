"""Builders for the pure fund-planning tests (imported by name: `from fundlib import ...`)."""

from __future__ import annotations

from collections.abc import Sequence

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
