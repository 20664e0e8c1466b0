"""Alerts of every keeper bot (fund, executor, supervisor): one record per event, sent to
every sink (structured log by default; tests collect them in a list; a pager or webhook sink
plugs in the same way) and counted on ``rebalance_alerts{level,code}``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from keepers.core.logging import get_logger
from keepers.runtime.metrics import ALERTS

log = get_logger("keepers.alerts")


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


@dataclass(frozen=True)
class Alert:
    """``code``: fund bot simulation_failed | paused | slippage | verify_divergence | network |
    gas_funds | tx_failed | risk_*; supervisor funder_empty | low_runway; cross-chain
    crosschain_plan | crosschain_approval | crosschain_move_failed | attestation_rejected |
    attestation_delayed."""

    level: AlertLevel  # a StrEnum: compares equal to "info" | "warning" | "critical"
    code: str
    message: str
    plan: str | None = None  # the fund plan it concerns, if any
    detail: dict[str, Any] = field(default_factory=dict)


Sink = Callable[[Alert], None]
AlertSink = Sink  # the automation bots' name for it

_RESERVED = {"level", "code", "message", "plan", "event"}


def log_sink(alert: Alert) -> None:
    fn = log.error if alert.level is AlertLevel.CRITICAL else log.warning
    extra = {k: v for k, v in alert.detail.items() if k not in _RESERVED}
    fn(
        "alert",
        level=alert.level.value,
        code=alert.code,
        message=alert.message,
        plan=alert.plan,
        **extra,
    )


class Alerter:
    """Builds, counts and fans out alerts: ``alerter(level, code, message, plan, **detail)``."""

    def __init__(self, sinks: list[Sink] | None = None) -> None:
        self.sinks: list[Sink] = sinks if sinks is not None else [log_sink]

    def __call__(
        self,
        level: AlertLevel | str,
        code: str,
        message: str,
        plan: str | None = None,
        **detail: Any,
    ) -> Alert:
        return self.send(Alert(AlertLevel(level), code, message, plan, detail))

    def send(self, alert: Alert) -> Alert:
        ALERTS.labels(alert.level.value, alert.code).inc()
        for sink in self.sinks:
            sink(alert)
        return alert
