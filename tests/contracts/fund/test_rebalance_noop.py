"""rebalance(false) with nothing to do (issues 14 and 45): decided from one slot of the
controller (the pause and sequencer flags, the mark's time and age, and whether the vault's
available cash is in the mark's cash band) and the caller's role: no oracle, no balance. The
vault stores the band with each mark (noteMark) and tells the controller when a change it makes
to its available cash leaves it (cashLeftBand). Every guard of a move still holds on that path:
pause, the caller's role, the sequencer feed, the mark's age and the admin's bands; and the
vault's redemption queue still counts against L1."""

import ape
import pytest

NO_OP_GAS = 30_000  # issue 45's target for the whole transaction, intrinsic gas included
ZERO = "0x" + "00" * 20
BPS = 10_000


@pytest.fixture
def in_band(controller, keeper, deposited, unit):
    """1M deposited and invested to the targets (10/30/60): in band, mark fresh."""
    controller.allocateToLayer(1, 300_000 * unit, sender=keeper)
    controller.allocateToLayer(2, 600_000 * unit, sender=keeper)
    return deposited


def _names(tx):
    return [e.event_name for e in tx.events]


def _noop(controller, sender):
    tx = controller.rebalance(False, sender=sender)
    assert tx.return_value == (False, False)  # (moved, offTarget)
    assert "Rebalanced" in _names(tx)
    return tx


def test_noop__in_band_fresh_mark__answered_from_one_slot_under_30k(controller, keeper, in_band):
    tx = _noop(controller, keeper)
    # the live pass would end with a new mark; the cheap answer stores nothing
    assert "Marked" not in _names(tx)
    assert tx.gas_used < NO_OP_GAS, tx.gas_used


def test_noop__mark_older_than_nav_max_age__falls_back_to_the_live_pass(
    controller, keeper, chain, in_band
):
    age = controller.riskParams().navMaxAge
    chain.pending_timestamp += age + 1
    tx = _noop(controller, keeper)
    assert "Marked" in _names(tx)  # the oracles decided (still in band) and re-marked
    assert "Marked" not in _names(_noop(controller, keeper))  # fresh again: the cheap answer


def test_noop__paused__reverts_enforced_pause(controller, keeper, guardian, gov, in_band):
    controller.pause(sender=guardian)
    assert controller.paused() is True
    with ape.reverts(controller.EnforcedPause):
        controller.rebalance(False, sender=keeper)
    with ape.reverts(controller.EnforcedPause):
        controller.pause(sender=guardian)
    controller.unpause(sender=gov)
    assert controller.paused() is False
    with ape.reverts(controller.ExpectedPause):
        controller.unpause(sender=gov)
    _noop(controller, keeper)


def test_noop__sequencer_down__reverts_until_the_feed_is_removed(
    controller, project, keeper, deployer, gov, in_band
):
    seq = deployer.deploy(project.TestPriceFeed, 0, 1)  # answer 1: the sequencer is down
    controller.setSequencerFeed(seq, 3_600, sender=gov)
    with ape.reverts(controller.SequencerDown):
        controller.rebalance(False, sender=keeper)
    controller.setSequencerFeed(ZERO, 0, sender=deployer)  # removing it: the timelock
    _noop(controller, keeper)


def test_noop__roles_follow_grants_revokes_and_renounces(
    controller, keeper, deployer, attacker, in_band
):
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(False, sender=attacker)
    rebalancer, keeper_role = controller.REBALANCER_ROLE(), controller.KEEPER_ROLE()
    controller.grantRole(rebalancer, attacker, sender=deployer)
    controller.grantRole(keeper_role, attacker, sender=deployer)
    _noop(controller, attacker)
    controller.revokeRole(keeper_role, attacker, sender=deployer)
    _noop(controller, attacker)  # still holds REBALANCER_ROLE
    controller.renounceRole(rebalancer, attacker, sender=attacker)
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(False, sender=attacker)
    controller.revokeRole(keeper_role, keeper, sender=deployer)
    with ape.reverts(controller.NotRebalancer):
        controller.rebalance(False, sender=keeper)


def test_noop__admin_narrows_l2_band__the_fresh_mark_is_out_of_band_and_it_moves(
    controller, keeper, deployer, in_band
):
    _noop(controller, keeper)
    # L2 at 30%, L3 at 60%: a band of [31%, 40%] for L2 puts the fund out of band at once
    controller.setTiers([(900, 500, 2000), (3500, 3100, 4000), (5600, 5000, 7000)], sender=deployer)
    assert tuple(controller.tier(1)) == (3500, 3100, 4000)
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value == (True, False)  # moved, and nothing cut


