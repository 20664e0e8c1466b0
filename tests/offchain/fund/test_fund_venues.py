"""Venue-vs-feed holds (keepers.fund.venues.held_sides), pure."""

from __future__ import annotations

from keepers.fund.venues import VenuePrice, held_sides


def venue(tokens_venue: int, cash_venue: int) -> VenuePrice:
    return VenuePrice("0xa", "MMF-A", 1_000, tokens_venue, 1_000, cash_venue, 1_000)


def test_held_sides__the_losing_side_past_the_bound_is_held_the_other_not():
    dear = venue(tokens_venue=943, cash_venue=1_060)  # shares 6% dearer than the feed
    cheap = venue(tokens_venue=1_060, cash_venue=943)  # 6% cheaper
    near = venue(tokens_venue=995, cash_venue=995)  # 50 bps: inside a 100 bps bound
    held = held_sides([dear, cheap, near], 100)
    assert set(held) == {("0xa", "buy"), ("0xa", "sell")}
    assert held[("0xa", "buy")] is dear and held[("0xa", "sell")] is cheap
    assert dear.buy_short_bps == 570 and dear.sell_short_bps == 0
    assert held_sides([near], 50) == {} and held_sides([near], 49) != {}
    assert "previewDeposit(1000) = 943 tokens, the feed gives 1000" in dear.describe("buy")
    assert "previewRedeem(1000) = 943, the feed values them at 1000" in cheap.describe("sell")
