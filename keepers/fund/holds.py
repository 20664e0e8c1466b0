"""Held valuation steps and the vault's fees, read beside the fund's state at the same block.

The controller bounds how far an asset's feed may step from the answer it last counted
(``AssetController.priceHold``); beyond the bound the asset is *held*: entries are refused, its
trades revert (PriceHeld), ``mark()`` and a forced rebalance revert, until the guardian's
``acceptPrice`` (or the move has stood long enough). No event says a step arrived, so the
keeper polls: one JSON-RPC batch per read holds every listed asset's ``priceHold`` and the
vault's fee views (``fees``, ``highWaterMark``, ``pendingFeeShares``, ``totalAssets``,
``totalSupply``). Reads only; the values are the chain's, the text is for alerts and status.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from web3 import Web3

from keepers.core.amounts import format_amount
from keepers.fund.planning.state import BPS, CLOSED, FundState
from keepers.runtime import metrics
from keepers.runtime.alerts import AlertLevel
from keepers.tx.reads import Read, ReadFailed, call_many, fn

__all__ = [
    "HOLD_HELD_BACK",
    "NAV_JUMP",
    "hold_alerts",
    "PRICE_SCALE",
    "FundFees",
    "PriceHold",
    "hold_message",
    "fee_reads",
    "fees_from",
    "hold_reads",
    "holds_from",
    "read_holds_and_fees",
]

# highWaterMark's unit: base units per share unit times 1e24 (= base tokens per whole share
# times 1e18: a whole share is 10^6 times a whole base token's units), TieredVault._PRICE_SCALE
PRICE_SCALE = 10**24
VIRTUAL_SHARES = 10**6  # the vault's decimals offset (10 ** _decimalsOffset())

HOLD_HELD_BACK = (
    "holding back: tier rebalancing and any buy or sale of the asset (its trades revert "
    "PriceHeld), entries (the vault refuses them) and the mark; still running: redemption "
    "preparation from other assets, every other job. If the move is real the guardian "
    "confirms it with acceptPrice(token) (docs/playbooks/feed-dies.md)"
)


@dataclass(frozen=True)
class PriceHold:
    """``AssetController.priceHold(token)`` at one block."""

    token: str
    symbol: str
    held: bool
    reference: int  # raw feed answer the controller last counted (0: none yet)
    answer: int  # raw feed answer now (0 while the feed is down)
    move_bps: int
    allowed_bps: int
    step_bps: int
    per_day_bps: int
    reference_at: int  # unix seconds
    feed_decimals: int

    @property
    def bounded(self) -> bool:
        return self.step_bps > 0 or self.per_day_bps > 0

    @property
    def signed_move_bps(self) -> int:
        return -self.move_bps if self.answer < self.reference else self.move_bps

    def describe(self) -> str:
        since = datetime.fromtimestamp(self.reference_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return (
            f"{self.symbol} ({self.token}): valuation held, feed answer "
            f"{format_amount(self.answer, self.feed_decimals, grouping=False)} against the reference "
            f"{format_amount(self.reference, self.feed_decimals, grouping=False)} counted since {since}: a step of "
            f"{self.signed_move_bps:+d} bps, {self.allowed_bps} bps allowed (step bound "
            f"{self.step_bps} bps + {self.per_day_bps} bps a day)"
        )

    def to_doc(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "symbol": self.symbol,
            "held": self.held,
            "reference": str(self.reference),
            "answer": str(self.answer),
            "reference_human": format_amount(self.reference, self.feed_decimals, grouping=False),
            "answer_human": format_amount(self.answer, self.feed_decimals, grouping=False),
            "move_bps": self.signed_move_bps,
            "allowed_bps": self.allowed_bps,
            "step_bps": self.step_bps,
            "per_day_bps": self.per_day_bps,
            "reference_at": self.reference_at,
        }


@dataclass(frozen=True)
class FundFees:
    """The vault's fees at one block (base units and share units, integers)."""

    recipient: str
    management_bps: int
    performance_bps: int
    accrued_at: int
    high_water_mark: int  # PRICE_SCALE units (base tokens per whole share x 1e18)
    pending_shares: int
    total_assets: int  # the vault's totalAssets (exits' valuation)
    total_supply: int
    # TieredVault.phase (keepers.fund.planning.state.PHASES), read in the same batch
    phase: int = 0
    # TieredVault.closedPrice(): (assets, supply) fixed by close(), (0, 0) until closed
    closed_assets: int = 0
    closed_supply: int = 0

    @property
    def closed(self) -> bool:
        return self.phase == CLOSED and self.closed_supply > 0

    @property
    def on(self) -> bool:
        return self.management_bps > 0 or self.performance_bps > 0

    @property
    def price_per_share(self) -> int:
        """The exit price per share now, in the high-water mark's unit (fees pending counted);
        once closed, the price close() fixed (closedPrice), which every exit pays for ever."""
        if self.closed:
            return self.closed_assets * PRICE_SCALE // self.closed_supply
        return (
            (self.total_assets + 1)
            * PRICE_SCALE
            // (self.total_supply + self.pending_shares + VIRTUAL_SHARES)
        )

    @property
    def pending_value(self) -> int:
        """What the fee shares an accrual would mint now are worth, base units (floor)."""
        return (
            self.pending_shares
            * (self.total_assets + 1)
            // (self.total_supply + self.pending_shares + VIRTUAL_SHARES)
        )

    @property
    def above_mark_bps(self) -> int:
        """How far the price per share stands above (+) or below (-) the high-water mark."""
        if self.high_water_mark == 0:
            return 0
        return (self.price_per_share - self.high_water_mark) * BPS // self.high_water_mark

    def to_doc(self) -> dict[str, Any]:
        return {
            "recipient": self.recipient,
            "management_bps": self.management_bps,
            "performance_bps": self.performance_bps,
            "accrued_at": self.accrued_at,
            "pending_shares": str(self.pending_shares),
            "pending_value": str(self.pending_value),
            "high_water_mark": str(self.high_water_mark),
            "price_per_share": str(self.price_per_share),
            "high_water_mark_human": format_amount(self.high_water_mark, 18, grouping=False),
            "price_per_share_human": format_amount(self.price_per_share, 18, grouping=False),
            "closed": self.closed,
        }


