"""Why a bot is not ready, beyond a late tick: its jobs failing in a row, or a plan that should
move and cannot (issue 48: every ``fund.tick`` failed while ``/readyz`` answered 200, because
another of the bot's jobs still ticked).

One tracker per process (:data:`TRACKER`), fed by the places that run a bot's work:

- ``job(bot, job, error)`` after every run of a job or loop tick (``error`` None: it passed).
  A job that has failed ``max_job_failures`` times in a row (KEEPER_READY_MAX_JOB_FAILURES,
  default 3) makes its bot unready, reason ``jobs_failing``, until one run of it passes.
- ``plans(bot, outcomes)`` after every pass over the waiting plans (the fund's ``fund.tick``):
  a plan whose pass left it waiting for execution (approved, or paused: it should move) starts
  a clock; once it has stood still for ``stuck_plan_s`` (KEEPER_READY_STUCK_PLAN_S, default
  15 minutes) its bot is unready, reason ``plan_stuck``, until the plan moves on (executed,
  aborted, expired: any other outcome) or leaves the waiting list. Plans waiting for their
  approvers are not stuck: people, not the keeper, move them.

Each finding is exported as ``keeper_bot_unready{bot, reason}`` (1 while it holds, 0 once it
clears) and ``keeper_job_consecutive_failures{bot, job}``; the ``KeeperBotNotReady`` alert
(keepers/alerts/rebalance.rules.yml) says which bot and why, and ``/readyz``'s JSON body
(keepers.runtime.health) gives the job, the count and the last error, or the plan and since
when.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import Gauge

from keepers.core.logging import get_logger

log = get_logger("keepers.runtime.readiness")

JOBS_FAILING = "jobs_failing"
PLAN_STUCK = "plan_stuck"
CHAIN_DOWN = "chain_down"
REASONS = (JOBS_FAILING, PLAN_STUCK, CHAIN_DOWN)
# outcomes of a pass over a plan that leave it waiting for the keeper itself: it should move
SHOULD_MOVE = frozenset({"approved", "paused"})

UNREADY = Gauge(
    "keeper_bot_unready",
    "1 while a bot is not ready for this reason (jobs_failing: a job failed "
    "KEEPER_READY_MAX_JOB_FAILURES times in a row; plan_stuck: a plan that should move has not "
    "for KEEPER_READY_STUCK_PLAN_S; chain_down: a chain the bot works on is down or halted), "
    "else 0",
    ["bot", "reason"],
)
CONSECUTIVE_FAILURES = Gauge(
    "keeper_job_consecutive_failures",
    "Runs of a bot's job that failed in a row (0 after a run that passed)",
    ["bot", "job"],
)


@dataclass
class _Failing:
    count: int = 0
    error: str = ""


@dataclass
class ReadinessTracker:
    """See the module doc. ``clock`` is injectable for tests."""

    max_job_failures: int = 3
    stuck_plan_s: float = 900.0
    clock: Callable[[], float] = time.time
    _jobs: dict[str, dict[str, _Failing]] = field(default_factory=dict)
    _stuck: dict[str, dict[str, tuple[float, str, str]]] = field(default_factory=dict)
    # bot -> the health of each chain it works on (the cross-chain bot), as it last reported
    _chains: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def configure(self, max_job_failures: int, stuck_plan_s: float) -> None:
        with self._lock:
            self.max_job_failures = max_job_failures
            self.stuck_plan_s = stuck_plan_s
        self._export_all()

    def reset(self) -> None:
        with self._lock:
            bots = set(self._jobs) | set(self._stuck) | set(self._chains)
            self._jobs.clear()
            self._stuck.clear()
            self._chains.clear()
        for bot in bots:
            for reason in REASONS:
                UNREADY.labels(bot, reason).set(0)

    # --- observations ---------------------------------------------------------------------

    def job(self, bot: str, job: str, error: BaseException | str | None = None) -> None:
        """One run of ``job`` (a job id such as ``fund.tick``, or ``<bot>.tick``) ended."""
        with self._lock:
            failing = self._jobs.setdefault(bot, {}).setdefault(job, _Failing())
            if error is None:
                if failing.count >= self.max_job_failures:
                    log.info("readiness.job_recovered", bot=bot, job=job, after=failing.count)
                failing.count, failing.error = 0, ""
            else:
                failing.count += 1
                failing.error = (
                    error if isinstance(error, str) else f"{type(error).__name__}: {error}"
                )[:300]
                if failing.count == self.max_job_failures:
                    log.error(
                        "readiness.jobs_failing",
                        bot=bot,
                        job=job,
                        failures=failing.count,
                        error=failing.error,
                    )
            CONSECUTIVE_FAILURES.labels(bot, job).set(failing.count)
        self._export(bot)

    def plans(self, bot: str, outcomes: Iterable[Any]) -> None:
        """A pass over every waiting plan of ``bot`` ended with these outcomes (objects with
        ``plan_id``, ``status`` and ``detail``, or dicts with those keys)."""
        now = self.clock()
        with self._lock:
            before = self._stuck.get(bot, {})
            after: dict[str, tuple[float, str, str]] = {}
            for o in outcomes:
                ref, status, detail = _fields(o)
                if not ref or status not in SHOULD_MOVE:
                    continue
                since = before[ref][0] if ref in before else now
                after[ref] = (since, status, detail[:300])
            self._stuck[bot] = after
        self._export(bot)

    def chains(self, bot: str, states: Iterable[dict[str, Any]]) -> None:
        """The health of every chain ``bot`` works on (dicts with ``chain``, ``status``: up,
        down, halted, refused or unknown, ``since`` and ``error``): any chain not up makes the
        bot unready, reason ``chain_down``, naming the chain."""
        with self._lock:
            self._chains[bot] = [dict(x) for x in states]
        self._export(bot)

    def chain_health(self, bot: str) -> list[dict[str, Any]]:
        """What ``bot`` last reported of its chains (empty for a bot on one chain)."""
        with self._lock:
            return [dict(x) for x in self._chains.get(bot, [])]

    # --- readings -------------------------------------------------------------------------

    def problems(self, bot: str) -> list[dict[str, Any]]:
        """Why ``bot`` is not ready now (empty: nothing against it)."""
        now = self.clock()
        out: list[dict[str, Any]] = []
        with self._lock:
            for job, f in sorted(self._jobs.get(bot, {}).items()):
                if f.count >= self.max_job_failures:
                    out.append(
                        {
                            "reason": JOBS_FAILING,
                            "job": job,
                            "failures": f.count,
                            "max_failures": self.max_job_failures,
                            "error": f.error,
                        }
                    )
            for ref, (since, status, detail) in sorted(self._stuck.get(bot, {}).items()):
                if now - since >= self.stuck_plan_s:
                    out.append(
                        {
                            "reason": PLAN_STUCK,
                            "plan": ref,
                            "status": status,
                            "since": since,
                            "stuck_s": round(now - since, 3),
                            "max_s": self.stuck_plan_s,
                            "detail": detail,
                        }
                    )
            for c in self._chains.get(bot, []):
                if c.get("status") != "up":
                    out.append(
                        {
                            "reason": CHAIN_DOWN,
                            "chain": c.get("chain"),
                            "status": c.get("status"),
                            "since": c.get("since"),
                            "error": c.get("error"),
                        }
                    )
        return out

    def bots(self) -> list[str]:
        with self._lock:
            return sorted(set(self._jobs) | set(self._stuck) | set(self._chains))

    def _export(self, bot: str) -> None:
        reasons = {p["reason"] for p in self.problems(bot)}
        for reason in REASONS:
            UNREADY.labels(bot, reason).set(1 if reason in reasons else 0)

    def _export_all(self) -> None:
        for bot in self.bots():
            self._export(bot)

    def refresh(self) -> None:
        """Re-evaluate the time-based finding (a plan standing still) for every bot: called by
        the health monitor each interval, so the gauge turns without a new observation."""
        self._export_all()


def _fields(o: Any) -> tuple[str | None, str, str]:
    if isinstance(o, dict):
        return o.get("plan_id"), str(o.get("status", "")), str(o.get("detail", ""))
    return getattr(o, "plan_id", None), str(getattr(o, "status", "")), str(getattr(o, "detail", ""))


TRACKER = ReadinessTracker()
