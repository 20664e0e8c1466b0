"""TxFunder: spenders, allowances, refunds, runway."""

from __future__ import annotations

import ape

from tests.support.autolib import FUNDER_CAP, advance, events


def test_withdraw_fee__authorised__pays_and_lowers_allowance(funder, gov, alice):
    funder.approveSpender(alice, 1_000, sender=gov)
    assert funder.isSpender(alice)
    before = alice.balance
    funder.withdrawFee(600, sender=alice, gas_price=0)
    assert alice.balance - before == 600
    assert funder.allowance(alice) == 400


def test_withdraw_fee__over_allowance_or_balance__reverts(project, deployer, gov, alice):
    funder = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    deployer.transfer(funder, 500)
    funder.approveSpender(alice, 1_000, sender=gov)
    with ape.reverts(
        funder.AllowanceExceeded, spender=alice.address, allowance=1_000, amount=1_001
    ):
        funder.withdrawFee(1_001, sender=alice)
    with ape.reverts(funder.InsufficientFunderBalance, balance=500, amount=900):
        funder.withdrawFee(900, sender=alice)


def test_withdraw_fee__unauthorised__reverts(funder, attacker):
    with ape.reverts(funder.AllowanceExceeded, spender=attacker.address, allowance=0, amount=1):
        funder.withdrawFee(1, sender=attacker)


def test_approve_spender__not_owner_or_manager__reverts(funder, gov, attacker, bob):
    with ape.reverts(funder.NotOwnerOrManager, caller=attacker.address):
        funder.approveSpender(attacker, 10**18, sender=attacker)
    with ape.reverts(funder.OwnableUnauthorizedAccount, account=attacker.address):
        funder.setManager(attacker, True, sender=attacker)
    funder.setManager(bob, True, sender=gov)
    funder.approveSpender(attacker, 5, sender=bob)
    assert funder.allowance(attacker) == 5


def test_refund__spender__restores_allowance_revoked_does_not(funder, gov, alice):
    funder.approveSpender(alice, 1_000, sender=gov)
    funder.withdrawFee(300, sender=alice)
    tx = funder.refund(value=100, sender=alice)
    assert funder.allowance(alice) == 800
    assert events(tx, "RefundCredited")[0].allowanceRestored
    funder.approveSpender(alice, 0, sender=gov)
    tx = funder.refund(value=50, sender=alice)
    assert funder.allowance(alice) == 0 and not funder.isSpender(alice)
    assert not events(tx, "RefundCredited")[0].allowanceRestored


def test_runway__below_threshold__emits_low_runway(project, deployer, gov, alice):
    funder = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    assert funder.runway() == 2**256 - 1
    deployer.transfer(funder, 1_000)
    funder.setRunwayParams(100, 5, sender=gov)
    assert funder.runway() == 10
    funder.approveSpender(alice, 10**18, sender=gov)
    tx = funder.withdrawFee(400, sender=alice)
    assert not events(tx, "LowRunway")
    tx = funder.withdrawFee(200, sender=alice)
    [low] = events(tx, "LowRunway")
    assert (low.balance, low.runwayIntervals, low.threshold) == (400, 4, 5)
    with ape.reverts(funder.OwnableUnauthorizedAccount):
        funder.setRunwayParams(1, 1, sender=alice)


def test_withdraw__owner_only(funder, gov, attacker, bob):
    with ape.reverts(funder.OwnableUnauthorizedAccount, account=attacker.address):
        funder.withdraw(attacker, 1, sender=attacker)
    before = bob.balance
    funder.withdraw(bob, 10, sender=gov)
    assert bob.balance - before == 10
    with ape.reverts(funder.InsufficientFunderBalance):
        funder.withdraw(bob, 10**30, sender=gov)


