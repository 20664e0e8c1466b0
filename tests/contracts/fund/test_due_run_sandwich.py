"""The fund's due run is not an attacker's: it trades at no price its executor can set.

Anyone may execute a due run on the scheduler (it is how a permissionless scheduler works, and
the executor earns the run's fee), at a moment of their choosing and inside a transaction of
their own, so they choose the pool's price in that block: they can move it first and trade
back after (the plain sandwich), or be the liquidity the fund's leg fills against (a
just-in-time position minted at a price they pushed to, burnt after the run). Bounding the
leg's fill (the internal bound, then one fee tier) limited the plain sandwich but not the
price the leg starts from, and the fourth review's JIT sandwich won +7,585 USDT with cash only
and +13,348 with its own inventory on a 20M catch-up.

So the scheduled run (rebalance by a REBALANCER_ROLE holder, as the fund's Rebalancer is)
trades only at prices nobody sets in that block: ERC-4626 legs at the venue's share price,
the queue at the fund's mark, cash. A pool venue fills nothing (UniswapV3Adapter with
`scheduled`: the input comes straight back, MoveCut with done 0) and the pool legs are left to
the keeper's planned, simulated and approved moves (KEEPER_ROLE), which keep the internal
bound's price limit; the scheduled run is not retried for them (no retry can trade them).

Actors: `attacker` holds no role and executes the run itself; `keeper` and `rebalancer` are the
fund's.
"""

from __future__ import annotations

import ape
import pytest

from ballast_dev.deployment.automation import RecurringConfig
from ballast_dev.deployment.fund import RiskSpec
from ballast_dev.deployment.uniswap import MAX_DEADLINE, arbitrage_to_price, swap_exact_input
from tests.support.pool_funds import create_pool_fund, day_limits

PRICE = 100  # one TBILL = 100 USDT
FEE = 500
BOUND_BPS = 100  # internalSlippageBps
DAY = 86_400
POOL_USDT = 10_000_000


@pytest.fixture(scope="module")
def s(project, accounts, deployer, gov, keeper, guardian, base_decimals, attacker):
    unit = 10**base_decimals
    limits = day_limits(unit, 200_000, 50_000_000, BOUND_BPS)
    risk = RiskSpec(max_top3_bps=10_000, min_move_value=100 * unit)
    p = create_pool_fund(project, accounts, deployer, gov, keeper, guardian, base_decimals,
                         limits=limits, risk=risk, fee=FEE, price=PRICE, pool_usdt=POOL_USDT)  # fmt: skip
    p["usdt"].mint(attacker, 10**9 * unit, sender=deployer)
    return p


def _leg_loss(receipt, s) -> tuple[int, int]:
    """(cash spent on TBILL, its loss against the oracle) from the run's Purchased events."""
    unit = s["unit"]
    spent = loss = 0
    for e in receipt.decode_logs(s["fund"].controller.Purchased):
        if e.token == s["rwa"].address:
            spent += e.cashIn
            loss += e.cashIn - e.tokensOut * PRICE * unit // 10**18
    return spent, loss


def _front_run(s, attacker, usdt_in):
    usdt, rwa, uni = s["usdt"], s["rwa"], s["uni"]
    before = usdt.balanceOf(attacker)
    if usdt_in:
        swap_exact_input(uni, usdt, rwa, FEE, usdt_in, attacker)

    def back_run() -> int:
        held = rwa.balanceOf(attacker)
        if held:
            swap_exact_input(uni, rwa, usdt, FEE, held, attacker)
        return usdt.balanceOf(attacker) - before

    return back_run


