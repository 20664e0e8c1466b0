"""Issue 67, the exit horizon (FundLens.exitHorizon): what the fund can pay in base coin within
0, 1, 7 and 30 days without the keeper breaking a budget. Checked by paying it: a bank run
against the fund (every share queued for redemption at once) with a keeper that acts once a day
inside the notional budget, time travelled on anvil through the async RWA's window and notice
period; at each horizon what the holders have been paid is at least what the horizon said, at 6
and 18 decimals, with the budget binding and not. And the view's attacker: an outsider who moves
what a venue pays or hands the fund tokens right before a read cannot make it overstate."""

from __future__ import annotations

from typing import Any

import pytest

DAY = 86_400
HORIZONS = (0, 1, 7, 30)
CHUNKS = 100  # the run is queued as this many equal requests (the queue funds whole ones)


def horizon(fund: Any) -> Any:
    return fund.lens.exitHorizon(fund.controller.address)


def _invest(fund: Any, keeper: Any, chain: Any, refresh_feeds: Any, unit: int) -> None:
    """1M deposited; 300k in the L2 money-market funds, 400k in the L3 credit funds, 150k in
    the async RWA (settled: held tokens), 150k left in L1. Three days on: the RWA's 2-day window
    (every 7 days from its deployment) is closed, the next opens in about 4 days."""
    c, a = fund.controller, fund.assets
    for sym, amount in (("mmfA", 150_000), ("mmfB", 150_000), ("crA", 150_000)):
        c.purchaseAsset(a[sym], amount * unit, 0, sender=keeper)
    for sym in ("crB", "crC"):
        c.purchaseAsset(a[sym], 125_000 * unit, 0, sender=keeper)
    c.purchaseAsset(a["rwa"], 150_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += 3 * DAY
    refresh_feeds()
    c.settle(a["rwa"], sender=keeper)
    assert a["rwa"].balanceOf(c) == 150_000 * 10**18
    assert not a["rwa"].redemptionWindowOpen()


def _instant_left(fund: Any) -> int:
    st = fund.lens.fundState(fund.controller.address)
    return sum(x.value for x in st.assets if x.instant)


def _keeper_day(fund: Any, keeper: Any, unit: int) -> None:
    """What a keeper does in one tick of the run: claims the RWA's due requests, sells venues
    for cash inside the notional budget's room now, files the RWA's tokens for redemption while
    its window is open with the room left, and funds the queue."""
    c, rwa, vault = fund.controller, fund.assets["rwa"], fund.vault
    c.settle(rwa, sender=keeper)
    budget = c.moveLimits().notionalBudget
    room = budget - c.budgetUsage()[1]
    left = _instant_left(fund)
    sell = min(room, left)
    if sell:
        c.executeWaterfallLiquidation(sell, 2, sender=keeper)
    room = budget - c.budgetUsage()[1]
    held = c.accountedUnits(rwa)
    if held and rwa.redemptionWindowOpen() and room:
        tokens = min(held, room * 10**18 // unit)
        if tokens:
            c.redeemAsset(rwa, tokens, 0, sender=keeper)
    vault.fulfilRedemptions(CHUNKS, sender=keeper)


@pytest.mark.parametrize("budget_k", [None, 150], ids=["budget_loose", "budget_150k_a_day"])
def test_exit_horizon__bank_run__each_horizon_paid_by_then(
    fund,
    vault,
    keeper,
    deployer,
    alice,
    chain,
    refresh_feeds,
    deposited,
    unit,
    frozen_clock,
    budget_k,
):
    c = fund.controller
    _invest(fund, keeper, chain, refresh_feeds, unit)
    if budget_k is not None:  # lowering a budget is immediate (the timelock may, too)
        lim = c.moveLimits()
        c.setMoveLimits(
            (lim.lossBudget, budget_k * 1000 * unit, lim.window, lim.internalSlippageBps),
            sender=deployer,
        )
    h = horizon(fund)
    t0 = h.at
    # what the view states, part by part
    assert h.cash == vault.freeCash() == 150_000 * unit
    assert h.venues == h.venuesOracle == 700_000 * unit
    assert h.poolValue == 0  # this fund has no pool-traded asset
    assert list(h.asyncPaid[:2]) == [0, 0]  # the window opens in ~4 days, then a day's notice
    if budget_k is None:
        assert list(h.total) == [850_000 * unit, 850_000 * unit, deposited, deposited]
    else:
        b = budget_k * 1000 * unit
        # a day's budget now and one more each day; the RWA files what day 4's room leaves
        assert list(h.venuesPaid[:2]) == [b, 2 * b]
        assert h.venuesPaid[2] == h.venuesPaid[3] == 700_000 * unit
        assert 0 < h.asyncPaid[2] == h.asyncPaid[3] < 150_000 * unit
        assert h.total[0] == 150_000 * unit + b
    assert list(h.total) == sorted(h.total)

    # the run: every share queued at once, in equal requests
    shares = vault.balanceOf(alice)
    for _ in range(CHUNKS):
        vault.requestRedeem(shares // CHUNKS, alice, alice, sender=alice)
    chunk = vault.pendingRedemptions() // CHUNKS
    paid = {}
    for day in range(31):
        if day:
            chain.pending_timestamp = t0 + day * DAY
            chain.mine()
            refresh_feeds()
        _keeper_day(fund, keeper, unit)
        if day in HORIZONS:
            # funded claims, and L1 cash the next whole request is waiting for
            paid[day] = (vault.claimableRedemptions(), vault.freeCash())
    for k, day in enumerate(HORIZONS):
        funded, waiting = paid[day]
        assert funded + waiting >= h.total[k], (day, funded, waiting, h.total[k])
        assert funded + chunk >= h.total[k]  # what waits is less than one request
        assert waiting < chunk + 2


def test_exit_horizon__rwa_request_in_flight__paid_after_one_notice(
    fund, keeper, chain, refresh_feeds, deposited, unit, frozen_clock
):
    """A redemption request already filed counts after one notice period (it was filed at the
    latest now), and the tokens still held wait for the next window."""
    c, rwa = fund.controller, fund.assets["rwa"]
    c.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += DAY + 60  # settled, and the first window is still open
    refresh_feeds()
    c.settle(rwa, sender=keeper)
    c.redeemAsset(rwa, 40_000 * 10**18, 0, sender=keeper)
    h = horizon(fund)
    assert h.asyncPaid[0] == 0
    # in flight: 40k after the day's notice; the 60k held: the window is open, filed at once
    assert h.asyncPaid[1] == 100_000 * unit
    assert rwa.noticePeriod() == DAY
    chain.pending_timestamp = h.at + DAY
    chain.mine()
    refresh_feeds()
    before = fund.vault.freeCash()
    c.settle(rwa, sender=keeper)
    assert fund.vault.freeCash() - before == 40_000 * unit  # the in-flight part, paid on time


def test_exit_horizon__attacker_before_the_read__cannot_raise_it(
    fund, project, deployer, attacker, keeper, chain, refresh_feeds, fund_usdt, deposited, unit
):
    """An outsider right before a read: donates cash to a venue (its share price rises above
    the oracle), hands the controller venue shares and RWA tokens, fills another venue. None of
    it is the fund's to sell, so none of it raises the horizon; without the lens's caps
    (accounted units, the oracle value) the venue's own maxWithdraw would have."""
    c, a, usdt = fund.controller, fund.assets, fund_usdt
    _invest(fund, keeper, chain, refresh_feeds, unit)
    before = horizon(fund)
    mmf, rwa = a["mmfA"], a["rwa"]
    withdrawable = mmf.maxWithdraw(c)
    usdt.mint(attacker, 1_000_000 * unit, sender=deployer)
    usdt.approve(mmf, 2**256 - 1, sender=attacker)
    usdt.approve(a["crA"], 2**256 - 1, sender=attacker)
    mmf.deposit(100_000 * unit, attacker, sender=attacker)
    mmf.transfer(c, mmf.balanceOf(attacker), sender=attacker)  # shares handed to the fund
    usdt.transfer(mmf, 200_000 * unit, sender=attacker)  # the share price up
    a["crA"].deposit(500_000 * unit, attacker, sender=attacker)  # a venue filled
    rwa.mint(attacker, 50_000 * 10**18, sender=deployer)
    rwa.transfer(c, 50_000 * 10**18, sender=attacker)
    assert mmf.maxWithdraw(c) > withdrawable + 100_000 * unit  # the naive reading rose
    after = horizon(fund)
    for k in range(4):
        assert after.total[k] <= before.total[k]
    assert after.venues <= before.venues
    assert list(after.asyncPaid) == list(before.asyncPaid)


def test_exit_horizon__paused_or_unpriced__counts_less(
    fund, vault, guardian, deployer, keeper, chain, refresh_feeds, deposited, unit
):
    c = fund.controller
    _invest(fund, keeper, chain, refresh_feeds, unit)
    full = horizon(fund)
    fund.feeds["crA"].updateAnswer(0, sender=deployer)  # a feed out of bounds: unpriced
    h = horizon(fund)
    assert h.venues == full.venues - 150_000 * unit
    refresh_feeds()
    fund.feeds["crA"].updateAnswer(10**8, sender=deployer)
    c.pause(sender=guardian)  # the keeper cannot move: L1 only
    h = horizon(fund)
    assert list(h.total) == [150_000 * unit] * 4
    assert list(h.notionalLeft) == [0] * 4
    c.unpause(sender=deployer)
    vault.setWithdrawalsPaused(True, sender=guardian)
    assert list(horizon(fund).total) == [0] * 4
