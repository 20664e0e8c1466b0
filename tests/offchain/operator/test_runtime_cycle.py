"""`Runtime.cycle` (what `keeper run --once` runs) and the fund's interval job, without a chain:
each loop bot ticks once, a cron bot runs its interval jobs instead of its bare tick, a failing
bot is reported by name while the others still run, and a stop ends the cycle before the next
bot. The scheduler keeps interval jobs in memory, next to the persisted crons."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

from keepers.core.settings import KeeperSettings
from keepers.runtime.runner import Runtime
from keepers.runtime.scheduler import (
    INTERVAL_STORE,
    JobSpec,
    build_scheduler,
    fund_jobs,
    stop_scheduler,
)


class Recorder:
    """A bot that records the times it was ticked at (and fails when told to)."""

    def __init__(self, name: str, fail: bool = False) -> None:
        self.name, self.fail, self.ticks = name, fail, []  # type: ignore[var-annotated]
        self.interval_s = 1.0

    def tick(self, now: int) -> list[int]:
        if self.fail:
            raise RuntimeError(f"{self.name} cannot reach its contract")
        self.ticks.append(now)
        return [now]


def runtime(bots: dict[str, Recorder], loops: tuple[str, ...], jobs: list[JobSpec]) -> Runtime:
    rt = Runtime(list(bots), KeeperSettings(), store=None, pipeline=None)  # type: ignore[arg-type]
    rt.bots = dict(bots)
    rt.loops = {n: bots[n] for n in loops}
    rt.jobs = jobs
    return rt


def test_cycle__loop_bots_tick_cron_bot_runs_its_interval_jobs__failure_named(
    tmp_path: Any,
) -> None:
    fund, ex, sup = Recorder("fund"), Recorder("executor", fail=True), Recorder("supervisor")
    ran: list[tuple[str, int]] = []
    jobs = [
        JobSpec("fund.daily", {"hour": 0}, lambda now: ran.append(("daily", now))),
        JobSpec("fund.tick", {}, lambda now: ran.append(("tick", now)) or ["moved"], every_s=5),
    ]
    rt = runtime(
        {"fund": fund, "executor": ex, "supervisor": sup}, ("executor", "supervisor"), jobs
    )
    out = rt.cycle(1_800_000_000)
    assert [c["bot"] for c in out] == ["fund", "executor", "supervisor"]
    # the fund ran its interval job (not its cron checks, not its bare tick)
    assert ran == [("tick", 1_800_000_000)] and fund.ticks == []
    assert out[0] == {"bot": "fund", "ok": True, "result": ["moved"]}
    assert out[1]["ok"] is False and "executor cannot reach its contract" in out[1]["error"]
    assert out[2] == {"bot": "supervisor", "ok": True, "result": [1_800_000_000]}


def test_cycle__stop_set__no_bot_starts_after_it() -> None:
    a, b = Recorder("executor"), Recorder("supervisor")
    rt = runtime({"executor": a, "supervisor": b}, ("executor", "supervisor"), [])
    rt.stop_event = threading.Event()
    rt.stop_event.set()
    assert rt.cycle(1) == [] and a.ticks == [] and b.ticks == []


def test_fund_jobs__tick_every_plan_tick_s__in_memory_beside_persisted_crons(tmp_path: Any) -> None:
    calls: list[str] = []
    bot = SimpleNamespace(
        cfg=SimpleNamespace(daily_check_hour=0, weekly_check_weekday="mon"),
        k=KeeperSettings(plan_tick_s=7.5),
        tick=lambda now: calls.append(f"tick {now}") or [],
        events=lambda now: calls.append(f"events {now}") or "no trigger",
    )
    specs = fund_jobs(bot)
    (tick,) = [s for s in specs if s.every_s is not None]
    assert tick.name == "fund.tick" and tick.every_s == 7.5
    assert tick.handler(42) == ["no trigger"] and calls == ["tick 42", "events 42"]
    sched = build_scheduler(f"sqlite:///{tmp_path}/jobs.db", specs)
    try:
        job = sched.get_job("fund.tick", jobstore=INTERVAL_STORE)
        assert job is not None and job.trigger.interval.total_seconds() == 7.5
        persisted = sorted(j.id for j in sched.get_jobs(jobstore="default"))
        assert persisted == ["fund.daily", "fund.liquidity", "fund.threshold", "fund.weekly"]
    finally:
        stop_scheduler(sched)


def test_keeper_settings__plan_tick_s__from_the_environment_and_refused_at_zero() -> None:
    from keepers.core.errors import ConfigError
    from keepers.core.settings import load_settings

    assert load_settings(KeeperSettings, env={"KEEPER_PLAN_TICK_S": "2"}).plan_tick_s == 2.0
    try:
        load_settings(KeeperSettings, env={"KEEPER_PLAN_TICK_S": "0"})
    except ConfigError as err:
        assert "KEEPER_PLAN_TICK_S" in str(err)
    else:
        raise AssertionError("KEEPER_PLAN_TICK_S=0 accepted")
