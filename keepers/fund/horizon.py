"""The exit horizon as the keeper shows it (issue 67): ``FundLens.exitHorizon`` read at the
reading's block, plus the pool-traded positions' part (keepers.fund.planning.horizon: their
pools' depth at ``KEEPER_HORIZON_POOL_COST_BPS``, read with the depth reader's pool reads).
For ``keeper status`` (``--json`` key ``exit_horizon``), the console's fund page, the demo's
month report and the metrics (``rebalance_exit_horizon{days}`` and
``rebalance_exit_horizon_need``, the queue plus ``KEEPER_HORIZON_FORECAST_BPS`` of the fund's
value, which the ExitHorizonShort alert compares with the 1-day horizon).

A read that fails is "not read" (``{"error": ...}``), never a horizon of 0. Contracts of a
release before the view (0.1.0) have none: "not in these contracts".
"""

from __future__ import annotations

from typing import Any

from keepers.core.amounts import format_amount
from keepers.core.logging import get_logger
from keepers.fund.planning.depth import PoolVenue
from keepers.fund.planning.horizon import (
    HORIZON_DAYS,
    ChainHorizon,
    ExitHorizon,
    combine,
    need,
    pool_sale_value,
)
from keepers.fund.reader import EXIT_HORIZON, unread_lines, view_not_read
from keepers.runtime import metrics
from keepers.tx.reads import Read, ReadFailed, call_all, checksum
from keepers.version import NOT_IN_CONTRACTS

log = get_logger("keepers.horizon")

__all__ = [
    "exit_horizon_lines",
    "exit_horizon_not_read",
    "exit_horizon_view",
    "observe",
    "observe_bot",
    "pool_sales",
    "read",
]


def read(bot: Any, reading: Any) -> ExitHorizon:
    """The lens's horizon at ``reading.block`` and the pools' part (raises on a failed read).
    The lens's answer comes in the fund read's batch (``reading.horizon``, keepers.fund.reader;
    a read that failed there raises as web3 does: not read); asked on its own only for a
    reading that did not ask it."""
    raw = getattr(reading, "horizon", None)
    if isinstance(raw, ReadFailed):
        raise raw.error()
    if raw is None:
        (raw,) = call_all(bot.w3, [Read(bot.addresses.lens, EXIT_HORIZON, (bot.addresses.controller,))],
                          reading.block)  # fmt: skip
    chain = ChainHorizon.decode(raw)
    cost = int(bot.k.horizon_pool_cost_bps)
    return combine(chain, _pools(bot, reading, chain, cost), cost)


def _pools(bot: Any, reading: Any, chain: ChainHorizon, cost_bps: int) -> int:
    """The oracle value of what the fund's pool-traded positions sell inside ``cost_bps``."""
    return sum(pool_sales(bot, reading, cost_bps).values()) if chain.pool_value else 0


def pool_sales(bot: Any, reading: Any, cost_bps: int) -> dict[str, int]:
    """Per pool-traded asset: the oracle value of the sale counted (pool_sale_value). Every
    pool is read together (the depth reader's ``pool_states``: one batch a step; the first
    step comes in the fund read's batch when the pool was known at the last read); a pool whose
    read failed raises as web3 does (the whole horizon is then not read, never short)."""
    st = reading.state
    held = [
        (a, address)
        for a in st.assets
        if a.instant and a.tradable and a.value != 0
        for address in [bot.depth.pool_address(a.token)]
        if address is not None
    ]
    states = bot.depth.pool_states([address for _a, address in held], reading.block)
    out: dict[str, int] = {}
    for a, address in held:
        got = states[checksum(address)]
        if isinstance(got, Exception):
            raise got
        pool, token0 = got
        venue = PoolVenue(
            pool,
            token0.lower() == a.token.lower(),
            reading.prices[a.token] * 10**st.base_decimals,
            10 ** (reading.feed_decimals[a.token] + bot.encoder.token_decimals(a.token)),
        )
        out[a.token] = pool_sale_value(venue, a.value, cost_bps)
    return out


def _whole(units: int, decimals: int) -> str:
    """Whole units, exact, ungrouped (the one amount formatter: keepers.core.amounts)."""
    return format_amount(units, decimals, grouping=False)


def exit_horizon_view(bot: Any, reading: Any) -> dict[str, Any] | None:
    """Plain data (integers as strings); ``{"error": ...}`` when the node or the lens did not
    answer: not read, never a horizon of 0. None on contracts of a release before the view
    (keepers.version.NOT_IN_OLDER: "not in these contracts")."""
    lacks = getattr(getattr(bot, "release", None), "absent", ()) or ()
    if "exit_horizon" in lacks:  # a lens of 0.1.0: never read, never said as not read
        return None
    st = reading.state
    d = st.base_decimals
    try:
        h = read(bot, reading)
    except Exception as err:  # noqa: BLE001 - shown as not read, the rest stands
        return {"error": f"{type(err).__name__}: {err}"[:300]}
    c = h.chain
    want = need(st.pending_redemptions, st.total_assets, int(bot.k.horizon_forecast_bps))
    return {
        "block": reading.block,
        "decimals": d,
        "at": c.at,
        "days": list(HORIZON_DAYS),
        "total": [str(x) for x in h.total],
        "total_whole": [_whole(x, d) for x in h.total],
        "cash": str(c.cash),
        "venues": [str(x) for x in c.venues_paid],
        "async": [str(x) for x in c.async_paid],
        "pools": [str(x) for x in h.pool_paid],
        "pool_value": str(c.pool_value),
        "pool_cost_bps": h.pool_cost_bps,
        "notional_left": [str(x) for x in c.notional_left],
        "need_1d": str(want),
        "need_1d_whole": _whole(want, d),
        "forecast_bps": int(bot.k.horizon_forecast_bps),
        "short_1d": want > h.total[1],
    }


def exit_horizon_not_read(view: dict[str, Any] | None) -> list[str]:
    return view_not_read(view, "exit horizon")


def exit_horizon_lines(view: dict[str, Any] | None) -> list[str]:
    if (unread := unread_lines(view, "exit horizon", NOT_IN_CONTRACTS)) is not None:
        return unread
    assert view is not None  # read: unread_lines said so
    parts = "  ".join(f"{d}d {w}" for d, w in zip(view["days"], view["total_whole"], strict=True))
    d = int(view["decimals"])

    def per(key: str) -> str:
        return "/".join(_whole(int(x), d) for x in view[key])

    lines = [
        f"exit horizon (base coin payable by then, inside the budgets): {parts}",
        f"  of which L1 cash {_whole(int(view['cash']), d)}; ERC-4626 venues {per('venues')}; "
        f"async RWA {per('async')}; pools at {view['pool_cost_bps']} bps {per('pools')} "
        "(0/1/7/30 days)",
        f"  next day's need: queue + {view['forecast_bps'] / 100:g}% forecast = "
        f"{view['need_1d_whole']}{'  SHORT of the 1-day horizon' if view['short_1d'] else ''}",
    ]
    return lines


def observe(view: dict[str, Any] | None) -> None:
    if view is None or "error" in view:
        return
    metrics.observe_exit_horizon(
        {d: int(x) for d, x in zip(view["days"], view["total"], strict=True)},
        int(view["need_1d"]),
    )


def observe_bot(bot: Any, reading: Any) -> None:
    """The fund bot's read: the horizon as metrics; a failed read leaves the gauges as they
    were (logged)."""
    view = exit_horizon_view(bot, reading)
    if view is not None and "error" in view:
        log.warning("exit_horizon.read_failed", error=view["error"])
    observe(view)
