"""`crosschain run`'s loop (issue 12): a tick that raises does not end it, SIGTERM does, and the
bot is always stopped (its store closed). No chain: the bot is a stand-in counting calls."""

from __future__ import annotations

import os
import signal

from click.testing import CliRunner

import keepers.crosschain.cli as cli


class _Report:
    created: list = []
    moves: list = []
    error = None


class _StandInBot:
    def __init__(self, script):
        self.script = list(script)  # per tick: "ok", "raise" or "sigterm"
        self.ticks = 0
        self.started = self.stopped = False

    def start(self):
        self.started = True

    def stop(self):
        self.stopped = True

    def tick(self, now=None):
        self.ticks += 1
        step = self.script.pop(0) if self.script else "ok"
        if step == "raise":
            raise ConnectionError("node went away")
        if step == "sigterm":
            os.kill(os.getpid(), signal.SIGTERM)
        return _Report()


def _run(monkeypatch, bot, *args):
    monkeypatch.setattr(cli, "build_bot", lambda config, exclusive=False, read_only=False: bot)
    return CliRunner().invoke(cli.crosschain, ["run", *args])


def test_run__tick_raises__logged_and_the_loop_goes_on(monkeypatch):
    bot = _StandInBot(["raise", "raise", "ok", "sigterm"])
    result = _run(monkeypatch, bot, "--interval", "0.01", "--max-seconds", "30")
    assert result.exit_code == 0, result.output
    assert bot.ticks == 4 and bot.stopped
    assert "tick failed: ConnectionError: node went away" in result.output


def test_run__sigterm__ends_after_the_tick_and_stops_the_bot(monkeypatch):
    before = signal.getsignal(signal.SIGTERM)
    bot = _StandInBot(["sigterm"])
    result = _run(monkeypatch, bot, "--interval", "3600")  # would sleep an hour
    assert result.exit_code == 0, result.output
    assert bot.ticks == 1 and bot.stopped
    assert signal.getsignal(signal.SIGTERM) is before  # the process's own handler is back


def test_run__once_and_the_tick_raises__exit_1(monkeypatch):
    bot = _StandInBot(["raise"])
    result = _run(monkeypatch, bot, "--once")
    assert result.exit_code == 1 and bot.stopped
