"""The scheduled run's equal-share pass only: since a scheduled run (a REBALANCER_ROLE caller's,
which anyone executes through the scheduler) fills no pool leg, a second deploy pass poured the
pool legs' share into the tier's ERC-4626 members up to each one's own limit, past the fund's
top-3 bound, which is checked once after the last buy: the whole run reverted
`Top3ConcentrationExceeded` (6,450 > 6,000 bps on the forked-chain rehearsal's fund). Now what
the pool legs could not take stays in L1 for the keeper, and the keeper's own run still trades
the pools."""

from __future__ import annotations

from typing import Any

from tests.support.fundbotlib import UNIT


def _tiers_in_band(lens: Any, c: Any) -> bool:
    st = lens.fundState(c)
    return all(st.tiers[t].minBps <= st.tierRatioBps[t] <= st.tiers[t].maxBps for t in range(3))


def test_scheduled_run__cash_pile_with_pool_and_erc4626_members__no_top3_revert_pools_left_to_keeper(
    fresh, accounts
):
    f = fresh
    c, admin, keeper = f.controller, accounts[1], accounts[2]
    f.vault.deposit(6_000_000 * UNIT, admin, sender=admin)  # the fund: 2M invested, 6M new cash
    rebalancer = accounts[f.automation["fund_rebalancer"].address]
    rebalancer.balance = 10**20
    l1_before = f.cash.balanceOf(f.vault)
    tx = c.rebalance(True, sender=rebalancer)  # reverted Top3ConcentrationExceeded before
    cuts = tx.decode_logs(c.MoveCut)
    assert cuts and all(cut.done == 0 for cut in cuts)  # the pool legs: filled nothing
    # (the controller checks top-3 and each tier's max after the last buy: the run standing
    # is the bound holding)
    assert f.cash.balanceOf(f.vault) < l1_before  # the ERC-4626 members were filled
    # the keeper's own run trades the pools and brings every tier into its band
    c.rebalance(True, sender=keeper)
    assert _tiers_in_band(f.lens, c)
