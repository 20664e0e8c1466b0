"""Issue 45 (gas): a mark stores what the call's snapshot and its moves read (each position's
units, each feed's latestRoundData() words) instead of reading every balance and feed again.
The attacker's side of that: a transfer hook that acts in the middle of a move (pushes another
feed, sends tokens to the controller, seizes some from it) must not leave a mark line or
`markUnits` that users' pricing trusts wrongly: the cheap path and the live pass agree after the
call, and what changed during it shows at once or from the next mark (the documented rule for a
third party's transfer in)."""

import pytest

from ballast_dev.deployment.fund import RiskSpec, add_asset, deploy_core, grant_roles


@pytest.fixture
def hooked(project, deployer, gov, keeper, guardian, usdt, create_feed, fund_usdt, alice, unit):
    """L2 "m"; L3 "c1" (the default, bought first), "s" (seizable), then "h", whose transfer hook
    runs an armed call when the controller buys it. 1M deposited and invested (every one held),
    then 300k more in L1, so that a forced rebalance buys every L3 asset in list order."""
    f = deploy_core(project, deployer, usdt, risk=RiskSpec(min_move_value=0, max_top3_bps=10_000))
    grant_roles(f, gov, keepers=[keeper], guardians=[guardian], sender=deployer)
    erc = deployer.deploy(project.ERC4626Adapter)
    for symbol, tier in (("m", 1), ("c1", 2), ("s", 2), ("h", 2)):
        if symbol in ("s", "h"):
            token = deployer.deploy(
                project.TestHookedFund, usdt.address, f.controller.address, symbol
            )
        else:
            token = deployer.deploy(project.TestMoneyMarketFund, usdt.address, symbol, symbol)
        add_asset(
            f, deployer, symbol=symbol, token=token, tier=tier, adapter=erc,
            feed=create_feed(), max_concentration_bps=10_000,
        )  # fmt: skip
    usdt.approve(f.vault.address, 2**256 - 1, sender=alice)
    f.vault.deposit(1_000_000 * unit, alice, sender=alice)
    f.controller.rebalance(True, sender=keeper)
    assert all(t.balanceOf(f.controller) > 0 for t in f.assets.values())
    f.vault.deposit(300_000 * unit, alice, sender=alice)
    return f


def both(c):
    cheap, live = c.pricingValues(), c.livePricingValues()
    assert tuple(cheap) == tuple(live), (cheap, live)
    return tuple(cheap)


def _rebalance_firing_the_hook(f, keeper, to, data):
    h, c = f.assets["h"], f.controller
    held = {s: t.balanceOf(c) for s, t in f.assets.items()}
    h.arm(to, data, sender=keeper)
    c.rebalance(True, sender=keeper)
    assert h.hookTo() == "0x" + "00" * 20, "the hook fired: h was bought"
    return held


def test_feed_pushed_during_a_move__the_mark_line_names_the_words_it_priced__cheap_equals_live(
    hooked, keeper, deployer
):
    """c1's feed is pushed +10% in the middle of the rebalance (after the snapshot priced c1,
    before the mark). The mark counted c1 at the old answer, so its line must name the old
    words: users' pricing then reads c1 live (the new answer) on both paths, and the fresh mark
    (the old answer) is the lower bound. A line made from words read at the end would say
    'unchanged since the mark' and price c1 at the old answer on the cheap path only."""
    f, c = hooked, hooked.controller
    feed = f.feeds["c1"]
    new = int(feed.latestAnswer()) * 110 // 100
    _rebalance_firing_the_hook(f, keeper, feed.address, feed.updateAnswer.encode_input(new))
    assert int(feed.latestAnswer()) == new
    low, high, down = both(c)
    assert not down and high > low  # live (the new answer) above the mark (the old one)
    c.mark(sender=deployer)  # reads every position at the new answer
    assert both(c) == (high, high, False)


def test_tokens_sent_to_the_controller_during_a_move__never_count__cheap_equals_live(
    hooked, keeper, attacker, usdt, deployer, unit
):
    """h's hook sends c1 tokens to the controller in the middle of the rebalance. The mark
    counted c1's units as the snapshot or c1's purchase left them; `markUnits` must be those
    units, not the balance after the gift, or the live pass would count the gift at once while
    the cheap path (c1's feed unchanged) answers the marked value. The gift is not the fund's:
    the next mark does not count it either (fourth review)."""
    f, c = hooked, hooked.controller
    c1, h = f.assets["c1"], f.assets["h"]
    gift = 50_000 * unit
    usdt.mint(attacker, gift, sender=deployer)
    usdt.approve(c1.address, gift, sender=attacker)
    c1.deposit(gift, h.address, sender=attacker)  # h holds the c1 it will send
    shares = c1.balanceOf(h)
    _rebalance_firing_the_hook(f, keeper, c1.address, c1.transfer.encode_input(c.address, shares))
    assert c1.balanceOf(h) == 0
    low, high, _ = both(c)  # the gift is not counted yet, on either path
    assert low == high
    c.mark(sender=attacker)
    low2, high2, _ = both(c)
    assert low2 == high2
    assert low2 == low  # never counted


def test_tokens_seized_from_the_controller_during_a_move__the_live_pass_counts_it_at_once(
    hooked, keeper, deployer
):
    """h's hook seizes half of s in the middle of the rebalance. The live pass counts the
    seizure at once (at most the units left, whatever `markUnits` says), exactly as the next
    mark does on both paths. (The cheap path, which reads no balance, answers the mark until
    then, as after a seizure between two calls.)"""
    f, c = hooked, hooked.controller
    s = f.assets["s"]
    held_s = s.balanceOf(c)
    _rebalance_firing_the_hook(f, keeper, s.address, s.seize.encode_input(c.address, held_s // 2))
    assert s.balanceOf(c) < held_s  # seized mid-call
    live_low, live_high, _ = c.livePricingValues()
    assert live_low < live_high  # the live value below the (pre-seizure) fresh mark
    c.mark(sender=deployer)
    assert both(c) == (live_low, live_low, False)
