"""Issue 47, "venues checked against their oracle": an ERC-4626 fund whose share price leaves
its feed is held for the side that loses, named in a `venue_off_oracle` warning with both
prices, routed around (the rest of the plan runs), never re-planned while the two disagree,
and traded again once they agree. On anvil, with the deployed local fund (MMF-A and MMF-B are
OpenZeppelin ERC-4626 funds over the base stablecoin, priced by their own feeds)."""

from __future__ import annotations

from typing import Any

from keepers.fund.planning import triggers as trig
from keepers.fund.planning.actions import ActionType
from tests.support.fundbotlib import NO_APPROVAL, UNIT

NOW = 1_800_000_000


def _buys(plan: Any, token: str) -> int:
    return sum(a.amount for a in plan.actions if a.type is ActionType.PURCHASE and a.asset == token)


def test_liquidity_check__erc4626_fund_5pct_under_its_feed__not_bought_alerted_rest_runs(
    make_bot, fresh, accounts, alerts
):
    bot = make_bot(NO_APPROVAL)
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    reading = bot.read()
    mmf = reading.state.asset(fresh.assets["MMF-A"].address)
    triggers = trig.liquidity_triggers(reading.state, bot.cfg, 0)
    # with the fund at its feed, the deposit's plan buys MMF-A
    assert _buys(bot.sizing.make_sized_plan(reading, triggers, NOW - 60), mmf.token) > 0
    # its share price rises 6% (cash donated to it) while its feed stays put: a purchase now
    # gets ~5.7% fewer shares than the feed gives
    fund_a = fresh.assets["MMF-A"]
    fresh.cash.mint(fund_a, int(fund_a.totalAssets()) * 6 // 100, sender=accounts[0])
    out = bot.check("liquidity", NOW)
    assert out.status == "executed", (out.detail, alerts)
    plan = bot.plans.plan(out.plan_id)
    assert _buys(plan, mmf.token) == 0 and plan.actions  # routed to the other venues
    assert any("MMF-A" in u.detail and "buy held" in u.detail for u in plan.unresolved)
    (said,) = [a for a in alerts if a.code == "venue_off_oracle"]
    assert said.level.value == "warning" and "MMF-A" in said.message
    assert "previewDeposit(1000000000)" in said.message and "the feed gives" in said.message
    # another deposit an hour later: MMF-A is not bought again, and the alert is not repeated
    fresh.vault.deposit(300_000 * UNIT, accounts[1], sender=accounts[1])
    again = bot.check("liquidity", NOW + 3_600)
    assert again.plan_id != out.plan_id and again.status == "executed", again.detail
    assert _buys(bot.plans.plan(again.plan_id), mmf.token) == 0
    assert len([a for a in alerts if a.code == "venue_off_oracle"]) == 1
    # the feed catches up with the share price: the venue is bought again
    feed = fresh.feeds["MMF-A"]
    feed.updateAnswer(int(feed.latestAnswer()) * 106 // 100, sender=accounts[0])
    reading = bot.read()
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    reading = bot.read()
    triggers = trig.liquidity_triggers(reading.state, bot.cfg, 0)
    plan = bot.sizing.make_sized_plan(reading, triggers, NOW + 7_200)
    assert _buys(plan, mmf.token) > 0, plan
    assert bot.plans.last_job_detail("alert:venue_off_oracle")["key"] is None  # cleared


def test_check__leg_failed_simulation_reason_unchanged__left_out_said_so_retried_on_change(
    make_bot, fresh, accounts, alerts
):
    """No plan is re-made with the same failing leg: with the venue check off
    (VENUE_ORACLE_MAX_BPS=10000) the 6% case fails the simulation once; the next plan leaves
    that purchase out and says why, the rest runs; once the feed moves it is tried again."""
    bot = make_bot({**NO_APPROVAL, "VENUE_ORACLE_MAX_BPS": "10000"})
    fund_a = fresh.assets["MMF-A"]
    fresh.cash.mint(fund_a, int(fund_a.totalAssets()) * 6 // 100, sender=accounts[0])
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    token = bot.read().state.asset(fund_a.address).token
    first = bot.check("liquidity", NOW)
    assert first.status == "aborted" and "SlippageExceeded" in first.detail, first.detail
    second = bot.check("liquidity", NOW + 300)
    assert second.status == "executed", (second.detail, alerts)
    plan = bot.plans.plan(second.plan_id)
    assert _buys(plan, token) == 0 and plan.actions
    said = [u.detail for u in plan.unresolved if "left out" in u.detail]
    assert said and "MMF-A buy" in said[0] and first.plan_id in said[0], plan.unresolved
    assert "SlippageExceeded" in said[0]
    # the feed catches up: the reason changed, the purchase is planned again
    feed = fresh.feeds["MMF-A"]
    feed.updateAnswer(int(feed.latestAnswer()) * 106 // 100, sender=accounts[0])
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    reading = bot.read()
    triggers = trig.liquidity_triggers(reading.state, bot.cfg, 0)
    assert _buys(bot.sizing.make_sized_plan(reading, triggers, NOW + 600), token) > 0
