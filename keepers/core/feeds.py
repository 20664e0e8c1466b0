"""One rule for "is this price feed usable", shared by the slices that ask it: the fund keeper's
``feed_down`` alert (keepers.fund.feeds) and the automation bots' hold on a fund rebalancer
whose controller has a held feed down (keepers.automation.held).

The rule is the controller's (OracleLib): an answer counts when it is positive, inside the
asset's bounds and younger than its heartbeat. :func:`feed_problem` applies it to the words a
feed answered (pure); :func:`check_feed` reads the asset's feed from the controller
(``assetParams``: feed, heartbeat, bounds) and its ``latestRoundData`` and says why it does not
count, or None when it does. Reads only; a reverting read is part of the report, never an
exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.types import BlockIdentifier

from keepers import abis
from keepers.tx.contracts import contract_at


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


def feed_problem(
    answer: int, updated_at: int, now: int, heartbeat: int, min_answer: int, max_answer: int
) -> str | None:
    """Why an answer does not count under the controller's rules, or None when it does.
    Bounds of 0 are unset."""
    if answer <= 0:
        return f"answer {answer} (zero or negative)"
    if (min_answer and answer < min_answer) or (max_answer and answer > max_answer):
        return f"answer {answer} outside its bounds [{min_answer}, {max_answer}]"
    if now - updated_at > heartbeat:
        return f"stale (heartbeat {heartbeat} s)"
    return None


def check_feed(
    controller: Any,
    w3: Web3,
    token: str,
    symbol: str,
    now: int,
    block: BlockIdentifier,
    usable: str | None = None,
) -> FeedDown | None:
    """The asset's feed as the controller knows it, read at ``block`` and judged at ``now``:
    a FeedDown saying why it does not count, or None when it is usable (with ``usable``, a
    FeedDown giving that as its reason instead: the caller knows it is down for another
    cause)."""
    feed: str | None = None
    try:
        params = controller.functions.assetParams(token).call(block_identifier=block)
        feed, heartbeat = str(params[3]), int(params[4])
        lo, hi = int(params[5]), int(params[6])
        rd = (
            contract_at(w3, feed, abis.load("IChainlinkFeed"))
            .functions.latestRoundData()
            .call(block_identifier=block)
        )
    except Exception as err:  # a reverting feed (or controller read) is the finding
        return FeedDown(token, symbol, feed, None, f"reverting ({type(err).__name__})")
    answer, updated = int(rd[1]), int(rd[3])
    why = feed_problem(answer, updated, now, heartbeat, lo, hi) or usable
    if why is None:
        return None
    return FeedDown(token, symbol, feed, max(0, now - updated), why)
