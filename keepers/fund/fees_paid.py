"""What the fee recipient has been paid to date (issue 67), beside the fees pending now
(keepers.fund.holders): for ``keeper status`` (``--json`` key ``fees_paid``), the console's
fund page, plan reports and ``keeper review``, and the metrics.

Two numbers, each from the cheapest source that is exact for it:

- **held now**: the recipient's share balance (``balanceOf(fees().recipient)``, one call) and
  its value at the exit price now (fees pending counted, as ``pending_value``). Exact, whatever
  the fund's age, but it drops when the recipient redeems or moves its shares;
- **minted to date**: the vault has no cumulative view, so the ``FeesAccrued`` events are
  summed (shares, and the management and performance fees in base units at the time each was
  minted), over ``KEEPER_FEES_LOOKBACK_BLOCKS`` back from the block read, one ``eth_getLogs``
  call (or chunks of 10,000 blocks when the node refuses the range). ``whole_history`` says
  whether the range reaches the deployment's first block (the record's ``blocks.first``; block
  0 on a local chain): when it does not, the sum covers only ``from_block`` on.

``FeesWatch`` keeps the sum and scans only new blocks (the bot's ticks, for the metrics; the
views' own watch per bot, for the console's page views).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from keepers.core.amounts import format_amount
from keepers.fund.logs import get_logs, view_watch
from keepers.fund.reader import unread_lines, view_not_read
from keepers.runtime import metrics
from keepers.tx.reads import Read, call_all, fn

__all__ = ["FeesWatch", "add_holders", "fees_paid_lines", "fees_paid_view"]

VIRTUAL_SHARES = 10**6  # the vault's decimals offset (the pricing's virtual shares)


@dataclass
class Minted:
    shares: int = 0
    management: int = 0
    performance: int = 0
    accruals: int = 0
    from_block: int = 0
    to_block: int = -1

    def add(self, logs: list[Any]) -> None:
        for lg in logs:
            a = lg["args"]
            self.shares += int(a["shares"])
            self.management += int(a["managementFee"])
            self.performance += int(a["performanceFee"])
            self.accruals += 1


@dataclass
class FeesWatch:
    """``FeesAccrued`` summed from ``lookback_blocks`` back, then block by block."""

    vault: Any
    lookback_blocks: int
    first_block: int = 0
    minted: Minted | None = None

    def scan(self, block: int) -> Minted:
        if self.minted is None:
            lo = max(self.first_block, block - self.lookback_blocks + 1, 0)
            self.minted = Minted(from_block=lo, to_block=lo - 1)
        m = self.minted
        if block > m.to_block:
            m.add(get_logs(self.vault.events.FeesAccrued, m.to_block + 1, block))
            m.to_block = block
        return m


def _minted(bot: Any, block: int) -> Minted:
    """The sum to ``block`` from the views' watch on ``bot`` (keepers.fund.logs.view_watch: the
    console's page views sum only the blocks after the last one's), a copy taken under its
    lock; a view at an older block sums its lookback on its own (never a later block's
    fees)."""

    def make() -> FeesWatch:
        lookback, first = int(bot.k.fees_lookback_blocks), int(bot.addresses.first_block or 0)
        return FeesWatch(bot.contracts.only("vault", "FeesAccrued"), lookback, first)

    watch, lock = view_watch(bot, "fees_paid", make)
    with lock:
        if watch.minted is None or block >= watch.minted.to_block:
            return replace(watch.scan(block))
    return make().scan(block)


def _value(shares: int, fees: Any) -> int:
    """``shares`` at the exit price now (fees pending counted), base units, floor."""
    return (
        shares
        * (fees.total_assets + 1)
        // (fees.total_supply + fees.pending_shares + VIRTUAL_SHARES)
    )


def fees_paid_view(bot: Any, reading: Any, watch: FeesWatch | None = None) -> dict[str, Any] | None:
    """Plain data (integers as strings); None when the fees were not read; ``{"error": ...}``
    when the node did not answer (not read is never "nothing paid")."""
    f = reading.fees
    if f is None:
        return None
    d = reading.state.base_decimals
    try:
        read_with = getattr(reading, "recipient_shares", None)  # asked in the read's batch
        if read_with is not None and read_with[0] == f.recipient:
            held = read_with[1]
        else:
            vault = bot.contracts.addresses.vault
            balance = Read(vault, fn("TieredVault", "balanceOf"), (f.recipient,))
            (held,) = call_all(bot.contracts.w3, [balance], reading.block)
        m = watch.scan(reading.block) if watch is not None else _minted(bot, reading.block)
    except Exception as err:  # noqa: BLE001 - shown as not read, the rest stands
        return {"error": f"{type(err).__name__}: {err}"[:300]}
    minted_value = m.management + m.performance
    return {
        "recipient": f.recipient,
        "held_shares": str(held),
        "held_value": str(_value(held, f)),
        "held_value_whole": format_amount(_value(held, f), d, grouping=False),
        "minted_shares": str(m.shares),
        "minted_value_now": str(_value(m.shares, f)),
        "minted_value_now_whole": format_amount(_value(m.shares, f), d, grouping=False),
        "minted_management": str(m.management),
        "minted_performance": str(m.performance),
        "minted_value_at_mint_whole": format_amount(minted_value, d, grouping=False),
        "accruals": m.accruals,
        "from_block": m.from_block,
        "to_block": m.to_block,
        "whole_history": m.from_block <= int(getattr(bot.addresses, "first_block", 0) or 0),
    }


def observe(view: dict[str, Any] | None) -> None:
    if view is None or "error" in view:
        return
    metrics.observe_fees_paid(
        int(view["held_shares"]),
        int(view["held_value"]),
        int(view["minted_shares"]),
        int(view["minted_management"]) + int(view["minted_performance"]),
    )


def fees_paid_not_read(view: dict[str, Any] | None) -> list[str]:
    """What of the fees-paid view was not read, in words (the status's and the console's
    "not read" lists); the fees themselves not read are the reading's own."""
    return view_not_read(view, "fees paid")


