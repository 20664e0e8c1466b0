"""The one amount formatter (keepers.core.amounts.format_amount), at 6 and 18 decimals, exact
past 2**63, never through a float; checked against Decimal arithmetic at a wide precision."""

from __future__ import annotations

import random
from decimal import ROUND_DOWN, ROUND_HALF_UP, Context, Decimal

import pytest

from keepers.core.amounts import format_amount

WIDE = Context(prec=200)


@pytest.mark.parametrize(
    ("units", "decimals", "kw", "text"),
    [
        (1_234_567_891, 6, {}, "1,234.567891"),
        (1_234_567_891, 6, {"places": 2}, "1,234.56"),
        (1_234_567_891, 6, {"places": 0}, "1,234"),
        (1_234_567_891, 6, {"places": 0, "rounding": "half_up"}, "1,235"),
        (1_234_500_000, 6, {"places": 0, "rounding": "half_up"}, "1,235"),
        (1_234_499_999, 6, {"places": 0, "rounding": "half_up"}, "1,234"),
        (1_500_000, 6, {"symbol": "USDT"}, "1.5 USDT"),
        (1_500_000, 6, {"symbol": "USDT", "places": 2}, "1.50 USDT"),
        (100 * 10**6, 6, {"grouping": False}, "100"),
        (0, 6, {}, "0"),
        (0, 18, {"places": 2}, "0.00"),
        (-5 * 10**17, 18, {"places": 2}, "-0.50"),
        (-5 * 10**17, 18, {}, "-0.5"),
        (1, 18, {}, "0.000000000000000001"),
        (1, 18, {"places": 4}, "0.0000"),
        (123 * 10**18 + 45 * 10**16, 18, {"symbol": "ETH", "places": 4}, "123.4500 ETH"),
        (2**70, 18, {"grouping": False}, "1180.591620717411303424"),
        (7, 0, {}, "7"),
        (7, 0, {"places": 2}, "7.00"),
        (2_000_000_000, 6, {"symbol": "USDT", "base": True}, "2000000000 base units"),
    ],
)
def test_format_amount__cases__exact_text(units, decimals, kw, text):
    symbol = kw.pop("symbol", None)
    assert format_amount(units, decimals, symbol, **kw) == text


@pytest.mark.parametrize("decimals", [6, 18])
def test_format_amount__random_amounts__equal_decimal_arithmetic(decimals):
    rng = random.Random(decimals)
    for _ in range(2_000):
        units = rng.choice([1, -1]) * rng.randrange(0, 10 ** rng.randrange(1, 40))
        exact = Decimal(units).scaleb(-decimals, WIDE)
        plain = "0" if units == 0 else format(exact.normalize(WIDE), "f")
        assert format_amount(units, decimals, grouping=False) == plain
        for places in (0, 2, 4):
            q = Decimal(1).scaleb(-places)
            down = exact.quantize(q, rounding=ROUND_DOWN, context=WIDE)
            half = exact.quantize(q, rounding=ROUND_HALF_UP, context=WIDE)
            got_down = format_amount(units, decimals, places=places)
            got_half = format_amount(units, decimals, places=places, rounding="half_up")
            # Decimal drops the sign of a zero result only when it is exactly zero
            assert got_down.lstrip("-") == f"{down.copy_abs():,f}"
            assert got_half.lstrip("-") == f"{half.copy_abs():,f}"
            assert got_down.startswith("-") == (units < 0)


@pytest.mark.parametrize("bad", [1.5, Decimal("1.5"), "15", True, None])
def test_format_amount__not_an_int__refused_naming_units(bad):
    with pytest.raises(TypeError, match="units"):
        format_amount(bad, 6)


def test_format_amount__negative_decimals_or_places__refused_naming_the_field():
    with pytest.raises(ValueError, match="decimals: .* -1"):
        format_amount(1, -1)
    with pytest.raises(ValueError, match="places: .* -2"):
        format_amount(1, 6, places=-2)
