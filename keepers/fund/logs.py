"""Event logs over a bounded block range, for the displays that sum or list events
(keepers.fund.timelock, keepers.fund.fees_paid)."""

from __future__ import annotations

from typing import Any

__all__ = ["CHUNK", "get_logs"]

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
