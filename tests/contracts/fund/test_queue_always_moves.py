"""Issue 45, first finding: the redemption queue cannot be frozen by request+cancel pairs.

On the old queue `fulfilRedemptions` stepped over each cancelled entry without counting it
against `maxCount`, and nothing else moved the queue's head past it: one 10 USDT deposit and
thousands of request+cancel pairs (the shares come back on every cancel) left a run of
cancelled entries at 2,521 gas each, so `fulfilRedemptions(1)`, `rebalance(true)` and
`executeWaterfallLiquidation` all ran out of gas before the next live request. A cancel now
unlinks its request from the queue, so the walk meets live requests only.

And the free option: a request followed by a cancel in the same block lowered `availableCash`
around another holder's exit for gas alone. A request now stands, fundable in order, for
`CANCEL_DELAY` before its party may cancel it."""

import ape
import pytest

# request+cancel pairs: the old walk cost 2,521 gas each before bob's request (300: 0.76M, far
# above the allowance below; 2,000: 5M, past the rebalancer's 3M effort)
SHORT_STORM, LONG_STORM = 300, 2_000
REQUESTS_PER_TX = 150  # ~100k gas each: under the local chain's 30M block
CANCELS_PER_TX = 500
# What the storm may add to each path reaching bob's request (cold slots of a longer array, the
# ids' size): the same path without the storm is the baseline, measured in the same test.
STORM_ALLOWANCE = 10_000
WAIT = 3_600  # between the storm's requests and its cancels: CANCEL_DELAY (checked below)


@pytest.fixture(scope="module", params=[6], ids=["usdt6"])
def base_decimals(request):
    """The walk does not depend on the base token's decimals: one run (the storm is long)."""
    return request.param


@pytest.fixture
def invested(vault, controller, keeper, deposited):
    """alice's 1M, 90% invested over the six assets, with a fresh mark."""
    controller.rebalance(True, sender=keeper)
    return deposited


def _storm(project, vault, usdt, attacker, deployer, chain, unit, pairs):
    """The review's PoC: 10 USDT of shares in a contract that requests and cancels in bulk."""
    storm = attacker.deploy(project.TestRedeemStorm, vault)
    usdt.mint(attacker, 10 * unit, sender=deployer)
    usdt.approve(vault, 10 * unit, sender=attacker)
    vault.deposit(10 * unit, storm, sender=attacker)
    each = vault.balanceOf(storm) // pairs
    for _ in range(0, pairs, REQUESTS_PER_TX):
        storm.request(each, min(REQUESTS_PER_TX, pairs - storm.requestCount()), sender=attacker)
    chain.pending_timestamp += WAIT
    for _ in range(0, pairs, CANCELS_PER_TX):
        storm.cancel(CANCELS_PER_TX, sender=attacker)
    assert storm.cancelled() == pairs and vault.pendingRedemptions() == 0
    return storm


def _paths(vault, controller, keeper, bob, unit, refresh_feeds, chain):
    """bob requests 20,000; each path that funds the queue runs from the same state: the gas it
    used and whether bob's request was funded by it."""
    refresh_feeds()
    rid = vault.requestRedeem(
        vault.convertToShares(20_000 * unit), bob, bob, sender=bob
    ).return_value
    runs = {
        "fulfilRedemptions(1)": lambda: vault.fulfilRedemptions(1, sender=keeper),
        "rebalance(true)": lambda: controller.rebalance(True, sender=keeper),
        "executeWaterfallLiquidation": lambda: controller.executeWaterfallLiquidation(
            50_000 * unit, 2, sender=keeper
        ),
    }
    out = {}
    for name, run in runs.items():
        snap = chain.snapshot()
        tx = run()
        out[name] = (tx.gas_used, vault.redeemRequest(rid).status == 2)
        chain.restore(snap)
    return out


@pytest.mark.parametrize(
    "pairs", [SHORT_STORM, pytest.param(LONG_STORM, marks=pytest.mark.slow)], ids=["300", "2000"]
)
def test_queue_always_moves__request_cancel_storm__next_live_request_funded_within_gas_bound(
    project,
    vault,
    controller,
    usdt,
    keeper,
    bob,
    attacker,
    deployer,
    chain,
    unit,
    fund_usdt,
    invested,
    refresh_feeds,
    pairs,
):
    vault.deposit(100_000 * unit, bob, sender=bob)
    start = chain.snapshot()
    chain.pending_timestamp += WAIT  # the storm's wait, without the storm
    calm = _paths(vault, controller, keeper, bob, unit, refresh_feeds, chain)
    chain.restore(start)
    _storm(project, vault, usdt, attacker, deployer, chain, unit, pairs)
    stormy = _paths(vault, controller, keeper, bob, unit, refresh_feeds, chain)
    for name, (gas, funded) in stormy.items():
        assert funded, f"{name} did not fund the live request behind {pairs} cancelled ones"
        assert calm[name][1], name
        assert gas <= calm[name][0] + STORM_ALLOWANCE, (name, gas, calm[name][0])