def test_spend_cap__rolling_day__caps_all_spenders_then_drains(
    project, deployer, chain, gov, alice, bob
):
    """Whatever the allowances (here unlimited), all spenders together withdraw at most the cap
    per rolling day; it drains linearly, so half a day later half the cap is free again. Who
    else can raise it? Only the owner (not a manager, not a spender)."""
    cap = 10**15
    funder = deployer.deploy(project.TxFunder, gov, cap)
    deployer.transfer(funder, 10**18)
    for spender in (alice, bob):
        funder.approveSpender(spender, 2**256 - 1, sender=gov)
    funder.withdrawFee(6 * 10**14, sender=alice)
    with ape.reverts(funder.SpendCapExceeded, amount=5 * 10**14):
        funder.withdrawFee(5 * 10**14, sender=bob)
    funder.withdrawFee(funder.availableToSpend(), sender=bob)
    # the view reads the latest block; the next one is a second or two later, and the bucket
    # drains by cap / 86,400 per second meanwhile: "nothing left" is at most that
    assert funder.availableToSpend() <= 2 * cap // 86_400
    # refused even if the next block comes seconds later on a loaded machine: a hundredth of the
    # cap takes 864 s to drain (1 wei was freed by any second that passed, a flaky check)
    with ape.reverts(funder.SpendCapExceeded):
        funder.withdrawFee(cap // 100, sender=alice)
    advance(chain, 43_200)
    assert cap // 2 - 10**11 <= funder.availableToSpend() <= cap // 2 + 10**11
    advance(chain, 43_200)
    assert funder.availableToSpend() == cap and funder.spentInWindow() == 0
    funder.setManager(bob, True, sender=gov)
    for outsider in (bob, alice):
        with ape.reverts(funder.OwnableUnauthorizedAccount, account=outsider.address):
            funder.setSpendCap(10**18, sender=outsider)
    tx = funder.setSpendCap(2 * cap, sender=gov)
    assert events(tx, "SpendCapSet")[0].spendCapPerWindow == 2 * cap
    funder.withdrawFee(2 * cap, sender=alice)


def test_spend_cap__zero_or_too_large__reverts(project, deployer, gov):
    for bad in (0, 2**96):
        with ape.reverts(project.TxFunder.InvalidSpendCap, spendCapPerWindow=bad):
            deployer.deploy(project.TxFunder, gov, bad)
    funder = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    with ape.reverts(funder.InvalidSpendCap, spendCapPerWindow=0):
        funder.setSpendCap(0, sender=gov)


def test_refund__unlimited_allowance__saturates_instead_of_overflowing(funder, gov, alice):
    """Issue 11 (low): an unlimited spender that received an ETH gift refunded more than it
    withdrew, and allowance + value overflowed: the refund reverted, which blocked the
    spender's reconfiguration and removal. Now the allowance stays max."""
    funder.approveSpender(alice, 2**256 - 1, sender=gov)
    tx = funder.refund(value=10**15, sender=alice)
    assert funder.allowance(alice) == 2**256 - 1
    assert events(tx, "RefundCredited")[0].allowanceRestored
    funder.withdrawFee(10**6, sender=alice)
    funder.refund(value=10**6 + 1, sender=alice)
    assert funder.allowance(alice) == 2**256 - 1


def test_reserve__other_spenders_stop_at_cap_less_reserve__reserved_keep_the_reserve(
    project, deployer, chain, gov, alice, bob
):
    """Third review (low): paid positions filled the funder's shared cap and the fund's own
    rebalancer could not book. The owner keeps `reserve` of the cap for the spenders it marks
    reserved: any other spender is refused past cap - reserve, whatever it spends, and the
    reserved one still finds the reserve; availableTo says what each may take."""
    cap, reserve = 10**15, 4 * 10**14
    funder = deployer.deploy(project.TxFunder, gov, cap)
    deployer.transfer(funder, 10**18)
    for spender in (alice, bob):
        funder.approveSpender(spender, 2**256 - 1, sender=gov)
    tx = funder.setReserve(reserve, sender=gov)
    assert events(tx, "ReserveSet")[0].reserve == reserve
    tx = funder.setReservedSpender(alice, True, sender=gov)
    assert events(tx, "ReservedSpenderSet")[0].reserved and funder.isReserved(alice)
    assert funder.availableTo(bob) == cap - reserve and funder.availableTo(alice) == cap
    funder.withdrawFee(cap - reserve, sender=bob)
    # a hundredth of the cap takes 864 s to drain: refused even if the next block is late
    with ape.reverts(funder.SpendCapExceeded):
        funder.withdrawFee(cap // 100, sender=bob)
    assert funder.availableTo(bob) <= 2 * cap // 86_400
    assert funder.availableTo(alice) >= reserve
    funder.withdrawFee(reserve, sender=alice)
    # the reserved spender's own fees count against the cap like any other
    with ape.reverts(funder.SpendCapExceeded):
        funder.withdrawFee(cap // 100, sender=alice)
    advance(chain, 86_400)
    assert funder.availableTo(bob) == cap - reserve and funder.availableTo(alice) == cap
    # unmarking: the spender is back under the sub-cap
    funder.setReservedSpender(alice, False, sender=gov)
    with ape.reverts(funder.SpendCapExceeded):
        funder.withdrawFee(cap - reserve + 1, sender=alice)


def test_reserve__bounds_and_who_may_set_it(project, deployer, gov, alice, bob):
    """The reserve is at most the cap (and the cap cannot be lowered under it); only the owner
    sets it or marks a spender reserved: a manager (the registry, a creator's key) cannot make
    its own rebalancers reserved, a spender cannot mark itself."""
    cap = 10**15
    funder = deployer.deploy(project.TxFunder, gov, cap)
    assert funder.reserve() == 0
    with ape.reverts(funder.ReserveAboveCap, reserve=cap + 1, spendCapPerWindow=cap):
        funder.setReserve(cap + 1, sender=gov)
    funder.setReserve(cap, sender=gov)  # all of it: only reserved spenders are paid
    with ape.reverts(funder.ReserveAboveCap, reserve=cap, spendCapPerWindow=cap - 1):
        funder.setSpendCap(cap - 1, sender=gov)
    funder.setManager(bob, True, sender=gov)
    funder.approveSpender(alice, 10**18, sender=gov)
    for outsider in (bob, alice):
        with ape.reverts(funder.OwnableUnauthorizedAccount, account=outsider.address):
            funder.setReserve(0, sender=outsider)
        with ape.reverts(funder.OwnableUnauthorizedAccount, account=outsider.address):
            funder.setReservedSpender(alice, True, sender=outsider)
    assert not funder.isReserved(alice) and funder.availableTo(alice) == 0