def fees_paid_lines(view: dict[str, Any] | None) -> list[str]:
    if (unread := unread_lines(view, "fees paid")) is not None:
        return unread
    assert view is not None  # read: unread_lines said so
    since = (
        "since the deployment"
        if view["whole_history"]
        else f"since block {view['from_block']} (KEEPER_FEES_LOOKBACK_BLOCKS; earlier not counted)"
    )
    return [
        f"fees paid to date {since}: {view['minted_shares']} fee shares in {view['accruals']} "
        f"accruals, {view['minted_value_at_mint_whole']} when minted (management "
        f"{view['minted_management']}, performance {view['minted_performance']} base units), "
        f"{view['minted_value_now_whole']} now",
        f"fee shares held by the recipient now: {view['held_shares']} shares worth "
        f"{view['held_value_whole']}",
    ]


def add_holders(report: dict[str, Any], bot: Any, reading: Any) -> dict[str, Any]:
    """A plan report with what holders are promised at the plan's block (issue 67): the fees
    (rates, high-water mark, pending now, paid to date), held valuation steps and what an
    in-kind exit of 1% of the supply pays now, as data (``holders``) and as the lines
    ``keeper plan --dry-run`` and ``keeper review`` print (``holders_lines``). A failed read
    is said, and never stops the plan."""
    from keepers.fund.holders import holders_lines, holders_view

    try:
        view = holders_view(bot, reading)
        lines = holders_lines(view)
    except Exception as err:  # noqa: BLE001 - a display read never stops a plan
        view = {"error": f"{type(err).__name__}: {err}"[:300]}
        lines = [f"fees and in-kind exit: not read ({view['error']})"]
    # the bot's running sum when it keeps one (no lookback scanned again for every plan)
    watch = bot.fees_watch() if hasattr(bot, "fees_watch") else None
    paid = fees_paid_view(bot, reading, watch)
    view["fees_paid"] = paid
    report["holders"] = view
    report["holders_lines"] = lines + fees_paid_lines(paid)
    return report
