"""Venues that fill at their own price, checked against their feed before the fund trades on
them (issue 47).

An ERC-4626 fund fills at its share price (``previewDeposit`` / ``previewRedeem``), not at the
feed the controller marks it by. When the two part, every leg on that venue either fails the
controller's guard (``SlippageExceeded``) or books a loss against the feed, and a keeper that
plans from the feed re-plans the same failing leg every cycle. So before sizing a plan the
keeper asks each such venue what it would fill for a probe (``VENUE_PROBE_WHOLE`` whole units
of cash, and the tokens the feed says that cash buys) and compares with the feed:

- a purchase that gets more than VENUE_ORACLE_MAX_BPS fewer tokens than the feed gives, or a
  sale that gets that much less cash, holds the venue for that side: the plan's depth for it
  is 0 (the planner routes around it to the other venues and notes the cut), and a
  ``venue_off_oracle`` warning names the venue with both prices;
- the check runs on every plan, so the venue is traded again as soon as the two agree.

Uniswap V3 venues are checked on QuoterV2 already (keepers.fund.sizing); asynchronous venues
(requests filled later at the issuer's price) have no preview to ask and are not checked here.
``held_sides`` and ``VenuePrice`` are pure; ``VenueChecker`` does the reads: the previews the
last plan asked ride in the fund read's batch (the same eth_calls at the same block; asked on
their own when the probe changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keepers.core.logging import get_logger
from keepers.fund.planning.state import BPS
from keepers.tx.reads import Read, ReadFailed, call_many, checksum, fn

log = get_logger("keepers.fundbot")

VENUE_PROBE_WHOLE = 1_000  # whole units of cash the previews are asked about

# an ERC-4626 venue's previews (TieredVault's ABI carries the standard's)
_PREVIEW_DEPOSIT = fn("TieredVault", "previewDeposit")
_PREVIEW_REDEEM = fn("TieredVault", "previewRedeem")


@dataclass(frozen=True)
class VenuePrice:
    """What a venue fills for a probe against what its feed says (integer base/token units)."""

    token: str
    symbol: str
    cash: int  # the probe, base units
    tokens_venue: int  # previewDeposit(cash)
    tokens_feed: int  # the tokens the feed prices `cash` at
    cash_venue: int  # previewRedeem(tokens_feed)
    cash_feed: int  # = cash: what the feed values tokens_feed at

    @property
    def buy_short_bps(self) -> int:
        """How much fewer tokens a purchase gets than the feed gives (0: as many or more)."""
        return _short(self.tokens_venue, self.tokens_feed)

    @property
    def sell_short_bps(self) -> int:
        """How much less cash a sale gets than the feed values the tokens at."""
        return _short(self.cash_venue, self.cash_feed)

    def describe(self, side: str) -> str:
        if side == "buy":
            return (
                f"{self.symbol} ({self.token}) buy held: previewDeposit({self.cash}) = "
                f"{self.tokens_venue} tokens, the feed gives {self.tokens_feed} "
                f"({self.buy_short_bps} bps under the feed)"
            )
        return (
            f"{self.symbol} ({self.token}) sell held: previewRedeem({self.tokens_feed}) = "
            f"{self.cash_venue}, the feed values them at {self.cash_feed} "
            f"({self.sell_short_bps} bps under the feed)"
        )


def _short(got: int, feed: int) -> int:
    if feed <= 0:
        return 0
    return max(0, -(-(feed - got) * BPS // feed))


def held_sides(prices: list[VenuePrice], bound_bps: int) -> dict[tuple[str, str], VenuePrice]:
    """(token, "buy" | "sell") -> the venue's prices, for every side that fills more than
    ``bound_bps`` under its feed."""
    out = {}
    for v in prices:
        if v.buy_short_bps > bound_bps:
            out[(v.token, "buy")] = v
        if v.sell_short_bps > bound_bps:
            out[(v.token, "sell")] = v
    return out


def error_name(error: str | None) -> str:
    """A decoded revert without its amounts (``SlippageExceeded(minOut=.., out=..)`` ->
    ``SlippageExceeded``): the reason, whatever the leg's size."""
    return (error or "").split("(")[0].strip()


