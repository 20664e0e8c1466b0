"""Issue 67: an orderly wind-down. The timelock (the deployer holds DEFAULT_ADMIN_ROLE here, as
it would behind the Safe) starts the closing: no entries, availableCash() answers 0 so the
controller buys nothing, and the keeper sells toward cash. Once the controller values nothing
(every position sold, an asynchronous RWA redemption settled by anyone), anyone closes the fund
at a price per share fixed on chain: every exit then pays it to the wei, with nobody but the
holders left, at 6 and 18 decimals; queued requests are funded at it by anyone. Nothing
reopens it, nothing moves its price."""

import ape
import pytest

from tests.support.fund_checks import revoke_every_key
from tests.support.raw_sends import send_raw

pytestmark = pytest.mark.usefixtures("frozen_clock")

ONE_DAY = 86_400
VIRTUAL = 10**6  # TieredVault.DECIMALS_OFFSET's virtual shares
OPEN, CLOSING, CLOSED = 0, 1, 2


@pytest.fixture(scope="module")
def invested(fund, vault, controller, keeper, alice, bob, whale, fund_usdt, chain, unit,
             deployer, feed_refresher, gov, guardian, attacker):  # fmt: skip
    """Alice 1M, bob 200k, whale 300k in; an ERC-4626 venue in each invested tier and the
    RWA's settled tokens; bob's first request funded (unclaimed), his second and the whale's
    pending; the RWA's tokens being redeemed (a pending asynchronous redemption). Set up once
    per module (each decimals; every test of the file takes it); ape's isolation reverts each
    test's changes, so every test starts from it as set up. (It takes the session's accounts
    the tests use, so that none is set up after it: ape would warn and rebase the module.)"""
    vault.deposit(1_000_000 * unit, alice, sender=alice)
    vault.deposit(200_000 * unit, bob, sender=bob)
    vault.deposit(300_000 * unit, whale, sender=whale)
    rwa = fund.assets["rwa"]
    rwa.setWindows(0, 0, 0, sender=keeper)  # redemptions accepted at any time (test hook)
    controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += ONE_DAY + 1
    feed_refresher.refresh(list(fund.feeds.values()), sender=deployer)  # refresh_feeds()
    controller.settle(rwa, sender=keeper)
    for symbol, amount in (
        ("mmfA", 200_000),
        ("mmfB", 100_000),
        ("crA", 250_000),  # under the 25% per-asset limit whatever the test before left
        ("crB", 150_000),
    ):
        controller.purchaseAsset(fund.assets[symbol], amount * unit, 0, sender=keeper)
    third = vault.balanceOf(bob) // 3
    r1 = vault.requestRedeem(third, bob, bob, sender=bob).return_value
    vault.fulfilRedemptions(10, sender=keeper)
    r2 = vault.requestRedeem(third, bob, bob, sender=bob).return_value
    r3 = vault.requestRedeem(vault.balanceOf(whale) // 4, whale, whale, sender=whale).return_value
    # the keeper starts selling the RWA: its cash comes after the notice period
    controller.redeemAsset(rwa, rwa.balanceOf(controller), 0, sender=keeper)
    assert fund.adapters["async"].pending(rwa, controller)[1] > 0  # a redemption pending
    return {"requests": (r1, r2, r3), "rwa": rwa}


def _sell_everything_instant(fund, controller, keeper):
    for symbol in ("mmfA", "mmfB", "crA", "crB"):
        token = fund.assets[symbol]
        held = token.balanceOf(controller)
        if held:
            controller.redeemAsset(token, held, 0, sender=keeper)


def _closed_pays(vault, shares):
    assets, supply = vault.closedPrice()
    return shares * assets // supply


def test_windDown__queue_and_async_pending_everyone_gone__every_holder_exits_at_fixed_price_to_the_wei(
    fund, vault, controller, invested, alice, bob, whale, keeper, gov, guardian, deployer,
    usdt, chain, refresh_feeds, unit,
):  # fmt: skip
    r1, r2, r3 = invested["requests"]
    rwa = invested["rwa"]
    owed1 = vault.redeemRequest(r1).assets
    tx = vault.initiateClosing(sender=deployer)
    assert [e.event_name for e in tx.events if e.contract_address == vault.address] == [
        "ClosingInitiated"
    ]
    assert vault.phase() == CLOSING
    # no entries; the controller sees no cash to invest and cannot pull any
    assert vault.maxDeposit(alice) == 0 and vault.maxMint(alice) == 0
    with ape.reverts(vault.FundNotOpen, phase=CLOSING):
        vault.deposit(unit, alice, sender=alice)
    with ape.reverts(vault.FundNotOpen, phase=CLOSING):
        vault.mint(10**6 * unit, alice, sender=alice)
    assert vault.availableCash() == 0 and vault.freeCash() > 0
    with ape.reverts(vault.InsufficientCash, requested=unit, available=0):
        controller.purchaseAsset(fund.assets["crC"], unit, 0, sender=keeper)
    # the keeper sells toward cash; the RWA's redemption still pending: not closable yet
    _sell_everything_instant(fund, controller, keeper)
    with ape.reverts(vault.CloseNotReady):
        vault.close(sender=alice)
    # the guardian pauses withdrawals on its way out; then every key is gone
    vault.setWithdrawalsPaused(True, sender=guardian)
    revoke_every_key(vault, controller, keeper, gov, guardian, deployer)
    # a holder settles the RWA's redemption (permissionless) and closes the fund
    chain.pending_timestamp += 8 * ONE_DAY
    refresh_feeds()
    controller.settle(rwa, sender=alice)
    assert controller.pricingValues() == (0, 0, False)
    free, supply = vault.freeCash(), vault.totalSupply() + VIRTUAL
    tx = vault.close(sender=alice)
    ev = [e for e in tx.events if e.event_name == "Closed"]
    assert len(ev) == 1 and (ev[0].assets, ev[0].supply) == (free, supply)
    assert vault.phase() == CLOSED and vault.closedPrice() == (free, supply)
    one = 10 ** vault.decimals()
    price = vault.convertToAssets(one)
    assert price == one * free // supply

    # every holder exits, with nobody else acting, at the fixed price to the wei
    shares = vault.balanceOf(alice)
    assert vault.maxRedeem(alice) == shares  # no pause, no queue reserve in the way
    before = usdt.balanceOf(alice)
    got = vault.redeem(shares, alice, alice, sender=alice).return_value
    assert got == _closed_pays(vault, shares) == usdt.balanceOf(alice) - before > 0
    assert vault.convertToAssets(one) == price
    # bob: his funded request as it was; his pending one funded by himself at the fixed price
    assert vault.claimRedemption(r1, bob, sender=bob).return_value == owed1
    r2_shares = vault.redeemRequest(r2).shares
    vault.fulfilRedemptions(10, sender=bob)
    assert vault.redeemRequest(r2).assets == _closed_pays(vault, r2_shares)
    assert vault.redeemRequest(r3).assets == _closed_pays(vault, vault.redeemRequest(r3).shares)
    before = usdt.balanceOf(bob)
    vault.claimRedemption(r2, bob, sender=bob)
    rest = vault.balanceOf(bob)
    vault.redeem(rest, bob, bob, sender=bob)
    assert usdt.balanceOf(bob) - before == _closed_pays(vault, r2_shares) + _closed_pays(
        vault, rest
    )
    # the whale: its request, a withdraw (shares rounded up) and the rest
    before = usdt.balanceOf(whale)
    vault.claimRedemption(r3, whale, sender=whale)
    held = vault.balanceOf(whale)
    burnt = vault.withdraw(1_000 * unit, whale, whale, sender=whale).return_value
    assert burnt == -(-1_000 * unit * supply // free)  # ceil
    vault.redeem(vault.balanceOf(whale), whale, whale, sender=whale)
    assert vault.balanceOf(whale) == 0 and held - burnt >= 0
    assert vault.convertToAssets(one) == price
    assert vault.totalSupply() == 0
    # what is left is the rounding the fund kept and the virtual shares' part: never negative
    left = usdt.balanceOf(vault)
    assert 0 <= left <= free * VIRTUAL // supply + 10


def test_close__early_or_not_yet_cash__refused_for_everyone(
    vault, controller, invested, attacker, deployer, fund, keeper
):
    with ape.reverts(vault.NotClosing, phase=OPEN):
        vault.close(sender=attacker)
    for who in (attacker, keeper):
        with ape.reverts():
            vault.initiateClosing(sender=who)
    vault.initiateClosing(sender=deployer)
    with ape.reverts(vault.FundNotOpen, phase=CLOSING):
        vault.initiateClosing(sender=deployer)
    with ape.reverts(vault.CloseNotReady):
        vault.close(sender=attacker)
    assert vault.phase() == CLOSING


def test_close__outsider_donation_and_front_running__price_never_moves_against_holders(
    fund, vault, controller, invested, alice, bob, attacker, keeper, deployer, usdt, chain,
    refresh_feeds, unit,
):  # fmt: skip
    """Front-running close with a deposit is refused; with a redeem it pays the price close
    then fixes (or less, rounded for the fund). A donation after close is nobody's: the price
    stays, exits pay the same, the donation stays in the vault."""
    vault.initiateClosing(sender=deployer)
    _sell_everything_instant(fund, controller, keeper)
    chain.pending_timestamp += 8 * ONE_DAY
    refresh_feeds()
    controller.settle(invested["rwa"], sender=attacker)
    usdt.mint(attacker, 10_000_000 * unit, sender=deployer)
    usdt.approve(vault, 2**256 - 1, sender=attacker)
    with ape.reverts(vault.FundNotOpen, phase=CLOSING):
        vault.deposit(1_000_000 * unit, attacker, sender=attacker)
    one = 10 ** vault.decimals()
    price_open = vault.convertToAssets(one)
    vault.redeem(vault.balanceOf(bob), bob, bob, sender=bob)  # the front-runner's exit
    vault.close(sender=attacker)
    price = vault.convertToAssets(one)
    assert price >= price_open
    fixed = vault.closedPrice()
    usdt.transfer(vault, 5_000_000 * unit, sender=attacker)  # donation after close
    assert vault.closedPrice() == fixed and vault.convertToAssets(one) == price
    shares = vault.balanceOf(alice)
    got = vault.redeem(shares, alice, alice, sender=alice).return_value
    assert got == shares * fixed[0] // fixed[1]
    assert usdt.balanceOf(vault) >= 5_000_000 * unit  # the donation is nobody's
    # the attacker holds no shares: nothing to take
    assert vault.maxRedeem(attacker) == 0


def _closed_fund(fund, vault, controller, invested, keeper, deployer, chain, refresh_feeds, who):
    vault.initiateClosing(sender=deployer)
    _sell_everything_instant(fund, controller, keeper)
    chain.pending_timestamp += 8 * ONE_DAY
    refresh_feeds()
    controller.settle(invested["rwa"], sender=who)
    vault.close(sender=who)


def _args(inputs, who, variant):
    out = []
    for i in inputs:
        t = i.type
        if t == "address":
            out.append(who.address)
        elif t == "bool":
            out.append(variant == 0)
        elif t.startswith("uint") or t.startswith("int"):
            out.append(0 if variant == 0 else 1)
        elif t == "bytes32":
            out.append(b"\x00" * 32)
        elif t.endswith("[]"):
            out.append([])
        elif t == "bytes" or t == "string":
            out.append(b"" if t == "bytes" else "")
        else:
            return None  # a tuple: not a setter of the vault's phase or price
    return out


def test_closed__every_role_every_setter__cannot_reopen_or_move_the_price(
    fund, vault, controller, invested, alice, keeper, gov, guardian, deployer, attacker, chain,
    refresh_feeds, unit,
):  # fmt: skip
    """After close, every non-view function of the vault, called by every role (the timelock's
    seat, the admin, the guardian, the keeper, an outsider) with both argument variants, leaves
    the phase Closed and the price where close put it; entries stay refused, fees stay 0."""
    _closed_fund(fund, vault, controller, invested, keeper, deployer, chain, refresh_feeds, alice)
    fixed = vault.closedPrice()
    one = 10 ** vault.decimals()
    price = vault.convertToAssets(one)
    # exits (tested above) and giving up one's own role (a key leaving changes no price)
    skip = {"redeem", "withdraw", "claimRedemption", "transfer", "transferFrom", "renounceRole",
            "revokeRole"}  # fmt: skip
    tried = succeeded = 0
    for who in (deployer, gov, guardian, keeper, attacker):
        for abi in vault.contract_type.mutable_methods:
            if abi.name in skip:
                continue
            for variant in (0, 1):
                args = _args(abi.inputs, who, variant)
                if args is None:
                    continue
                tried += 1
                # a refused call is as good as a harmless one (sent raw: the same transaction
                # without ape's estimate and revert trace, about 300 of them here)
                method = getattr(vault, abi.name)
                try:
                    method.encode_input(*args)
                except Exception:  # arguments ape cannot encode: nothing sent, as before
                    continue
                succeeded += send_raw(chain, who, method, *args)
                assert vault.phase() == CLOSED, (abi.name, who)
                assert vault.closedPrice() == fixed, (abi.name, who)
                assert vault.convertToAssets(one) == price, (abi.name, who)
    assert tried > 40
    assert 0 < succeeded < tried  # some harmless calls went through, the rest refused
    # the timelock's own moves, by name: each refused
    with ape.reverts(vault.NotClosing, phase=CLOSED):
        vault.close(sender=deployer)
    with ape.reverts(vault.FundNotOpen, phase=CLOSED):
        vault.initiateClosing(sender=deployer)
    with ape.reverts(vault.FundNotOpen, phase=CLOSED):
        vault.setFees(100, 1_000, sender=deployer)
    vault.setDepositsPaused(False, sender=deployer)
    with ape.reverts(vault.FundNotOpen, phase=CLOSED):
        vault.deposit(unit, alice, sender=alice)
    assert vault.maxDeposit(alice) == 0
    assert vault.fees()[1:3] == (0, 0) and vault.pendingFeeShares() == 0
    # a year on: no fee accrued, the price is where it was
    chain.pending_timestamp += 365 * ONE_DAY
    chain.mine()
    assert vault.pendingFeeShares() == 0 and vault.convertToAssets(one) == price


def test_closed__fees_on_at_close__accrued_once_then_never(
    fund, vault, controller, invested, alice, keeper, deployer, chain, refresh_feeds, unit
):
    """Fees on through the closing: close charges what is owed up to it, then sets both rates
    to 0 for ever; a year after close the recipient holds the same shares."""
    recipient = deployer
    vault.setFeeRecipient(recipient, sender=deployer)
    vault.setFees(200, 0, sender=deployer)
    _closed_fund(fund, vault, controller, invested, keeper, deployer, chain, refresh_feeds, alice)
    held = vault.balanceOf(recipient)
    assert held > 0  # the management fee up to close
    assert vault.fees()[1:3] == (0, 0)
    chain.pending_timestamp += 365 * ONE_DAY
    vault.redeem(vault.balanceOf(alice) // 2, alice, alice, sender=alice)
    assert vault.balanceOf(recipient) == held


def test_closing__in_kind_exit_goes_on_closed__refused_for_redeem(
    fund, vault, controller, invested, alice, keeper, deployer, chain, refresh_feeds, unit
):
    """While closing, a holder may still leave in kind (the exit that needs nobody); once
    closed, redeem pays the fixed price in cash with no penalty, and the in-kind exit and new
    requests are refused."""
    vault.initiateClosing(sender=deployer)
    shares = vault.balanceOf(alice) // 10
    cash, _, _ = vault.redeemInKind(shares, alice, alice, sender=alice).return_value
    assert cash > 0
    _sell_everything_instant(fund, controller, keeper)
    chain.pending_timestamp += 8 * ONE_DAY
    refresh_feeds()
    controller.settle(invested["rwa"], sender=alice)
    vault.close(sender=alice)
    with ape.reverts(vault.FundNotOpen, phase=CLOSED):
        vault.redeemInKind(shares, alice, alice, sender=alice)
    with ape.reverts(vault.FundNotOpen, phase=CLOSED):
        vault.requestRedeem(shares, alice, alice, sender=alice)


@pytest.mark.parametrize("force", [False, True])
def test_closing__scheduled_and_keeper_rebalance_with_cash_far_above_band__buy_nothing(
    fund, vault, controller, invested, whale, keeper, deployer, attacker, unit, force
):
    """The automation stops buying: with 5M of new cash in L1 (the open fund's rebalance would
    invest most of it), a run while closing, by the scheduled rebalancer's role or the keeper,
    forced or not, purchases nothing; what it does is sell (the controller sees no L1 cash:
    availableCash() answers 0) within its usual guards."""
    vault.deposit(5_000_000 * unit, whale, sender=whale)
    vault.initiateClosing(sender=deployer)
    controller.grantRole(controller.REBALANCER_ROLE(), attacker, sender=deployer)
    invested_before = controller.pricingValues()[1]
    for who in (attacker, keeper):
        try:
            tx = controller.rebalance(force, sender=who)
        except ape.exceptions.ContractLogicError:
            continue  # a run refused (held, out of band with every move cut) buys nothing either
        assert not [e for e in tx.events if e.event_name == "Purchased"]
    assert controller.pricingValues()[1] <= invested_before
