"""Issue 45, second finding: no price trusts a round id.

The cheap pricing path reused a position's marked value while its feed's `latestRound()` was
the marked round. A Chainlink-compatible feed that never bumps its round (RedStone's
PriceFeedWithoutRounds answers round 1 forever) made every push invisible to deposits, exits
and fulfilment until someone marked: deposit at the stale mark, `mark()`, redeem at the new
price, the difference taken from the holders. A mark line now carries a fingerprint of every
word latestRoundData() answered, so any new answer is read live at once, round id or not."""

import ape
import pytest

FEED_BOUND = 2 * 10**8  # a $1 asset's sanity bound: $2
ONE_DAY = 86_400


@pytest.fixture
def invested(vault, controller, keeper, deposited):
    """alice's 1M, 90% invested over the six assets, with a fresh mark."""
    controller.rebalance(True, sender=keeper)
    return deposited


@pytest.fixture(params=["chainlink", "roundless"])
def pushed_kind(request):
    return request.param


def _gas_of_pricing(controller, sender):
    """The gas users' cheap pricing costs, read through an ordinary transaction's estimate."""
    return controller.pricingValues.estimate_gas_cost(sender=sender)


def _feed(project, deployer, kind):
    contract = project.TestPriceFeed if kind == "chainlink" else project.TestRoundlessFeed
    return deployer.deploy(contract, 8, 10**8)


def _push_keeping_round(feed, deployer, answer, chain):
    """A new answer under the same round id: what a round-less feed does on every push (and a
    Chainlink-style feed here, rewritten in place, to show the kind does not matter)."""
    now = chain.pending_timestamp
    feed.updateRoundData(int(feed.latestRound()), answer, now, now, sender=deployer)


def _deposit_mark_redeem(vault, controller, usdt, attacker, deployer, stake) -> int:
    """The review's round trip: deposit `stake`, mark(), redeem everything. What it gained."""
    usdt.mint(attacker, stake, sender=deployer)
    usdt.approve(vault, 2**256 - 1, sender=attacker)
    start = usdt.balanceOf(attacker)
    vault.deposit(stake, attacker, sender=attacker)
    controller.mark(sender=attacker)
    vault.redeem(vault.maxRedeem(attacker), attacker, attacker, sender=attacker)
    assert vault.balanceOf(attacker) == 0
    return int(usdt.balanceOf(attacker)) - int(start)


def test_price_trusts_no_round_id__push_keeping_the_round__deposit_mark_redeem_gains_nothing(
    project, fund, vault, controller, usdt, attacker, deployer, chain, invested, unit, pushed_kind
):
    """The review's PoC: crA's feed is pushed +10% keeping its round; the attacker deposits
    2M, marks and redeems. Old code: the deposit was priced at the stale mark (crA at $1) and
    the redemption at the new one, +~10,000 taken from alice. Now the push is priced at once."""
    token = fund.assets["crA"]
    feed = _feed(project, deployer, pushed_kind)
    controller.setFeed(token, feed, ONE_DAY, 1, FEED_BOUND, sender=deployer)
    controller.mark(sender=deployer)  # lines written with the new feed
    assert controller.pricingValues() == controller.livePricingValues()
    _push_keeping_round(feed, deployer, 11 * 10**7, chain)  # +10%, round id unchanged
    assert int(feed.latestRound()) == 1
    gained = _deposit_mark_redeem(vault, controller, usdt, attacker, deployer, 2_000_000 * unit)
    assert gained <= 0, f"attacker gained {gained / unit:,.2f} from a push keeping the round"


def test_price_trusts_no_round_id__roundless_feed_down_and_back__cheap_path_follows(
    project, fund, vault, controller, deployer, chain, invested, unit
):
    """A round-less feed's outage and recovery keep round 1: both are priced at once (down:
    entries close; back: they reopen), and the cheap path agrees with the live pass throughout."""
    token = fund.assets["crB"]
    feed = _feed(project, deployer, "roundless")
    controller.setFeed(token, feed, ONE_DAY, 1, FEED_BOUND, sender=deployer)
    controller.mark(sender=deployer)
    stale = chain.pending_timestamp - ONE_DAY - 1
    feed.updateRoundData(1, 10**8, stale, stale, sender=deployer)  # stale, same round
    assert controller.pricingValues() == controller.livePricingValues()
    assert controller.pricingValues()[2]  # down
    assert vault.maxDeposit(deployer) == 0
    feed.updateAnswer(10**8, sender=deployer)  # back, same round
    assert controller.pricingValues() == controller.livePricingValues()
    assert not controller.pricingValues()[2]
    assert vault.maxDeposit(deployer) > 0
    with ape.reverts():
        feed.getRoundData(2)  # only round 1 exists, as on RedStone's feed


