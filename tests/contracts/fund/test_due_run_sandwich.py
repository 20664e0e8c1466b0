"""Issue 25, item 3: the fund's due run is not an attacker's.

Anyone may execute a due run on the scheduler (it is how a permissionless scheduler works, and
the executor earns the run's fee), at a moment of their choosing, so they can move a pool first
and trade against the fund's swaps after. The controller's own rebalance therefore swaps with a
price limit (UniswapV3Adapter.investWithin/divestWithin): each leg fills only up to the rate
internalSlippageBps allows and carries the rest (MoveCut), so

- the fund's loss on a leg is at most the internal bound of what that leg filled, whatever the
  front-run (measured below over a sweep of front-run sizes on a real Uniswap V3 pool), and the
  attacker's gain is at most that loss;
- a leg that cannot fill at all does not fail the run; a run where every leg was cut reverts
  RebalanceHeld and the Rebalancer books its retry after interval / 24, not a day later;
- an inflow larger than the pools take at the bound (the review's 10M) is absorbed up to the
  bound instead of failing with SlippageExceeded.

Actors: `attacker` holds no role and executes the run itself; `keeper` and `rebalancer` are the
fund's.
"""

from __future__ import annotations

import ape
import pytest
from eth_utils import keccak

from ballast_dev.deployment.automation import RecurringConfig
from ballast_dev.deployment.fund import (
    MoveLimitsSpec,
    RiskSpec,
    add_asset,
    deploy_core,
    grant_roles,
)
from ballast_dev.deployment.uniswap import create_pool, deploy_uniswap, swap_exact_input

PRICE = 100  # one TBILL = 100 USDT
FEE = 500
BOUND_BPS = 100  # internalSlippageBps
DAY = 86_400
POOL_USDT = 10_000_000


