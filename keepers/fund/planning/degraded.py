"""What the planner holds back while an asset's price is unknown or in doubt, pure.

A held asset whose feed is down is *unpriced*: the lens counts it at 0, as the contract does
for exits, so its tier's value and every ratio are understated by an unknown amount. A held
asset whose valuation the controller holds (its feed stepped past the asset's step bound,
``AssetController.priceHold``) is *stepped*: its value at the stepped answer is in doubt until
the guardian's ``acceptPrice`` or the bound's allowance covers the step, and its own trades
revert (``PriceHeld``). In both cases only what stays safe without that price runs: cash for
redemptions, raised from priced assets at their own prices; tier flows, rotations and any buy
or sale of the asset wait. Each held-back asset is one ``Unresolved`` note with its reason.
"""

from __future__ import annotations

from collections.abc import Iterable

from keepers.fund.planning.actions import Unresolved
from keepers.fund.planning.state import AssetState

__all__ = ["FEED_DOWN", "PRICE_HELD", "degraded_notes"]

FEED_DOWN = "feed_down"  # the reason of what an unpriced asset holds back
PRICE_HELD = "price_held"  # the reason of what a held valuation step holds back


def degraded_notes(
    unpriced: Iterable[AssetState], stepped: Iterable[AssetState]
) -> list[Unresolved]:
    """One note per unpriced asset (``feed_down``) and per held valuation step (``price_held``)."""
    notes = [
        Unresolved(
            a.tier,
            FEED_DOWN,
            f"{a.symbol}: feed down, asset unpriced (counted at 0 as the contract does "
            "for exits); holding back tier rebalancing and any buy or sale of it until "
            "its feed reports again; redemptions are still prepared",
        )
        for a in unpriced
    ]
    notes += [
        Unresolved(
            a.tier,
            PRICE_HELD,
            f"{a.symbol}: valuation held (its feed stepped past the asset's step "
            "bound); holding back tier rebalancing and any buy or sale of it until "
            "the guardian's acceptPrice or the step bound lets the answer through; "
            "redemptions are still prepared",
        )
        for a in stepped
    ]
    return notes
