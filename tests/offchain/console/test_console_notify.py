"""The console's notifications (issue 46: seed 001's "notify the approvers"), to a local webhook
receiver: a plan waiting for approval, near its deadline, and an executed plan's report, each
sent once with the plan page's link in a body Slack, Teams (``text``) and Alertmanager webhook
receivers (``version`` 4, ``alerts``) read; a failing receiver is retried with back-off, and
when every attempt fails the alert ``console_notify_failed`` goes out and the next scan tries
again. Chain-free: the plan rows the running keeper leaves (test_console_security's)."""

from __future__ import annotations

from typing import Any

import pytest

from keepers.cli_base import Ctx
from keepers.console.notify import Notifier
from keepers.console.settings import ConsoleSettings
from keepers.core.settings import load_settings
from keepers.fund.records import APPROVED, EXECUTED
from keepers.runtime.alerts import Alerter
from tests.offchain.console.test_console_security import HOUR, NOW, REF, add_plan, env  # noqa: F401
from tests.support.consolelib import Receiver


@pytest.fixture
def hook(env, monkeypatch):  # noqa: F811
    e, plans = env
    for k, v in e.items():
        monkeypatch.setenv(k, v)
    r = Receiver("/services/T0/B0/x")
    settings = load_settings(
        ConsoleSettings,
        env={"KEEPER_CONSOLE_WEBHOOK_URL": r.url, "KEEPER_CONSOLE_WEBHOOK_RETRIES": "2"},
    )
    alerts: list[Any] = []
    waits: list[float] = []
    ctx = Ctx(False, None)
    n = Notifier(
        settings, ctx, "http://console.example:8090", sleep=waits.append,
        alerter=Alerter([alerts.append]),
    )  # fmt: skip
    n.started_at = NOW
    yield n, r, plans, alerts, waits
    r.close()
    ctx.close()


def test_waiting__near_deadline__executed__each_sent_once_with_the_page_link(hook):
    n, r, plans, alerts, _ = hook
    assert n.scan(NOW + 60) == [("approval_needed", REF)]
    assert n.scan(NOW + 120) == []  # once
    (body,) = r.bodies
    link = f"http://console.example:8090/plans/{REF}"
    assert link in body["text"] and "waits for approval" in body["text"]
    assert "multi_admin" in body["text"] and "2 signature(s)" in body["text"]
    # Alertmanager's webhook shape
    assert body["version"] == "4" and body["status"] == "firing"
    (a,) = body["alerts"]
    assert a["labels"] == {
        "alertname": "ballast_approval_needed",
        "plan": REF,
        "severity": "warning",
    }
    assert a["generatorURL"] == link and a["annotations"]["link"] == link
    # half an hour before the deadline (KEEPER_CONSOLE_NEAR_DEADLINE_S)
    assert n.scan(NOW + 4 * HOUR - 1_801) == []
    assert n.scan(NOW + 4 * HOUR - 1_800) == [("near_deadline", REF)]
    assert (
        "expires at" in r.bodies[-1]["text"]
        and r.bodies[-1]["alerts"][0]["labels"]["severity"] == "critical"
    )
    assert n.scan(NOW + 4 * HOUR - 60) == []
    # executed: its report
    plans.update(REF, APPROVED)
    report = plans.get(REF).payload["report"]
    report |= {"progress": "in band", "results": [
        {"type": "allocateToLayer", "amount": 1, "success": True, "tx_hash": "0x" + "ab" * 32},
    ]}  # fmt: skip
    plans.finish(REF, EXECUTED, NOW + 2 * HOUR, 1_234, report=report, executed_at=NOW + 2 * HOUR)
    assert n.scan(NOW + 2 * HOUR + 10) == [("report", REF)]
    text = r.bodies[-1]["text"]
    assert "executed: 1 of 1 action(s) ok" in text and "0x" + "ab" * 32 in text and link in text
    assert n.scan(NOW + 2 * HOUR + 20) == []
    assert alerts == []
    # what was sent is in the plan's row: a restarted console sends nothing again
    assert set(plans.get(REF).payload["console_notified"]) == {
        "approval_needed",
        "near_deadline",
        "report",
    }


def test_receiver_down__retried_with_back_off__then_the_failure_alert__next_scan_delivers(hook):
    n, r, _, alerts, waits = hook
    r.down = 3  # the first try and both retries fail
    assert n.scan(NOW + 60) == []
    assert waits == [1.0, 2.0]
    (alert,) = alerts
    assert alert.code == "console_notify_failed" and alert.plan == REF
    assert "3 attempt(s)" in alert.message and "HTTPError 503" in alert.message
    assert r.url not in alert.message and "/services/" not in alert.message  # the URL is a secret
    r.down = 1  # one failure, then delivered on the retry
    assert n.scan(NOW + 120) == [("approval_needed", REF)]
    assert len(r.bodies) == 1 and len(alerts) == 1


def test_expired_plan__ended_sent_once_with_its_reason(hook):
    from keepers.fund.lifecycle import Lifecycle

    n, r, plans, alerts, _ = hook
    assert n.scan(NOW + 60) == [("approval_needed", REF)]
    said: list[Any] = []
    out = Lifecycle(plans, lambda *a, **kw: said.append(a)).expire(
        REF, "its approval deadline passed: 0 of 2 signed", NOW + 5 * HOUR, "approval"
    )
    assert out.status == "expired" and said and said[0][1] == "plan_expired"
    assert n.scan(NOW + 5 * HOUR + 10) == [("ended", REF)]
    body = r.bodies[-1]
    assert "expired at its approval" in body["text"] and "0 of 2 signed" in body["text"]
    assert body["alerts"][0]["labels"]["alertname"] == "ballast_ended"
    assert n.scan(NOW + 5 * HOUR + 20) == []  # once
    assert alerts == []
