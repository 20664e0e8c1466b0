"""Issue 29: users' pricing answers from the stored mark for every position whose feed is still
on the round the mark used (`AssetController._standing`: one latestRound() per held feed)
while no marked round is past its heartbeat and no feed or listing changed; a position whose
feed has a new round (or that is live-only) is read live in place of its marked value. Units
change only by moves, and every move marks. Users' pricing must equal the live pass to the wei
in every case, and every way a price can change must show. The stale-mark PoCs of the first review
stay in test_pricing.py; the random-state property is the fund invariant suite's
invariant_cheapPricingIsTheLivePass."""

import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset, deploy_core, grant_roles

ONE_DAY = 86_400


@pytest.fixture(scope="module")
def small(
    project, deployer, gov, keeper, guardian, usdt, create_feed, fund_usdt, alice, unit, chain,
    attacker,
):  # fmt: skip
    """Three instant assets (L2, L3, L3), 1M deposited and 90% invested: every one held.
    Deployed once per module (each decimals); ape's isolation reverts each test's changes, so
    every test starts from it as deployed (no test changes its Python-side record). (It takes
    the session's accounts the tests use, so that none is set up after it: ape would warn and
    rebase the module.)"""
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(min_move_value=0, max_top3_bps=10_000))
    grant_roles(f, gov, keepers=[keeper], guardians=[guardian], sender=deployer)
    erc = deployer.deploy(project.ERC4626Adapter)
    for symbol, tier in (("m", 1), ("c1", 2), ("c2", 2)):
        token = deployer.deploy(project.TestMoneyMarketFund, usdt.address, symbol, symbol)
        add_asset(
            f, deployer, symbol=symbol, token=token, tier=tier, adapter=erc,
            feed=create_feed(), max_concentration_bps=10_000,
        )  # fmt: skip
    f.adapters["erc4626"] = erc
    usdt.approve(f.vault.address, 2**256 - 1, sender=alice)
    f.vault.deposit(1_000_000 * unit, alice, sender=alice)
    f.controller.rebalance(True, sender=keeper)
    assert all(t.balanceOf(f.controller) > 0 for t in f.assets.values())
    return f


def gas(c, name: str) -> int:
    """eth_estimateGas of a view call (the node's own count, no sender balance needed)."""
    from ape import chain

    data = getattr(c, name).encode_input()
    return int(chain.provider.web3.eth.estimate_gas({"to": c.address, "data": data}))


def both(c):
    cheap, live = c.pricingValues(), c.livePricingValues()
    assert tuple(cheap) == tuple(live), (cheap, live)
    return tuple(cheap)


def stands(c) -> bool:
    """The cheap path answered: far less gas than the live pass."""
    return gas(c, "pricingValues") < gas(c, "livePricingValues") * 2 // 3


def test_after_a_move__priced_from_the_mark__equal_to_the_live_pass(small):
    c = small.controller
    low, high, down = both(c)
    assert low == high and not down
    assert stands(c)


def test_mark_past_nav_max_age__no_new_round__still_stands(small, chain, deployer):
    c = small.controller
    before = both(c)
    chain.pending_timestamp += 2 * 3600  # older than navMaxAge (1 h), within the heartbeat
    chain.mine()
    assert both(c) == before and stands(c)


