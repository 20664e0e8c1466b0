"""The one amount formatter: token base units as people read them, in integers only.

Every face prints amounts through :func:`format_amount`: the CLI (``keeper status``, ``keeper
review``, the cross-chain history), the web console (``?units=base`` asks for base units),
the plan reports, the alerts, and the demo's reports. An amount is an ``int`` of base units
end to end; the text is made with integer arithmetic, so a 6-decimal stablecoin and an
18-decimal token (or a total past 2**63) print exactly, never through a float.

    format_amount(1_234_567_891, 6)                     -> "1,234.567891"
    format_amount(1_234_567_891, 6, "USDT", places=2)   -> "1,234.56 USDT" (truncated)
    format_amount(5 * 10**17, 18, grouping=False)       -> "0.5"
    format_amount(1_234_567_891, 6, "USDT", base=True)  -> "1234567891 base units"
"""

from __future__ import annotations

from typing import Literal

Rounding = Literal["down", "half_up"]


def format_amount(
    units: int,
    decimals: int,
    symbol: str | None = None,
    *,
    places: int | None = None,
    grouping: bool = True,
    base: bool = False,
    rounding: Rounding = "down",
) -> str:
    """``units`` (base units of a token with ``decimals``) as whole units, followed by
    ``symbol`` when one is given.

    ``places``: None prints the amount exactly, with no trailing zeros ("1.5", "100");
    a number prints that many decimals, cut toward zero (``rounding="down"``) or rounded half
    away from zero (``"half_up"``). ``grouping``: thousands separated by commas (off for text
    that a program reads back, such as JSON). ``base``: the base units themselves instead
    ("1500000 base units"), as asked for by ``--units base`` / ``?units=base``.

    Raises TypeError for an amount that is not an int (a float has no place here) and
    ValueError naming ``decimals`` or ``places`` when either is negative."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"units: an int of base units is required, got {units!r}")
    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals: a whole number >= 0 is required, got {decimals!r}")
    if places is not None and (isinstance(places, bool) or places < 0):
        raise ValueError(f"places: a whole number >= 0 (or None) is required, got {places!r}")
    if base:
        return f"{units} base units"
    sign = "-" if units < 0 else ""
    size = abs(units)
    if places is None:
        whole, frac = divmod(size, 10**decimals)
        tail = f"{frac:0{decimals}d}".rstrip("0") if decimals else ""
    else:
        if places >= decimals:
            scaled = size * 10 ** (places - decimals)
        else:
            step = 10 ** (decimals - places)
            scaled, rest = divmod(size, step)
            if rounding == "half_up" and rest * 2 >= step:
                scaled += 1
        whole, frac = divmod(scaled, 10**places)
        tail = f"{frac:0{places}d}" if places else ""
    text = f"{whole:,}" if grouping else str(whole)
    if tail:
        text = f"{text}.{tail}"
    text = sign + text
    return f"{text} {symbol}" if symbol else text