def test_rounds_bumped__vouch_needs_the_timelock__withdrawn_at_once__reset_by_a_new_feed(
    project, fund, controller, deployer, guardian, attacker, keeper, invested
):
    token = fund.assets["crA"]
    assert not controller.roundsBumped(token)  # unvouched by default: no round id trusted
    for who in (guardian, attacker, keeper):
        with ape.reverts():
            controller.setRoundsBumped(token, True, sender=who)
    tx = controller.setRoundsBumped(token, True, sender=deployer)  # the timelock's role here
    assert tx.decode_logs(controller.RoundsBumpedSet)[0].bumped and controller.roundsBumped(token)
    assert controller.pricingValues() == controller.livePricingValues()  # lines dropped
    controller.mark(sender=attacker)
    assert controller.pricingValues() == controller.livePricingValues()
    with ape.reverts():
        controller.setRoundsBumped(token, False, sender=attacker)
    controller.setRoundsBumped(token, False, sender=guardian)  # withdrawing reduces risk: at once
    assert not controller.roundsBumped(token)
    controller.setRoundsBumped(token, True, sender=deployer)
    controller.setFeed(
        token, _feed(project, deployer, "chainlink"), ONE_DAY, 1, FEED_BOUND, sender=deployer
    )
    assert not controller.roundsBumped(token)  # a new feed is vouched for by nobody yet


def test_rounds_bumped__guardian_switches_to_the_fallback_feed__vouched_for_by_nobody(
    project, fund, controller, deployer, guardian, attacker, chain, invested
):
    """The vouch is for the feed it was given to: the guardian's switch to the pre-approved
    fallback (here a round-less feed, round 1 forever) starts unvouched, as setFeed does. Were
    the vouch kept, the fallback's lines would compare its round id alone, and a push keeping
    round 1 after a mark would be invisible to users' cheap pricing (the review's +20,000)."""
    token = fund.assets["crA"]
    controller.setRoundsBumped(token, True, sender=deployer)  # the timelock's role here
    fallback = _feed(project, deployer, "roundless")
    controller.setFallbackFeed(token, fallback, ONE_DAY, 1, FEED_BOUND, sender=deployer)
    controller.useFallbackFeed(token, sender=guardian)
    assert not controller.roundsBumped(token)
    controller.mark(sender=attacker)
    before = controller.livePricingValues()
    _push_keeping_round(fallback, deployer, 11 * 10**7, chain)  # +10%, still round 1
    assert controller.livePricingValues()[1] > before[1]
    assert controller.pricingValues() == controller.livePricingValues()


def test_rounds_bumped__vouched_chainlink_feed__new_round_priced_at_once_and_cheaper(
    project, fund, vault, controller, usdt, attacker, deployer, chain, invested, unit
):
    """The vouched-for rule on what it vouches for: a Chainlink-style feed's new round is seen
    at once (deposit, mark, redeem gains nothing), and the cheap check costs less than the
    fingerprint's (one slot against latestRoundData's four on Chainlink's MockV3Aggregator)."""
    for sym in ("mmfA", "mmfB", "crA", "crB", "crC"):
        controller.setRoundsBumped(fund.assets[sym], True, sender=deployer)
    controller.mark(sender=deployer)
    vouched = _gas_of_pricing(controller, attacker)
    for sym in ("mmfA", "mmfB", "crA", "crB", "crC"):
        controller.setRoundsBumped(fund.assets[sym], False, sender=deployer)
    controller.mark(sender=deployer)
    fingerprinted = _gas_of_pricing(controller, attacker)
    assert vouched < fingerprinted, (vouched, fingerprinted)
    for sym in ("mmfA", "mmfB", "crA", "crB", "crC"):
        controller.setRoundsBumped(fund.assets[sym], True, sender=deployer)
    controller.mark(sender=deployer)
    fund.feeds["crA"].updateAnswer(11 * 10**7, sender=deployer)  # +10%, a new round
    assert controller.pricingValues() == controller.livePricingValues()
    assert _deposit_mark_redeem(vault, controller, usdt, attacker, deployer, 2_000_000 * unit) <= 0


def test_rounds_bumped__vouched_feed_that_keeps_its_round__stale_until_marked__what_is_vouched(
    project, fund, controller, deployer, chain, invested
):
    """What the vouch trusts, stated by a test: a vouched-for feed that nonetheless rewrites an
    answer under its round id is priced at the mark until the next one. This is why vouching
    is the timelock's (and only for aggregators whose rounds are immutable), and why a
    round-less feed must never be vouched for."""
    token = fund.assets["crA"]
    controller.setRoundsBumped(token, True, sender=deployer)
    controller.mark(sender=deployer)
    _push_keeping_round(fund.feeds["crA"], deployer, 11 * 10**7, chain)
    assert controller.pricingValues() != controller.livePricingValues()
    controller.setRoundsBumped(token, False, sender=deployer)  # withdrawn: live at once
    assert controller.pricingValues() == controller.livePricingValues()
