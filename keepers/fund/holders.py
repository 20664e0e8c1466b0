"""What holders and managers see of the fund beyond its tiers (issue 54), for ``keeper status``
and the console's fund page: the vault's fees (rates, recipient, fees pending now, the
high-water mark against the price per share now), every held valuation step, and what an
in-kind exit would pay now (``previewRedeemInKind`` for 1% of the supply).

``holders_view(bot, reading)`` reads (the in-kind preview and the tokens' decimals, at the
reading's block; the fees and holds come with the reading) and returns plain data with integers
as strings (JSON-safe); ``holders_lines`` renders it as text.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from keepers.core.amounts import format_amount
from keepers.fund.reader import FundReading, why_not_read
from keepers.tx.retry import NetworkUnavailable, with_retries
from keepers.version import NOT_IN_CONTRACTS

__all__ = ["IN_KIND_SHARE_BPS", "holders_lines", "holders_not_read", "holders_view", "leg_words"]

_NOT_READ = (ContractLogicError, BadFunctionCallOutput, NetworkUnavailable)

IN_KIND_SHARE_BPS = 100  # the in-kind preview is for 1% of the supply


def holders_view(bot: Any, reading: FundReading) -> dict[str, Any]:
    """Plain data for the status and the console. A read that fails at the reading's block
    (a revert, the node) is said as not read, for that item only: ``fees`` None (the reading's
    fee views), ``valuation_holds`` None (its holds), ``in_kind`` {"not_read": why} (the
    preview, or the supply it is asked for), a leg's ``amount_whole`` None (its token's
    decimals). ``in_kind`` None means no shares to ask about. What an older release's
    contracts (0.1.0) do not have is listed in ``not_in_these_contracts`` and never read nor
    said as not read."""
    st = reading.state
    d = st.base_decimals
    release = getattr(bot, "release", None)
    lacks = getattr(release, "absent", ()) or ()
    absent = [k for k in ("fees", "valuation_holds", "in_kind") if k in lacks]
    out: dict[str, Any] = {
        "fees": reading.fees.to_doc() if reading.fees is not None else None,
        "valuation_holds": None
        if reading.holds is None or "valuation_holds" in absent
        else [h.to_doc() for h in reading.held],
        "in_kind": None,
        "not_in_these_contracts": absent,
    }
    if "in_kind" in absent:
        return out
    if reading.fees is None:
        out["in_kind"] = {"not_read": "the vault's supply (the fee views) not read"}
        return out
    out["fees"]["pending_value_whole"] = format_amount(
        reading.fees.pending_value, d, grouping=False
    )
    shares = reading.fees.total_supply * IN_KIND_SHARE_BPS // 10_000
    if shares <= 0:
        return out
    try:
        cash, tokens, amounts = with_retries(
            lambda: (
                bot.contracts.only("vault", "previewRedeemInKind")
                .functions.previewRedeemInKind(shares)
                .call(block_identifier=reading.block)
            ),
            "TieredVault.previewRedeemInKind",
        )
    except _NOT_READ as err:
        out["in_kind"] = {"not_read": f"TieredVault.previewRedeemInKind: {why_not_read(err)}"}
        return out
    symbols = bot.addresses.symbols
    legs = []
    for token, units in zip(tokens, amounts, strict=True):
        read = partial(
            bot.contracts.erc20(token).functions.decimals().call, block_identifier=reading.block
        )
        try:
            dec: int | None = int(with_retries(read, "ERC20.decimals"))
        except _NOT_READ:
            dec = None  # the amount in base units only: its decimals not read
        legs.append(
            {
                "token": str(token),
                "symbol": symbols.get(str(token).lower(), str(token)[:10]),
                "amount": str(int(units)),
                "amount_whole": None
                if dec is None
                else format_amount(int(units), dec, grouping=False),
            }
        )
    out["in_kind"] = {
        "shares": str(shares),
        "share_of_supply_bps": IN_KIND_SHARE_BPS,
        "cash": str(int(cash)),
        "cash_whole": format_amount(int(cash), d, grouping=False),
        "tokens": legs,
    }
    return out


def holders_not_read(view: dict[str, Any]) -> list[str]:
    """What of ``view`` was not read, in words (the fees and holds are the reading's own and
    named by ``FundReading.not_read``): the in-kind preview, a token's decimals. What these
    contracts do not have is not "not read"."""
    if "in_kind" in (view.get("not_in_these_contracts") or ()):
        return []
    k = view.get("in_kind") or {}
    if "not_read" in k:
        return [f"in-kind exit preview ({k['not_read']})"]
    return [
        f"{t['symbol']} token decimals (in-kind preview shown in base units)"
        for t in k.get("tokens", [])
        if t.get("amount_whole") is None
    ]


def leg_words(t: dict[str, Any]) -> str:
    """One token of the in-kind preview in words (base units when its decimals are not
    read)."""
    if t.get("amount_whole") is None:
        return f"{t['amount']} base units of {t['symbol']} (its decimals not read)"
    return f"{t['amount_whole']} {t['symbol']}"


def _nothing_to_show(
    view: dict[str, Any], absent: set[str], key: str, label: str, when_none: str
) -> str | None:
    """The one line of section ``key`` when it has nothing to show: these contracts do not
    have it, or it is None (``when_none`` says why); else None."""
    if key in absent:
        return f"{label}: {NOT_IN_CONTRACTS}"
    if view.get(key) is None:
        return f"{label}: {when_none}"
    return None


def holders_lines(view: dict[str, Any]) -> list[str]:
    lines = []
    absent = set(view.get("not_in_these_contracts") or ())
    f: Any = view.get("fees")  # not None past _nothing_to_show
    if line := _nothing_to_show(view, absent, "fees", "fees", "not read"):
        lines.append(line)
    else:
        lines.append(
            f"fees: management {int(f['management_bps']) / 100:.2f}%/yr, performance "
            f"{int(f['performance_bps']) / 100:.2f}% above the high-water mark, to "
            f"{f['recipient']}"
        )
        lines.append(
            f"  pending now {f['pending_value_whole']} ({f['pending_value']} base units, "
            f"{f['pending_shares']} shares)"
        )
        now = "fixed at close (closed)" if f.get("closed") else "now"
        lines.append(
            f"  high-water mark {f['high_water_mark_human']}, price per share {now} "
            f"{f['price_per_share_human']} (base tokens per whole share)"
        )
    holds = view.get("valuation_holds")
    if line := _nothing_to_show(view, absent, "valuation_holds", "valuation holds", "not read"):
        lines.append(line)
    elif not holds:
        lines.append("valuation holds: none")
    for h in holds or []:
        lines.append(
            f"valuation HELD: {h['symbol']} reference {h['reference_human']} answer "
            f"{h['answer_human']} move {h['move_bps']:+d} bps allowed {h['allowed_bps']} bps "
            f"since {h['reference_at']} (guardian: acceptPrice if the move is real)"
        )
    k: Any = view.get("in_kind")  # not None past _nothing_to_show
    if line := _nothing_to_show(view, absent, "in_kind", "in-kind exit", "no shares"):
        lines.append(line)
    elif "not_read" in k:
        lines.append(f"in-kind exit: not read ({k['not_read']})")
    else:
        legs = ", ".join(leg_words(t) for t in k["tokens"] if t["amount"] != "0")
        lines.append(
            f"in-kind exit of 1% of the supply ({k['shares']} shares): {k['cash_whole']} cash"
            + (f" + {legs}" if legs else "")
            + " (0.5% penalty kept by the fund)"
        )
    return lines
