"""Issue 67, the wind-down as the keeper lives it on the deployed local fund: once the timelock
starts the closing, the fund bot plans and sends only sales toward cash (no buy, however much
cash sits in L1), `keeper status` (text and --json), the console's fund page and the metrics
say "closing"; once closed, "closed" and nothing is planned."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import REGISTRY

from keepers.fund.planning.actions import ActionType
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import NO_APPROVAL, UNIT, via_timelock
from tests.support.fundbotlib import keeper_cli as keeper

NOW = 1_800_000_000


def _invested(state: Any) -> int:
    return state.tiers[1].value + state.tiers[2].value


def test_closing__keeper_plans_and_sends_sales_only__status_console_metrics_say_closing(
    make_bot, fresh, accounts, env, alerts
):
    admin = accounts[1]
    # 400,000 more cash in L1: open, the keeper would invest it (see test_fundbot_cycle)
    fresh.vault.deposit(400_000 * UNIT, admin, sender=admin)
    bot = make_bot(NO_APPROVAL)
    open_plan = bot.check("liquidity", NOW, dry_run=True)
    assert open_plan.status == "dry_run"
    assert open_plan.report is not None
    assert any(a["type"] == ActionType.PURCHASE.value for a in open_plan.report["actions"])
    via_timelock(fresh, fresh.vault.initiateClosing.encode_input(), admin, 67)
    assert fresh.vault.phase() == 1
    before = bot.read().state
    assert before.phase == 1
    assert REGISTRY.get_sample_value("rebalance_fund_phase") == 1
    out = bot.check("liquidity", NOW + 60)
    assert out.status in ("executed", "partial"), (out.detail, alerts)
    actions = bot.plans.plan(out.plan_id).actions
    assert actions and {a.type for a in actions} <= {ActionType.REDEEM, ActionType.WATERFALL}
    after = bot.read().state
    assert _invested(after) < _invested(before) and after.cash > before.cash

    r = keeper(env, "--json", "status")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["phase"] == "closing"
    text = keeper(env, "status").output
    assert "CLOSING" in text and "sales toward cash only" in text
    with running_console(env, now=NOW) as c:
        status, _, page = Client(c.url).get("/fund")
    assert status == 200, page[-2000:]
    nav = re.search(r'<table id="nav">(.*?)</table>', page, re.S)
    assert nav and "closing" in nav.group(1)
