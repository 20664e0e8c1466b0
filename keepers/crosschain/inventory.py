"""Glue between the validated config and the pure planner (still no I/O).

`plan_from_config` turns on-chain balances (token base units, as read by keepers/tx) into
a plan; `orders` turns the plan into executable transfer orders (rulebook section 6): the
route chosen per leg, the human-readable amount, and exact base units on both chains.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context

from keepers.core.amounts import format_amount
from keepers.crosschain.config import Asset, CrosschainConfig, RouteName
from keepers.crosschain.planning import (
    Holding,
    InFlightMove,
    NoRouteError,
    Plan,
    Transfer,
    plan_rebalance,
    table_route_cost,
    to_scaled,
)

_WIDE = Context(prec=120)


def holdings_from_config(
    cfg: CrosschainConfig, balances: Mapping[tuple[str, str], int]
) -> list[Holding]:
    """One `Holding` per configured (chain, token); `balances` are token base units.
    A configured token with no balance given is an error, never a silent zero."""
    out = []
    for chain in cfg.chains:
        for asset, token in chain.tokens.items():
            key = (chain.name, asset.value)
            if key not in balances:
                raise KeyError(f"no balance read for {chain.name}/{asset.value}")
            out.append(
                Holding(
                    chain=chain.name,
                    asset=asset.value,
                    balance=to_scaled(balances[key], token.decimals),
                    base=chain.base_balance_scaled(asset),
                    decimals=token.decimals,
                )
            )
    return out


def plan_from_config(
    cfg: CrosschainConfig,
    balances: Mapping[tuple[str, str], int],
    in_flight: Iterable[InFlightMove] = (),
    exact: bool = True,
) -> Plan:
    return plan_rebalance(
        holdings_from_config(cfg, balances),
        cfg.trigger_percentage,
        in_flight,
        route_cost=table_route_cost(cfg.route_cost_table()),
        exact=exact,
    )


@dataclass(frozen=True)
class TransferOrder:
    """A `RebalanceOptions`-style order (rulebook 6) with exact on-chain amounts."""

    transfer: Transfer
    route: RouteName
    coin: str
    amount: str  # human readable, exact ("5000", "12.5")
    source: str  # state machine id, "EVM-<chain id>"
    destination: str
    source_units: int
    destination_units: int


def orders(cfg: CrosschainConfig, plan: Plan) -> list[TransferOrder]:
    out = []
    for t in plan.transfers:
        asset = Asset(t.asset)
        route = cfg.route_between(asset, t.source, t.dest)
        if route is None:
            raise NoRouteError(t.asset, t.source, t.dest)
        src, dst = cfg.chain(t.source), cfg.chain(t.dest)
        out.append(
            TransferOrder(
                transfer=t,
                route=route,
                coin=asset.value,
                amount=format_amount(t.amount, 18, grouping=False),
                source=f"EVM-{src.chain_id}",
                destination=f"EVM-{dst.chain_id}",
                source_units=t.units(src.tokens[asset].decimals),
                destination_units=t.units(dst.tokens[asset].decimals),
            )
        )
    return out
