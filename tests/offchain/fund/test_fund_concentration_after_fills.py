"""A buy sized to an asset's concentration limit is judged where the next check judges it: over
the fund's total once the plan's own pool fills have lowered it (many_movers' outsider test:
the local fund deploying a 10M deposit bought CREDIT, which fills at the oracle, to 99% of its
25% limit over the total before the plan, its pool legs then cost 9,365, and every later
check read CREDIT 2,317 above its limit). Pure: the local profile's pools in exact V3 maths
(tests.support.fundlib.v3_venue), the plan filled at what they pay for its legs."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keepers.fund.planning.config import load_planning_config
from keepers.fund.planning.depth import PoolVenue
from keepers.fund.planning.plan import HEADROOM_BPS, ActionType, Plan, apply, plan
from keepers.fund.planning.state import BPS, FundState
from keepers.fund.planning.triggers import liquidity_triggers
from tests.support.fundlib import NOW, local_pool_fund, pool_depths

CFG = load_planning_config({})


def _filled(state: FundState, p: Plan, venues: dict[str, PoolVenue]) -> FundState:
    """The fund once ``p`` has landed, each pool's purchases filled at what it pays for them."""
    cash: dict[str, int] = {}
    for a in p.actions:
        assert a.type is ActionType.PURCHASE, a  # a deployment: buys only
        if a.asset in venues:
            cash[a.asset] = cash.get(a.asset, 0) + a.amount
    fills = {
        t: Decimal(venues[t].oracle_value(venues[t].buy_out(c) or 0)) / Decimal(c)
        for t, c in cash.items()
    }
    assert fills and all(f < 1 for f in fills.values()), fills  # the pools cost something
    return apply(state, p, fills)


@pytest.mark.parametrize("decimals", [6, 18])
def test_plan__deposit_bought_to_a_limit_beside_pool_legs__inside_it_after_the_fills__next_check_quiet(
    decimals: int,
):
    state, venues = local_pool_fund(10_200_000, decimals)
    p = plan(state, CFG, liquidity_triggers(state, CFG), NOW, pool_depths(state, venues, CFG))
    after = _filled(state, p, venues)
    lost = state.total_assets - after.total_assets
    assert 0 < lost < 20_000 * 10**decimals, lost  # the pool legs' fee and impact
    credit = after.asset(next(a.token for a in state.assets if a.symbol == "CREDIT"))
    limit = 2_500 * after.total_assets * HEADROOM_BPS // (BPS * BPS)
    # bought up to its limit (within what the reserve for the fills holds back), not past it
    assert limit - lost <= credit.value <= limit, (credit.value, limit, lost)
    for a in after.assets:
        assert a.value <= a.max_concentration_bps * after.total_assets * HEADROOM_BPS // BPS**2
    # the next check (the daily: every tier in its zone) finds nothing to do or to note
    again = plan(
        after, CFG, liquidity_triggers(after, CFG), NOW + 86_400, pool_depths(after, venues, CFG)
    )
    assert again.actions == () and again.unresolved == (), (again.actions, again.unresolved)
