"""Helpers of the automation-keeper tests (unique module name: no clash with other folders)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keepers.core.settings import KeeperSettings
from tests.support.keeper_settings import automation_policy, local_settings

SLOT = 60
BASE_FEE = 10**9  # wei per unit of effort: a 400k-effort Medium run prepays 2e15 x margin


def make_settings(
    db: Path, rpc_url: str, key: str, addrs: dict[str, str], **kw: Any
) -> KeeperSettings:
    return local_settings(db, rpc_url, key, automation_policy(addrs), **kw)


def make_executor(settings: KeeperSettings, auto: Any, **kw: Any) -> Any:
    """A started scheduler executor bot on the ``auto`` contracts' scheduler (``kw``: its
    ExecutorConfig fields)."""
    from keepers.automation.executor import ExecutorBot
    from keepers.automation.settings import ExecutorConfig
    from keepers.core.settings import load_settings

    cfg = load_settings(ExecutorConfig, scheduler=auto["scheduler"].address, **kw)
    bot = ExecutorBot.from_settings(settings, cfg)
    bot.start()
    return bot


def start_refused(bot: Any, match: str) -> None:
    """`bot.start()` refuses with a ConfigError matching `match`; the bot is stopped either way."""
    import pytest

    from keepers.core.errors import ConfigError

    try:
        with pytest.raises(ConfigError, match=match):
            bot.start()
    finally:
        bot.stop()


def advance(chain, seconds: int) -> int:
    """Mine one block ``seconds`` after the pending timestamp; returns its timestamp."""
    chain.mine(1, timestamp=chain.pending_timestamp + seconds)
    return int(chain.blocks.head.timestamp)


def intents(store) -> list[Any]:
    from sqlalchemy import select

    from keepers.store.models import TxIntent

    with store.sessions() as s:
        return list(s.scalars(select(TxIntent).order_by(TxIntent.id)).all())
