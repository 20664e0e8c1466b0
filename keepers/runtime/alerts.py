"""Alerts of every keeper bot (fund, executor, supervisor): one record per event, sent to
every sink (structured log by default; tests collect them in a list; a pager or webhook sink
plugs in the same way) and counted on ``rebalance_alerts{level,code}``."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from keepers.core.errors import DomainError, KeeperError
from keepers.core.logging import get_logger
from keepers.runtime.metrics import ALERTS

log = get_logger("keepers.alerts")


class AlertLevel(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


# Every alert code a keeper can raise: code -> (the bot that raises it, what it means), written
# grouped by that bot in _BY_BOT (bot -> code -> meaning). The runbook (docs/runbook.md) has one
# entry per code, and a test fails when one is missing; an alert with a code not listed here is
# logged as ``alert.unlisted_code`` (and refused outright under BALLAST_STRICT_ALERTS=1, as the
# test suite runs).
_BY_BOT: dict[str, dict[str, str]] = {
    "fund": {
        "network": "the node did not answer a read; the cycle is skipped",
        "paused": "the fund is paused: no rebalance, or a plan aborted by a pause",
        "no_safe_move": "a carried slice has no venue within the slippage limit",
        "risk_block": "the risk check blocked a plan",
        "risk_skip": "the risk check skipped a plan (not worth its gas now)",
        "risk_warn": "the risk check passed a plan with warnings",
        "approval_needed": "a plan waits for the admins' approval",
        "plan_expired": (
            "a plan's approval window, or its executor deadline, ended before it could run"
        ),
        "plan_stale": "the fund moved under a plan: it ended stale and a new one is made",
        "simulation_failed": "a plan reverted on the simulation fork; nothing was sent",
        "gas_funds": "the keeper account cannot pay for a plan's gas",
        "slippage": "an executed leg filled worse than the slippage limit",
        "tx_failed": "an action's transaction reverted or was not sent",
        "action_unconfirmed": (
            "a plan's sent action is not confirmed after KEEPER_EXECUTE_TIMEOUT_S; followed each tick"
        ),
        "verify_divergence": "the fund after a plan differs from the plan's expectation",
        "plan_not_frozen": "an approved plan without a frozen document was aborted",
        "feed_down": "a held asset's price feed is stale, zero, out of bounds or reverting",
        "feed_restored": "every held asset is priced again",
        "nav_jump": (
            "an asset's feed stepped past its step bound: the controller holds its valuation"
        ),
        "nav_jump_ended": "no asset's valuation is held any more (accepted or reverted)",
        "venue_off_oracle": "a venue fills past its bound under its feed: held for that side",
        "plan_other_deployment": (
            "a plan made for another deployment (a contract release) was ended before simulation"
        ),
        "move_cut": "a due run's leg was cut at its price bound (MoveCut); the rest is carried",
    },
    "runtime": {
        "signer_conflict": "another process signs with the same key: keeper run stops",
        "job_failed": "a job raised an unexpected error; the other jobs go on",
        "lease_acquired": "this replica now leads a bot (start or takeover)",
        "lease_lost": "this replica no longer leads a bot: it stops deciding for it",
    },
    "supervisor": {
        "funder_empty": "a funder cannot pay the next booking",
        "low_runway": "a funder has fewer intervals of fees than the threshold",
        "low_runway_event": "a funder emitted LowRunway on chain",
        "spend_cap_reached": "a funder's rolling-day spend cap cannot pay a booking",
    },
    "executor": {
        "executor_credit_withdraw_failed": (
            "the executor's withdrawal of its scheduler credit failed: the credit stays owed"
        ),
        "rebalancer_held": (
            "a fund rebalancer's due runs are held back: its controller has a held feed down"
        ),
        "rebalancer_resumed": "a held fund rebalancer's runs go again: feeds usable",
    },
    "crosschain": {
        "crosschain_plan": "the cross-chain planner could not plan this tick",
        "crosschain_approval": "a big cross-chain move waits for approval",
        "crosschain_move_failed": "a cross-chain move failed",
        "attestation_rejected": "Circle's Iris refused a burn's attestation request",
        "attestation_delayed": "Circle's Iris holds a burn back (delayReason)",
        "crosschain_chain_down": "a chain's node did not answer within its budget",
        "crosschain_chain_refused": (
            "a chain's route contracts did not match at its first check: nothing moves on it"
        ),
        "crosschain_signer_conflict": (
            "another process sent with the keeper's key on a chain: nothing more is sent there"
        ),
    },
    "console": {
        "console_notify_failed": "a webhook notification was not delivered",
    },
}
ALERT_CODES: dict[str, tuple[str, str]] = {
    code: (bot, meaning) for bot, codes in _BY_BOT.items() for code, meaning in codes.items()
}
_twice = sorted(c for c in ALERT_CODES if sum(c in codes for codes in _BY_BOT.values()) > 1)
if _twice:  # the flattening would keep only the last bot's entry
    raise RuntimeError(f"alert codes listed under two bots in _BY_BOT: {_twice}")


class UnlistedAlertCode(DomainError, ValueError):
    """An alert code missing from ALERT_CODES (raised only under BALLAST_STRICT_ALERTS=1)."""


@dataclass(frozen=True)
class Alert:
    """``code``: one of `ALERT_CODES` (each has a runbook entry)."""

    level: AlertLevel  # a StrEnum: compares equal to "info" | "warning" | "critical"
    code: str
    message: str
    plan: str | None = None  # the fund plan it concerns, if any
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_code(self.code)


Sink = Callable[[Alert], None]
AlertSink = Sink  # the automation bots' name for it

_RESERVED = {"level", "code", "message", "plan", "event"}


def log_sink(alert: Alert) -> None:
    """One log line per alert, at the alert's own level: the line's ``level`` is the alert's
    severity ("info", "warning", "critical"), as the metric's label and the runbook say."""
    fn = {
        AlertLevel.INFO: log.info,
        AlertLevel.WARNING: log.warning,
        AlertLevel.CRITICAL: log.critical,
    }[alert.level]
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


