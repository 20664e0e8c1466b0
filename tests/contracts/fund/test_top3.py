"""The top-3 concentration guard (issue 45's gas work made ValuationLib.top3 one assembly pass:
the controller runs it after every purchase). Held against a plain reference, and the guard
itself against a purchase that crosses it."""

import ape
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ballast_dev.deployment.fund import RiskSpec
from tests.support.erc4626_funds import Venue, erc4626_fund


@pytest.fixture(scope="module")
def lib(project, deployer, keeper, alice, _funds_once):
    # (keeper, alice and the folder's funds, deployed once per process: the session fixtures
    # later tests take, set up before this module fixture so that ape does not rebase the
    # module, InvalidIsolationWarning. Without the funds, this file run on its own, or first
    # in its process, lost the library at the 18-decimal part: 40 failures, "Failed to get
    # contract type")
    return deployer.deploy(project.TestValuationLib)


_value = st.one_of(st.integers(0, 5), st.integers(0, 10**30), st.integers(0, 2**254))


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_value, max_size=16))
def test_top3__any_values__the_sum_of_the_three_largest(lib, values):
    assert lib.top3(values) == sum(sorted(values)[-3:])


@pytest.mark.parametrize(
    "values",
    [[], [7], [3, 9], [5, 5, 5, 5], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1], [2, 9, 2, 9, 2, 9, 1]],
)
def test_top3__edges__ties_short_lists_and_both_orders(lib, values):
    assert lib.top3(values) == sum(sorted(values)[-3:])


def test_top3_guard__a_purchase_past_max_top3__reverts_and_one_under_it_passes(
    project, deployer, keeper, alice, usdt, adapters, create_feed, unit
):
    venues = [Venue(tier=t) for t in (1, 1, 2, 2)]
    f = erc4626_fund(
        project, deployer, keeper, usdt, adapters["erc4626"], create_feed, venues, prefix="t",
        risk=RiskSpec(min_move_value=0, max_top3_bps=5000),
    )  # fmt: skip
    usdt.mint(alice, 1_000_000 * unit, sender=deployer)
    usdt.approve(f.vault, 2**256 - 1, sender=alice)
    f.vault.deposit(1_000_000 * unit, alice, sender=alice)
    # 350k in each L2 asset: the second purchase makes the top three 70% of the fund (an
    # explicit purchase is the keeper's own sized leg: the guard refuses it; a deploy's legs
    # are cut under the bound instead, SEC5-03, test_venue_cap.py)
    f.controller.purchaseAsset(f.assets["t0"], 350_000 * unit, 0, sender=keeper)
    with ape.reverts(f.controller.Top3ConcentrationExceeded, bps=7000, maxBps=5000):
        f.controller.purchaseAsset(f.assets["t1"], 350_000 * unit, 0, sender=keeper)
    f.controller.redeemAsset(
        f.assets["t0"], f.assets["t0"].balanceOf(f.controller), 0, sender=keeper
    )
    # 200k in each: the top three at 40%
    f.controller.allocateToLayer(1, 400_000 * unit, sender=keeper)
    assert f.assets["t0"].balanceOf(f.controller) > 0
    assert f.assets["t1"].balanceOf(f.controller) > 0


# --- issue 65: the keeper's mirror of the deploy legs' top-3 cut ---------------------------------


@pytest.mark.parametrize("seed", range(40))
def test_top3_room__keeper_mirror__same_room_as_the_contract_for_seeded_funds(
    lib, base_decimals, seed
):
    """The planner sizes its purchase legs with keepers/fund/planning/top3.py, a mirror of
    ValuationLib.top3Room and AssetController._top3Cut's limit: over seeded funds (2 to 16
    positions in base units of this decimals' token, ties, empty positions, a cash part, every
    bound from 30% to 100%) both give the same room for every position, to the wei, so a leg the
    keeper plans under it is one the controller neither cuts nor refuses."""
    import random

    from keepers.fund.planning.top3 import top3_cut, top3_limit, top3_room

    rng = random.Random(seed * 1_000 + base_decimals)
    unit = 10**base_decimals
    n = rng.randint(2, 16)
    values = [
        rng.choice((0, 1, rng.randint(1, 10**7) * unit // 7, 250_000 * unit)) for _ in range(n)
    ]
    cash = rng.randint(0, 2 * 10**6) * unit
    gross = cash + sum(values)
    bps = rng.choice((3_000, 6_000, 6_001, 9_000, 10_000, rng.randint(3_000, 10_000)))
    limit = top3_limit(gross, bps)
    assert limit == gross * (bps * 9_900) // (10_000 * 10_000)
    for i in range(n):
        room = lib.top3Room(values, i, limit)
        assert top3_room(values, i, limit) == room, (values, i, limit)
        x = rng.randint(0, 10**6) * unit
        cut = top3_cut(values, i, x, gross, cash, bps)
        assert cut == (x if gross - cash + x <= limit else min(x, room))
        # the cut leaves the three largest within the limit whenever the others already were
        grown = list(values)
        grown[i] += cut
        if sum(sorted(values[:i] + values[i + 1 :])[-3:]) <= limit:
            assert sum(sorted(grown)[-3:]) <= max(limit, sum(sorted(values)[-3:]))
