"""Issue 54: the exit that needs nobody. TieredVault.redeemInKind pays a holder, with no price
read and nobody else acting, their pro-rata part (less IN_KIND_PENALTY_BPS, kept by the fund) of
the free cash and of every position's accounted units, as the tokens themselves: ERC-4626 venue
shares, a Uniswap V3-traded token and an asynchronous RWA's settled tokens as they are (its
pending subscription stays for the holders left). Every amount rounds towards the fund."""

import ape
import pytest
from eth_utils import keccak

from ballast_dev.deployment.fund import add_asset
from ballast_dev.deployment.uniswap import deploy_uniswap
from tests.support.fund_checks import revoke_every_key
from tests.support.pool_funds import list_pool_token

# with fees on, a call's fees follow the seconds since the last accrual: the node's clock
# must not decide them (conftest.frozen_clock)
pytestmark = pytest.mark.usefixtures("frozen_clock")

ONE_DAY = 86_400
BPS = 10_000
VIRTUAL = 10**6  # TieredVault.DECIMALS_OFFSET's virtual shares
TBILL_PRICE = 100  # one TBILL = 100 base tokens, at the feed and in the pool


@pytest.fixture(scope="module")
def tbill(project, fund, deployer, usdt, base_decimals):
    """A Uniswap V3-traded token listed in L3 (real pool bytecode, 2M / 20k full range)."""
    uni = deploy_uniswap(deployer, with_quoter=False)
    usdt.mint(deployer, 10**8 * 10**base_decimals, sender=deployer)
    listed = list_pool_token(project, fund, deployer, usdt, uni, fee=3000, price=TBILL_PRICE,
                             pool_tokens=20_000, minted=10**8)  # fmt: skip
    return listed["rwa"]


@pytest.fixture(scope="module")
def invested(fund, vault, controller, keeper, tbill, alice, bob, fund_usdt, chain, unit,
             deployer, feed_refresher, attacker, guardian, whale, project, usdt):  # fmt: skip
    """Alice 1M and bob 200k in; the fund holds an ERC-4626 venue in each invested tier, the
    DEX token, the RWA's settled tokens and a pending RWA subscription; freshly marked. Set up
    once per module (each decimals); ape's isolation reverts each test's changes, so every test
    that takes it starts from it as set up (the one test that does not deploys its own vault).
    (It takes the session's accounts the tests use, so that none is set up after it: ape would
    warn and rebase the module.)"""
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    vault.deposit(200_000 * unit, bob, sender=bob)
    rwa = fund.assets["rwa"]
    controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += ONE_DAY + 1
    feed_refresher.refresh(list(fund.feeds.values()), sender=deployer)  # refresh_feeds()
    controller.settle(rwa, sender=keeper)
    assert rwa.balanceOf(controller) > 0
    controller.purchaseAsset(fund.assets["mmfA"], 150_000 * unit, 0, sender=keeper)
    controller.purchaseAsset(fund.assets["crA"], 150_000 * unit, 0, sender=keeper)
    # small beside the pool (2M a side): where ape's per-test isolation did not hold in the whole
    # suite (an InvalidIsolationWarning, with the module's pool made after a test's snapshot),
    # 10,000 a test moved the pool 1% a test and the fourth test's buy lost 369 bps
    controller.purchaseAsset(tbill, 1_000 * unit, 0, sender=keeper)
    controller.purchaseAsset(rwa, 50_000 * unit, 0, sender=keeper)  # pending: stays behind
    return [fund.assets[s] for s in ("mmfA", "crA", "rwa")] + [tbill]


@pytest.fixture
def list_venue(fund, deployer, adapters, create_feed):
    """Lists `token` in L2 for one test (the chain is reverted after it: so is the fund's
    Python-side record of its assets and feeds)."""
    added = []

    def add(symbol, token):
        add_asset(fund, deployer, symbol=symbol, token=token, tier=1,
                  adapter=adapters["erc4626"], feed=create_feed())  # fmt: skip
        added.append(symbol)

    yield add
    for symbol in added:
        fund.assets.pop(symbol, None)
        fund.feeds.pop(symbol, None)