class VenueChecker:
    """Reads each ERC-4626 venue's previews for a probe (an asset whose token answers
    ``previewDeposit``; pools and others do not and are skipped)."""

    def __init__(self, w3: Any, encoder: Any) -> None:
        self.w3 = w3
        self.encoder = encoder
        self._erc4626: dict[str, bool] = {}  # token -> it answered previews (a venue's code)
        # token -> why its previews were not read by the last ``prices`` (a venue that
        # answered them before and reverts now): held both ways for that plan only
        self.unread: dict[str, str] = {}
        # the previews the last ``prices`` asked, asked again in the fund read's batch (a
        # rider of keepers.fund.reader: ``reads`` / ``answered``) and kept for that block, the
        # failed ones left out; ``prices`` asks what is not there (another probe: the feed
        # moved, the listing changed)
        self._asked: list[Read] = []
        self._seeded: tuple[int, dict[Read, Any]] | None = None

    def reads(self) -> list[Read]:
        return list(self._asked)

    def answered(self, block: int, reads: list[Read], values: list[Any]) -> None:
        got = zip(reads, values, strict=True)
        self._seeded = (block, {r: v for r, v in got if not isinstance(v, ReadFailed)})

    def fingerprint(self, reading: Any, token: str, side: str) -> str:
        """What a leg on ``token`` depends on, for telling whether a failure's reason changed:
        the asset's feed answer and its venue's price for a probe (a V3 pool's QuoterV2 quote,
        an ERC-4626 fund's preview; nothing for other venues)."""
        from keepers.fund.planning.actions import Action, ActionType

        address = checksum(token)
        parts = [f"feed={reading.prices.get(address, reading.prices.get(token))}"]
        cash = VENUE_PROBE_WHOLE * 10**reading.state.base_decimals
        asset = reading.state.asset(token)
        try:
            if self.encoder.pool_fee(address) is not None:
                probe = (
                    Action(ActionType.PURCHASE, cash, 0, "probe", 0, asset.tier, token)
                    if side == "buy"
                    else Action(
                        ActionType.REDEEM, cash, 0, "probe", asset.tier, 0, token,
                        asset.tokens_for_value(cash),
                    )
                )  # fmt: skip
                q = self.encoder.quote(reading, probe, reading.block)
                parts.append(f"quote={None if q is None else q.quote_out}")
            else:
                v = next((v for v in self.prices(reading) if v.token == token), None)
                if v is not None:
                    parts.append(f"preview={v.tokens_venue if side == 'buy' else v.cash_venue}")
        except Exception as err:  # noqa: BLE001 - unknown venue price: the feed alone decides
            log.info("venue.fingerprint_unavailable", asset=asset.symbol, error=str(err)[:120])
        return ";".join(parts)

    def prices(self, reading: Any) -> list[VenuePrice]:
        """Each ERC-4626 venue's previews for the probe. A venue that answered them before
        and fails now is not read (``unread``), never taken for one without previews."""
        out = []
        self.unread = {}
        cash = VENUE_PROBE_WHOLE * 10**reading.state.base_decimals
        asked: list[tuple[Any, str, int]] = []  # (asset, checksummed token, feed tokens)
        failed: dict[str, Exception] = {}
        for a in reading.state.assets:
            # a held valuation (nav_jump) is not traded: its stepped feed is no yardstick
            if not a.tradable or not a.instant or self.encoder.pool_fee(a.token) is not None:
                continue
            token = checksum(a.token)
            try:
                asked.append((a, token, self.encoder.oracle_tokens_for(reading, token, cash)))
            except Exception as err:  # noqa: BLE001 - no amount to ask about: not read
                failed[a.token] = err
        # every venue's two previews in one batch (keepers.tx.reads), each answering for itself
        reads = [
            r
            for _, token, tokens_feed in asked
            for r in (
                Read(token, _PREVIEW_DEPOSIT, (cash,)),
                Read(token, _PREVIEW_REDEEM, (tokens_feed,)),
            )
        ]
        seeded = self._seeded[1] if self._seeded and self._seeded[0] == reading.block else {}
        todo = [r for r in reads if r not in seeded]  # the rest came in the fund's batch
        self._asked = reads
        try:
            got = dict(zip(todo, call_many(self.w3, todo, reading.block), strict=True))
        except Exception as err:  # noqa: BLE001 - the node's failure: each venue not read
            got = {r: ReadFailed("previews", str(err)) for r in todo}
            reason: Exception | None = err
        else:
            reason = None
        answers: list[Any] = [seeded[r] if r in seeded else got[r] for r in reads]
        for i, (a, _, tokens_feed) in enumerate(asked):
            tokens_venue, cash_venue = answers[2 * i], answers[2 * i + 1]
            bad = next((x for x in (tokens_venue, cash_venue) if isinstance(x, ReadFailed)), None)
            if bad is not None:
                failed[a.token] = reason or bad.error()
                continue
            self._erc4626[a.token] = True
            out.append(
                VenuePrice(a.token, a.symbol, cash, int(tokens_venue), tokens_feed,
                           int(cash_venue), cash)
            )  # fmt: skip
        for a in reading.state.assets:
            why = failed.get(a.token)
            if why is None:
                continue
            if self._erc4626.get(a.token):  # it answered before: not read now
                log.warning("venue.preview_not_read", asset=a.symbol, error=str(why)[:120])
                self.unread[a.token] = (
                    f"{a.symbol} ({a.token}) held: its previews (previewDeposit, "
                    f"previewRedeem) not read ({type(why).__name__})"
                )
                continue
            if a.token not in self._erc4626:
                log.info("venue.no_preview", asset=a.symbol, error=str(why)[:120])
            self._erc4626[a.token] = False
        return out
