"""The bot loop and registry the CLI uses (no chain)."""

from __future__ import annotations

import pytest

from keepers.core.settings import ConfigError
from keepers.runtime.base import BOTS, Bot, build_bot, run_loop


class FakeBot:
    name = "fake"
    interval_s = 1.0

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.ticks: list[int] = []

    def start(self) -> None:
        self.calls.append("start")

    def stop(self) -> None:
        self.calls.append("stop")

    def tick(self, now: int) -> None:
        self.ticks.append(now)
        if len(self.ticks) == 2:
            raise RuntimeError("node down")


def test_run_loop__failing_tick__keeps_going_with_clock_time_then_stops():
    bot = FakeBot()
    assert isinstance(bot, Bot)
    clock = iter(range(1_000, 2_000, 7))
    sleeps: list[float] = []

    def sleep(s: float) -> None:
        sleeps.append(s)
        if len(sleeps) == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_loop(bot, clock=lambda: float(next(clock)), sleep=sleep)
    assert bot.ticks == [1_000, 1_007, 1_014, 1_021]  # the second tick failed, the loop went on
    assert bot.calls == ["start", "stop"]
    assert all(0 < s <= 1.0 for s in sleeps)


def test_build_bot__unknown_or_bad_env__named_error(monkeypatch):
    assert set(BOTS) == {"executor", "supervisor"}
    with pytest.raises(KeyError, match="unknown bot 'nope'"):
        build_bot("nope")
    monkeypatch.setenv("KEEPER_EXECUTOR_SCHEDULER", "0xbad")
    with pytest.raises(ConfigError, match=r"KEEPER_EXECUTOR_SCHEDULER='0xbad'"):
        build_bot("executor")
    monkeypatch.delenv("KEEPER_EXECUTOR_SCHEDULER")
    with pytest.raises(ConfigError, match=r"KEEPER_EXECUTOR_SCHEDULER: Field required"):
        build_bot("executor")
    monkeypatch.setenv("KEEPER_SUPERVISOR_SCHEDULER", "0x" + "11" * 20)
    monkeypatch.setenv("KEEPER_SUPERVISOR_RUNWAY_ALERT_INTERVALS", "0")
    with pytest.raises(ConfigError, match=r"KEEPER_SUPERVISOR_RUNWAY_ALERT_INTERVALS='0'"):
        build_bot("supervisor")