def _expected(vault, controller, shares, tokens):
    net = shares * (BPS - vault.IN_KIND_PENALTY_BPS()) // BPS
    supply = vault.totalSupply() + VIRTUAL
    cash = vault.freeCash() * net // supply
    return cash, {t.address: t.balanceOf(controller) * net // supply for t in tokens}


def _mark_price(vault, controller):
    """The fund's value at the mark per share, as a fraction (value, supply)."""
    l2, l3 = controller.markedValues()
    return vault.freeCash() + l2 + l3 + 1, vault.totalSupply() + VIRTUAL


def test_redeemInKind__all_three_tiers__exact_pro_rata_cash_and_tokens(
    vault, controller, invested, alice, fund, unit
):
    shares = vault.balanceOf(alice) // 3
    cash, want = _expected(vault, controller, shares, invested)
    before = {t.address: t.balanceOf(alice) for t in invested}
    held = vault.balanceOf(alice)
    preview = vault.previewRedeemInKind(shares)
    tx = vault.redeemInKind(shares, alice, alice, sender=alice)
    got_cash, tokens, amounts = tx.return_value
    assert got_cash == cash > 0
    assert (got_cash, list(tokens), list(amounts)) == (
        preview[0],
        list(preview[1]),
        list(preview[2]),
    )
    paid = dict(zip(tokens, amounts, strict=True))
    for t in invested:
        assert paid[t.address] == want[t.address] > 0, t.symbol()
        assert t.balanceOf(alice) - before[t.address] == want[t.address]
    # the pending RWA subscription paid nothing: its value stays with the holders left
    rwa = fund.assets["rwa"]
    assert fund.adapters["async"].pending(rwa, controller)[0] == 50_000 * unit
    assert vault.balanceOf(alice) == held - shares  # all of them burnt, the penalty's too
    ev = [e for e in tx.events if e.event_name == "RedeemedInKind"]
    assert len(ev) == 1 and ev[0].shares == shares and ev[0].cash == cash


def test_redeemInKind__feeds_down_every_pause_on_nobody_else__pays_and_priced_exits_stop(
    vault, controller, invested, alice, guardian, chain, usdt, keeper, gov, deployer
):
    """Two days on with no feed answering (every feed past its heartbeat), the controller's moves
    paused, deposits and withdrawals paused by the guardian, and no keeper, executor, funder or
    admin sending anything: the priced exits stop (redeem, withdraw, requestRedeem), the in-kind
    exit pays the same pro-rata part it would have paid before. No role is held by anyone."""
    shares = vault.balanceOf(alice) // 2
    cash, want = _expected(vault, controller, shares, invested)
    controller.pause(sender=guardian)
    vault.setWithdrawalsPaused(True, sender=guardian)
    vault.setDepositsPaused(True, sender=guardian)
    revoke_every_key(vault, controller, keeper, gov, guardian, deployer)
    for c in (vault, controller):
        for name in ("KEEPER_ROLE", "ADMIN_ROLE", "GUARDIAN_ROLE", "DEFAULT_ADMIN_ROLE"):
            assert not any(
                c.hasRole(getattr(c, name)(), w) for w in (keeper, gov, guardian, deployer)
            )
    chain.pending_timestamp += 2 * ONE_DAY
    chain.mine()
    assert controller.pricingValues()[2] is True  # every held feed is down
    with ape.reverts(vault.WithdrawalsPaused):
        vault.redeem(shares, alice, alice, sender=alice)
    with ape.reverts(vault.WithdrawalsPaused):
        vault.withdraw(1, alice, alice, sender=alice)
    with ape.reverts(vault.WithdrawalsPaused):
        vault.requestRedeem(shares, alice, alice, sender=alice)
    before = usdt.balanceOf(alice)
    got_cash, tokens, amounts = vault.redeemInKind(shares, alice, alice, sender=alice).return_value
    assert got_cash == cash and usdt.balanceOf(alice) - before == cash
    assert dict(zip(tokens, amounts, strict=True)) == {a: want.get(a, 0) for a in tokens}


def test_redeemInKind__outsider_donation__never_paid_out(
    vault, controller, invested, alice, attacker, fund, usdt, deployer, unit
):
    """Venue shares sent straight to the controller count nowhere (accounted units only): the
    exit pays the same as without the donation, which stays where it was."""
    mmf = fund.assets["mmfA"]
    shares = vault.balanceOf(alice) // 4
    _, want = _expected(vault, controller, shares, invested)
    usdt.mint(attacker, 500_000 * unit, sender=deployer)
    usdt.approve(mmf, 2**256 - 1, sender=attacker)
    mmf.deposit(500_000 * unit, controller, sender=attacker)  # donated to the controller
    _, tokens, amounts = vault.redeemInKind(shares, alice, alice, sender=alice).return_value
    assert dict(zip(tokens, amounts, strict=True))[mmf.address] == want[mmf.address]


def test_redeemInKind__queue__reserve_untouched_and_requests_paid_what_they_are_owed(
    vault, controller, invested, alice, bob, keeper, usdt, unit
):
    """Bob's first request is funded (cash reserved, unclaimed), his second still pending. Alice
    leaves in kind: the reserved cash is untouched (bob claims it all), and the pending request is
    later funded at its estimate (the shares' worth never fell)."""
    third = vault.balanceOf(bob) // 3
    r1 = vault.requestRedeem(third, bob, bob, sender=bob).return_value
    vault.fulfilRedemptions(10, sender=keeper)
    owed1 = vault.redeemRequest(r1).assets
    assert vault.redeemRequest(r1).status == 2  # Claimable
    r2 = vault.requestRedeem(third, bob, bob, sender=bob).return_value
    estimate2 = vault.redeemRequest(r2).assets
    claimable, pending = vault.claimableRedemptions(), vault.pendingRedemptions()
    bal_before = usdt.balanceOf(vault)
    cash, _ = _expected(vault, controller, vault.balanceOf(alice), invested)
    vault.redeemInKind(vault.balanceOf(alice), alice, alice, sender=alice)
    assert vault.claimableRedemptions() == claimable and vault.pendingRedemptions() == pending
    assert usdt.balanceOf(vault) == bal_before - cash >= claimable
    before = usdt.balanceOf(bob)
    vault.claimRedemption(r1, bob, sender=bob)
    assert usdt.balanceOf(bob) - before == owed1
    # the pending request: funded once cash is raised, at its full estimate
    controller.executeWaterfallLiquidation(estimate2, 2, sender=keeper)
    if vault.redeemRequest(r2).status != 2:
        vault.fulfilRedemptions(10, sender=keeper)
    assert vault.redeemRequest(r2).status == 2
    assert vault.redeemRequest(r2).assets == estimate2


def test_redeemInKind__price_per_share_at_the_mark_and_live__never_falls(
    vault, controller, invested, alice, bob
):
    """Exits of every size, down to a few shares (rounding): the value per share left at the
    mark never falls. The exit marks itself (SEC5-01), so the mark after it is a live valuation
    with the same floors as the live exit price (below); with pricing unavailable the mark
    loses the exit's part rounded down (strictly never falls). The live exit price floors
    each position to a base unit, so an exit that takes less than a base unit's worth of an
    18-decimal token can lower that floor by one unit while the tokens' exact worth per share
    does not fall: at most one base unit per listed position per exit, asserted as such."""
    n = len(controller.assetList())
    for who, part in ((alice, 7), (bob, 10**6 + 3), (alice, -7), (bob, 999_999_999), (alice, -1)):
        shares = part if part > 0 else vault.balanceOf(who) // -part  # -k: a k-th of the balance
        v0, s0 = _mark_price(vault, controller)
        t0 = vault.totalAssets() + 1
        cash, _, amounts = vault.previewRedeemInKind(shares)
        if cash == 0 and not any(amounts):  # too few to pay anything: refused, nothing moves
            with ape.reverts(vault.ZeroRedemption):
                vault.redeemInKind(shares, who, who, sender=who)
            continue
        vault.redeemInKind(shares, who, who, sender=who)
        v1, s1 = _mark_price(vault, controller)
        t1 = vault.totalAssets() + 1
        supply1 = vault.totalSupply() + VIRTUAL
        assert (v1 + n) * s0 >= v0 * s1, (who, shares)
        assert (t1 + n) * s0 >= t0 * supply1, (who, shares)


def test_redeemInKind__round_trip__never_profits(
    vault, controller, invested, whale, usdt, fund_usdt, unit
):
    """A deposit taken straight back out in kind (and nothing sold) is worth at most what was
    paid in: entry at the higher price, the exit's part rounded down, the penalty kept."""
    paid = 300_000 * unit
    shares = vault.deposit(paid, whale, sender=whale).return_value
    cash, tokens, amounts = vault.redeemInKind(shares, whale, whale, sender=whale).return_value
    worth = cash + sum(controller.valueOf(t, a) for t, a in zip(tokens, amounts, strict=True) if a)
    assert 0 < worth <= paid
    assert paid - worth >= paid * vault.IN_KIND_PENALTY_BPS() // BPS - len(tokens) - 1


def test_redeemInKind__rebalance_right_after__the_exit_marked_itself_the_run_is_the_no_op(
    vault, controller, invested, alice, keeper, guardian, chain, tbill
):
    """In band and marked, the next rebalance(false) is the no-op. The exit changes every paid
    position, so it takes its own mark (SEC5-01, TieredVault._markAfterInKind): the pricing's
    lines and the cash band are stored again at once (pro rata, the tiers are still in band),
    and the next run is the no-op still. (The DEX token's cap is lowered first so that getting
    into band buys none through the pool: not what this test is about.)"""
    controller.setAssetLimits(tbill, 1, 2500, sender=guardian)
    controller.rebalance(False, sender=keeper)
    chain.pending_timestamp += 1
    tx = controller.rebalance(False, sender=keeper)
    assert not [e for e in tx.events if e.event_name == "Marked"], "in band: the no-op"
    chain.pending_timestamp += 1
    tx = vault.redeemInKind(vault.balanceOf(alice) // 2, alice, alice, sender=alice)
    assert [e for e in tx.events if e.event_name == "Marked"], "the exit marked"
    assert controller.cashInBand() is True  # the band solved at the new mark
    lo, hi = vault.cashBand()
    assert lo <= hi
    l2, l3 = controller.markedValues()
    assert controller.pricingValues() == controller.livePricingValues()
    assert controller.livePricingValues()[0] == l2 + l3  # the new mark is the live value
    chain.pending_timestamp += 1
    tx = controller.rebalance(False, sender=keeper)
    assert not [e for e in tx.events if e.event_name == "Marked"], "band noted again: the no-op"


def test_redeemInKind__a_few_shares_every_block__nobody_else_pays_a_full_valuation(
    vault, controller, invested, alice, attacker, keeper, guardian, chain, tbill, unit
):
    """SEC5-01: the one-share refusal was bypassed with two shares (a few wei of each token):
    the exit dropped the pricing's stored lines and both cash-band flags, so until someone
    marked, every entry and exit was priced by a full live pass and the scheduled
    rebalance(false) valued and marked in full, for next to nothing. The exit now marks itself:
    the exiter pays the full valuation, and the next deposit and run cost what they cost before
    it. Measured here (printed with -s): the griefer's exit, and a 1,000 deposit and
    rebalance(false) before and after it."""
    controller.setAssetLimits(tbill, 1, 2500, sender=guardian)
    controller.rebalance(False, sender=keeper)
    chain.pending_timestamp += 1
    noop = controller.rebalance(False, sender=keeper).gas_used
    dep = vault.deposit(1_000 * unit, alice, sender=alice).gas_used
    # the fewest shares that pay anything (the penalty rounds one share to none)
    shares = 2
    while (
        not any(vault.previewRedeemInKind(shares)[2]) and vault.previewRedeemInKind(shares)[0] == 0
    ):
        shares *= 2
    vault.transfer(attacker, shares, sender=alice)
    chain.pending_timestamp += 1
    grief = vault.redeemInKind(shares, attacker, attacker, sender=attacker).gas_used
    assert controller.cashInBand() is True, "the exit left the no-op flag down"
    lo, hi = vault.cashBand()
    assert lo <= hi, "the exit left the vault's band dropped"
    dep_after = vault.deposit(1_000 * unit, alice, sender=alice).gas_used
    chain.pending_timestamp += 1
    tx = controller.rebalance(False, sender=keeper)
    assert not [e for e in tx.events if e.event_name == "Marked"], "the run had to value and mark"
    noop_after = tx.gas_used
    print(
        f"\nSEC5-01 shares={shares} exit={grief} deposit {dep}->{dep_after} noop {noop}->{noop_after}"
    )
    assert dep_after <= dep + 5_000 and noop_after <= noop + 5_000
    assert grief > noop_after + dep_after, "the exiter pays more than it adds to others"


def test_redeemInKind__feed_down__flags_dropped_exit_still_pays(
    fund, vault, controller, invested, alice, deployer, keeper, guardian, chain, tbill
):
    """A held asset's feed down: the exit's own mark is refused (MarkWhileFeedDown) and taken
    as refused: the exit pays, the mark is kept, its lines and the band dropped as before."""
    controller.setAssetLimits(tbill, 1, 2500, sender=guardian)
    controller.rebalance(False, sender=keeper)
    feed = fund.feeds["crA"]
    answer = feed.latestAnswer()
    feed.updateAnswer(0, sender=deployer)
    marked = controller.markedAt()
    tx = vault.redeemInKind(vault.balanceOf(alice) // 4, alice, alice, sender=alice)
    assert not [e for e in tx.events if e.event_name == "Marked"]
    assert controller.markedAt() == marked and controller.cashInBand() is False
    feed.updateAnswer(answer, sender=deployer)


def test_redeemInKind__one_share_pays_nothing__refused_shares_kept_no_flag_cleared(
    vault, controller, invested, alice, attacker, keeper, guardian, chain, tbill
):
    """An exit of one share pays nothing (the penalty rounds it to none) yet cleared the
    pricing's stored lines and both cash-band flags like any exit: a near-free grief anyone
    holding a share could repeat every block (every entry and exit priced live, the keeper's
    no-op rebalance defeated). It is refused now (ZeroRedemption naming the shares), and the
    holder keeps them."""
    controller.setAssetLimits(tbill, 1, 2500, sender=guardian)  # (as the no-op test above)
    controller.rebalance(False, sender=keeper)
    chain.pending_timestamp += 1
    controller.rebalance(False, sender=keeper)
    assert controller.cashInBand() is True
    vault.transfer(attacker, 2, sender=alice)
    cash, _, amounts = vault.previewRedeemInKind(1)
    assert cash == 0 and not any(amounts), "one share: nothing to pay"
    with ape.reverts(vault.ZeroRedemption, shares=1):
        vault.redeemInKind(1, attacker, attacker, sender=attacker)
    assert vault.balanceOf(attacker) == 2
    assert controller.cashInBand() is True  # nothing cleared
    lo, hi = vault.cashBand()
    assert lo <= hi
    chain.pending_timestamp += 1
    tx = controller.rebalance(False, sender=keeper)
    assert not [e for e in tx.events if e.event_name == "Marked"], "still the no-op"


def test_redeemInKind__allowance_and_operator_rules(vault, invested, alice, bob, attacker):
    with ape.reverts(vault.ERC20InsufficientAllowance):
        vault.redeemInKind(10**9, attacker, alice, sender=attacker)
    vault.approve(attacker, 10**9, sender=alice)
    vault.redeemInKind(10**9, attacker, alice, sender=attacker)
    assert vault.allowance(alice, attacker) == 0
    vault.setOperator(bob, True, sender=alice)
    vault.redeemInKind(10**9, bob, alice, sender=bob)
    with ape.reverts(vault.ZeroAddress):
        vault.redeemInKind(10**9, "0x0000000000000000000000000000000000000000", alice, sender=alice)
    with ape.reverts(vault.ZeroRedemption):
        vault.redeemInKind(0, alice, alice, sender=alice)


def test_payInKind__anyone_but_the_vault__refused(controller, invested, attacker, project):
    payer = project.IInKindPayer.at(controller.address)
    with ape.reverts(controller.NotVault):
        payer.payInKind(attacker, 1, 1, sender=attacker)


def _exit_skips(vault, controller, keeper, alice, invested, unit, venue, break_venue):
    """The fund buys 50k of `venue`, `break_venue()` makes its transfers fail, and a quarter of
    alice's shares leaves in kind: the venue's token is skipped (InKindSkipped, nothing of it
    paid, all of it still held), the cash part is the pro-rata one and every other position is
    paid. Answers the exit's transaction and shares."""
    controller.purchaseAsset(venue, 50_000 * unit, 0, sender=keeper)
    held = venue.balanceOf(controller)
    break_venue()
    shares = vault.balanceOf(alice) // 4
    cash, _ = _expected(vault, controller, shares, invested)
    tx = vault.redeemInKind(shares, alice, alice, sender=alice)
    got_cash, tokens, amounts = tx.return_value
    paid = dict(zip(tokens, amounts, strict=True))
    assert got_cash == cash and paid[venue.address] == 0
    assert venue.balanceOf(controller) == held
    assert [e for e in tx.events if e.event_name == "InKindSkipped"][0].token == venue.address
    assert all(paid[t.address] > 0 for t in invested)
    return tx, shares


def test_redeemInKind__blocked_receiver_and_frozen_token__skipped_rest_paid(
    project, vault, controller, fund, invested, alice, bob, keeper, usdt, deployer, list_venue,
    unit,
):  # fmt: skip
    """A position token refuses the receiver (a blacklist) or every transfer (paused): that
    token is skipped (InKindSkipped) and stays in the fund, the rest is paid."""
    venue = deployer.deploy(project.TestBlockingVenue, usdt.address)
    list_venue("block", venue)
    _exit_skips(vault, controller, keeper, alice, invested, unit, venue,
                lambda: venue.setBlocked(alice, True, sender=alice))  # fmt: skip
    # frozen for everyone: bob's exit skips it too; the units stay accounted, priced as before
    venue.setFrozen(True, sender=bob)
    _, tokens, amounts = vault.redeemInKind(
        vault.balanceOf(bob) // 2, bob, bob, sender=bob
    ).return_value
    assert dict(zip(tokens, amounts, strict=True))[venue.address] == 0
    venue.setFrozen(False, sender=bob)
    assert controller.pricingValues() == controller.livePricingValues()


def test_redeemInKind__token_burns_all_gas__skipped_at_its_bound_or_starved_exit_reverts(
    project, vault, controller, fund, invested, alice, keeper, usdt, deployer, list_venue, unit,
):  # fmt: skip
    """A position token whose transfer spends all the gas it is given (instead of reverting)
    no longer blocks the exit: each in-kind transfer gets at most 500,000 gas, the token is
    skipped (InKindSkipped) and stays in the fund, the rest is paid. A caller who leaves the
    transfer less than its bound (to have the token skipped on purpose) reverts the whole exit
    (InKindTransferStarved): nobody chooses which tokens an exit leaves behind."""
    venue = deployer.deploy(project.TestBlockingVenue, usdt.address)
    list_venue("burn", venue)
    tx, shares = _exit_skips(vault, controller, keeper, alice, invested, unit, venue,
                             lambda: venue.setBurning(True, sender=alice))  # fmt: skip
    # the same exit asked again (eth_call, at the state the first left) with less gas each
    # time: each either pays what the preview says (the burner skipped after its full bound)
    # or reverts whole; somewhere in the range the burning transfer would get less than its
    # bound, and there the exit reverts InKindTransferStarved, never pays without the token
    starved = "0x" + keccak(text="InKindTransferStarved(address)")[:4].hex()
    want = vault.previewRedeemInKind(shares)[0]
    outcomes = []
    w3 = vault.provider.web3
    call = {"from": alice.address, "to": vault.address,
            "data": "0x" + bytes(vault.redeemInKind.encode_input(shares, alice, alice)).hex()}  # fmt: skip
    for less in range(0, 700_001, 25_000):
        try:
            raw = w3.eth.call({**call, "gas": tx.gas_used - less})
        except Exception as err:  # noqa: BLE001 - a revert: nothing of the exit happens
            text = repr(err) + repr(getattr(err, "data", ""))
            outcomes.append("starved" if starved in text else "reverted")
        else:
            assert int.from_bytes(bytes(raw)[:32], "big") == want, (less, want)
            outcomes.append("paid")
    assert outcomes[0] == "paid" and "starved" in outcomes, outcomes


def test_redeemInKind__reentered_from_a_token_hook__refused(
    project, vault, controller, fund, invested, alice, keeper, usdt, deployer, list_venue,
    attacker, unit,
):  # fmt: skip
    """A hostile venue whose shares call back when they reach the receiver (the attacker's
    contract): a second in-kind exit, a deposit and a mark from inside the payment are refused
    (the vault's guard; pricing answers MovesUnderWay; the controller's guard), the exit itself
    completes."""
    caller = deployer.deploy(project.TestMidMoveCaller)
    venue = deployer.deploy(project.TestHookedVenue, usdt.address, caller.address)
    list_venue("hookR", venue)
    controller.purchaseAsset(venue, 50_000 * unit, 0, sender=keeper)
    vault.transfer(caller, vault.balanceOf(alice) // 10, sender=alice)
    usdt.mint(caller, 1_000 * unit, sender=deployer)
    caller.exec(usdt, usdt.approve.encode_input(vault, 2**256 - 1), sender=attacker)
    for target, inner, why in (
        (
            vault,
            vault.redeemInKind.encode_input(10**9, caller, caller),
            "ReentrancyGuardReentrantCall()",
        ),
        # the vault's guard first (fifth review: entries and exits are guarded; pricing's
        # MovesUnderWay refused it before, as FeedDown)
        (
            vault,
            vault.deposit.encode_input(1_000 * unit, caller),
            "ReentrancyGuardReentrantCall()",
        ),
        (controller, controller.mark.encode_input(), "ReentrancyGuardReentrantCall()"),
    ):
        venue.arm(caller, caller.exec.encode_input(target, inner), sender=attacker)
        shares = vault.balanceOf(caller) // 4
        caller.exec(vault, vault.redeemInKind.encode_input(shares, caller, caller), sender=attacker)
        assert venue.hookOk() is False, why
        assert bytes(venue.hookReturn())[:4] == keccak(text=why)[:4], why
    assert venue.balanceOf(caller) > 0  # the exits themselves paid


def test_redeemInKind__from_a_venue_hook_mid_move__refused(
    project, vault, controller, fund, invested, alice, keeper, usdt, deployer, list_venue,
    attacker, unit,
):  # fmt: skip
    """Mid-move (a venue's hook as its shares reach the controller during a purchase) the
    accounted units are the move's snapshot's: an in-kind exit from there is refused."""
    caller = deployer.deploy(project.TestMidMoveCaller)
    venue = deployer.deploy(project.TestHookedVenue, usdt.address, controller.address)
    list_venue("hookM", venue)
    vault.transfer(caller, vault.balanceOf(alice) // 10, sender=alice)
    shares = vault.balanceOf(caller)
    venue.arm(caller, caller.exec.encode_input(
        vault, vault.redeemInKind.encode_input(shares, caller, caller)), sender=attacker)  # fmt: skip
    controller.purchaseAsset(venue, 10_000 * unit, 0, sender=keeper)
    assert venue.hookOk() is False
    assert bytes(venue.hookReturn())[:4] == keccak(text="ReentrancyGuardReentrantCall()")[:4]
    assert vault.balanceOf(caller) == shares


def test_redeemInKind__vault_without_controller__pays_its_cash_part_only(
    project, deployer, usdt, alice, unit
):
    """Before a controller is wired the exit is a pro-rata cash exit, the penalty kept."""
    vault = deployer.deploy(project.TieredVault, usdt, "x", "x", deployer)
    usdt.mint(alice, 1_000 * unit, sender=deployer)
    usdt.approve(vault, 2**256 - 1, sender=alice)
    shares = vault.deposit(1_000 * unit, alice, sender=alice).return_value
    want = 1_000 * unit * (shares * (BPS - 50) // BPS) // (shares + VIRTUAL)
    assert vault.previewRedeemInKind(shares) == (want, [], [])
    assert vault.redeemInKind(shares, alice, alice, sender=alice).return_value == (want, [], [])
    assert usdt.balanceOf(vault) == 1_000 * unit - want  # the penalty and the rounding stay


def test_previewPayInKind__anyone__answers_what_the_vault_previews(
    project, vault, controller, invested, alice, attacker
):
    shares = vault.balanceOf(alice) // 5
    _, tokens, amounts = vault.previewRedeemInKind(shares)
    net = shares * (BPS - vault.IN_KIND_PENALTY_BPS()) // BPS
    payer = project.IInKindPayer.at(controller.address)
    got = payer.previewPayInKind(net, vault.totalSupply() + VIRTUAL, sender=attacker)
    assert (list(got[0]), list(got[1])) == (list(tokens), list(amounts))
