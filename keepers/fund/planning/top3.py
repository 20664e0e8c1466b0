"""The controller's top-3 bound on a purchase, mirrored to the wei, pure (issue 65).

Every deploy leg the AssetController makes itself (``rebalance``, ``allocateToLayer``,
``rebalanceBuffer``) is cut so that the three largest positions stay within the top-3 bound
less the per-asset limits' 1% headroom (``AssetController._top3Cut`` over
``ValuationLib.top3Room``; fifth review, SEC5-03), and an explicit ``purchaseAsset`` past the
bound itself reverts (``Top3ConcentrationExceeded``). The planner sizes its purchase legs with
the same functions on the same integers, so a leg it plans is one the controller takes whole:
with a venue at its cap, the tier's other members are filled only up to this bound, as the
controller's own second pass does, never past it (``tests/offchain/fund/test_top3_mirror.py``
holds them against the contract over seeded cases at 6 and 18 decimals).
"""

from __future__ import annotations

from collections.abc import Sequence

BPS = 10_000
HEADROOM_BPS = 9_900  # AssetControllerStorage._HEADROOM_BPS


def top3_limit(gross: int, max_top3_bps: int) -> int:
    """The most the three largest positions may sum to: ``gross`` (cash not earmarked for the
    queue plus every position) times the bound, less 1% headroom, rounded down as on chain."""
    return gross * (max_top3_bps * HEADROOM_BPS) // (BPS * BPS)


def _top3_of(values: Sequence[int], skip: int) -> tuple[int, int, int]:
    """The three largest values a >= b >= c, leaving out index ``skip`` (ValuationLib._top3Of)."""
    a = b = c = 0
    for j, v in enumerate(values):
        if j == skip:
            v = 0
        if v > c:
            if v > b:
                c = b
                if v > a:
                    b, a = a, v
                else:
                    b = v
            else:
                c = v
    return a, b, c


def top3_room(values: Sequence[int], i: int, limit: int) -> int:
    """How much ``values[i]`` can grow by before the three largest sum past ``limit``
    (ValuationLib.top3Room): 0 when the others' three largest alone are past it."""
    a, b, c = _top3_of(values, i)
    used = a + b + values[i]
    return limit - used if a + b + c <= limit and used < limit else 0


def top3_cut(
    values: Sequence[int], i: int, x: int, gross: int, cash: int, max_top3_bps: int
) -> int:
    """A leg of ``x`` into position ``i`` cut under the bound (AssetController._top3Cut):
    untouched where the whole invested part plus ``x`` is within the limit."""
    limit = top3_limit(gross, max_top3_bps)
    if gross - cash + x <= limit:
        return x
    return min(x, top3_room(values, i, limit))
