"""A held asset's feed goes stale (the harsher month's two-day outage), on anvil: the keeper's
cycle completes instead of dividing by the zero price, raises one `feed_down` alert naming the
asset, the feed, the age of its last answer and what it holds back, buys and sells nothing of
that asset and plans no tier rebalancing while its price is unknown; when the feed reports
again, `feed_restored` and the next check rebalances as usual."""

from __future__ import annotations

from typing import Any

from keepers.fund.planning.plan import FEED_DOWN
from tests.support.fundbotlib import NO_APPROVAL, UNIT

NOW = 1_800_000_000


def _stale(feed: Any, chain: Any, sender: Any) -> int:
    """The feed's last answer, re-stamped two days old (past its one-day heartbeat)."""
    answer = feed.latestAnswer()
    old = chain.pending_timestamp - 2 * 86_400
    feed.updateRoundData(feed.latestRound() + 1, answer, old, old, sender=sender)
    return answer


def test_feed_down__cycle_completes_alerts_once_holds_back_then_clears(
    make_bot, fresh, accounts, alerts, chain
):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    assert bot.check("liquidity", NOW).status == "executed"  # invested: TBILL-A is held
    token = fresh.assets["TBILL-A"].address
    assert any(a.token == token and a.balance > 0 for a in bot.read().state.assets)
    fresh.vault.deposit(300_000 * UNIT, accounts[1], sender=accounts[1])  # L1 far over band
    feed = fresh.feeds["TBILL-A"]
    answer = _stale(feed, chain, accounts[0])  # (the vault now refuses deposits: FeedDown)
    alerts.clear()

    reading = bot.read()
    down = [a for a in reading.state.assets if a.token == token]
    assert down and not down[0].priced and down[0].held_unpriced  # never a price of 0
    out = bot.check("liquidity", NOW + 300)  # before: ZeroDivisionError in every job
    # L1 is far over its band, but with L3's value unknown nothing is rebalanced: the plan
    # says why (no redemption is pending, so nothing is left that is safe to do)
    assert out.status == "nothing_to_do", out.detail
    assert f"{FEED_DOWN}: TBILL-A: feed down" in out.detail
    feed_down = [a for a in alerts if a.code == "feed_down"]
    assert len(feed_down) == 1 and feed_down[0].level == "critical"
    msg = feed_down[0].message
    assert token in msg and feed.address in msg and "stale" in msg and "holding back" in msg
    assert "s ago" in msg

    bot.check("liquidity", NOW + 600)  # still down: not alerted again
    assert len([a for a in alerts if a.code == "feed_down"]) == 1

    feed.updateAnswer(answer, sender=accounts[0])  # the feed reports again
    out = bot.check("liquidity", NOW + 900)
    assert any(a.code == "feed_restored" for a in alerts)
    assert out.status == "executed", out.detail  # the held-back rebalance goes ahead
    assert all(a.priced for a in bot.read().state.assets)


def test_feed_down_on_a_donated_wei__dust_holds_nothing_back(
    make_bot, fresh, accounts, alerts, chain
):
    """One wei of an idle asset whose feed is down: the controller does not count it (an
    outsider's transfer: not in value, not as down, entries stay open), and neither does the
    keeper (FundLens reports the units the controller counts): no feed_down alert, no degraded
    plan."""
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    assert bot.check("liquidity", NOW).status == "executed"
    sym = "PRIVCRED"  # the async RWA: idle after the first investment
    token = fresh.assets[sym]
    assert [a.balance for a in bot.read().state.assets if a.token == token.address] == [0]
    token.mint(accounts[1], 10, sender=accounts[0])  # (the test issuer mints to anyone)
    token.transfer(fresh.controller, 1, sender=accounts[1])  # the donated wei
    _stale(fresh.feeds[sym], chain, accounts[0])
    alerts.clear()
    (dust,) = [a for a in bot.read().state.assets if a.token == token.address]
    assert int(fresh.controller.accountedUnits(token)) == 0 < int(token.balanceOf(fresh.controller))
    assert dust.balance == 0 and dust.priced and not dust.held_unpriced
    bot.check("liquidity", NOW + 300)
    assert [a for a in alerts if a.code == "feed_down"] == []
    fresh.vault.deposit(UNIT, accounts[1], sender=accounts[1])  # entries open on chain too
