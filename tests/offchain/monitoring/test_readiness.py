"""Readiness tells the truth (issue 48): /readyz answered 200 while every `fund.tick` failed,
because another of the fund's jobs still ticked. Now a job failing KEEPER_READY_MAX_JOB_FAILURES
runs in a row, or a plan that should move standing still for KEEPER_READY_STUCK_PLAN_S, makes
its bot unready (503, the body naming the job and error or the plan), exported as
keeper_bot_unready{bot,reason}; one passing run, or the plan moving, makes it ready again. The
scheduler's job runner and the loop runner feed it; the thresholds are settings."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass

import pytest
from prometheus_client import REGISTRY

from keepers.core.settings import ConfigError, KeeperSettings
from keepers.runtime import metrics, readiness, scheduler
from keepers.runtime.base import run_loop
from keepers.runtime.health import Health, serve
from keepers.runtime.readiness import ReadinessTracker


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass
class Outcome:
    plan_id: str | None
    status: str
    detail: str = ""


def unready(bot: str, reason: str) -> float | None:
    return REGISTRY.get_sample_value("keeper_bot_unready", {"bot": bot, "reason": reason})


@pytest.fixture(autouse=True)
def _clean():
    saved = dict(metrics._state, ticks=dict(metrics._state["ticks"]))
    metrics._state.update(rpc_up=True, rpc_last_ok=None, ticks={})
    readiness.TRACKER.reset()
    readiness.TRACKER.configure(3, 900.0)
    yield
    readiness.TRACKER.reset()
    metrics._state.update(saved)


def health(tracker: ReadinessTracker, clock: Clock) -> Health:
    metrics.observe_rpc(True, at=clock.t)
    # tick-age bounds out of the way: these tests move the clock by minutes
    return Health({"fund": 1e6, "executor": 1e6}, clock=clock, tracker=tracker)


def test_jobs_failing_in_a_row__unready_at_the_threshold__ready_after_one_pass():
    clock = Clock(1_000.0)
    t = ReadinessTracker(max_job_failures=3, clock=clock)
    h = health(t, clock)
    t.job("fund", "fund.liquidity")  # another job of the bot passes: not enough (issue 48)
    for _ in range(2):
        t.job("fund", "fund.tick", FileNotFoundError(2, "No such file", "anvil"))
    assert h.readiness()[0], "two failures in a row: still under the threshold"
    t.job("fund", "fund.liquidity")
    t.job("fund", "fund.tick", FileNotFoundError(2, "No such file", "anvil"))
    ready, doc = h.readiness()
    assert not ready and doc["bots"]["executor"]["ok"]
    (problem,) = doc["bots"]["fund"]["problems"]
    assert problem["reason"] == "jobs_failing" and problem["job"] == "fund.tick"
    assert problem["failures"] == 3 and problem["max_failures"] == 3
    assert problem["error"].startswith("FileNotFoundError") and "anvil" in problem["error"]
    t.job("fund", "fund.tick")  # one run passes: ready again
    ready, doc = h.readiness()
    assert ready and doc["bots"]["fund"]["problems"] == []


def test_failures_not_in_a_row__never_unready():
    t = ReadinessTracker(max_job_failures=2)
    for _ in range(5):
        t.job("executor", "executor.tick", RuntimeError("node hiccup"))
        t.job("executor", "executor.tick")
    assert t.problems("executor") == []


def test_plan_that_should_move__stuck_after_the_bound__ready_when_it_moves():
    clock = Clock(5_000.0)
    t = ReadinessTracker(stuck_plan_s=600.0, clock=clock)
    h = health(t, clock)
    # one pass over the waiting plans: p2 waits for people (never stuck), p1 for the keeper
    t.plans(
        "fund",
        [Outcome("p1", "approved", "network: node unreachable"), Outcome("p2", "pending_approval")],
    )
    clock.t += 599.0
    metrics.observe_rpc(True, at=clock.t)
    t.plans("fund", [Outcome("p1", "paused", "gas funds"), Outcome("p2", "pending_approval")])
    assert h.readiness()[0]
    clock.t += 1.0
    metrics.observe_rpc(True, at=clock.t)
    ready, doc = h.readiness()
    assert not ready
    (problem,) = doc["bots"]["fund"]["problems"]
    assert problem["reason"] == "plan_stuck" and problem["plan"] == "p1"
    assert problem["status"] == "paused" and problem["stuck_s"] == 600.0
    assert problem["since"] == 5_000.0  # since it first stood still, not since the last pass
    t.plans("fund", [Outcome("p1", "executed"), Outcome("p2", "pending_approval")])
    assert h.readiness()[0]
    # a plan that stood still and then leaves the waiting list (aborted elsewhere) clears too
    t.plans("fund", [Outcome("p3", "approved")])
    clock.t += 601.0
    assert [p["plan"] for p in t.problems("fund")] == ["p3"]
    t.plans("fund", [])
    assert t.problems("fund") == []


def test_metric__says_which_bot_and_why_and_clears():
    t = readiness.TRACKER
    clock = Clock(100.0)
    t.clock = clock
    try:
        for _ in range(3):
            t.job("supervisor", "supervisor.tick", ConfigError("KEEPER_X='y': bad"))
        assert unready("supervisor", "jobs_failing") == 1.0
        assert unready("supervisor", "plan_stuck") == 0.0
        assert (
            REGISTRY.get_sample_value(
                "keeper_job_consecutive_failures", {"bot": "supervisor", "job": "supervisor.tick"}
            )
            == 3.0
        )
        t.plans("fund", [Outcome("p9", "approved")])
        assert unready("fund", "plan_stuck") == 0.0
        clock.t += 900.0
        t.refresh()  # the health monitor's pass: time alone turns it
        assert unready("fund", "plan_stuck") == 1.0
        t.job("supervisor", "supervisor.tick")
        t.plans("fund", [Outcome("p9", "executed")])
        assert unready("supervisor", "jobs_failing") == 0.0
        assert unready("fund", "plan_stuck") == 0.0
    finally:
        t.clock = readiness.time.time


def test_scheduler_job_runner__feeds_it(monkeypatch):
    calls = {"n": 0}

    def handler(now: int) -> str:
        calls["n"] += 1
        if calls["n"] <= 3:
            raise FileNotFoundError(2, "No such file or directory", "anvil")
        return "ok"

    spec = scheduler.JobSpec("fund.tick", {}, handler, every_s=30.0)
    monkeypatch.setitem(scheduler._HANDLERS, "fund.tick", spec)
    for _ in range(3):
        assert scheduler.run_job("fund.tick") is None
    (problem,) = readiness.TRACKER.problems("fund")
    assert problem["job"] == "fund.tick" and problem["failures"] == 3
    assert scheduler.run_job("fund.tick") == "ok"
    assert readiness.TRACKER.problems("fund") == []


def test_fund_tick_job__plans_that_should_move_tracked(monkeypatch):
    class Bot:
        cfg = type("Cfg", (), {"daily_check_hour": 0, "weekly_check_weekday": 0})()
        k = type("K", (), {"plan_tick_s": 30})()

        def tick(self, now: int) -> list[Outcome]:
            return [Outcome("p1", "approved", "gas"), Outcome("p2", "executed")]

        def events(self, now: int) -> Outcome:
            return Outcome(None, "nothing")

    clock = Clock(0.0)
    monkeypatch.setattr(readiness.TRACKER, "clock", clock)
    (tick_job,) = [j for j in scheduler.fund_jobs(Bot()) if j.name == "fund.tick"]
    tick_job.handler(0)
    clock.t = 900.0
    assert [p["plan"] for p in readiness.TRACKER.problems("fund")] == ["p1"]


def test_loop_runner__feeds_it():
    class Failing:
        name = "executor"
        interval_s = 0.0

        def start(self) -> None: ...

        def stop(self) -> None: ...

        def tick(self, now: int) -> None:
            raise RuntimeError("boom")

    ticks = iter(range(4))

    def clock() -> float:
        try:
            next(ticks)
        except StopIteration:
            raise KeyboardInterrupt from None
        return 0.0

    with pytest.raises(KeyboardInterrupt):
        run_loop(Failing(), clock=clock, sleep=lambda _s: None)
    (problem,) = readiness.TRACKER.problems("executor")
    assert problem["failures"] == 4 and "RuntimeError: boom" in problem["error"]


def test_readyz_over_http__503_naming_the_bot_then_200():
    clock = Clock(2_000.0)
    t = ReadinessTracker(max_job_failures=2, clock=clock)
    h = health(t, clock)
    server = serve("127.0.0.1", 0, health=h)
    url = f"http://127.0.0.1:{server.server_address[1]}/readyz"
    try:
        for _ in range(2):
            t.job("fund", "fund.tick", RuntimeError("simulation node down"))
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=5)  # noqa: S310 - loopback
        assert caught.value.code == 503
        body = json.loads(caught.value.read())
        assert body["bots"]["fund"]["problems"][0]["job"] == "fund.tick"
        t.job("fund", "fund.tick")
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback
            assert resp.status == 200 and json.loads(resp.read())["ready"] is True
    finally:
        server.shutdown()
        server.server_close()


def test_thresholds__settings_with_bounds():
    s = KeeperSettings(_env_file=None)  # type: ignore[call-arg]
    assert (s.ready_max_job_failures, s.ready_stuck_plan_s) == (3, 900.0)
    with pytest.raises(ValueError, match="ready_max_job_failures"):
        KeeperSettings(_env_file=None, ready_max_job_failures=0)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="ready_stuck_plan_s"):
        KeeperSettings(_env_file=None, ready_stuck_plan_s=0)  # type: ignore[call-arg]
