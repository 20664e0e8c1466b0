"""Issue 67, the exit horizon's floor on the deployed local fund: with a notional budget that
counts only part of the liquid positions, a fund whose 0-day horizon on a fresh window is under
REBALANCE_HORIZON_FLOOR_BPS gets a sale (reason horizon_floor, shown in the plan report) that
the keeper executes; the horizon read back from the chain (FundLens.exitHorizon plus the pools'
part) on the next window is at or above the floor, and was under it before."""

from __future__ import annotations

from typing import Any

from keepers.fund.horizon import read as read_horizon
from keepers.fund.planning.actions import ActionType
from keepers.fund.planning.horizon import HORIZON_FLOOR, floor_value
from tests.support.fundbotlib import NO_APPROVAL, UNIT, ZERO32

NOW = 1_800_000_000
DAY = 86_400
FLOOR_BPS = 1_800  # 18%: above L1's 10% target, under its 20% maximum
BUDGET = 100_000 * UNIT  # a window's notional budget: far less than the liquid positions


def _lower_budget(fund: Any, proposer: Any) -> None:
    """The notional budget lowered to BUDGET through the timelock (delay 0 on the profile)."""
    lim = fund.controller.moveLimits()
    data = fund.controller.setMoveLimits.encode_input(
        (lim.lossBudget, BUDGET, lim.window, lim.internalSlippageBps)
    )
    salt = (6_718).to_bytes(32, "big")
    fund.timelock.schedule(fund.controller, 0, data, ZERO32, salt, 0, sender=proposer)
    fund.timelock.execute(fund.controller, 0, data, ZERO32, salt, sender=proposer)


def _next_window(fund: Any, chain: Any, deployer: Any) -> None:
    """A window later (the budget's room back), every feed re-reporting its answer."""
    chain.pending_timestamp += DAY + 60
    chain.mine()
    for feed in fund.feeds.values():
        feed.updateAnswer(feed.latestAnswer(), sender=deployer)


def test_floor__fund_under_it__sale_executed__horizon_read_back_at_the_floor(
    make_bot, fresh, accounts, chain, alerts
):
    _lower_budget(fresh, accounts[1])
    _next_window(fresh, chain, accounts[0])  # the deploy's own moves drained from the budget
    assert fresh.controller.moveLimits().notionalBudget == BUDGET
    bot = make_bot({**NO_APPROVAL, "REBALANCE_HORIZON_FLOOR_BPS": str(FLOOR_BPS)})
    reading = bot.read()
    st = reading.state
    floor = floor_value(st, FLOOR_BPS)
    before = read_horizon(bot, reading)
    # cash (10%) + the budget's 100k of the liquid positions: under 18%
    assert before.total[0] < floor
    assert before.chain.venues > BUDGET

    dry = bot.check("daily", NOW, dry_run=True)
    assert dry.report is not None
    legs = [a for a in dry.report["actions"] if a["reason"].startswith(HORIZON_FLOOR)]
    assert legs and all(a["type"] == ActionType.REDEEM.value for a in legs)
    out = bot.check("daily", NOW + 60)
    assert out.status == "executed", (out.detail, alerts)
    plan = bot.plans.plan(out.plan_id)
    sold = [a for a in plan.actions if a.reason.startswith(HORIZON_FLOOR)]
    assert sold and {a.type for a in sold} == {ActionType.REDEEM}
    # never more than needed: the shortfall, beyond the minimum trade
    assert sum(a.amount for a in sold) <= floor - before.total[0] + 10_000 * UNIT
    assert all(st.asset(a.asset).instant for a in sold)  # never the async RWA

    _next_window(fresh, chain, accounts[0])
    reading = bot.read()
    after = read_horizon(bot, reading)
    assert after.total[0] >= floor_value(reading.state, FLOOR_BPS) - UNIT, (after.total, floor)
    assert after.total[0] > before.total[0]
    # the next day's plan sells nothing more for the floor
    again = bot.check("daily", NOW + DAY + 120, dry_run=True)
    assert again.report is None or not any(
        a["reason"].startswith(HORIZON_FLOOR) for a in again.report["actions"]
    )
