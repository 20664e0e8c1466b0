"""The off-chain cost budget on a chain (issue 24): with the day's fill cost already at
REBALANCE_COST_BUDGET_DAILY, the fund keeper holds back a move toward target inside the bands
and says why, but still restores a band edge. The books are the keeper's own store (a real
SQLite file); the fund is the deployed local one on anvil."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from keepers.cli import main
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.records import APPROVED, EXECUTED, PENDING_APPROVAL, PROPOSED
from tests.support.fundbotlib import NO_APPROVAL, UNIT

NOW = 1_800_000_000


def _spend(bot: Any, bps_of_nav: int, at: int) -> int:
    """Books one finished plan whose fills cost ``bps_of_nav`` of the fund's NAV."""
    nav = bot.read().state.total_assets
    cost = -(-nav * bps_of_nav // 10_000)  # rounded up: the budget is spent at >=
    leg = Action(ActionType.ALLOCATE, 1_000 * UNIT, 1, "earlier", from_tier=0, to_tier=1)
    bot.plans.save_new(Plan("spent-earlier", at, (), (leg,)), PROPOSED, {})
    bot.plans.update("spent-earlier", PENDING_APPROVAL)
    bot.plans.update("spent-earlier", APPROVED)
    bot.plans.finish("spent-earlier", EXECUTED, at, cost)
    return cost


def _tiers(bot: Any) -> tuple[int, int, int]:
    st = bot.read().state
    return st.position(0), st.tiers[1].value, st.tiers[2].value


def test_budget_spent__comfort_move_held_back_stored_and_said__band_restoration_still_runs(
    make_bot, fresh, accounts, env
):
    c, keeper = fresh.controller, accounts[2]
    bot = make_bot({**NO_APPROVAL, "KEEPER_DB_URL": env["KEEPER_DB_URL"]})
    # 9% of the fund from L2 to L3 by hand: every tier in band, off target (a threshold move)
    mmf = bot.read().state.asset(fresh.assets["MMF-A"].address)
    c.redeemAsset(mmf.token, mmf.tokens_for_value(180_000 * UNIT), 0, sender=keeper)
    c.purchaseAsset(fresh.assets["CREDIT"], 90_000 * UNIT, 0, sender=keeper)
    c.purchaseAsset(fresh.assets["TBILL-B"], 90_000 * UNIT, 0, sender=keeper)
    daily = bot.cfg.rebalance_cost_budget_daily
    _spend(bot, daily, NOW - 600)  # the day's budget, to the bps
    assert bot.sizing.budget_spent(bot.read().state.total_assets, NOW)
    before = _tiers(bot)
    out = bot.check("threshold", NOW)
    assert out.status not in ("executed", "partial"), out.detail
    assert _tiers(bot) == before  # nothing moved
    # the cycle says what is spent and what waits
    assert out.detail.startswith("cost_budget: cost budget spent"), out.detail
    assert "REBALANCE_COST_BUDGET_DAILY=10 bps" in out.detail and "waits" in out.detail
    # what waits is a plan record (issue 47: its id used to find nothing), shown by history
    assert out.status == "blocked", out
    row = bot.plans.get(out.plan_id)
    assert row is not None and row.status == "blocked", out
    assert row.payload["held"] == "cost_budget" and "to target waits" in row.payload["note"]
    # the same hold an hour later is the same record, not one more per check
    assert bot.check("threshold", NOW + 3_600).plan_id == out.plan_id
    r = CliRunner(mix_stderr=False).invoke(main, ["--json", "history"], env=env)
    assert r.exit_code == 0, r.output
    shown = [d for d in json.loads(r.stdout) if d["plan"] == out.plan_id]
    assert [(d["status"], d["held"]) for d in shown] == [("blocked", "cost_budget")], r.stdout
    assert shown[0]["note"] == row.payload["note"]
    # a large deposit takes L1 above its band: restoring the edge goes ahead, budget or not
    fresh.vault.deposit(1_500_000 * UNIT, accounts[1], sender=accounts[1])
    out = bot.check("liquidity", NOW + 60)
    assert out.status in ("executed", "partial"), out.detail
    st = bot.read().state
    assert st.position(0) * 10_000 <= 2_000 * st.total_assets  # back inside L1's band
    # a day later the window has passed: the threshold move goes ahead again
    assert bot.sizing.budget_spent(st.total_assets, NOW + 86_400 + 600) is None
