"""What holders and managers see of the fund beyond its tiers (issue 54), for ``keeper status``
and the console's fund page: the vault's fees (rates, recipient, fees pending now, the
high-water mark against the price per share now), every held valuation step, and what an
in-kind exit would pay now (``previewRedeemInKind`` for 1% of the supply).

``holders_view(bot, reading)`` reads (the in-kind preview and the tokens' decimals, at the
reading's block; the fees and holds come with the reading) and returns plain data with integers
as strings (JSON-safe); ``holders_lines`` renders it as text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from keepers.fund.reader import FundReading
from keepers.version import NOT_IN_CONTRACTS

__all__ = ["IN_KIND_SHARE_BPS", "holders_lines", "holders_view"]

IN_KIND_SHARE_BPS = 100  # the in-kind preview is for 1% of the supply


def _amount(units: int, decimals: int) -> str:
    return f"{Decimal(units).scaleb(-decimals).normalize():f}" if units else "0"


def holders_view(bot: Any, reading: FundReading) -> dict[str, Any]:
    st = reading.state
    d = st.base_decimals
    # an older release's contracts (0.1.0) have none of the three: "not in these contracts"
    release = getattr(bot, "release", None)
    lacks = getattr(release, "absent", ()) or ()
    absent = [k for k in ("fees", "valuation_holds", "in_kind") if k in lacks]
    out: dict[str, Any] = {
        "fees": reading.fees.to_doc() if reading.fees is not None else None,
        "valuation_holds": None
        if "valuation_holds" in absent
        else [h.to_doc() for h in reading.held],
        "in_kind": None,
        "not_in_these_contracts": absent,
    }
    if reading.fees is not None:
        fees = out["fees"]
        fees["pending_value_whole"] = _amount(reading.fees.pending_value, d)
    supply = reading.fees.total_supply if reading.fees is not None else 0
    shares = supply * IN_KIND_SHARE_BPS // 10_000
    if shares > 0:
        vault = bot.contracts.vault
        cash, tokens, amounts = vault.functions.previewRedeemInKind(shares).call(
            block_identifier=reading.block
        )
        symbols = bot.addresses.symbols
        legs = []
        for token, units in zip(tokens, amounts, strict=True):
            dec = int(
                bot.contracts.erc20(token).functions.decimals().call(block_identifier=reading.block)
            )
            legs.append(
                {
                    "token": str(token),
                    "symbol": symbols.get(str(token).lower(), str(token)[:10]),
                    "amount": str(int(units)),
                    "amount_whole": _amount(int(units), dec),
                }
            )
        out["in_kind"] = {
            "shares": str(shares),
            "share_of_supply_bps": IN_KIND_SHARE_BPS,
            "cash": str(int(cash)),
            "cash_whole": _amount(int(cash), d),
            "tokens": legs,
        }
    return out


def holders_lines(view: dict[str, Any]) -> list[str]:
    lines = []
    absent = set(view.get("not_in_these_contracts") or ())
    f = view.get("fees")
    if "fees" in absent:
        lines.append(f"fees: {NOT_IN_CONTRACTS}")
    elif f is None:
        lines.append("fees: not read")
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
        lines.append(
            f"  high-water mark {f['high_water_mark_human']}, price per share now "
            f"{f['price_per_share_human']} (base tokens per whole share)"
        )
    holds = view.get("valuation_holds") or []
    if "valuation_holds" in absent:
        lines.append(f"valuation holds: {NOT_IN_CONTRACTS}")
    elif not holds:
        lines.append("valuation holds: none")
    for h in holds:
        lines.append(
            f"valuation HELD: {h['symbol']} reference {h['reference_human']} answer "
            f"{h['answer_human']} move {h['move_bps']:+d} bps allowed {h['allowed_bps']} bps "
            f"since {h['reference_at']} (guardian: acceptPrice if the move is real)"
        )
    k = view.get("in_kind")
    if "in_kind" in absent:
        lines.append(f"in-kind exit: {NOT_IN_CONTRACTS}")
    elif k is None:
        lines.append("in-kind exit: no shares")
    else:
        legs = ", ".join(
            f"{t['amount_whole']} {t['symbol']}" for t in k["tokens"] if t["amount"] != "0"
        )
        lines.append(
            f"in-kind exit of 1% of the supply ({k['shares']} shares): {k['cash_whole']} cash"
            + (f" + {legs}" if legs else "")
            + " (0.5% penalty kept by the fund)"
        )
    return lines
