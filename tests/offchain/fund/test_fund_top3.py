"""Issue 65: the planner's mirror of the controller's top-3 room (keepers/fund/planning/top3.py),
held against the bound's definition with no chain (tests/contracts/fund/test_top3.py holds it
against the contract itself)."""

from __future__ import annotations

import random

import pytest

from keepers.fund.planning.top3 import top3_cut, top3_limit, top3_room


def _top3(values: list[int]) -> int:
    return sum(sorted(values)[-3:])


@pytest.mark.parametrize("decimals", [6, 18])
@pytest.mark.parametrize("seed", range(25))
def test_top3_room__seeded_funds__the_most_a_position_can_grow_within_the_limit(
    decimals: int, seed: int
) -> None:
    rng = random.Random(seed * 100 + decimals)
    unit = 10**decimals
    values = [rng.choice((0, 1, rng.randint(1, 10**6) * unit)) for _ in range(rng.randint(1, 12))]
    limit = top3_limit(sum(values) + rng.randint(0, 10**6) * unit, rng.randint(3_000, 10_000))
    for i in range(len(values)):
        room = top3_room(values, i, limit)
        grown = list(values)
        if room:
            grown[i] += room
            assert _top3(grown) <= limit  # the room fits
            grown[i] += 1
            assert _top3(grown) > limit  # and is the most that does
        else:  # nothing fits: one more unit puts some three past the limit
            grown[i] += 1
            assert _top3(grown) > limit


def test_top3_cut__whole_invested_part_within_the_limit__leg_untouched() -> None:
    # 1,000 of cash and 3 positions: the bound can bind only past the invested part
    assert top3_cut([100, 100, 100], 0, 50, 1_300, 1_000, 6_000) == 50
    limit = top3_limit(1_300, 6_000)
    assert top3_cut([300, 200, 200], 0, 500, 1_300, 600, 6_000) == top3_room(
        [300, 200, 200], 0, limit
    )
