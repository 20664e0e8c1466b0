"""Held assets whose price feed is down, for the fund bot's ``feed_down`` alert.

The reader marks an asset *unpriced* when the lens reports no price for it (a feed that is
stale, zero, out of its bounds or reverting). For each held unpriced asset this module reads
the feed itself (its address and heartbeat from the controller, ``latestRoundData``) to say
which feed it is, how old its last answer is and why it does not count, and builds the alert's
text with what the keeper holds back meanwhile. Reads only; any failure of the read is part of
the report (a reverting feed), never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3

from keepers import abis
from keepers.fund.planning.state import FundState

HELD_BACK = (
    "holding back: tier rebalancing, any buy or sale of the asset, and entries (the vault "
    "refuses deposits while a held feed is down); still running: redemption preparation from "
    "priced assets, every other job"
)


@dataclass(frozen=True)
class FeedDown:
    token: str
    symbol: str
    feed: str | None
    age_s: int | None  # seconds since the feed's last answer (None: it did not answer)
    why: str  # stale (age past heartbeat), zero/negative, out of bounds, reverting

    def describe(self) -> str:
        age = "no answer" if self.age_s is None else f"last answer {self.age_s} s ago"
        return f"{self.symbol} ({self.token}) feed {self.feed or '?'}: {self.why}, {age}"


def feeds_down(controller: Any, w3: Web3, state: FundState, block: int) -> list[FeedDown]:
    """Every held unpriced asset of `state`, with what its feed says at `block`."""
    out = []
    for a in state.assets:
        if not a.held_unpriced:
            continue
        feed: str | None = None
        try:
            params = controller.functions.assetParams(a.token).call(block_identifier=block)
            feed, heartbeat = str(params[3]), int(params[4])
            lo, hi = int(params[5]), int(params[6])
            rd = (
                w3.eth.contract(
                    address=Web3.to_checksum_address(feed), abi=abis.load("IChainlinkFeed")
                )
                .functions.latestRoundData()
                .call(block_identifier=block)
            )
        except Exception as err:  # a reverting feed (or controller read) is the finding
            out.append(FeedDown(a.token, a.symbol, feed, None, f"reverting ({type(err).__name__})"))
            continue
        answer, updated = int(rd[1]), int(rd[3])
        age = max(0, state.timestamp - updated)
        if answer <= 0:
            why = f"answer {answer} (zero or negative)"
        elif (lo and answer < lo) or (hi and answer > hi):
            why = f"answer {answer} outside its bounds [{lo}, {hi}]"
        elif age > heartbeat:
            why = f"stale (heartbeat {heartbeat} s)"
        else:
            why = "not usable by the controller's rules"
        out.append(FeedDown(a.token, a.symbol, feed, age, why))
    return out


def feed_down_message(down: list[FeedDown]) -> str:
    return "; ".join(d.describe() for d in down) + f". {HELD_BACK}"
