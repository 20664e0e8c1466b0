"""Route choice per (asset, source, dest) with fallback.

`routes_between` in the config gives the candidates, cheapest first (CCTP for USDC and
USDT0 for USDT where both chains support them, the CEX for either asset). `dispatch` quotes
each candidate in that order and initiates on the first whose quote succeeds: a route that is
down (a blocked LayerZero library, exchange withdrawals suspended, an unreachable API) raises
`RouteError` from `quote`, before any money moves, and the next route is tried. A failure in
`initiate` is *not* retried on another route: funds may already have left, so it surfaces.
No usable route at all is an error naming every route tried and why (rulebook section 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keepers.crosschain.config import Asset, CrosschainConfig, RouteName
from keepers.crosschain.routes import RouteAdapter, RouteError, RouteHandle

AdapterFactory = Callable[[RouteName, Asset, str, str], RouteAdapter | None]
"""(route, asset, source, dest) -> adapter, or None when this keeper has none wired."""


class NoRouteError(RouteError):
    """No route could take the leg; `tried` lists (route, reason)."""

    def __init__(self, message: str, tried: tuple[tuple[RouteName, str], ...]) -> None:
        super().__init__(message)
        self.tried = tried


@dataclass(frozen=True)
class Dispatched:
    route: RouteName
    handle: RouteHandle
    skipped: tuple[tuple[RouteName, str], ...]  # routes passed over before, and why


def dispatch(
    config: CrosschainConfig,
    factory: AdapterFactory,
    asset: Asset,
    source: str,
    dest: str,
    amount: int,
    recipient: str,
) -> Dispatched:
    """Initiate `amount` (source base units) of `asset` on the first route that is up."""
    candidates = config.routes_between(asset, source, dest)
    skipped: list[tuple[RouteName, str]] = []
    for route in candidates:
        adapter = factory(route, asset, source, dest)
        if adapter is None:
            skipped.append((route, "no adapter wired"))
            continue
        try:
            adapter.quote(amount)
        except RouteError as err:
            skipped.append((route, str(err)))
            continue
        handle = adapter.initiate(amount, recipient)
        return Dispatched(route, handle, tuple(skipped))
    why = "; ".join(f"{r.value}: {reason}" for r, reason in skipped) or "none configured"
    raise NoRouteError(
        f"no route for {asset.value} {source}->{dest} (amount {amount}): {why}", tuple(skipped)
    )