def test_a_feed_reports_a_new_round__that_position_read_live__the_new_price_counts(small, deployer):
    c = small.controller
    low0, high0, _ = both(c)
    g0 = gas(c, "pricingValues")
    feed = small.feeds["c1"]
    feed.updateAnswer(int(feed.latestAnswer()) * 101 // 100, sender=deployer)  # +1%
    low, high, down = both(c)
    assert high > high0 and low == low0 and not down  # entries at the rise, exits at the mark
    g1 = gas(c, "pricingValues")
    assert g0 < g1 < gas(c, "livePricingValues")  # one position read, not three


def test_every_feed_reports_a_new_round__every_position_read__equal_anyway(small, deployer):
    c = small.controller
    before = both(c)
    for feed in small.feeds.values():
        feed.updateAnswer(feed.latestAnswer(), sender=deployer)  # same answers, new rounds
    assert both(c) == before and not stands(c)


def test_live_equal_to_the_mark__priced_at_it_fresh_or_stale__else_the_age_decides(
    small, chain, deployer
):
    """Issue 45: when the live value equals the mark's, users' pricing answers it without
    reading the mark's age (the lower and the higher of two equal values); a feed pushed up and
    back (new words, the same answer) is read live and lands there too. Once the live value
    differs, the age decides again: a fresh mark bounds exits (the lower) and entries (the
    higher), a mark past navMaxAge prices both at the live value."""
    c = small.controller
    m, _, _ = both(c)
    feed = small.feeds["c1"]
    a = int(feed.latestAnswer())
    feed.updateAnswer(a * 11 // 10, sender=deployer)
    feed.updateAnswer(a, sender=deployer)  # back to the marked answer, under a new round
    assert both(c) == (m, m, False)
    feed.updateAnswer(a * 101 // 100, sender=deployer)  # +1%, the mark fresh
    low, high, _ = both(c)
    assert low == m < high  # entries at the rise, exits at the mark
    chain.pending_timestamp += 2 * 3600  # the mark past navMaxAge (1 h), the answers fresh
    feed.updateAnswer(a, sender=deployer)
    feed.updateAnswer(a * 101 // 100, sender=deployer)
    assert both(c) == (high, high, False)  # the live value both ways
    feed.updateAnswer(a, sender=deployer)  # back again: live equals the stale mark
    assert both(c) == (m, m, False)


def test_marked_round_past_its_heartbeat__live_pass__feed_down(small, chain):
    c = small.controller
    chain.pending_timestamp += ONE_DAY + 60  # no feed reported: every held round is stale
    chain.mine()
    low, high, down = both(c)
    assert down and not stands(c)
    assert not small.vault.maxDeposit(small.vault.address)  # entries closed, as before


def test_the_next_mark_stands_again(small, deployer, alice):
    c = small.controller
    for feed in small.feeds.values():
        feed.updateAnswer(int(feed.latestAnswer()) * 99 // 100, sender=deployer)
    assert not stands(c)
    c.mark(sender=alice)  # permissionless
    low, high, _ = both(c)
    assert low == high and stands(c)


def test_donation_to_the_controller__never_counts__on_both_paths_and_after_a_mark(
    small, project, usdt, deployer, attacker, alice, unit
):
    """Tokens sent to the controller outside a move are not the fund's (fourth review): neither
    path counts them, before a mark or after it. The donor's round trip through a mark loses
    the whole gift."""
    c, v = small.controller, small.vault
    before = both(c)
    token = small.assets["c1"]
    gift = 100_000 * unit
    usdt.mint(attacker, 2 * gift, sender=deployer)
    usdt.approve(token.address, gift, sender=attacker)
    token.deposit(gift, attacker, sender=attacker)
    token.transfer(c.address, token.balanceOf(attacker), sender=attacker)
    assert both(c) == before and stands(c)
    usdt.approve(v.address, gift, sender=attacker)
    v.deposit(gift, attacker, sender=attacker)
    c.mark(sender=attacker)
    low, high, _ = both(c)
    assert low == high == before[0]  # still not counted
    got = v.redeem(v.maxRedeem(attacker), attacker, attacker, sender=attacker).return_value
    assert got <= gift  # the donor got back at most its stake


def test_configuration_change__live_pass_until_the_next_mark(
    small, deployer, project, create_feed, gov
):
    """setFeed (through the admin) names a new feed: the mark's lines are void at once."""
    c = small.controller
    token = small.assets["m"]
    new = create_feed(2 * 10**8)  # the new feed says $2
    before = both(c)
    c.setFeed(token.address, new.address, ONE_DAY, 1, 10**12, sender=deployer)
    low, high, _ = both(c)
    assert not stands(c) and high > before[1]


def test_held_async_position__read_live__the_rest_from_the_mark(
    fund, controller, keeper, deployer, deposited
):
    """An asynchronous adapter's pending request changes value without a new round: its line
    is live-only (read live, in place of what the mark counted for it); the instant positions
    still answer from the mark, equal to the live pass when its NAV moves too."""
    controller.rebalance(True, sender=keeper)
    before = both(controller)
    assert stands(controller)
    nav = fund.feeds["rwa"]
    nav.updateAnswer(int(nav.latestAnswer()) * 102 // 100, sender=deployer)  # its NAV +2%
    assert both(controller) == before  # its request is still cash pending at the issuer
    assert stands(controller)  # still without reading the instant positions


def test_settled_async_position__its_nav_moves__counted_at_once_the_rest_from_the_mark(
    fund, controller, keeper, deployer, chain, refresh_feeds, deposited, unit
):
    """Held tokens of an asynchronous asset: live-only, so a NAV round on its feed changes
    users' pricing at once (on the cheap path too: its marked value is replaced by the live one)
    while the instant positions still answer from the mark."""
    rwa = fund.assets["rwa"]
    controller.purchaseAsset(rwa, 100_000 * unit, 0, sender=keeper)
    chain.pending_timestamp += 86_400 + 1
    refresh_feeds()
    controller.settle(rwa, sender=keeper)  # the tokens arrive; settle marks
    assert rwa.balanceOf(controller) > 0
    before = both(controller)
    assert stands(controller)
    nav = fund.feeds["rwa"]
    nav.updateAnswer(int(nav.latestAnswer()) * 102 // 100, sender=deployer)  # its NAV +2%
    low, high, _ = both(controller)
    assert high == before[1] + 2_000 * unit and low == before[0]  # 2% of 100,000 on entries
    assert stands(controller)