def test_queue_always_moves__cancels_in_the_middle_and_at_both_ends__order_kept(
    vault, keeper, alice, bob, chain, fund_usdt, invested, unit
):
    """The unlinking itself: cancel the head, a middle request and the tail in any order; the
    live requests are funded in request order, one per step, none skipped, none twice."""
    vault.deposit(100_000 * unit, bob, sender=bob)
    shares = vault.convertToShares(1_000 * unit)
    ids = [
        vault.requestRedeem(shares, who, who, sender=who).return_value
        for who in (alice, bob, alice, bob, alice, bob)
    ]
    chain.pending_timestamp += int(vault.CANCEL_DELAY())
    for i in (0, 3, 5):  # the head, one in the middle, the tail
        vault.cancelRedeem(ids[i], sender=vault.redeemRequest(ids[i]).controller)
    assert vault.nextRequestToFulfil() == ids[1]
    funded = []
    for _ in range(3):
        tx = vault.fulfilRedemptions(1, sender=keeper)
        funded += [ev.id for ev in tx.decode_logs(vault.RedemptionFulfilled)]
    assert funded == [ids[1], ids[2], ids[4]]
    assert vault.nextRequestToFulfil() == vault.redeemRequestCount()  # empty again
    assert vault.fulfilRedemptions(5, sender=keeper).return_value == (0, 0)
    # a request made after the queue emptied is its new head
    later = vault.requestRedeem(shares, alice, alice, sender=alice).return_value
    assert vault.nextRequestToFulfil() == later
    chain.pending_timestamp += int(vault.CANCEL_DELAY())
    vault.cancelRedeem(later, sender=alice)  # the only one: head and tail at once
    assert vault.nextRequestToFulfil() == vault.redeemRequestCount()
    again = vault.requestRedeem(shares, bob, bob, sender=bob).return_value
    tx = vault.fulfilRedemptions(5, sender=keeper)
    assert [ev.id for ev in tx.decode_logs(vault.RedemptionFulfilled)] == [again]


def test_cancel_redeem__within_cancel_delay__reverts_so_a_request_is_no_free_lever_on_cash(
    vault,
    controller,
    usdt,
    alice,
    bob,
    attacker,
    keeper,
    deployer,
    chain,
    unit,
    fund_usdt,
    invested,
):
    """The free option: the attacker requests, the victim's withdraw finds the cash earmarked,
    the attacker cancels, all in one block. Now the cancel is refused for CANCEL_DELAY, and the
    request stays fundable in order meanwhile: the lever costs the attacker its exit."""
    usdt.mint(attacker, 200_000 * unit, sender=deployer)
    usdt.approve(vault, 2**256 - 1, sender=attacker)
    vault.deposit(200_000 * unit, attacker, sender=attacker)
    cash = vault.availableCash()
    shares = vault.balanceOf(attacker)
    rid = vault.requestRedeem(shares, attacker, attacker, sender=attacker).return_value
    # the victim finds 200,000 of the cash earmarked
    assert vault.maxWithdraw(alice) <= cash - 199_000 * unit
    made = vault.redeemRequest(rid).requestedAt
    assert vault.CANCEL_DELAY() == WAIT
    with ape.reverts(vault.CancelTooEarly):
        vault.cancelRedeem(rid, sender=attacker)
    chain.pending_timestamp = made + int(vault.CANCEL_DELAY()) - 1
    with ape.reverts(vault.CancelTooEarly):
        vault.cancelRedeem(rid, sender=attacker)
    # meanwhile the keeper funds it: the attacker is out of the fund, not back where it was
    snap = chain.snapshot()
    vault.fulfilRedemptions(1, sender=keeper)
    assert vault.redeemRequest(rid).status == 2
    chain.restore(snap)
    chain.pending_timestamp = made + int(vault.CANCEL_DELAY())
    vault.cancelRedeem(rid, sender=attacker)  # from the delay on, the party may cancel
    assert vault.redeemRequest(rid).status == 4
