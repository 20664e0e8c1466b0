"""Notifications (seed 001's "notify the approvers"): a plan waiting for approval, a plan near
its deadline, an executed plan's report, and a plan that ended expired or stale (with its
reason, keepers.fund.lifecycle), each POSTed once as JSON to KEEPER_CONSOLE_WEBHOOK_URL
with the plan page's link.

One body that the usual receivers accept: ``text`` (Slack's and Teams' incoming webhooks show
it) and Alertmanager's webhook fields (``version`` "4", ``status``, ``alerts`` with labels and
annotations, ``externalURL``), which a receiver written for Alertmanager reads. A failed POST
is retried KEEPER_CONSOLE_WEBHOOK_RETRIES times with a doubling back-off; when every attempt
failed the notification is left unmarked (tried again on the next scan) and the alert
``console_notify_failed`` goes out (the log and keeper_alerts_total). What was sent is
recorded in the plan's payload (``notified``), so a restarted console sends nothing twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from keepers.core.logging import get_logger
from keepers.fund.lifecycle import ended_of
from keepers.runtime.alerts import Alerter, AlertLevel
from keepers.store.statuses import PlanStatus

log = get_logger("keepers.console")

WAITING = PlanStatus.PENDING_APPROVAL.value
FINISHED = (PlanStatus.EXECUTED.value, PlanStatus.PARTIAL.value, PlanStatus.FAILED.value)
ENDED = (PlanStatus.EXPIRED.value, PlanStatus.STALE.value)
KINDS = ("approval_needed", "near_deadline", "report", "ended")


def _iso(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def message(kind: str, ref: str, text: str, link: str, base_url: str, now: int) -> dict[str, Any]:
    """The JSON body (see the module doc)."""
    severity = {"approval_needed": "warning", "near_deadline": "critical", "ended": "warning"}.get(
        kind, "info"
    )
    labels = {"alertname": f"ballast_{kind}", "plan": ref, "severity": severity}
    annotations = {"summary": text, "link": link}
    return {
        "text": f"{text} {link}",
        "version": "4",
        "status": "firing",
        "receiver": "ballast-console",
        "groupKey": f"ballast:{kind}:{ref}",
        "truncatedAlerts": 0,
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": labels,
        "commonAnnotations": annotations,
        "externalURL": base_url,
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": annotations,
                "startsAt": _iso(now),
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": link,
                "fingerprint": hashlib.sha256(f"{kind}:{ref}".encode()).hexdigest()[:16],
            }
        ],
    }


def post_json(url: str, body: dict[str, Any], timeout_s: float) -> None:
    """POST ``body``; any answer but 2xx raises (urllib's HTTPError, URLError, OSError)."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "ballast-console"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 - the operator's URL
        if not 200 <= resp.status < 300:
            raise OSError(f"webhook answered HTTP {resp.status}")


class Notifier:
    """Scans the store (``scan``) and sends what is due; ``start`` runs it every
    KEEPER_CONSOLE_NOTIFY_INTERVAL_S in a thread."""

    def __init__(
        self,
        settings: Any,
        ctx: Any,
        base_url: str,
        *,
        lock: Any = None,
        post: Callable[[str, dict[str, Any], float], None] = post_json,
        sleep: Callable[[float], None] = time.sleep,
        alerter: Alerter | None = None,
    ) -> None:
        assert settings.webhook_url is not None
        self.settings = settings
        self.ctx = ctx
        self.base_url = base_url.rstrip("/")
        self.lock = lock or threading.RLock()
        self.post = post
        self.sleep = sleep
        self.alerter = alerter or Alerter()
        self.started_at = int(time.time())
        self.thread: threading.Thread | None = None

    def _send(self, kind: str, ref: str, text: str, now: int) -> bool:
        link = f"{self.base_url}/plans/{ref}"
        body = message(kind, ref, text, link, self.base_url, now)
        url = self.settings.webhook_url.get_secret_value()
        attempts = 1 + self.settings.webhook_retries
        last = ""
        for k in range(attempts):
            try:
                self.post(url, body, self.settings.webhook_timeout_s)
                log.info("console.notified", kind=kind, plan=ref, attempt=k + 1)
                return True
            except (OSError, ValueError) as err:  # urllib's errors are OSErrors
                last = type(err).__name__ + (f" {err.code}" if hasattr(err, "code") else "")
                log.warning("console.notify_retry", kind=kind, plan=ref, attempt=k + 1, error=last)
                if k + 1 < attempts:
                    self.sleep(self.settings.webhook_backoff_s * 2**k)
        self.alerter(
            AlertLevel.WARNING,
            "console_notify_failed",
            f"the {kind} notification of plan {ref} was not delivered after {attempts} "
            f"attempt(s) ({last}); retried on the next scan",
            ref,
        )
        return False

    def scan(self, now: int) -> list[tuple[str, str]]:
        """Send what is due at ``now``; returns the (kind, plan) pairs delivered."""
        sent: list[tuple[str, str]] = []
        with self.lock:
            plans = self.ctx.records().plans
            due: list[tuple[str, Any, str]] = []
            for row in plans.with_status(WAITING):
                done = row.payload.get("console_notified") or {}
                approval = row.payload.get("approval") or {}
                deadline = approval.get("deadline")
                need = f"{approval.get('counted', len(approval.get('approvals') or []))}"
                if "approval_needed" not in done:
                    due.append(
                        (
                            "approval_needed",
                            row,
                            f"Ballast plan {row.ref} waits for approval "
                            f"({approval.get('requirement')}, {approval.get('required')} "
                            f"signature(s), deadline {_iso(deadline) if deadline else '-'}); "
                            f"plan hash {(row.payload.get('frozen') or {}).get('plan_hash', '-')}",
                        )
                    )
                if (
                    deadline is not None
                    and 0 <= int(deadline) - now <= self.settings.near_deadline_s
                    and "near_deadline" not in done
                ):
                    due.append(
                        (
                            "near_deadline",
                            row,
                            f"Ballast plan {row.ref} expires at {_iso(deadline)} unless signed: "
                            f"{need} of {approval.get('required')} counted so far",
                        )
                    )
            for row in plans.with_status(*FINISHED):
                done = row.payload.get("console_notified") or {}
                executed = row.payload.get("executed_at")
                if "report" in done or executed is None:
                    continue
                if int(executed) < self.started_at - 3_600:  # before this console: not news
                    continue
                report = row.payload.get("report") or {}
                results = report.get("results") or []
                ok = sum(1 for r in results if r.get("success"))
                txs = ", ".join(r["tx_hash"] for r in results if r.get("tx_hash"))
                due.append(
                    (
                        "report",
                        row,
                        f"Ballast plan {row.ref} {row.status}: {ok} of {len(results)} action(s) "
                        f"ok, progress {report.get('progress', '-')}, cost "
                        f"{row.payload.get('cost', '-')} base units; transactions {txs or '-'}",
                    )
                )
            for row in plans.with_status(*ENDED):
                done = row.payload.get("console_notified") or {}
                ended = ended_of(row.payload) or {}
                if "ended" in done or ended.get("at") is None:
                    continue
                if int(ended["at"]) < self.started_at - 3_600:  # before this console: not news
                    continue
                due.append(
                    (
                        "ended",
                        row,
                        f"Ballast plan {row.ref} {row.status} at its {ended.get('stage', '-')}: "
                        f"{ended.get('reason', '-')}; it no longer counts as in flight",
                    )
                )
        for kind, row, text in due:
            if self._send(kind, row.ref, text, now):
                with self.lock:
                    fresh = self.ctx.records().plans.get(row.ref)
                    done = dict((fresh.payload.get("console_notified") if fresh else None) or {})
                    done[kind] = now
                    self.ctx.records().plans.update(row.ref, console_notified=done)
                sent.append((kind, row.ref))
        return sent

    def start(self, stop: threading.Event) -> None:
        def loop() -> None:
            while not stop.is_set():
                try:
                    self.scan(self.ctx.time())
                except Exception as err:  # noqa: BLE001 - the next scan tries again
                    log.error("console.notify_scan_failed", error=type(err).__name__)
                stop.wait(self.settings.notify_interval_s)

        self.thread = threading.Thread(target=loop, name="console-notifier", daemon=True)
        self.thread.start()