def hold_reads(controller: str, tokens: Sequence[str]) -> list[Read]:
    """Each listed asset's ``priceHold`` (keepers.tx.reads), for a batch."""
    return [Read(controller, fn("AssetController", "priceHold"), (t,)) for t in tokens]


def fee_reads(vault: str) -> list[Read]:
    """The vault's fee views (``fees``, ``highWaterMark``, ``pendingFeeShares``,
    ``totalAssets``, ``totalSupply``) and its wind-down ``phase`` and ``closedPrice``, for a
    batch."""
    return [Read(vault, fn("TieredVault", name)) for name in FEE_VIEWS]


# the vault's views fee_reads asks for, in the order fees_from unpacks their answers
FEE_VIEWS = (
    "fees",
    "highWaterMark",
    "pendingFeeShares",
    "totalAssets",
    "totalSupply",
    "phase",
    "closedPrice",
)


def holds_from(
    values: Sequence[Any], state: FundState, feed_decimals: dict[str, int]
) -> dict[str, PriceHold] | None:
    """The holds from the answers of ``hold_reads`` (in ``state.assets`` order); None when one
    of them failed (a revert, no or an undecodable answer): not read at this block."""
    if any(isinstance(v, ReadFailed) for v in values):
        return None
    holds = {}
    for a, r in zip(state.assets, values, strict=True):
        held, ref, answer, move, allowed, step, per_day, ref_at = r
        holds[a.token] = PriceHold(
            token=a.token,
            symbol=a.symbol,
            held=bool(held),
            reference=int(ref),
            answer=int(answer),
            move_bps=int(move),
            allowed_bps=int(allowed),
            step_bps=int(step),
            per_day_bps=int(per_day),
            reference_at=int(ref_at),
            feed_decimals=int(feed_decimals.get(a.token, 8)),
        )
    return holds