def test_noop__redemption_request_drains_l1__the_queue_counts_and_it_moves(
    controller, vault, keeper, alice, in_band
):
    """L1 holds 10% in the vault's balance, but a request for about 8% of the fund earmarks
    most of it: available cash is about 2%, under L1's 5% floor. The request leaves the band
    (the vault tells the controller), so the no-op does not leave the queue unpaid."""
    _noop(controller, keeper)
    assert controller.cashInBand() is True
    vault.requestRedeem(vault.balanceOf(alice) * 8 // 100, alice, alice, sender=alice)
    assert controller.cashInBand() is False
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value == (True, False)  # moved, and nothing cut
    assert vault.claimableRedemptions() > 0  # the request was paid out of what was sold
    assert controller.cashInBand() is True  # the run's mark, in band again


def _in_band_by_mark(controller, vault):
    """The controller's own test at the stored mark and the vault's available cash now."""
    l2, l3 = controller.markedValues()
    c = vault.availableCash()
    g = c + l2 + l3
    return g != 0 and all(
        controller.tier(t).minBps <= v * BPS // g <= controller.tier(t).maxBps
        for t, v in enumerate((c, l2, l3))
    )


@pytest.mark.parametrize("step", ["deposit", "mint", "withdraw", "redeem", "request", "cancel"])
def test_cash_band__a_step_through_the_vault_that_leaves_it__the_next_noop_moves(
    controller, vault, keeper, alice, bob, usdt, chain, unit, in_band, step
):
    """Issue 45: each change the vault makes to its available cash is checked against the
    mark's band. A small step stays in (the no-op still answers from one slot); a step that
    leaves the band clears the flag, and the next rebalance(false) values the fund, moves and
    marks (the flag is set again). L1 sits at 10% of 1M in a [5%, 20%] band."""
    usdt.mint(bob, 10_000_000 * unit, sender=alice)
    usdt.approve(vault, 2**256 - 1, sender=bob)
    small, large = 1_000 * unit, 150_000 * unit  # in, and out of the band (L1 ~22% or ~-5%)

    def request(a):
        return vault.requestRedeem(vault.previewWithdraw(a), bob, bob, sender=bob).return_value

    ops = {
        "deposit": lambda a: vault.deposit(a, bob, sender=bob),
        "mint": lambda a: vault.mint(vault.previewDeposit(a), bob, sender=bob),
        "withdraw": lambda a: vault.withdraw(a // 2, alice, alice, sender=alice),
        "redeem": lambda a: vault.redeem(vault.previewWithdraw(a // 2), alice, alice, sender=alice),
        "request": lambda a: vault.requestRedeem(
            vault.previewWithdraw(a // 2), alice, alice, sender=alice
        ),
    }
    if step == "cancel":
        # bob enters (L1 ~22%: out), asks back 40,000 (available ~18%) and the mark finds that
        # in band; his cancels of a small and then of that request put the cash back above 20%
        vault.deposit(large, bob, sender=bob)
        small_id, big_id = request(small), request(40_000 * unit)
        controller.mark(sender=keeper)
        assert controller.cashInBand() is True
        chain.pending_timestamp += vault.CANCEL_DELAY() + 1
        vault.cancelRedeem(small_id, sender=bob)
        assert controller.cashInBand() is True, "a cancel inside the band cleared the flag"
        vault.cancelRedeem(big_id, sender=bob)
    else:
        ops[step](small)
        assert controller.cashInBand() is True, "a step inside the band cleared the flag"
        assert "Marked" not in _names(_noop(controller, keeper))
        ops[step](large)
    assert not _in_band_by_mark(controller, vault)
    assert controller.cashInBand() is False, "a step out of the band left the flag set"
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value[0] is True and "Marked" in _names(tx)
    assert controller.cashInBand() is _in_band_by_mark(controller, vault) is True


def test_cash_band__inside_the_controllers_test_at_both_ends(controller, vault, keeper, in_band):
    """The band the vault stored is inside the set of cash the controller's own test accepts at
    the mark: both its ends pass the test (it is an interval, so everything between does), and
    one unit beyond either end of the true set fails it (rounded inward by at most 2^-20 of the
    invested value)."""
    lo, hi = vault.cashBand()
    assert lo <= vault.availableCash() <= hi
    l2, l3 = controller.markedValues()
    m = l2 + l3

    def ok(c):
        g = c + m
        return all(
            controller.tier(t).minBps <= v * BPS // g <= controller.tier(t).maxBps
            for t, v in enumerate((c, l2, l3))
        )

    assert ok(lo) and ok(hi)
    assert lo - 1 - m // 2**20 <= 0 or not ok(lo - 1 - m // 2**20)
    assert not ok(hi + 1 + m // 2**20)


def test_cash_band__a_donation_is_seen_at_the_next_step_through_the_vault(
    controller, vault, keeper, alice, attacker, usdt, unit, in_band
):
    """Who gains by giving the vault cash that runs none of its code? The donation pushes L1
    over its 20% ceiling but the no-op flag still says in band until the next change made
    through the vault (any holder's deposit, exit, request or cancel), the next move or mark,
    or the mark's age (navMaxAge, at most a day): the scheduled no-op skips one run; the
    donor's cash stays with the holders. The keeper's forced run is never skipped."""
    usdt.mint(attacker, 200_000 * unit, sender=alice)
    usdt.transfer(vault, 200_000 * unit, sender=attacker)
    assert not _in_band_by_mark(controller, vault)
    assert controller.cashInBand() is True  # not seen yet: the documented limit
    _noop(controller, keeper)
    vault.deposit(1 * unit, alice, sender=alice)  # any step through the vault sees it
    assert controller.cashInBand() is False
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value[0] is True


def test_cash_left_band__anyone_but_the_vault__reverts(controller, attacker, keeper, in_band):
    for who in (attacker, keeper):
        with ape.reverts(controller.NotVault):
            controller.cashLeftBand(sender=who)
    assert controller.cashInBand() is True


def test_note_mark__anyone_but_the_controller__reverts(
    vault, controller, attacker, keeper, in_band
):
    """A forged band would let the no-op skip runs: only the controller stores one."""
    for who in (attacker, keeper):
        with ape.reverts(vault.NotController):
            vault.noteMark(0, 10**30, 2**96 - 1, 10**30, True, sender=who)
    assert vault.cashBand()[0] <= vault.availableCash() <= vault.cashBand()[1]


def test_set_tiers__drops_the_flag_until_the_next_mark(
    controller, vault, keeper, deployer, in_band
):
    """The band was solved for the old bands: a change of tiers (even a wider one) sends the
    next rebalance(false) to a full valuation, which marks and solves it anew."""
    controller.setTiers(
        [(1000, 400, 2100), (3000, 2000, 4000), (6000, 5000, 7000)], sender=deployer
    )
    assert controller.cashInBand() is False
    tx = controller.rebalance(False, sender=keeper)
    assert tx.return_value == (False, False) and "Marked" in _names(tx)
    assert controller.cashInBand() is True


def _two_holders_past_half_uint96(vault, alice, bob, usdt, deployer):
    """Alice and bob each deposit 2^95 + 2^90 base units (together past the queue's uint96
    slot) and alice requests to redeem all her shares."""
    big = 2**95 + 2**90
    for who in (alice, bob):
        usdt.mint(who, big, sender=deployer)
        usdt.approve(vault, 2**256 - 1, sender=who)
        vault.deposit(big, who, sender=who)
    vault.requestRedeem(vault.balanceOf(alice), alice, alice, sender=alice)


def test_request_redeem__queue_total_past_uint96__refused_naming_the_total(
    vault, alice, bob, usdt, deployer
):
    """The queue's reserves share a slot with the cash band as uint96 (7.9e28 base units): a
    request that would take the pending total past it is refused with SafeCast's error naming
    the bits and the total, and nothing is queued."""
    _two_holders_past_half_uint96(vault, alice, bob, usdt, deployer)
    pending = vault.pendingRedemptions()
    count = vault.redeemRequestCount()
    with ape.reverts(vault.SafeCastOverflowedUintDowncast, bits=96):
        vault.requestRedeem(vault.balanceOf(bob), bob, bob, sender=bob)
    assert vault.pendingRedemptions() == pending and vault.redeemRequestCount() == count


def test_request_redeem__claimable_and_queue_past_uint96__refused_at_request_not_at_fulfilment(
    vault, alice, bob, usdt, deployer, keeper
):
    """Fourth review (info): `_claimable` (cash reserved for funded, unclaimed requests) is a
    uint96 too, and fulfilment adds each request's payout to it. A request whose payout would
    take the unclaimed plus the queue past the slot was accepted and left a fulfilment that
    could only revert; now the request itself is refused, naming the total."""
    _two_holders_past_half_uint96(vault, alice, bob, usdt, deployer)
    vault.fulfilRedemptions(10, sender=keeper)
    assert vault.claimableRedemptions() > 2**95 and vault.pendingRedemptions() == 0
    count = vault.redeemRequestCount()
    with ape.reverts(vault.SafeCastOverflowedUintDowncast, bits=96):
        vault.requestRedeem(vault.balanceOf(bob), bob, bob, sender=bob)
    assert vault.redeemRequestCount() == count
