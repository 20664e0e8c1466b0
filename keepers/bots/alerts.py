"""Alerts: one record per event, sent to every sink (structured log by default; tests collect
them in a list; a pager or webhook sink plugs in the same way)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from keepers.logging import get_logger
from keepers.metrics import ALERTS

log = get_logger("keepers.alerts")


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Alert:
    level: AlertLevel
    code: str  # simulation_failed | paused | slippage | verify_divergence | network | gas_funds
    message: str
    plan: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


Sink = Callable[[Alert], None]


def log_sink(alert: Alert) -> None:
    fn = log.error if alert.level is AlertLevel.CRITICAL else log.warning
    fn("alert", level=alert.level.value, code=alert.code, message=alert.message, plan=alert.plan)


class Alerter:
    def __init__(self, sinks: list[Sink] | None = None) -> None:
        self.sinks: list[Sink] = sinks if sinks is not None else [log_sink]

    def __call__(
        self, level: AlertLevel, code: str, message: str, plan: str | None = None, **detail: Any
    ) -> Alert:
        alert = Alert(level, code, message, plan, detail)
        ALERTS.labels(level.value, code).inc()
        for sink in self.sinks:
            sink(alert)
        return alert