def fees_from(values: Sequence[Any]) -> FundFees | None:
    """The fees from the answers of ``fee_reads``; None when one of them failed."""
    if any(isinstance(v, ReadFailed) for v in values):
        return None
    (recipient, mgmt, perf, accrued_at), hwm, pending, total, supply, phase, closed = values
    return FundFees(
        recipient=Web3.to_checksum_address(recipient),
        management_bps=int(mgmt),
        performance_bps=int(perf),
        accrued_at=int(accrued_at),
        high_water_mark=int(hwm),
        pending_shares=int(pending),
        total_assets=int(total),
        total_supply=int(supply),
        phase=int(phase),
        closed_assets=int(closed[0]),
        closed_supply=int(closed[1]),
    )


def read_holds_and_fees(
    w3: Web3,
    controller: Any,
    vault: Any,
    state: FundState,
    feed_decimals: dict[str, int],
    block: int,
    answered: Sequence[Any] | None = None,
) -> tuple[dict[str, PriceHold] | None, FundFees | None]:
    """Every listed asset's priceHold and the vault's fee views at ``block``, in one JSON-RPC
    batch (N + 7 eth_calls, one round trip, keepers.tx.reads), or their ``answered`` values
    (``hold_reads`` then ``fee_reads`` of this listing, asked in the fund's own batch:
    keepers.fund.reader). Each answers for itself: a group with a call that reverts (or
    answers nothing decodable) is None (not read at this block), the other is still read.
    The node's refusal of a call raises (as web3's did), and its transport failures propagate
    (the caller's retry)."""
    holds_r = hold_reads(_address(controller), [a.token for a in state.assets])
    fees_r = fee_reads(_address(vault))
    if answered is not None and len(answered) == len(holds_r) + len(fees_r):
        values = list(answered)
    else:
        values = call_many(w3, holds_r + fees_r, block)
    for v in values:
        if isinstance(v, ReadFailed) and not (v.reverted or v.bad_output):
            raise v.error()
    n = len(holds_r)
    return holds_from(values[:n], state, feed_decimals), fees_from(values[n:])


def _address(contract: Any) -> str:
    return str(getattr(contract, "address", contract))


def hold_message(held: Sequence[PriceHold]) -> str:
    return "; ".join(h.describe() for h in held) + f". {HOLD_HELD_BACK}"


NAV_JUMP = "nav_jump"


def hold_alerts(bot: Any, reading: Any) -> None:
    """``nav_jump`` (critical, once per set of held assets) naming each asset whose valuation
    the controller holds, both prices, the step and what the keeper holds back;
    ``nav_jump_ended`` once none is held. Exports the holds and the fees as metrics. ``bot``
    is the fund bot (its alert, alert_once, clear_alert and plan store), ``reading`` its
    FundReading."""
    now = reading.state.timestamp
    if reading.holds is None:  # not read at this block: nothing is known, nothing is ended
        return
    for h in reading.holds.values():  # every listed asset's: a hold that ended reads 0
        metrics.observe_valuation(h.symbol, h.held, h.signed_move_bps)
    if reading.fees is not None:
        f = reading.fees
        metrics.observe_fees(f.pending_value, f.high_water_mark, f.price_per_share)
        metrics.observe_phase(f.phase)
    held = reading.held
    if not held:
        bot.end_alert(NAV_JUMP, "nav_jump_ended", "no asset's valuation is held any more", now)
        return
    # once per hold: the reference changes only when a hold ends (acceptPrice, a mark)
    key = ",".join(sorted(f"{h.token}:{h.reference}" for h in held))
    bot.alert_once(AlertLevel.CRITICAL, NAV_JUMP, key, hold_message(held), now, None)
