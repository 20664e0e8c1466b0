"""Prometheus metrics of the fund keeper, named as in seed 001 section 5.1.

Units: ratios are fractions (0.07 = 7%), times seconds, gas cost in the native coin (wei /
1e18). The shipped alert rules (keepers/alerts/rebalance.rules.yml) hold the seed's warning
and critical thresholds. ``serve(port)`` starts prometheus_client's HTTP endpoint.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, start_http_server

DEVIATION = Gauge(
    "rebalance_deviation_ratio",
    "Tier ratio minus target (fraction of total assets); tier=max is the largest |deviation|",
    ["tier"],
)
EXECUTION_TIME = Gauge(
    "rebalance_execution_time", "Seconds the last executed plan took (simulate to verify)"
)
SLIPPAGE = Gauge(
    "rebalance_slippage", "Shortfall of the last fill against the oracle (fraction)", ["asset"]
)
GAS_COST = Gauge("rebalance_gas_cost", "Native coin spent on gas by the last executed plan")
SUCCESS_RATE = Gauge(
    "rebalance_success_rate", "Share of the last 100 executed actions that succeeded"
)
PENDING_COUNT = Gauge("rebalance_pending_count", "Plans waiting for approval or execution")
ALERTS = Counter("rebalance_alerts", "Alerts raised, by level and code", ["level", "code"])

_recent: deque[bool] = deque(maxlen=100)


def observe_deviation(deviations_bps: dict[str, int]) -> None:
    worst = 0
    for tier, bps in deviations_bps.items():
        DEVIATION.labels(tier).set(float(Decimal(bps) / 10_000))
        worst = max(worst, abs(bps))
    DEVIATION.labels("max").set(float(Decimal(worst) / 10_000))


def observe_action(success: bool) -> None:
    _recent.append(success)
    SUCCESS_RATE.set(sum(_recent) / len(_recent))


def observe_slippage(asset: str, bps: int) -> None:
    SLIPPAGE.labels(asset).set(float(Decimal(bps) / 10_000))


def observe_gas(wei: int) -> None:
    GAS_COST.set(float(Decimal(wei) / 10**18))


def serve(port: int, registry: CollectorRegistry = REGISTRY) -> None:
    start_http_server(port, registry=registry)