@pytest.fixture(scope="module")
def s(project, deployer, gov, keeper, guardian, base_decimals, attacker, accounts):
    unit = 10**base_decimals
    usdt = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", base_decimals)
    uni = deploy_uniswap(deployer, with_quoter=False)
    limits = MoveLimitsSpec(
        loss_budget=200_000 * unit,
        notional_budget=50_000_000 * unit,
        window=DAY,
        internal_slippage_bps=BOUND_BPS,
    )
    f = deploy_core(
        project,
        deployer,
        usdt,
        risk=RiskSpec(max_top3_bps=10_000, min_move_value=100 * unit),
        limits=limits,
    )
    grant_roles(f, gov, keepers=[keeper], guardians=[guardian], sender=deployer)
    rebalancer = accounts[7]
    f.controller.grantRole(f.controller.REBALANCER_ROLE(), rebalancer, sender=deployer)
    adapter = deployer.deploy(project.UniswapV3Adapter, uni.router, usdt, deployer)
    erc4626 = deployer.deploy(project.ERC4626Adapter)
    rwa = deployer.deploy(project.TestStablecoin, "Tokenized T-Bill (test)", "TBILL", 18)
    usdt.mint(deployer, 10**11 * unit, sender=deployer)
    rwa.mint(deployer, 10**10 * 10**18, sender=deployer)
    create_pool(
        uni,
        rwa,
        usdt,
        FEE,
        (PRICE * unit, 10**18),
        (POOL_USDT // PRICE * 10**18, POOL_USDT * unit),
        deployer,
    )
    adapter.setPoolFee(rwa, FEE, sender=deployer)
    tfeed = deployer.deploy(project.TestPriceFeed, 8, PRICE * 10**8)
    mmf = deployer.deploy(project.TestMoneyMarketFund, usdt, "MMF", "MMF")
    add_asset(f, deployer, symbol="TBILL", token=rwa, tier=2, adapter=adapter, feed=tfeed,
              max_concentration_bps=10_000)  # fmt: skip
    add_asset(f, deployer, symbol="MMF", token=mmf, tier=1, adapter=erc4626,
              feed=deployer.deploy(project.TestPriceFeed, 8, 10**8), max_concentration_bps=10_000)  # fmt: skip
    usdt.mint(attacker, 10**9 * unit, sender=deployer)
    usdt.approve(f.vault, 2**256 - 1, sender=deployer)
    return dict(fund=f, usdt=usdt, rwa=rwa, uni=uni, unit=unit, mmf=mmf, tfeed=tfeed,
                rebalancer=rebalancer, adapter=adapter)  # fmt: skip


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


def test_due_run__sandwich_sweep__fund_loses_at_most_the_bound_and_attacker_less(
    s, attacker, chain, deployer
):
    """A catch-up of 4M (L3 empty) executed right after front-runs of growing size. Whatever
    the size, the TBILL leg fills at most to the bound's price: its loss is at most 1% of what
    it filled, and the attacker's gain is at most that loss. A front-run that moves the pool
    past the bound leaves the leg unfilled (the L2 leg still moves)."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(4_000_000 * unit, deployer, sender=deployer)
    rows = []
    for front in (0, 5_000, 10_000, 20_000, 40_000, 80_000, 2_000_000):
        snap = chain.snapshot()
        back_run = _front_run(s, attacker, front * unit)
        tx = f.controller.rebalance(False, sender=s["rebalancer"])
        gain = back_run()
        spent, loss = _leg_loss(tx, s)
        cut = list(tx.decode_logs(f.controller.MoveCut))
        rows.append((front, spent // unit, loss / unit, gain / unit, len(cut)))
        assert loss * 10_000 <= spent * BOUND_BPS  # at most the bound of what filled
        assert gain <= max(loss, 0)  # the attacker takes part of the fund's loss, never more
        assert cut  # the pool could not take the whole 2.4M at 1%: the rest is carried
        chain.restore(snap)
    print("\nfront-run, TBILL filled, fund loss, attacker gain, cuts")
    for r in rows:
        print(f"{r[0]:>9,} {r[1]:>12,} {r[2]:>12,.2f} {r[3]:>14,.2f} {r[4]:>4}")
    assert rows[-1][1] == 0  # pushed past the bound: the leg fills nothing


def test_inflow_bigger_than_the_pool_takes_at_the_bound__absorbed_up_to_it_not_failed(s, deployer):
    """The review: a 10M inflow failed the scheduled rebalance with SlippageExceeded. Now the
    TBILL leg fills up to the bound's price, the L2 leg in full, and the run succeeds."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(10_000_000 * unit, deployer, sender=deployer)
    tx = f.controller.rebalance(False, sender=s["rebalancer"])
    spent, loss = _leg_loss(tx, s)
    assert 0 < spent < 6_000_000 * unit
    assert loss * 10_000 <= spent * BOUND_BPS
    [cut] = tx.decode_logs(f.controller.MoveCut)
    assert cut.token == s["rwa"].address and cut.done == spent
    assert s["mmf"].balanceOf(f.controller) > 0  # L2 filled at the fund's price


def _feeds_report(f, deployer) -> None:
    for feed in f.feeds.values():
        feed.updateAnswer(feed.latestRoundData().answer, sender=deployer)


def test_every_leg_cut__RebalanceHeld__and_the_due_run_is_retried_within_the_hour(
    s, project, deployer, gov, keeper, attacker, chain
):
    """L2 already at target, L3 short, its only venue pushed past the bound: nothing can move,
    so rebalance reverts RebalanceHeld; the attacker executes the due run anyway: it is not
    lost, the Rebalancer books its retry an hour later (daily interval / 24)."""
    f, unit = s["fund"], s["unit"]
    c = f.controller
    f.vault.deposit(4_000_000 * unit, deployer, sender=deployer)
    c.allocateToLayer(1, 1_200_000 * unit, sender=keeper)
    scheduler = deployer.deploy(project.RebalanceScheduler, gov, 60, 10**9, 1_000)
    funder = deployer.deploy(project.TxFunder, gov, 10**22)
    deployer.transfer(funder, 10**19)
    cfg = RecurringConfig(DAY, 1, 3_000_000, 12_000, False, funder.address)
    r = deployer.deploy(project.Rebalancer, deployer, scheduler, c, cfg.as_tuple())
    r.setTrustedTarget(True, sender=deployer)  # the fund's controller: its word is believed
    funder.approveSpender(r, 2**256 - 1, sender=gov)
    c.grantRole(c.REBALANCER_ROLE(), r, sender=deployer)
    r.fixReschedule(sender=attacker)
    run_id, ts = r.bookedRun()
    chain.mine(1, timestamp=ts)
    _feeds_report(f, deployer)  # a day later: the feeds report (else nothing is priced)
    back_run = _front_run(s, attacker, 2_000_000 * unit)
    with ape.reverts(c.RebalanceHeld):
        c.rebalance(False, sender=s["rebalancer"])
    tx = scheduler.execute(run_id, sender=attacker)
    [failed] = tx.decode_logs(r.RebalanceFailed)
    assert bytes(failed.reason)[:4] == keccak(text="RebalanceHeld()")[:4]
    assert s["rwa"].balanceOf(c) == 0
    gain = back_run()
    assert gain < 0  # two pool fees for nothing
    _, retry_ts = r.bookedRun()
    assert retry_ts == tx.timestamp + DAY // 24
    # the pool is back near the oracle (and the feeds report again): the retry moves
    chain.mine(1, timestamp=retry_ts)
    _feeds_report(f, deployer)
    tx = scheduler.execute(r.bookedRun()[0], sender=attacker)
    [done] = tx.decode_logs(r.Rebalanced)
    assert done.moved and s["rwa"].balanceOf(c) > 0


def test_pool_leg_cut_erc4626_leg_filled__still_off_target__due_run_retried_within_the_hour(
    s, project, deployer, gov, attacker, chain
):
    """Third review (info): RebalanceHeld needs every move cut, so when the attacker pushed the
    TBILL pool past the bound and executed the due run, the MMF leg filled, the run counted as
    done and the next one was a whole day away (a 2% push and round trip bought a day). Now the
    controller says "cut and still out of band" and the fund's Rebalancer, which trusts it,
    books the retry an hour later (daily interval / 24); the retry, with the pool back, moves
    the carried TBILL up to the bound, and while the pool still cannot take the rest inside it
    the next retry is again an hour away."""
    f, unit = s["fund"], s["unit"]
    c = f.controller
    f.vault.deposit(4_000_000 * unit, deployer, sender=deployer)
    scheduler = deployer.deploy(project.RebalanceScheduler, gov, 60, 10**9, 1_000)
    funder = deployer.deploy(project.TxFunder, gov, 10**22)
    deployer.transfer(funder, 10**19)
    cfg = RecurringConfig(DAY, 1, 3_000_000, 12_000, False, funder.address)
    r = deployer.deploy(project.Rebalancer, deployer, scheduler, c, cfg.as_tuple())
    r.setTrustedTarget(True, sender=deployer)
    funder.approveSpender(r, 2**256 - 1, sender=gov)
    c.grantRole(c.REBALANCER_ROLE(), r, sender=deployer)
    r.fixReschedule(sender=attacker)
    run_id, ts = r.bookedRun()
    chain.mine(1, timestamp=ts)
    _feeds_report(f, deployer)
    back_run = _front_run(s, attacker, 2_000_000 * unit)
    assert c.rebalance.call(False, sender=s["rebalancer"]) == (True, True)
    tx = scheduler.execute(run_id, sender=attacker)
    [done] = tx.decode_logs(r.Rebalanced)
    assert done.moved and s["mmf"].balanceOf(c) > 0  # the ERC-4626 leg filled
    assert s["rwa"].balanceOf(c) == 0  # the pool leg was cut to nothing
    assert back_run() < 0
    _, retry_ts = r.bookedRun()
    assert retry_ts == tx.timestamp + DAY // 24
    chain.mine(1, timestamp=retry_ts)
    _feeds_report(f, deployer)
    tx = scheduler.execute(r.bookedRun()[0], sender=attacker)
    assert tx.decode_logs(r.Rebalanced)[0].moved and s["rwa"].balanceOf(c) > 0
    # the Rebalancer holds REBALANCER_ROLE: its pool leg stops one fee tier from the pool's
    # price (about 2,500 USDT on this pool), whoever executes it
    assert 0 < _tbill_spent(tx, s) < 5_000 * unit
    # the pool takes only part of the 2.4M per run: cut again, retried again in an hour
    assert tx.decode_logs(c.MoveCut)
    assert r.bookedRun()[1] == tx.timestamp + DAY // 24


def test_sale_cut__oracle_far_above_the_pool__sells_nothing_and_the_run_is_held(
    s, deployer, keeper
):
    """The other direction: L3 is over its band because TBILL's oracle doubled while its pool
    still trades at 100. A sale there is half the oracle's value: nothing is sold, nothing else
    can move (no cash above L1's target), so the run is held for a retry."""
    f, unit, c = s["fund"], s["unit"], s["fund"].controller
    f.vault.deposit(100_000 * unit, deployer, sender=deployer)
    c.allocateToLayer(1, 30_000 * unit, sender=keeper)
    c.purchaseAsset(s["rwa"], 60_000 * unit, 0, sender=keeper)
    held = s["rwa"].balanceOf(c)
    s["tfeed"].updateAnswer(2 * PRICE * 10**8, sender=deployer)  # L3 ~75%: above 70%
    c.mark(sender=keeper)  # (else rebalance(false) answers from the mark taken at 100)
    with ape.reverts(c.RebalanceHeld):
        c.rebalance(False, sender=s["rebalancer"])
    assert s["rwa"].balanceOf(c) == held


def test_adapter_within__one_fee__loose_rate__moves_the_pool_at_most_one_fee_either_way(
    s, project, attacker, deployer
):
    """investWithin/divestWithin with oneFee (what the controller asks on a REBALANCER_ROLE
    run), called directly by anyone with a rate that binds nothing (a minimum of 1): the leg
    still stops one fee tier (0.05%) from the price it found, buying or selling, and returns
    the rest: a due run's leg never hands a sandwich more than one fee of price move.
    Without oneFee the same call moves the pool further (only the rate binds)."""
    usdt, rwa, adapter, unit = s["usdt"], s["rwa"], s["adapter"], s["unit"]
    factory = project.IUniswapV3Factory.at(adapter.factory())
    pool = project.IUniswapV3Pool.at(factory.getPool(rwa, usdt, FEE))
    for token, amount in ((usdt, 1_000_000 * unit), (rwa, 10_000 * 10**18)):
        before = pool.slot0()[0] ** 2
        token.mint(adapter, amount, sender=deployer)
        held = token.balanceOf(attacker)
        if token == usdt:
            adapter.investWithin(rwa, amount, 1, True, sender=attacker)
        else:
            adapter.divestWithin(rwa, amount, 1, True, sender=attacker)
        after = pool.slot0()[0] ** 2
        moved = abs(after - before) * 1_000_000 // before  # in millionths, like the fee tier
        assert 498 <= moved < FEE, moved  # one fee tier (rounded towards the start), not more
        assert 0 < token.balanceOf(attacker) - held < amount  # the rest came back
        assert token.balanceOf(adapter) == 0
    before = pool.slot0()[0] ** 2
    usdt.mint(adapter, 1_000_000 * unit, sender=deployer)
    adapter.investWithin(rwa, 1_000_000 * unit, 1, False, sender=attacker)
    moved = abs(pool.slot0()[0] ** 2 - before) * 1_000_000 // before
    assert moved > 10 * FEE, moved  # no one-fee stop: 1M into a 10M pool moves it ~20%


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


def _run_pnl(receipt, s) -> int:
    """The due run's TBILL legs at the oracle: what the tokens bought are worth less the cash
    spent on them (negative: the fund paid above the oracle)."""
    unit = s["unit"]
    return sum(
        e.tokensOut * PRICE * unit // 10**18 - e.cashIn
        for e in receipt.decode_logs(s["fund"].controller.Purchased)
        if e.token == s["rwa"].address
    )


CAPITAL = (1_000, 5_000, 10_000, 20_000, 35_000, 50_000, 100_000, 250_000, 1_000_000, 2_000_000)


def test_due_run_sandwich__attacker_loses_at_every_capital_size(s, attacker, chain, deployer):
    """Third review (still open from the second): an outsider who executes the fund's due run
    inside a sandwich gained (1M of capital against a 24M fund: +213 USDT, the fund -1,204
    against the plain run), because the run's pool legs could move the pool up to the internal
    bound (1%) from the oracle, and the round trip costs the attacker only two pool fees
    (0.1%). Now each pool leg of a REBALANCER_ROLE caller's run (the fund's Rebalancer, which
    any executor triggers on the scheduler; here the role's holder calls it, as the Rebalancer
    does) moves its pool at most one fee tier from the price it finds: what the attacker can win on the fund's leg is at most one fee on its capital, what
    the round trip costs is two, so the sandwich loses at every size. Measured on the real
    Uniswap V3 pool (10M a side, 0.05%) with a 24M fund's catch-up: capital, attacker P&L, the
    fund's leg against the oracle in the plain run and in the sandwich."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(24_000_000 * unit, deployer, sender=deployer)
    snap = chain.snapshot()
    plain = _run_pnl(f.controller.rebalance(False, sender=s["rebalancer"]), s)
    chain.restore(snap)
    rows = []
    for capital in CAPITAL:
        snap = chain.snapshot()
        back_run = _front_run(s, attacker, capital * unit)
        fund = _run_pnl(f.controller.rebalance(False, sender=s["rebalancer"]), s)
        rows.append((capital, back_run(), fund))
        chain.restore(snap)
    print(f"\nplain run: the fund's TBILL leg {plain / unit:,.2f} against the oracle")
    print("capital, attacker P&L, fund's leg in the sandwich, against the plain run")
    for capital, gain, fund in rows:
        print(
            f"{capital:>10,} {gain / unit:>12,.2f} {fund / unit:>12,.2f} {(fund - plain) / unit:>12,.2f}"
        )
    assert all(gain < 0 for _, gain, _ in rows), rows


def _tbill_spent(receipt, s) -> int:
    return sum(
        e.cashIn
        for e in receipt.decode_logs(s["fund"].controller.Purchased)
        if e.token == s["rwa"].address
    )


def test_keeper_rebalance__not_bound_by_one_fee__fills_the_larger_pool_leg(
    s, keeper, chain, deployer
):
    """The one-fee bound is for the runs an outsider can time. The keeper's own rebalance
    (KEEPER_ROLE: directly or through the PlanExecutor, simulated and sent by the keeper) keeps
    only the internal bound's rate limit: on the same 24M catch-up its TBILL leg fills about
    47,000 USDT, where the scheduled run (REBALANCER_ROLE) fills about 2,500. Reverting the
    role split (every run one-fee bound) fails this test, and so did the short hostile month."""
    f, unit = s["fund"], s["unit"]
    f.vault.deposit(24_000_000 * unit, deployer, sender=deployer)
    snap = chain.snapshot()
    kept = _tbill_spent(f.controller.rebalance(False, sender=keeper), s)
    chain.restore(snap)
    bound = _tbill_spent(f.controller.rebalance(False, sender=s["rebalancer"]), s)
    print(f"\nTBILL leg: keeper {kept / unit:,.2f}, rebalancer {bound / unit:,.2f}")
    assert 40_000 * unit < kept < 60_000 * unit, kept
    assert 0 < bound < 5_000 * unit, bound


def test_rebalance_roles__one_fee_follows_rebalancer_role__both_roles_get_the_bound(
    s, accounts, chain, deployer
):
    """Who gets which run, through grants and revokes (the tag `_rebalanceTag` is kept by
    `_grantRole`/`_revokeRole`): KEEPER_ROLE alone fills the larger leg; adding REBALANCER_ROLE
    makes the same address's run one-fee bound (an address holding both is treated as the
    outsider's: the safer side); revoking KEEPER_ROLE keeps the bound, so a rebalancer never
    gets the keeper's run; revoking REBALANCER_ROLE again gives the keeper's run back; with
    neither role the call reverts NotRebalancer."""
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
    assert 0 < leg() < 5_000 * unit  # both roles: bound
    c.revokeRole(keeper_role, who, sender=deployer)
    assert 0 < leg() < 5_000 * unit  # the rebalancer alone: bound
    c.grantRole(keeper_role, who, sender=deployer)
    c.revokeRole(rebalancer_role, who, sender=deployer)
    assert leg() > 40_000 * unit  # the keeper alone again: not bound
    c.revokeRole(keeper_role, who, sender=deployer)
    with ape.reverts(c.NotRebalancer):
        c.rebalance(False, sender=who)
