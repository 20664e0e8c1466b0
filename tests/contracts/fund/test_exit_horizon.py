"""Issue 67, the exit horizon (FundLens.exitHorizon): what the fund can pay in base coin within
0, 1, 7 and 30 days without the keeper breaking a budget. Checked by paying it: a bank run
against the fund (every share queued for redemption at once) with a keeper that acts once a day
inside the notional budget, time travelled on anvil through the async RWA's window and notice
period; at each horizon what the holders have been paid is at least what the horizon said, at 6
and 18 decimals, with the budget binding and not; and the same run with a pool-traded asset on a
real Uniswap V3 pool, the horizon being the keeper's (the lens's plus the pools' part at a
stated cost, keepers.fund.planning.horizon), the keeper selling into the pool by each day within
that cost. And the view's attacker: an outsider who moves what a venue pays or hands the fund
tokens right before a read cannot make it overstate (an outsider pushing a pool before the
read: tests/offchain/fund/test_fund_exit_horizon.py and the fund bot's test)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.raw_sends import send_each

# the session's attacker set up with the module's first test, not first by a later one: ape
# would warn InvalidIsolation and rebase the module (deploying its fund again)
pytestmark = pytest.mark.usefixtures("attacker")

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


def _day_end(fund: Any) -> tuple[tuple, bool]:
    """How a day of the run ends: (funded claims, L1 cash, the queue, each asset's value), and
    whether anything the fund holds waits on time (an async asset's value, its requests in
    flight included)."""
    st = fund.lens.fundState(fund.controller.address)
    vault = fund.vault
    values = tuple((x.token, int(x.value)) for x in st.assets)
    end = (vault.claimableRedemptions(), vault.freeCash(), int(st.pendingRedemptions), values)
    return end, any(x.value and not x.instant for x in st.assets)


def _run_days(
    fund: Any,
    chain: Any,
    refresh_feeds: Any,
    t0: int,
    keeper_day: Any,
    before_day: Any = None,
) -> dict[int, tuple[int, int]]:
    """The bank run's days 0..30 from t0, a keeper's tick each day (from day 1 after
    `before_day`, an outsider's move): (funded claims, L1 cash) at each horizon. Once a day ends
    as the day before it ended and nothing the fund holds waits on time (the queue paid, or
    what is left too small for the keeper to sell), each day left replays the same tick on the
    same state at the same prices, so they are not played one by one: the chain jumps to day
    30, the tick runs there, and the test asserts that the day still ends the same (each
    horizon still to come is paid what is paid now). The runs settle on days 6-9 of 30."""

    def play(day: int) -> tuple[tuple, bool]:
        if day:
            chain.pending_timestamp = t0 + day * DAY
            chain.mine()
            refresh_feeds()
            if before_day is not None:
                before_day()
        keeper_day()
        return _day_end(fund)

    paid: dict[int, tuple[int, int]] = {}
    last = None
    for day in range(31):
        end, timed = play(day)
        if day in HORIZONS:
            paid[day] = end[:2]
        if end == last and not timed and day < 30:
            assert play(30) == (end, False), (day, end)
            paid.update((h, end[:2]) for h in HORIZONS if h > day)
            break
        last = end
    assert sorted(paid) == list(HORIZONS)
    return paid


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

    # the run: every share queued at once, in equal requests (each its own transaction from
    # alice, sent raw: tests.support.raw_sends)
    shares = vault.balanceOf(alice)
    send_each(chain, alice, vault.requestRedeem, [(shares // CHUNKS, alice, alice)] * CHUNKS)
    chunk = vault.pendingRedemptions() // CHUNKS
    # funded claims, and L1 cash the next whole request is waiting for, by each horizon
    paid = _run_days(fund, chain, refresh_feeds, t0, lambda: _keeper_day(fund, keeper, unit))
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


# ------------------------------------------------------------ the bank run with a pool asset

COST = 50  # bps: KEEPER_HORIZON_POOL_COST_BPS, the stated cost of the pools' part
TBILL_PRICE = 100  # one TBILL = 100 base tokens, at the feed and in the pool
MIN_TICK = -887_272


@pytest.fixture
def pool_listed(project, fund, deployer, usdt, base_decimals):
    """TBILL on a real Uniswap V3 pool (20M a side, 0.3%, full range) listed in L3 for one
    test: the chain is reverted after it, so is the fund's Python-side record of it."""
    from ballast_dev.deployment.uniswap import deploy_uniswap
    from tests.support.pool_funds import list_pool_token

    uni = deploy_uniswap(deployer, with_quoter=False)
    usdt.mint(deployer, 10**8 * 10**base_decimals, sender=deployer)
    listed = list_pool_token(project, fund, deployer, usdt, uni, fee=3000, price=TBILL_PRICE,
                             pool_tokens=200_000, minted=10**8)  # fmt: skip
    pool = uni.pool_at(uni.factory.getPool(listed["rwa"], usdt, 3000))
    yield {**listed, "uni": uni, "pool": pool}
    fund.assets.pop("TBILL", None)
    fund.feeds.pop("TBILL", None)


def _pool_venue(fund, listed, unit):
    """The pool as the keeper reads it (slot0, in-range liquidity, the full-range position's
    two ticks) and the feed's price: keepers.fund.planning.depth.PoolVenue."""
    from keepers.core import univ3
    from keepers.fund.planning.depth import PoolVenue

    pool, token = listed["pool"], listed["rwa"]
    spacing = int(pool.tickSpacing())
    lo = -(-MIN_TICK // spacing) * spacing
    slot0 = pool.slot0()
    state = univ3.PoolState(
        sqrt_price_x96=int(slot0[0]),
        tick=int(slot0[1]),
        liquidity=int(pool.liquidity()),
        fee=int(pool.fee()),
        tick_spacing=spacing,
        ticks={lo: int(pool.ticks(lo)[1]), -lo: int(pool.ticks(-lo)[1])},
    )
    answer = int(listed["tfeed"].latestAnswer())
    return PoolVenue(state, pool.token0() == token.address, answer * unit, 10 ** (8 + 18))


def _keeper_horizon(fund, listed, unit):
    """The horizon as the keeper states it: the lens's plus the pools' part at COST
    (keepers.fund.planning.horizon.combine, pool_sale_value), and the pool sale counted."""
    from keepers.fund.planning.horizon import ChainHorizon, combine, pool_sale_value

    h = horizon(fund)
    chain_h = ChainHorizon(
        int(h.at), int(h.cash), int(h.venues), int(h.venuesOracle), int(h.poolValue),
        *(tuple(int(x) for x in seq)
          for seq in (h.venuesPaid, h.asyncPaid, h.total, h.notionalLeft, h.lossRoom)),
    )  # fmt: skip
    depth = pool_sale_value(_pool_venue(fund, listed, unit), chain_h.pool_value, COST)
    return combine(chain_h, depth, COST)


def _venues_left(fund):
    st = fund.lens.fundState(fund.controller.address)
    pools = {fund.assets["TBILL"].address.lower()}
    return sum(x.value for x in st.assets if x.instant and x.token.lower() not in pools)


def _keeper_day_with_pool(fund, keeper, unit, listed, usdt, sales):
    """A keeper's tick in the lens's order: the RWA's due requests claimed, venues sold inside
    the notional room, the RWA's tokens filed while its window is open, then the pool-traded
    asset sold inside the room left, at the size the keeper counts now (the fair pool, inside
    COST) with a minOut of that cost; the queue funded. Each pool sale's (oracle value, cash)."""
    from keepers.fund.planning.horizon import pool_sale_value

    c, rwa, vault, tbill = fund.controller, fund.assets["rwa"], fund.vault, listed["rwa"]
    c.settle(rwa, sender=keeper)
    budget = c.moveLimits().notionalBudget

    def room():
        return budget - c.budgetUsage()[1]

    sell = min(room(), _venues_left(fund))
    if sell:
        c.executeWaterfallLiquidation(sell, 2, sender=keeper)
    held = c.accountedUnits(rwa)
    if held and rwa.redemptionWindowOpen() and room():
        tokens = min(held, room() * 10**18 // unit)
        if tokens:
            c.redeemAsset(rwa, tokens, 0, sender=keeper)
    units = c.accountedUnits(tbill)
    if units and room():
        v = _pool_venue(fund, listed, unit)
        value = pool_sale_value(v, min(v.oracle_value(units), room()), COST)
        tokens = min(units, v.oracle_tokens(value))
        if value >= unit:  # no dust leg (the keeper's minimum trade)
            oracle = v.oracle_value(tokens)
            before = usdt.balanceOf(vault)
            c.redeemAsset(tbill, tokens, oracle * (10_000 - COST) // 10_000, sender=keeper)
            sales.append((oracle, usdt.balanceOf(vault) - before))
    vault.fulfilRedemptions(CHUNKS, sender=keeper)


@pytest.mark.parametrize("budget_k", [None, 150], ids=["budget_loose", "budget_150k_a_day"])
def test_exit_horizon__bank_run_with_a_pool__each_horizon_paid_pool_within_its_cost(
    fund, vault, keeper, deployer, alice, chain, refresh_feeds, deposited, unit, frozen_clock,
    pool_listed, usdt, budget_k,
):  # fmt: skip
    """The run above with a pool-traded asset: 100k of TBILL on a real Uniswap V3 pool whose
    depth at COST binds (only part of the position sells inside it). The horizon is the
    keeper's (the lens's plus the pools' part at COST); the keeper sells into the pool by each
    day after the venues and the RWA, as the lens orders the budget; an arbitrageur brings the
    pool back to the oracle between days. Each horizon is paid by its day, and no pool sale
    cost more than COST under the oracle. A searcher pushing the pool before the read does
    not raise the horizon."""
    from ballast_dev.deployment.uniswap import arbitrage_to_price, swap_exact_input

    c, tbill, uni = fund.controller, pool_listed["rwa"], pool_listed["uni"]
    vault.deposit(100_000 * unit, alice, sender=alice)  # what the pool asset is bought with
    c.purchaseAsset(tbill, 100_000 * unit, 0, sender=keeper)
    price = (TBILL_PRICE * unit, 10**18)

    def arbitrage():  # an outsider trades the pool back to the oracle
        arbitrage_to_price(uni, tbill, usdt, 3000, price, deployer)

    arbitrage()
    _invest(fund, keeper, chain, refresh_feeds, unit)
    arbitrage()
    if budget_k is not None:
        lim = c.moveLimits()
        c.setMoveLimits(
            (lim.lossBudget, budget_k * 1000 * unit, lim.window, lim.internalSlippageBps),
            sender=deployer,
        )
    h = _keeper_horizon(fund, pool_listed, unit)
    t0 = h.chain.at
    held_value = h.chain.pool_value
    assert 99_000 * unit < held_value <= 100_000 * unit  # the purchase's fill at the oracle
    # the depth at COST binds: part of the position counts
    assert 0 < h.pool_depth_value < held_value // 2
    if budget_k is None:
        assert h.pool_paid == (h.pool_depth_value * (10_000 - COST) // 10_000,) * 4
    else:  # the venues take the first days' room; the pool counts once they are sold
        assert h.pool_paid[:2] == (0, 0) and h.pool_paid[3] > 0
    assert list(h.total) == sorted(h.total)
    # a searcher buys TBILL in its pool right before the read (its price over the oracle):
    # the keeper's horizon does not rise; the searcher's sale back (the arbitrage) follows
    swap_exact_input(uni, usdt, tbill, 3000, 2_000_000 * unit, deployer)
    assert _pool_venue(fund, pool_listed, unit).mid_offset_bps() > COST
    pushed = _keeper_horizon(fund, pool_listed, unit)
    assert pushed.pool_depth_value <= h.pool_depth_value * 1001 // 1000
    assert all(p <= q * 1001 // 1000 for p, q in zip(pushed.total, h.total, strict=True))
    arbitrage()

    shares = vault.balanceOf(alice)
    send_each(chain, alice, vault.requestRedeem, [(shares // CHUNKS, alice, alice)] * CHUNKS)
    chunk = vault.pendingRedemptions() // CHUNKS
    sales: list[tuple[int, int]] = []

    def day_with_pool() -> None:
        _keeper_day_with_pool(fund, keeper, unit, pool_listed, usdt, sales)

    paid = _run_days(fund, chain, refresh_feeds, t0, day_with_pool, before_day=arbitrage)
    assert sales, "the pool asset was never sold"
    for oracle, got in sales:  # the pool's cost stayed within the stated limit
        assert got * 10_000 >= oracle * (10_000 - COST), (oracle, got)
    sold = sum(o for o, _ in sales)
    assert sold >= h.pool_depth_value * 999 // 1000  # at least what the horizon counted
    for k, day in enumerate(HORIZONS):
        funded, waiting = paid[day]
        assert funded + waiting >= h.total[k], (day, funded, waiting, h.total[k])
        assert funded + chunk >= h.total[k]
