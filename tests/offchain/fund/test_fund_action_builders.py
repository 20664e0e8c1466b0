"""The planner's and the rollback's purchase and redeem actions, built by one pair of helpers
(keepers.fund.planning.simulate): the AssetController call, its tiers and its expected deltas."""

from __future__ import annotations

from keepers.fund.planning.actions import Action, ActionType
from keepers.fund.planning.simulate import purchase, redeem
from keepers.fund.planning.state import Tier

TOKEN = "0x" + "ab" * 20


def test_purchase_spends_the_buffer_into_the_tier():
    assert purchase(Tier.L3, TOKEN, 7_000_000, 2, "L3 under band") == Action(
        ActionType.PURCHASE,
        7_000_000,
        2,
        "L3 under band",
        from_tier=Tier.L1,
        to_tier=Tier.L3,
        asset=TOKEN,
        token_amount=None,
        expected_deltas=(-7_000_000, 0, 7_000_000),
    )
    assert purchase(Tier.L2, TOKEN, 5, 0, "r").expected_deltas == (-5, 5, 0)


def test_redeem_sells_the_tokens_into_the_buffer():
    assert redeem(Tier.L2, TOKEN, 3 * 10**18, 29 * 10**17, 1, "L2 above band") == Action(
        ActionType.REDEEM,
        3 * 10**18,
        1,
        "L2 above band",
        from_tier=Tier.L2,
        to_tier=Tier.L1,
        asset=TOKEN,
        token_amount=29 * 10**17,
        expected_deltas=(3 * 10**18, -3 * 10**18, 0),
    )
    assert redeem(Tier.L3, TOKEN, 9, None, 0, "r").expected_deltas == (9, 0, -9)
