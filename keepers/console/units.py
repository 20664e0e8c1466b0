"""What the console's pages say in people's units: amounts as whole tokens with the token's
symbol (base units only on request: ``?units=base``), addresses checksummed, and the risk
check's numbers (kept in base units in the store) rewritten in the same units.

Token symbols and decimals come from the chain once per token and are kept for the process
(they do not change); without a node the base token's symbol is left out, never guessed."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

from eth_utils import to_checksum_address

from keepers import abis
from keepers.core.amounts import format_amount
from keepers.tx.contracts import contract_at

_tokens: dict[str, tuple[str | None, int | None]] = {}
_lock = threading.Lock()
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{40}\b")


def checksummed(address: Any) -> str:
    """An address in its EIP-55 form (anything else as it is)."""
    text = "" if address is None else str(address)
    if ADDRESS.fullmatch(text):
        return str(to_checksum_address(text))
    return text


def checksum_text(text: str) -> str:
    """Every address in ``text`` in its EIP-55 form."""
    return ADDRESS.sub(lambda m: checksummed(m.group(0)), text)


def token_info(bot: Any, token: str) -> tuple[str | None, int | None]:
    """(symbol, decimals) of an ERC-20 read once from the chain; (None, None) without a node
    or when the token does not answer."""
    key = token.lower()
    with _lock:
        if key in _tokens:
            return _tokens[key]
    if bot is None:
        return None, None
    try:
        c = contract_at(bot.w3, token, abis.load("IERC20Min"))
        got: tuple[str | None, int | None] = (
            str(c.functions.symbol().call()),
            int(c.functions.decimals().call()),
        )
    except Exception:  # noqa: BLE001 - a token without symbol(): shown without one
        return None, None
    with _lock:
        _tokens[key] = got
    return got


def decimals_of(bot: Any, address: str) -> int | None:
    """``decimals()`` of a token or a price feed, read once; None when it does not answer."""
    key = "decimals:" + address.lower()
    with _lock:
        if key in _tokens:
            return _tokens[key][1]
    if bot is None:
        return None
    try:
        c = contract_at(bot.w3, address, abis.load("IERC20Min"))
        got = int(c.functions.decimals().call())
    except Exception:  # noqa: BLE001 - no decimals(): the caller shows what it has
        return None
    with _lock:
        _tokens[key] = (None, got)
    return got


@dataclass(frozen=True)
class Units:
    """Base-token amounts as people read them: ``2,000.00 USDT`` (whole units, truncated to
    cents, as `keeper review`), or ``2000000000 base units`` when ``base`` is asked for."""

    decimals: int
    symbol: str | None = None
    base: bool = False

    def __call__(self, value: int | str | None) -> str:
        if value is None:
            return "-"
        return format_amount(int(value), self.decimals, self.symbol, places=2, base=self.base)


def base_units(ctx: Any, decimals: int, base: bool = False) -> Units:
    """The base token's units for ``ctx``'s fund: its symbol from the chain when the fund bot
    is built (never builds it: the pages that need the chain have asked already)."""
    bot = ctx.bot_or_offline() if ctx.has_bot() else None
    symbol = None
    if bot is not None:
        symbol = token_info(bot, bot.addresses.cash)[0]
    return Units(decimals, symbol, base)


_GAS = re.compile(r"^gas (\d+) (vs|>) (?:(\d+) bps of )?benefit (\d+)$")


def risk_detail(rule: str, detail: str, units: Units) -> str:
    """A risk finding's detail with its base-unit numbers in ``units`` (the gas rule's cost
    and benefit) and its addresses checksummed."""
    m = _GAS.match(detail) if rule == "gas" else None
    if m is not None:
        gas, op, bps, gain = m.groups()
        of = f"{bps} bps of " if bps else ""
        return f"gas {units(int(gas))} {op} {of}benefit {units(int(gain))}"
    return checksum_text(detail)
