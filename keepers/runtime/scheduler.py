"""APScheduler jobs of the keeper (seed 001 section 5.2), persisted in the keeper DB.

Replicas share the store and so the job store: the fleet has one schedule, and only the
replica that leads the fund bot runs it (keepers.runtime.runner resumes its scheduler when it
takes the lead and pauses it when it loses it; every handler checks the lead again).

Bots are pluggable: a bot module exposes ``jobs(bot) -> list[JobSpec]``; ``keeper run --bots
fund,...`` schedules the union. Jobs live in a SQLAlchemyJobStore on the keeper's DB (table
``apscheduler_jobs``) so that a restarted keeper knows each job's next run time, with
``coalesce=True`` (many missed runs collapse into one) and ``misfire_grace_time`` (a run
missed by more than that is skipped, not replayed): a restart never runs a missed job twice.

The handlers take the time as an argument: the scheduled run time (UTC) that APScheduler
fires, so a replay with the same times does the same thing (``run_job(name, when)``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import ConflictingIdError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from keepers.core.logging import get_logger
from keepers.runtime import metrics, readiness
from keepers.runtime.alerts import JobPartsFailed, job_failed

log = get_logger("keepers.scheduler")

MISFIRE_GRACE_S = 300
INTERVAL_STORE = "intervals"  # the in-memory job store of the interval jobs
_HANDLERS: dict[str, Any] = {}  # name -> JobSpec


@dataclass(frozen=True)
class JobSpec:
    name: str  # also the persisted job id
    cron: dict[str, Any]  # CronTrigger fields, UTC (unused for an interval job)
    handler: Callable[[int], Any]  # takes unix seconds (the scheduled time)
    # an interval job instead of a cron: every this many seconds, kept in memory (its next run
    # is "one interval after the start"; nothing worth persisting), first run one interval
    # after the scheduler resumes. ``keeper run --once`` runs these handlers once.
    every_s: float | None = None


def fund_jobs(bot: Any) -> list[JobSpec]:
    """Section 5.2: daily 00:00 UTC, weekly Monday 00:00, hourly thresholds, 5-minute
    liquidity (which also moves waiting plans on, approvals and expiry, and checks the event
    triggers: large deposits, maturities and windows, price moves); and between them, every
    KEEPER_PLAN_TICK_S (30 s), ``fund.tick``: the waiting plans moved on (an approval recorded
    by `keeper approve` is executed within that, not at the next 5-minute check) and the
    event triggers read."""
    cfg = bot.cfg

    def tick(now: int) -> list[Any]:
        """The waiting plans moved on; one that should move and did not is tracked
        (keepers.runtime.readiness: plan_stuck)."""
        outcomes = bot.tick(now)
        readiness.TRACKER.plans("fund", outcomes)
        return outcomes  # type: ignore[no-any-return]

    def plans(now: int) -> list[Any]:
        ticked, events = _parts("fund.tick", now, ("tick", tick), ("events", bot.events))
        return [*(ticked or []), events]

    def liquidity(now: int) -> Any:
        *_, checked = _parts(
            "fund.liquidity",
            now,
            ("tick", tick),
            ("events", bot.events),
            ("check", lambda t: bot.check("liquidity", t)),
        )
        return checked

    return [
        JobSpec(
            "fund.daily",
            {"hour": cfg.daily_check_hour, "minute": 0},
            lambda now: bot.check("daily", now),
        ),
        JobSpec(
            "fund.weekly",
            {"day_of_week": cfg.weekly_check_weekday, "hour": cfg.daily_check_hour, "minute": 0},
            lambda now: bot.check("weekly", now),
        ),
        JobSpec("fund.threshold", {"minute": 0}, lambda now: bot.check("threshold", now)),
        JobSpec("fund.liquidity", {"minute": "*/5"}, liquidity),
        JobSpec("fund.tick", {}, plans, every_s=float(bot.k.plan_tick_s)),
    ]


def _parts(job: str, now: int, *parts: tuple[str, Callable[[int], Any]]) -> list[Any]:
    """Run every part of a composite job even when an earlier one raises: a failing part is
    alerted (``job_failed``, naming ``job:part``) and gives None; after the last part,
    `JobPartsFailed` is raised if any failed (so ``keeper run --once`` reports the bot)."""
    out: list[Any] = []
    failed: list[str] = []
    errors: list[BaseException] = []
    for part, fn in parts:
        try:
            out.append(fn(now))
        except Exception as err:  # noqa: BLE001 - one part must not stop the others
            job_failed(f"{job}:{part}", err)
            failed.append(f"{part}: {type(err).__name__}: {err}")
            errors.append(err)
            out.append(None)
    if failed:
        raise JobPartsFailed(f"{job}: " + "; ".join(failed), errors)
    return out


def run_job(name: str) -> Any:
    """The persisted job's entry point (a module-level function, so the job store keeps a
    reference to it). The handler gets the scheduled fire time this run belongs to (the last
    cron time at or before now), not the wall clock: a late run still acts for its slot."""
    entry = _HANDLERS.get(name)
    if entry is None:
        log.error("job.unknown", job=name)
        return None
    spec = entry
    now = dt.datetime.now(dt.UTC)
    when = now if spec.every_s is not None else scheduled_time(spec, now)
    log.info("job.run", job=name, at=when.isoformat())
    bot = name.split(".", 1)[0]
    try:
        out = spec.handler(int(when.timestamp()))
    except Exception as err:  # noqa: BLE001 - a job's error must not stop the others
        job_failed(name, err)  # critical, with the job and the error's type; next run as usual
        readiness.TRACKER.job(bot, name, err)  # failing in a row: the bot is not ready
        return None
    metrics.mark_tick(bot)  # the bot ("fund") ticked without an error
    readiness.TRACKER.job(bot, name)
    return out


def scheduled_time(spec: JobSpec, now: dt.datetime) -> dt.datetime:
    """The last fire time of ``spec`` at or before ``now`` (``now`` if none in 8 days)."""
    for back in (dt.timedelta(hours=1), dt.timedelta(days=2), dt.timedelta(days=8)):
        runs = due_runs(spec, now - back, now)
        if runs:
            return runs[-1]
    return now


def build_scheduler(
    db_url: str, specs: list[JobSpec], *, grace_s: int = MISFIRE_GRACE_S
) -> BackgroundScheduler:
    """Started scheduler with every job; jobs already in the store keep their next run time."""
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=db_url)},
        # One worker: jobs that fire together (00:00 is daily, hourly and 5-minute at once) run
        # one after the other, each on the state the previous one left; never two plans at once.
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "misfire_grace_time": grace_s, "max_instances": 1},
        timezone=dt.UTC,
    )
    sched.start(paused=True)
    if any(spec.every_s is not None for spec in specs):
        sched.add_jobstore(MemoryJobStore(), INTERVAL_STORE)
    for spec in specs:
        _HANDLERS[spec.name] = spec
        if spec.every_s is not None:
            sched.add_job(
                run_job,
                IntervalTrigger(seconds=spec.every_s, timezone=dt.UTC),
                args=[spec.name],
                id=spec.name,
                name=spec.name,
                jobstore=INTERVAL_STORE,
                coalesce=True,
                misfire_grace_time=grace_s,
            )
        elif sched.get_job(spec.name) is None:
            # ConflictingIdError: a replica starting at the same moment stored it
            with contextlib.suppress(ConflictingIdError):
                sched.add_job(
                    run_job,
                    CronTrigger(timezone=dt.UTC, **spec.cron),
                    args=[spec.name],
                    id=spec.name,
                    name=spec.name,
                    coalesce=True,
                    misfire_grace_time=grace_s,
                )
    return sched


def stop_scheduler(sched: BackgroundScheduler, *, wait: bool = False) -> None:
    """Shut down without touching the stored jobs. (APScheduler 3's shutdown wakes the loop
    once more, and that pass would take a due job from the store and fail to submit it to the
    already stopped executor: the run would be lost. Detaching the job stores first keeps the
    stored next run times for the next start.) ``wait``: let a job that is running finish
    first (``keeper run`` does, before it closes the store)."""
    for alias in list(sched._jobstores):  # noqa: SLF001 - no public listing of aliases
        sched.remove_jobstore(alias, shutdown=True)
    sched.shutdown(wait=wait)


def due_runs(spec: JobSpec, since: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """The fire times of ``spec`` in (since, until]: for replays and tests."""
    trig = CronTrigger(timezone=dt.UTC, **spec.cron)
    out, prev = [], None
    t = trig.get_next_fire_time(None, since + dt.timedelta(microseconds=1))
    while t is not None and t <= until:
        out.append(t)
        prev = t
        t = trig.get_next_fire_time(prev, prev + dt.timedelta(microseconds=1))
    return out