def test_adapter_within__pool_already_past_the_rate__fills_nothing_and_returns_the_input(
    s, attacker, deployer
):
    """The adapter's own contract, called directly (it holds nothing between calls): cash sent
    in with a rate the pool cannot give comes straight back."""
    usdt, rwa, adapter, unit = s["usdt"], s["rwa"], s["adapter"], s["unit"]
    _front_run(s, attacker, 300_000 * unit)  # the pool is now ~6% above the oracle
    usdt.mint(adapter, 10_000 * unit, sender=deployer)
    oracle_out = 10_000 * 10**18 // PRICE
    adapter.investWithin(rwa, 10_000 * unit, oracle_out * 99 // 100, False, sender=attacker)
    assert usdt.balanceOf(attacker) > 0 and rwa.balanceOf(adapter) == 0
    assert usdt.balanceOf(adapter) == 0  # nothing left behind


def _rwa_legs(receipt, s) -> list:
    """The run's trades of TBILL (purchases and sales), whatever their size."""
    c, rwa = s["fund"].controller, s["rwa"].address
    return [e for e in receipt.decode_logs(c.Purchased) if e.token == rwa] + [
        e for e in receipt.decode_logs(c.Redeemed) if e.token == rwa
    ]


def test_due_run__sandwich_sweep__pool_leg_fills_nothing_whatever_the_front_run(
    s, attacker, chain, deployer
):
    """A catch-up of 4M (L3 empty) executed right after front-runs of growing size: whatever
    the size, the scheduled run trades no TBILL on the pool (MoveCut, done 0), the MMF leg
    fills at its share price, and the attacker's round trip pays two pool fees for nothing."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(4_000_000 * unit, deployer, sender=deployer)
    for front in (0, 5_000, 80_000, 2_000_000):
        snap = chain.snapshot()
        back_run = _front_run(s, attacker, front * unit)
        tx = f.controller.rebalance(False, sender=s["rebalancer"])
        gain = back_run()
        assert _rwa_legs(tx, s) == []
        [cut] = [e for e in tx.decode_logs(f.controller.MoveCut) if e.token == s["rwa"].address]
        assert cut.done == 0 and cut.asked > 0
        assert s["mmf"].balanceOf(f.controller) > 0
        assert gain <= 0 and (front == 0 or gain < 0), (front, gain)
        chain.restore(snap)


def test_due_run__pool_leg_left_to_the_keeper__erc4626_leg_filled_and_no_hourly_retry(
    s, deployer, keeper
):
    """The review's 10M inflow: the scheduled run fills the MMF leg in full and leaves the
    TBILL leg (MoveCut, done 0); it says neither RebalanceHeld nor off target (a retry trades
    no pool either, and every retry is a fee the funder pays whoever executes it). The keeper's
    own run then fills the TBILL leg up to the internal bound."""
    f, unit = s["fund"], s["unit"]
    c = f.controller
    f.vault.deposit(10_000_000 * unit, deployer, sender=deployer)
    assert c.rebalance.call(False, sender=s["rebalancer"]) == (True, False)
    tx = c.rebalance(False, sender=s["rebalancer"])
    assert _rwa_legs(tx, s) == [] and s["rwa"].balanceOf(c) == 0
    [cut] = tx.decode_logs(c.MoveCut)
    assert cut.token == s["rwa"].address and cut.done == 0
    assert s["mmf"].balanceOf(c) > 0
    tx = c.rebalance(False, sender=keeper)
    spent, loss = _leg_loss(tx, s)
    assert spent > 0 and loss * 10_000 <= spent * BOUND_BPS


def _feeds_report(f, deployer) -> None:
    for feed in f.feeds.values():
        feed.updateAnswer(feed.latestRoundData().answer, sender=deployer)


def _rebalancer(s, project, deployer, gov, attacker):
    c = s["fund"].controller
    scheduler = deployer.deploy(project.RebalanceScheduler, gov, 60, 10**9, 1_000)
    funder = deployer.deploy(project.TxFunder, gov, 10**22)
    deployer.transfer(funder, 10**19)
    cfg = RecurringConfig(DAY, 1, 3_000_000, 12_000, False, funder.address)
    r = deployer.deploy(project.Rebalancer, deployer, scheduler, c, cfg.as_tuple())
    r.setTrustedTarget(True, sender=deployer)  # the fund's controller: its word is believed
    funder.approveSpender(r, 2**256 - 1, sender=gov)
    c.grantRole(c.REBALANCER_ROLE(), r, sender=deployer)
    r.fixReschedule(sender=attacker)
    return scheduler, r


def test_due_run__only_pool_legs_left__moves_nothing_and_books_the_next_run_at_its_interval(
    s, project, deployer, gov, keeper, attacker, chain
):
    """L2 already at target, L3 short, its only venue a pool: the scheduled run has nothing to
    trade at a price nobody sets, so it moves nothing, is not held and books the next run a
    whole interval later (before, it reverted RebalanceHeld and was retried every hour, each
    retry a fee for whoever executes it, while it could trade only at a price they set). The
    keeper's run fills the pool leg."""
    f, unit = s["fund"], s["unit"]
    c = f.controller
    f.vault.deposit(4_000_000 * unit, deployer, sender=deployer)
    c.allocateToLayer(1, 1_200_000 * unit, sender=keeper)
    scheduler, r = _rebalancer(s, project, deployer, gov, attacker)
    run_id, ts = r.bookedRun()
    chain.mine(1, timestamp=ts)
    _feeds_report(f, deployer)
    back_run = _front_run(s, attacker, 20_000 * unit)
    tx = scheduler.execute(run_id, sender=attacker)
    [done] = tx.decode_logs(r.Rebalanced)
    assert not done.moved and s["rwa"].balanceOf(c) == 0
    assert back_run() < 0
    assert r.bookedRun()[1] == ts + DAY  # its interval from the booked time, not an hour
    tx = c.rebalance(False, sender=keeper)
    assert _tbill_spent(tx, s) > 0


def test_keeper_sale_cut__oracle_far_above_the_pool__sells_nothing_and_the_run_is_held(
    s, deployer, keeper
):
    """The keeper's own run keeps the internal bound's cut: L3 is over its band because
    TBILL's oracle doubled while its pool still trades at 100. A sale there is half the
    oracle's value: nothing is sold, nothing else can move, so the run is held (RebalanceHeld);
    the scheduled run does not try the pool at all and is not held."""
    f, unit, c = s["fund"], s["unit"], s["fund"].controller
    f.vault.deposit(100_000 * unit, deployer, sender=deployer)
    c.allocateToLayer(1, 30_000 * unit, sender=keeper)
    c.purchaseAsset(s["rwa"], 60_000 * unit, 0, sender=keeper)
    held = s["rwa"].balanceOf(c)
    s["tfeed"].updateAnswer(2 * PRICE * 10**8, sender=deployer)  # L3 ~75%: above 70%
    c.mark(sender=keeper)  # (else rebalance(false) answers from the mark taken at 100)
    with ape.reverts(c.RebalanceHeld):
        c.rebalance(False, sender=keeper)
    assert c.rebalance.call(False, sender=s["rebalancer"]) == (False, False)
    assert s["rwa"].balanceOf(c) == held


def test_adapter_within__scheduled__fills_nothing_either_way_and_returns_the_input(
    s, project, attacker, deployer
):
    """investWithin/divestWithin with `scheduled` (what the controller asks on a
    REBALANCER_ROLE run), called directly by anyone with a rate that binds nothing (a minimum
    of 1): the pool does not move and the whole input comes back, buying or selling. Without
    the flag the same call fills (only the rate binds)."""
    usdt, rwa, adapter, unit = s["usdt"], s["rwa"], s["adapter"], s["unit"]
    factory = project.IUniswapV3Factory.at(adapter.factory())
    pool = project.IUniswapV3Pool.at(factory.getPool(rwa, usdt, FEE))
    for token, amount in ((usdt, 1_000_000 * unit), (rwa, 10_000 * 10**18)):
        before = pool.slot0()[0]
        token.mint(adapter, amount, sender=deployer)
        held = token.balanceOf(attacker)
        if token == usdt:
            adapter.investWithin(rwa, amount, 1, True, sender=attacker)
        else:
            adapter.divestWithin(rwa, amount, 1, True, sender=attacker)
        assert pool.slot0()[0] == before
        assert token.balanceOf(attacker) - held == amount
        assert token.balanceOf(adapter) == 0
    before = pool.slot0()[0] ** 2
    usdt.mint(adapter, 1_000_000 * unit, sender=deployer)
    adapter.investWithin(rwa, 1_000_000 * unit, 1, False, sender=attacker)
    moved = abs(pool.slot0()[0] ** 2 - before) * 1_000_000 // before
    assert moved > 10 * FEE, moved  # 1M into a 10M pool moves it ~20%


def test_adapter_divest_within__large_sale__partial_fill_unsold_tokens_returned(
    s, attacker, deployer
):
    """divestWithin on its own: 50,000 TBILL (5M at the oracle) into a 10M pool with a 1% rate
    floor sells only what keeps every token above the floor and returns the rest."""
    usdt, rwa, adapter, unit = s["usdt"], s["rwa"], s["adapter"], s["unit"]
    amount = 50_000 * 10**18
    rwa.mint(adapter, amount, sender=deployer)
    floor = amount * PRICE * unit // 10**18 * 99 // 100
    got = adapter.divestWithin(rwa, amount, floor, False, sender=attacker).return_value
    back = rwa.balanceOf(attacker)
    sold = amount - back
    assert 0 < sold < amount // 10  # the pool takes a small part inside 1%
    assert got == usdt.balanceOf(attacker) - 10**9 * unit
    assert got * 10**18 >= sold * PRICE * unit * 99 // 100  # every token at least the floor
    assert rwa.balanceOf(adapter) == 0 and usdt.balanceOf(adapter) == 0


def test_adapter_within__bad_input__named_errors_and_nothing_kept(s, project, deployer, attacker):
    """An asset without a fee tier is PoolNotConfigured; a fee tier with no pool behind it is
    PoolMissing (the factory has none at 3000 for TBILL); either way the call reverts whole, so
    the input is not kept."""
    usdt, rwa, adapter, unit = s["usdt"], s["rwa"], s["adapter"], s["unit"]
    other = deployer.deploy(project.TestStablecoin, "Other", "OTH", 18)
    with ape.reverts(adapter.PoolNotConfigured):
        adapter.investWithin(other, unit, 1, True, sender=attacker)
    adapter.setPoolFee(rwa, 3000, sender=deployer)
    usdt.mint(adapter, 10 * unit, sender=deployer)
    with ape.reverts(adapter.PoolMissing):
        adapter.investWithin(rwa, 10 * unit, 1, True, sender=attacker)
    with ape.reverts(adapter.PoolMissing):
        adapter.divestWithin(rwa, 10**18, 1, True, sender=attacker)


CAPITAL = (1_000, 5_000, 10_000, 20_000, 35_000, 50_000, 100_000, 250_000, 1_000_000, 2_000_000)


def test_due_run_sandwich__attacker_loses_at_every_capital_size(s, attacker, chain, deployer):
    """The second and third reviews' plain sandwich (1M of capital against a 24M fund won
    +213 USDT before the one-fee bound): at every capital size the scheduled run trades no
    TBILL, so the attacker's round trip only pays the pool's fee twice."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(24_000_000 * unit, deployer, sender=deployer)
    rows = []
    for capital in CAPITAL:
        snap = chain.snapshot()
        back_run = _front_run(s, attacker, capital * unit)
        tx = f.controller.rebalance(False, sender=s["rebalancer"])
        rows.append((capital, back_run(), len(_rwa_legs(tx, s))))
        chain.restore(snap)
    print("\ncapital, attacker P&L, TBILL legs the run traded")
    for capital, gain, legs in rows:
        print(f"{capital:>10,} {gain / unit:>12,.2f} {legs:>3}")
    assert all(gain < 0 and legs == 0 for _, gain, legs in rows), rows


def _tbill_spent(receipt, s) -> int:
    return sum(
        e.cashIn
        for e in receipt.decode_logs(s["fund"].controller.Purchased)
        if e.token == s["rwa"].address
    )


def test_due_run__pool_leg_cut_with_the_performance_fee_on__the_returned_cash_lifts_no_mark(
    s, deployer, accounts
):
    """The scheduled run's pool leg fills nothing: its cash comes straight back to the vault
    (MoveCut, done 0). That cash is the fund's own, handed to the vault with the run's mark
    (noteMark's `cashIn`), so the high-water mark does not rise by it as it would for a
    donation (which it must not charge). Shown failing with `s.toVault += back` removed from
    AssetController._investWithin (the mark rose by the returned cash's price)."""
    f, unit = s["fund"], s["unit"]
    f.vault.setFeeRecipient(accounts[9], sender=deployer)
    f.vault.setFees(0, 2_000, sender=deployer)
    f.vault.deposit(10_000_000 * unit, deployer, sender=deployer)
    hwm = f.vault.highWaterMark()
    tx = f.controller.rebalance(False, sender=s["rebalancer"])
    [cut] = tx.decode_logs(f.controller.MoveCut)
    assert cut.token == s["rwa"].address and cut.done == 0 and cut.asked > 0
    assert f.vault.highWaterMark() <= hwm + hwm // 10**9, (hwm, f.vault.highWaterMark())


def test_keeper_rebalance__keeps_the_pool_leg__the_scheduled_run_trades_none(
    s, keeper, chain, deployer
):
    """The keeper's own rebalance (KEEPER_ROLE: directly or through the PlanExecutor, simulated
    and sent by the keeper) keeps the pool legs inside the internal bound's rate limit: on a 24M
    catch-up its TBILL leg fills about 47,000 USDT, where the scheduled run (REBALANCER_ROLE)
    fills nothing. Sending `scheduled` for every caller fails this test."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(24_000_000 * unit, deployer, sender=deployer)
    snap = chain.snapshot()
    kept = _tbill_spent(f.controller.rebalance(False, sender=keeper), s)
    chain.restore(snap)
    bound = _tbill_spent(f.controller.rebalance(False, sender=s["rebalancer"]), s)
    print(f"\nTBILL leg: keeper {kept / unit:,.2f}, rebalancer {bound / unit:,.2f}")
    assert 40_000 * unit < kept < 60_000 * unit, kept
    assert bound == 0, bound


def test_rebalance_roles__scheduled_follows_rebalancer_role__both_roles_get_it(
    s, accounts, chain, deployer
):
    """Who gets which run, through grants and revokes (the tag `_rebalanceTag` is kept by
    `_grantRole`/`_revokeRole`): KEEPER_ROLE alone fills the pool leg; adding REBALANCER_ROLE
    makes the same address's run a scheduled one (an address holding both is treated as the
    outsider's: the safer side); revoking KEEPER_ROLE keeps it; revoking REBALANCER_ROLE again
    gives the keeper's run back; with neither role the call reverts NotRebalancer."""
    f, unit = s["fund"], s["unit"]
    c = f.controller
    who = accounts[8]
    keeper_role, rebalancer_role = c.KEEPER_ROLE(), c.REBALANCER_ROLE()
    f.vault.deposit(24_000_000 * unit, deployer, sender=deployer)

    def leg() -> int:
        snap = chain.snapshot()
        spent = _tbill_spent(c.rebalance(False, sender=who), s)
        chain.restore(snap)
        return spent

    with ape.reverts(c.NotRebalancer):
        c.rebalance(False, sender=who)
    c.grantRole(keeper_role, who, sender=deployer)
    assert leg() > 40_000 * unit  # the keeper's own run
    c.grantRole(rebalancer_role, who, sender=deployer)
    assert leg() == 0  # both roles: scheduled
    c.revokeRole(keeper_role, who, sender=deployer)
    assert leg() == 0  # the rebalancer alone
    c.grantRole(keeper_role, who, sender=deployer)
    c.revokeRole(rebalancer_role, who, sender=deployer)
    assert leg() > 40_000 * unit  # the keeper alone again
    c.revokeRole(keeper_role, who, sender=deployer)
    with ape.reverts(c.NotRebalancer):
        c.rebalance(False, sender=who)


# The fourth review's just-in-time sandwich, on fresh funds over a pool of each kind: the
# 0.05% and 0.3% tiers at 10M a side, and a thin 0.05% pool at 1M a side.
JIT_POOLS = [(500, 10_000_000), (3000, 10_000_000), (500, 1_000_000)]
JIT_TICKS = 92  # the review's push: 0.92% off the oracle, inside the 1% internal bound


def _pool_fund(project, deployer, gov, keeper, guardian, accounts, base_decimals, fee, pool_usdt):
    unit = 10**base_decimals
    limits = day_limits(unit, 2_000_000, 10**9, BOUND_BPS)
    # the keeper's explicit purchases (the sell side's setup) may pay up to 10% on the thin pool
    risk = RiskSpec(max_slippage_bps=1_000, max_value_loss_bps=1_000, max_top3_bps=10_000,
                    min_move_value=100 * unit)  # fmt: skip
    return create_pool_fund(project, accounts, deployer, gov, keeper, guardian, base_decimals,
                            limits=limits, risk=risk, fee=fee, price=PRICE, pool_usdt=pool_usdt)  # fmt: skip


@pytest.fixture(scope="module")
def jit_funds(project, deployer, gov, keeper, guardian, accounts, base_decimals):
    """The three pool funds of JIT_POOLS, deployed once for the module's buy-side and sell-side
    tests (ape reverts each test's changes), not once per test: (fee, pool_usdt) -> fund."""
    return {
        (fee, pool_usdt): _pool_fund(
            project, deployer, gov, keeper, guardian, accounts, base_decimals, fee, pool_usdt
        )
        for fee, pool_usdt in JIT_POOLS
    }


def _jit_sandwich(p, attacker, price, up, inventory):
    """The review's attack inside one run: push the pool JIT_TICKS off the oracle (`up`: the
    way the fund's purchase would move it), mint a one-tick-spacing position at that price,
    return the function that, after the run, burns and collects it, sells back what the push
    bought and answers the attacker's P&L at the oracle (USDT)."""
    usdt, rwa, uni, unit, fee = p["usdt"], p["rwa"], p["uni"], p["unit"], p["fee"]
    npm = uni.position_manager
    start_usdt, start_rwa = usdt.balanceOf(attacker), rwa.balanceOf(attacker)
    ratio = 1.0001**JIT_TICKS if up else 1.0001**-JIT_TICKS
    target = (int(price * unit * ratio), 10**18)
    arbitrage_to_price(uni, rwa, usdt, fee, target, attacker)  # down: sells its own TBILL
    pool = p["pool"]
    tick, spacing = int(pool.slot0()[1]), int(pool.tickSpacing())
    lower = tick // spacing * spacing
    rwa_is0 = int(str(rwa.address), 16) < int(str(usdt.address), 16)
    t0, t1 = (rwa, usdt) if rwa_is0 else (usdt, rwa)
    a_rwa = rwa.balanceOf(attacker) if inventory else abs(rwa.balanceOf(attacker) - start_rwa)
    a_usdt = min(usdt.balanceOf(attacker), 5_000_000 * unit)
    a0, a1 = (a_rwa, a_usdt) if rwa_is0 else (a_usdt, a_rwa)
    t0.approve(npm, 2**256 - 1, sender=attacker)
    t1.approve(npm, 2**256 - 1, sender=attacker)
    npm.mint((t0, t1, fee, lower, lower + spacing, a0, a1, 0, 0, attacker, MAX_DEADLINE),
             sender=attacker)  # fmt: skip
    token_id = npm.tokenOfOwnerByIndex(attacker, npm.balanceOf(attacker) - 1)

    def close() -> int:
        liquidity = npm.positions(token_id)[7]
        npm.decreaseLiquidity((token_id, liquidity, 0, 0, MAX_DEADLINE), sender=attacker)
        npm.collect((token_id, attacker, 2**128 - 1, 2**128 - 1), sender=attacker)
        arbitrage_to_price(uni, rwa, usdt, fee, (price * unit, 10**18), attacker)
        d_usdt = usdt.balanceOf(attacker) - start_usdt
        d_rwa = rwa.balanceOf(attacker) - start_rwa
        return d_usdt + d_rwa * price * unit // 10**18

    return close


@pytest.mark.parametrize("fee,pool_usdt", JIT_POOLS)
def test_due_run_jit_sandwich__buy_side__cash_only_and_inventory__run_trades_no_pool_and_attacker_loses(
    jit_funds, deployer, keeper, attacker, chain, fee, pool_usdt
):
    """The fourth review's JIT sandwich of a catch-up (it won +7,585 USDT with cash only and
    +13,348 with its own inventory on 20M, +959 on the team's 4M): at both sizes, on each
    pool, cash only or with 20,000 TBILL of its own, the scheduled run trades no TBILL (the
    position earns nothing from the fund) and the attacker loses its push's fees."""
    p = jit_funds[(fee, pool_usdt)]
    f, unit, usdt, rwa = p["fund"], p["unit"], p["usdt"], p["rwa"]
    usdt.mint(attacker, 10**9 * unit, sender=deployer)
    rwa.mint(attacker, 20_000 * 10**18, sender=deployer)
    rows = []
    for catch_up in (4_000_000, 20_000_000):
        for inventory in (False, True):
            snap = chain.snapshot()
            f.vault.deposit(catch_up * unit, deployer, sender=deployer)
            close = _jit_sandwich(p, attacker, PRICE, True, inventory)
            tx = f.controller.rebalance(False, sender=p["rebalancer"])
            pnl = close()
            rows.append(
                (catch_up, inventory, pnl, len(_rwa_legs(tx, p)), p["mmf"].balanceOf(f.controller))
            )
            chain.restore(snap)
    print(f"\nfee {fee}, pool {pool_usdt:,}: catch-up, inventory, attacker P&L, TBILL legs")
    for catch_up, inventory, pnl, legs, _ in rows:
        print(f"{catch_up:>12,} {inventory!s:>6} {pnl / unit:>12,.2f} {legs:>3}")
    assert all(legs == 0 and pnl < 0 and mmf > 0 for _, _, pnl, legs, mmf in rows), rows


@pytest.mark.parametrize("fee,pool_usdt", JIT_POOLS)
def test_due_run_jit_sandwich__sell_side__run_sells_nothing_on_the_pool_and_attacker_loses(
    jit_funds, deployer, keeper, attacker, chain, fee, pool_usdt
):
    """The other direction: L3 over its band after TBILL's oracle rose 50% (the pool arbitraged
    to it), so the run would sell. The attacker pushes the pool 92 ticks down and mints at
    that price; the scheduled run sells no TBILL, and the attacker loses its push's fees. The
    keeper's run then sells inside the internal bound."""
    p = jit_funds[(fee, pool_usdt)]
    f, unit, usdt, rwa, c = p["fund"], p["unit"], p["usdt"], p["rwa"], p["fund"].controller
    usdt.mint(attacker, 10**9 * unit, sender=deployer)
    rwa.mint(attacker, 50_000 * 10**18, sender=deployer)
    scale = pool_usdt // 1_000  # 10,000 for a 10M pool: the fund 1,000 x scale
    f.vault.deposit(1_000 * scale * unit, deployer, sender=deployer)
    c.allocateToLayer(1, 300 * scale * unit, sender=keeper)
    # 650 x scale in 13 legs the pool takes inside the keeper's slippage (5% of the pool's
    # cash side each, ~5% from the oracle: 26 legs of 25 set up the same L3 at twice the calls)
    for _ in range(13):
        c.purchaseAsset(rwa, 50 * scale * unit, 0, sender=keeper)
        arbitrage_to_price(p["uni"], rwa, usdt, fee, (PRICE * unit, 10**18), deployer)
    price = PRICE * 3 // 2
    p["tfeed"].updateAnswer(price * 10**8, sender=deployer)
    arbitrage_to_price(p["uni"], rwa, usdt, fee, (price * unit, 10**18), deployer)
    c.mark(sender=keeper)
    held = rwa.balanceOf(c)
    rows = []
    for inventory in (False, True):
        snap = chain.snapshot()
        close = _jit_sandwich(p, attacker, price, False, inventory)
        tx = c.rebalance(False, sender=p["rebalancer"])
        assert rwa.balanceOf(c) == held
        rows.append((inventory, close(), len(_rwa_legs(tx, p))))
        chain.restore(snap)
    print(f"\nfee {fee}, pool {pool_usdt:,}, sell side: inventory, attacker P&L, TBILL legs")
    for inventory, pnl, legs in rows:
        print(f"{inventory!s:>6} {pnl / unit:>12,.2f} {legs:>3}")
    assert all(legs == 0 and pnl < 0 for _, pnl, legs in rows), rows
    tx = c.rebalance(False, sender=keeper)
    assert rwa.balanceOf(c) < held
