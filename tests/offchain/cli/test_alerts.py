"""One Alert module for every bot: the fund bot's Alerter and the supervisor's alerts."""

from __future__ import annotations

from prometheus_client import REGISTRY

from keepers.automation import supervisor
from keepers.runtime import alerts, base
from keepers.runtime.alerts import Alert, Alerter, AlertLevel, log_sink


def count(level: str, code: str) -> float:
    return REGISTRY.get_sample_value("rebalance_alerts_total", {"level": level, "code": code}) or 0


def test_alerts__every_bot__same_alert_type():
    assert base.Alert is alerts.Alert and supervisor.Alert is alerts.Alert
    assert base.log_sink is log_sink


def test_alerter__plain_level__enum_counted_sent_to_every_sink():
    seen: list[Alert] = []
    other: list[Alert] = []
    before = count("critical", "funder_empty")
    a = Alerter([seen.append, other.append])("critical", "funder_empty", "dry", funder="0xf")
    assert a.level is AlertLevel.CRITICAL and a.level == "critical"
    assert a.plan is None and a.detail == {"funder": "0xf"}
    assert seen == other == [a]
    assert count("critical", "funder_empty") == before + 1


def test_log_sink__detail_key_clashing_with_field__logged_without_error():
    log_sink(Alert(AlertLevel.WARNING, "low_runway", "m", "plan1", {"level": 1, "block": 7}))
