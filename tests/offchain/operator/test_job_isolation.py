"""One job, or one part of a composite job, raising what it did not expect must not stop the
others: the fund's interval jobs run every part (tick, events, check) even when an earlier one
raises, each failure is a CRITICAL ``job_failed`` alert naming the job, the part and the error
type, and the persisted job's entry point (`run_job`) returns instead of raising, so the
scheduler's next run goes on as usual. Without a chain: a fake bot."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from keepers.runtime import alerts as alerts_mod
from keepers.runtime import scheduler as sched_mod
from keepers.runtime.alerts import Alert, Alerter, JobPartsFailed
from keepers.runtime.scheduler import JobSpec, fund_jobs, run_job


class FlakyBot:
    """A fund bot whose parts record their calls; ``broken`` names those that raise."""

    def __init__(self, *broken: str) -> None:
        self.broken = set(broken)
        self.calls: list[str] = []
        self.cfg = SimpleNamespace(daily_check_hour=0, weekly_check_weekday="mon")
        self.k = SimpleNamespace(plan_tick_s=30.0)

    def _call(self, part: str, now: int) -> Any:
        self.calls.append(part)
        if part in self.broken:
            raise ZeroDivisionError(f"{part} divided by a zero price")
        return f"{part}@{now}"

    def tick(self, now: int) -> list[str]:
        return [self._call("tick", now)]

    def events(self, now: int) -> str:
        return self._call("events", now)

    def check(self, kind: str, now: int) -> str:
        return self._call(f"check:{kind}", now)


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Alert]:
    got: list[Alert] = []
    monkeypatch.setattr(alerts_mod, "RUNTIME_ALERTS", Alerter([got.append]))
    return got


def jobs(bot: FlakyBot) -> dict[str, JobSpec]:
    return {j.name: j for j in fund_jobs(bot)}


def interval_job(bot: FlakyBot, name: str) -> JobSpec:
    found = jobs(bot).get(name)
    if found is None:  # the names are the scheduler's, not this test's
        pytest.fail(f"no {name} job in {sorted(jobs(bot))}")
    return found


def test_every_part_runs_when_the_first_raises(sent: list[Alert]) -> None:
    bot = FlakyBot("tick")
    job = interval_job(bot, "fund.liquidity")
    with pytest.raises(JobPartsFailed, match="tick: ZeroDivisionError"):
        job.handler(1_000)
    assert bot.calls == ["tick", "events", "check:liquidity"]
    assert [(a.level.value, a.code, a.detail["job"], a.detail["error_type"]) for a in sent] == [
        ("critical", "job_failed", "fund.liquidity:tick", "ZeroDivisionError")
    ]
    assert "divided by a zero price" in sent[0].message


def test_each_failing_part_is_alerted_once(sent: list[Alert]) -> None:
    bot = FlakyBot("tick", "events")
    with pytest.raises(JobPartsFailed) as err:
        interval_job(bot, "fund.liquidity").handler(7)
    assert "tick" in str(err.value) and "events" in str(err.value)
    assert [a.detail["job"] for a in sent] == ["fund.liquidity:tick", "fund.liquidity:events"]
    assert bot.calls[-1] == "check:liquidity"  # the check still ran


def test_tick_job_keeps_the_events_when_the_tick_raises(sent: list[Alert]) -> None:
    bot = FlakyBot("tick")
    with pytest.raises(JobPartsFailed):
        interval_job(bot, "fund.tick").handler(5)
    assert bot.calls == ["tick", "events"]
    assert [a.detail["job"] for a in sent] == ["fund.tick:tick"]


def test_healthy_parts_return_their_results(sent: list[Alert]) -> None:
    bot = FlakyBot()
    assert interval_job(bot, "fund.tick").handler(5) == ["tick@5", "events@5"]
    assert interval_job(bot, "fund.liquidity").handler(6) == "check:liquidity@6"
    assert sent == []


def test_run_job_returns_and_alerts_instead_of_raising(
    sent: list[Alert], monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(now: int) -> None:
        raise KeyError("asset 0xdead not in the registry")

    spec = JobSpec("fund.daily", {"hour": 0, "minute": 0}, boom)
    monkeypatch.setitem(sched_mod._HANDLERS, spec.name, spec)
    assert run_job("fund.daily") is None  # the scheduler thread never sees the error
    assert [(a.code, a.detail["job"], a.detail["error_type"]) for a in sent] == [
        ("job_failed", "fund.daily", "KeyError")
    ]


def test_run_job_does_not_alert_twice_for_a_composite_job(
    sent: list[Alert], monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = FlakyBot("events")
    spec = interval_job(bot, "fund.tick")
    monkeypatch.setitem(sched_mod._HANDLERS, spec.name, spec)
    assert run_job("fund.tick") is None
    assert [a.detail["job"] for a in sent] == ["fund.tick:events"]  # the part, not the job again
