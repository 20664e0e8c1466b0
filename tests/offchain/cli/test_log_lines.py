"""The log tells what the alerts and the runbook say (issue 48): an alert's log line carries the
alert's own level (``lease_acquired`` was "warning" in the JSON log, info in the docs and the
metric; ``job_failed`` was "error", critical in the metric); ``job_failed`` logs the traceback
the runbook's entry sends the operator to; and with KEEPER_LOG_JSON=1 every line on stderr is
one JSON object, the standard library's loggers (APScheduler's) included."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
from click.testing import CliRunner

from keepers.core.logging import configure_logging
from keepers.runtime.alerts import ALERT_CODES, Alerter, AlertLevel, job_failed


def _lines(text: str) -> list[dict[str, Any]]:
    out = []
    for line in text.splitlines():
        if line.strip():
            out.append(json.loads(line))  # fails the test on a line that is not JSON
    return out


@pytest.mark.parametrize("level", list(AlertLevel))
def test_alert_log_line__level_is_the_alerts_severity(level, capsys):
    configure_logging(json=True, level="INFO")
    Alerter()(level, "lease_acquired", "replica a now leads fund")
    (line,) = _lines(capsys.readouterr().err)
    assert line["event"] == "alert" and line["code"] == "lease_acquired"
    assert line["level"] == level.value


def test_runtime_alerts__the_level_each_is_raised_at_is_the_runbooks():
    """The two the walk saw: lease_acquired info, job_failed critical (docs/runbook.md)."""
    from pathlib import Path

    runbook = (Path(__file__).resolve().parents[3] / "docs/runbook.md").read_text()
    for code, severity in (("lease_acquired", "info"), ("job_failed", "critical")):
        assert code in ALERT_CODES
        entry = runbook.split(f"#### `{code}`", 1)[1].split("####", 1)[0]
        assert f"**Severity**: {severity}" in entry, entry


def _fails_deep_inside() -> None:
    raise ZeroDivisionError("division by zero in the planner")


def test_job_failed__logs_the_traceback_at_critical(capsys):
    configure_logging(json=True, level="INFO")
    try:
        _fails_deep_inside()
    except ZeroDivisionError as err:
        alert = job_failed("fund.tick", err)
    assert alert is not None and alert.level is AlertLevel.CRITICAL
    (line,) = _lines(capsys.readouterr().err)
    assert line["level"] == "critical" and line["code"] == "job_failed"
    tb = line["traceback"]
    assert tb.startswith("Traceback (most recent call last):"), tb
    assert "_fails_deep_inside" in tb and tb.endswith(
        "ZeroDivisionError: division by zero in the planner"
    )


def test_stdlib_loggers__apscheduler_included__write_json_lines(capsys):
    from apscheduler.schedulers.background import BackgroundScheduler

    configure_logging(json=True, level="INFO")
    sched = BackgroundScheduler()
    sched.add_job(lambda: None, "interval", seconds=60, id="probe")
    sched.start()
    time.sleep(0.1)
    sched.shutdown(wait=True)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("web3.providers").exception("a library's error")
    lines = _lines(capsys.readouterr().err)
    aps = [x for x in lines if x.get("logger", "").startswith("apscheduler")]
    assert aps and {x["level"] for x in aps} <= {"info", "warning", "error", "debug"}, lines
    assert any("Scheduler started" in x["event"] for x in aps), aps
    (lib,) = [x for x in lines if x.get("logger") == "web3.providers"]
    assert lib["level"] == "error" and "ValueError: boom" in lib["exception"]
    assert all("timestamp" in x for x in lines)


def test_stdlib_loggers__configured_twice__one_handler(capsys):
    configure_logging(json=True, level="INFO")
    configure_logging(json=True, level="INFO")
    logging.getLogger("apscheduler.scheduler").warning("once")
    assert [x["event"] for x in _lines(capsys.readouterr().err)] == ["once"]


def test_keeper_run_once__json_log__every_stderr_line_json(env):
    from keepers.cli import main

    r = CliRunner(mix_stderr=False).invoke(
        main, ["run", "--once"], env={**env, "KEEPER_LOG_JSON": "1", "KEEPER_LOG_LEVEL": "INFO"}
    )
    assert r.exit_code == 0, r.stderr
    lines = _lines(r.stderr)
    assert lines and all({"level", "event", "timestamp"} <= set(x) for x in lines)
