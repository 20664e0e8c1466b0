"""Event logs over a bounded block range, for the displays that sum or list events
(keepers.fund.timelock, keepers.fund.fees_paid), and the watches their views keep per bot."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

__all__ = ["CHUNK", "get_logs", "view_watch"]

_MAKING = threading.Lock()

CHUNK = 10_000  # blocks per eth_getLogs call when the node refuses a wider range


def get_logs(event: Any, lo: int, hi: int) -> list[Any]:
    """``event``'s logs from ``lo`` to ``hi``: one call, or chunks of CHUNK blocks when the node
    refuses the range (a provider's cap)."""
    if lo > hi:
        return []
    try:
        return list(event.get_logs(from_block=lo, to_block=hi))
    except Exception:  # noqa: BLE001 - a capped range: retried in chunks (those may raise)
        if hi - lo < CHUNK:
            raise
    out: list[Any] = []
    for start in range(lo, hi + 1, CHUNK):
        out += event.get_logs(from_block=start, to_block=min(hi, start + CHUNK - 1))
    return out


def view_watch(bot: Any, name: str, make: Callable[[], Any]) -> tuple[Any, threading.Lock]:
    """The event watch ``name`` the display views keep on ``bot`` (made by ``make`` on first
    use) and the lock its scans hold: the console's page views of a long-running keeper scan
    only the blocks after the last view's, as the bot's own ticks do (keepers.fund.read_watch
    keeps the ticks' apart); ``keeper status`` is one process, one view, so one scan bounded
    by its lookback. A view at an older block than the watch has seen scans once on its own
    (the caller's), never with the watch's later events."""
    with _MAKING:
        kept = bot.__dict__.setdefault("_view_watches", {})
        if name not in kept:
            kept[name] = (make(), threading.Lock())
        return kept[name]  # type: ignore[no-any-return]
