"""What every long-lived keeper bot offers the ``keeper`` CLI.

A bot is built from validated config (a bad value raises :class:`keepers.core.settings.ConfigError`
naming the field before anything starts), then:

- ``start()`` checks the chain and the config against each other (contracts have code, the audit
  policy lets the bot's role call what it needs) and reconciles the pipeline's nonces;
- ``tick(now)`` does one pass with ``now`` (unix seconds) passed in, so that a replay with the
  same times decides the same things;
- ``stop()`` releases the store.

``run_loop`` drives a bot from the wall clock; ``keeper run`` runs each of these bots' loops in
its own thread, next to the fund bot's APScheduler jobs (keepers.cli).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from keepers.core.logging import get_logger
from keepers.runtime import metrics, readiness
from keepers.runtime.alerts import Alert, AlertSink, job_failed, log_sink  # noqa: F401 - re-exported

log = get_logger("keepers.runtime")


@runtime_checkable
class Bot(Protocol):
    name: str
    interval_s: float

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def tick(self, now: int) -> Any: ...


# Bots the ``keeper`` CLI can start by name: "module:Class", each with ``from_env()``.
BOTS = {
    "executor": "keepers.automation.executor:ExecutorBot",
    "supervisor": "keepers.automation.supervisor:SupervisorBot",
}


def build_bot(name: str) -> Bot:
    """The named bot built from the environment (``KEEPER_*`` plus its own prefix); raises
    ConfigError naming the field on a bad value, KeyError on an unknown name."""
    import importlib

    if name not in BOTS:
        raise KeyError(f"unknown bot {name!r}; known: {sorted(BOTS)}")
    module, cls = BOTS[name].split(":")
    bot: Bot = getattr(importlib.import_module(module), cls).from_env()
    return bot


def run_loop(
    bot: Bot,
    *,
    max_seconds: float | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    stop_event: threading.Event | None = None,
    start: bool = True,
) -> None:
    """start() (unless ``start`` is False: the caller started the bot already), tick(int(clock()))
    every ``bot.interval_s`` until ``max_seconds``, ``stop_event`` is set or the loop is
    interrupted, then stop(). A failing tick is logged and the loop goes on (the next tick reads
    the chain afresh). With ``stop_event`` the wait between ticks ends as soon as it is set."""
    if stop_event is not None:
        event = stop_event

        def sleep(seconds: float) -> None:  # returns early when the event is set
            event.wait(seconds)

    if start:
        bot.start()
    started = time.monotonic()
    try:
        while max_seconds is None or time.monotonic() - started < max_seconds:
            if stop_event is not None and stop_event.is_set():
                break
            t0 = time.monotonic()
            try:
                bot.tick(int(clock()))
                metrics.mark_tick(bot.name)
                readiness.TRACKER.job(bot.name, f"{bot.name}.tick")
            except Exception as err:  # noqa: BLE001 - one bad tick must not stop the bot
                log.error("bot.tick_failed", bot=bot.name, error=f"{type(err).__name__}: {err}")
                job_failed(f"{bot.name}.tick", err)
                readiness.TRACKER.job(bot.name, f"{bot.name}.tick", err)
            sleep(max(0.0, bot.interval_s - (time.monotonic() - t0)))
    finally:
        bot.stop()
