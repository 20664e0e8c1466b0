"""Issue 12, one bot model: `build_runtime` builds any declared bot with no change to the
runner. A fifth bot (a stand-in declared here, as a new bot's module would) gets its settings
loaded, its role stored, its interval trigger attached as a loop thread and its start called;
a stop ends its loop within the bound and closes the store."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from keepers.core.settings import ConfigError
from keepers.registry import declarations
from keepers.runtime import runner
from keepers.runtime.bots import BotDeclaration, Calls, Trigger
from keepers.runtime.policy import stored_policy
from keepers.store.db import Store

TARGET = "0x" + "ab" * 20


class Ticker:
    """The stand-in fifth bot: counts its ticks; starts nothing once stopping."""

    name = "ticker"

    def __init__(self, interval_s: float, stop: threading.Event) -> None:
        self.interval_s = interval_s
        self.stop_event = stop
        self.ticks = 0
        self.started = self.stopped = False
        self.ticked = threading.Event()

    def start(self) -> None:
        self.started = True

    def tick(self, now: int) -> None:
        self.ticks += 1
        self.ticked.set()

    def stop(self) -> None:
        self.stopped = True


def _configure() -> dict[str, Any]:
    import os

    raw = os.environ.get("KEEPER_TICKER_INTERVAL_S", "")
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"KEEPER_TICKER_INTERVAL_S={raw!r}: expected seconds") from None
    return {"interval_s": value}


TICKER = BotDeclaration(
    name="ticker",
    settings="KEEPER_TICKER_",
    triggers=(Trigger(interval_s="KEEPER_TICKER_INTERVAL_S"),),
    calls=lambda cfg: Calls("ticker", (), 0),
    load=lambda environ: None,
    doc="a stand-in fifth bot",
    configure=_configure,
    build=lambda ctx, cfg: Ticker(cfg["interval_s"], ctx.stop_event),
)


def decls_with_ticker() -> dict[str, BotDeclaration]:
    return {**declarations(), "ticker": TICKER}


@pytest.fixture
def with_ticker():
    """The registry with a fifth bot: what build_runtime is handed (keepers.registry's, plus
    the ticker)."""
    return decls_with_ticker()


def test_build_runtime__a_fifth_declared_bot__built_started_looped_and_stopped(
    chain, accounts, tmp_path: Path, monkeypatch, with_ticker
):
    db = f"sqlite:///{tmp_path}/k.db"
    monkeypatch.setenv("KEEPER_RPC_URL", chain.provider.uri)
    monkeypatch.setenv("KEEPER_DB_URL", db)
    monkeypatch.setenv("KEEPER_SIGNER_KEY", accounts[2].private_key)
    monkeypatch.setenv("KEEPER_TICKER_INTERVAL_S", "0.05")
    rt = runner.build_runtime(["ticker"], declarations=decls_with_ticker())
    bot = rt.bots["ticker"]
    try:
        assert isinstance(bot, Ticker) and bot.started and rt.loops["ticker"].bot is bot
        assert rt.jobs == [] and rt.schedule() is None
        assert bot.stop_event is rt.stop_event
        rt.start()
        assert bot.ticked.wait(10)
    finally:
        stuck = rt.stop(timeout_s=10)
    assert stuck == [] and bot.stopped
    store = Store(db)  # closed by the stop: it opens again, holding the declared role
    try:
        assert "ticker" in stored_policy(store).roles
    finally:
        store.close()


def test_build_runtime__fifth_bot_misconfigured__refused_naming_its_variable(
    tmp_path: Path, monkeypatch, with_ticker
):
    monkeypatch.setenv("KEEPER_DB_URL", f"sqlite:///{tmp_path}/k.db")
    monkeypatch.setenv("KEEPER_SIGNER_KEY", "0x" + "11" * 32)
    monkeypatch.setenv("KEEPER_TICKER_INTERVAL_S", "often")
    with pytest.raises(ConfigError, match="KEEPER_TICKER_INTERVAL_S='often'"):
        runner.build_runtime(["ticker"], declarations=decls_with_ticker())
