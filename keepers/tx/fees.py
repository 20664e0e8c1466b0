"""EIP-1559 fee arithmetic (pure): suggestion from fee history, capped bumps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BPS = 10_000


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int


def _int(x: Any) -> int:
    return int(x, 16) if isinstance(x, str) else int(x)


def suggest_fees(fee_history: dict[str, Any], priority_floor: int, cap: int) -> Fees:
    """maxFee = 2 * next base fee + tip, tip = max(floor, median reward); both at most ``cap``.

    ``fee_history`` is an eth_feeHistory result asked with one reward percentile.
    """
    base_fees = [_int(b) for b in fee_history.get("baseFeePerGas") or [0]]
    next_base = base_fees[-1]
    rewards = sorted(_int(r[0]) for r in (fee_history.get("reward") or []) if r)
    median = rewards[len(rewards) // 2] if rewards else 0
    tip = min(max(priority_floor, median), cap)
    max_fee = min(2 * next_base + tip, cap)
    return Fees(max_fee_per_gas=max(max_fee, tip), max_priority_fee_per_gas=tip)


def bump_fees(old: Fees, suggested: Fees, bump_bps: int, cap: int) -> Fees | None:
    """Fees for a replacement at the same nonce: both fields up by at least ``bump_bps`` (and
    at least the current suggestion), never above ``cap``. None when the cap leaves no room for
    a valid replacement."""
    tip = max(
        -(-old.max_priority_fee_per_gas * (BPS + bump_bps) // BPS),
        suggested.max_priority_fee_per_gas,
    )
    max_fee = max(-(-old.max_fee_per_gas * (BPS + bump_bps) // BPS), suggested.max_fee_per_gas, tip)
    if max_fee > cap:
        max_fee = cap
    tip = min(tip, max_fee)
    min_tip = -(-old.max_priority_fee_per_gas * (BPS + bump_bps) // BPS)
    min_fee = -(-old.max_fee_per_gas * (BPS + bump_bps) // BPS)
    if max_fee < min_fee or tip < min_tip:
        return None
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)