def check_code(code: str) -> None:
    """Log (or, under BALLAST_STRICT_ALERTS=1, refuse) a code without a runbook entry."""
    if code in ALERT_CODES:
        return
    if os.environ.get("BALLAST_STRICT_ALERTS") == "1":
        raise UnlistedAlertCode(f"alert code {code!r} is not in ALERT_CODES (no runbook entry)")
    log.error("alert.unlisted_code", code=code)


class JobPartsFailed(KeeperError):
    """Some parts of a composite job failed (each already alerted as ``job_failed``); the
    other parts ran. Raised after all parts, so a caller that reports a cycle sees it;
    ``errors`` holds the parts' own errors (``keeper run --once`` exits on their cause)."""

    def __init__(self, message: str, errors: list[BaseException] | None = None) -> None:
        super().__init__(message)
        self.errors = list(errors or [])


RUNTIME_ALERTS = Alerter()  # the runtime's own: logged and counted (keeper_alerts_total)


def job_failed(job: str, err: BaseException, alerter: Alerter | None = None) -> Alert | None:
    """The critical alert for a job (or a part of one) that raised what it did not expect:
    the job and the error's type and message. The next run goes on as usual. Nothing for
    `JobPartsFailed` (its parts alerted already)."""
    if isinstance(err, JobPartsFailed):
        return None
    return (alerter or RUNTIME_ALERTS)(
        AlertLevel.CRITICAL,
        "job_failed",
        f"job {job} failed with {type(err).__name__}: {err}; the other jobs and its next run go on",
        job=job,
        error_type=type(err).__name__,
        # where it failed, as the runbook's `job_failed` entry asks (secrets scrubbed by the log)
        traceback="".join(traceback.format_exception(err)).rstrip(),
    )
