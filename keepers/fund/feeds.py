"""Held assets whose price feed is down, for the fund bot's ``feed_down`` alert.

The reader marks an asset *unpriced* when the lens reports no price for it (a feed that is
stale, zero, out of its bounds or reverting). For each held unpriced asset this module reads
the feed itself (its address and heartbeat from the controller, ``latestRoundData``) to say
which feed it is, how old its last answer is and why it does not count, and builds the alert's
text with what the keeper holds back meanwhile. Reads only; any failure of the read is part of
the report (a reverting feed), never an exception.
"""

from __future__ import annotations

from typing import Any

from web3 import Web3

from keepers.core.feeds import FeedDown, check_feed
from keepers.fund.planning.state import FundState

__all__ = ["HELD_BACK", "FeedDown", "feed_down_message", "feeds_down"]

HELD_BACK = (
    "holding back: tier rebalancing, any buy or sale of the asset, and entries (the vault "
    "refuses deposits while a held feed is down); still running: redemption preparation from "
    "priced assets, every other job"
)
# the lens says unpriced while the feed's words pass the rule (e.g. a sequencer check)
UNUSABLE = "not usable by the controller's rules"


def feeds_down(controller: Any, w3: Web3, state: FundState, block: int) -> list[FeedDown]:
    """Every held unpriced asset of `state`, with what its feed says at `block` (the rule:
    keepers.core.feeds, which the automation bots' hold on the fund rebalancer shares)."""
    out = []
    for a in state.assets:
        if not a.held_unpriced:
            continue
        down = check_feed(controller, w3, a.token, a.symbol, state.timestamp, block, UNUSABLE)
        if down is not None:  # (always: with `usable` given, check_feed reports)
            out.append(down)
    return out


def feed_down_message(down: list[FeedDown]) -> str:
    return "; ".join(d.describe() for d in down) + f". {HELD_BACK}"
