"""MoveCut events read into the carry (keepers.fund.planning.cuts), pure."""

from __future__ import annotations

from keepers.fund.planning.cuts import MoveCut, cut_carry
from tests.support.fundlib import make_asset, make_state

UNIT = 10**6


def test_cut_carry__purchase_cash_back_and_sale_tokens_kept__tier_gains_and_gives_the_rest():
    pool = make_asset("TBILL", 2, 600_000 * UNIT, price_num=3)  # 3 tokens per base unit
    mmf = make_asset("MMF", 1, 300_000 * UNIT)
    state = make_state(100_000 * UNIT, [mmf, pool])
    cuts = [
        MoveCut(pool.token, 50_000 * UNIT, 20_000 * UNIT, purchase=True),
        MoveCut(pool.token, 10_000 * UNIT, 10_000 * UNIT, purchase=True),  # filled: no rest
        MoveCut(mmf.token, 40_000 * UNIT, 10_000 * UNIT, purchase=False),
    ]
    carry = {c.tier: c for c in cut_carry(state, cuts)}
    assert carry[2].amount == 30_000 * UNIT and "TBILL purchase cut" in carry[2].reason
    # 30,000 unsold MMF tokens at the oracle (1 token per base unit): L2 still gives that
    assert carry[1].amount == -30_000 * UNIT and "give" in carry[1].reason


def test_cut_carry__sale_tokens_valued_at_the_oracle_and_unknown_asset_left_out():
    pool = make_asset("TBILL", 2, 600_000 * UNIT, price_num=3)
    state = make_state(100_000 * UNIT, [pool])
    cuts = [
        MoveCut(pool.token, 90_000 * UNIT, 0, purchase=False),
        MoveCut("0x" + "ab" * 20, 5 * UNIT, 0, purchase=True),
    ]
    (c,) = cut_carry(state, cuts)
    assert (c.tier, c.amount) == (2, -30_000 * UNIT)
