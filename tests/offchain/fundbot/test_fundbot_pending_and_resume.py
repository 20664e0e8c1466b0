"""Issue 13, "Plans": no second plan while one with the same actions is pending; the report of
a plan resumed after a crash keeps the actions done before it; the keeper says at start-up
which plans it resumes. On anvil, with the deployed local fund."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from keepers.cli import main
from keepers.fund.bot import DUPLICATE
from keepers.fund.records import PlanPendingError
from keepers.store import models as m
from tests.support.fundbotlib import NO_APPROVAL, UNIT, KillBeforeSecondAction, restarted

NOW = 1_800_000_000


def plans(bot: Any) -> int:
    with bot.store.sessions() as s:
        return int(s.scalar(select(func.count(m.Plan.id))) or 0)


def test_check__same_actions_pending_approval__no_second_plan_names_the_pending_one(
    make_bot, fresh, accounts
):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot()  # 400K: above the approval threshold, it waits for the admins
    first = bot.check("liquidity", NOW)
    assert first.status == "pending_approval", first
    # ten minutes later the state still shows the imbalance the pending plan corrects
    again = bot.check("liquidity", NOW + 600)
    assert again.status == DUPLICATE and again.plan_id == first.plan_id, again
    assert first.plan_id in again.detail and "pending_approval" in again.detail
    with pytest.raises(PlanPendingError, match=first.plan_id):
        bot.manual(NOW + 700, "operator", "again")
    assert plans(bot) == 1
    # once it is no longer pending (rejected), the same actions may be planned again
    bot.approve(first.plan_id, "alice", NOW + 800, approve=False)
    assert bot.plans.get(first.plan_id).status == "rejected"
    assert bot.check("liquidity", NOW + 900).status == "pending_approval"
    assert plans(bot) == 2


def test_keeper_plan__pending_plan_covers_it__exit_1_naming_that_plan(env, fresh, accounts):
    env = {**env, "KEEPER_SIGNER_KEY": accounts[2].private_key}
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    runner = CliRunner(mix_stderr=False)
    r = runner.invoke(main, ["--json", "--now", str(NOW), "plan"], env=env)
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert first["status"] == "pending_approval", first
    r = runner.invoke(main, ["--now", str(NOW + 600), "plan"], env=env)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert f"plan {first['plan']} (pending_approval) already covers these actions" in r.stderr
    assert "Traceback" not in r.stderr


def test_restart__crash_between_actions__report_keeps_every_action_and_its_amounts(
    make_bot, fresh, accounts, chain
):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    bot.before_action = kill = KillBeforeSecondAction()
    with contextlib.suppress(KeyboardInterrupt):
        bot.check("liquidity", NOW)
    (row,) = bot.plans.with_status("approved")
    ref = row.ref
    p = bot.plans.plan(ref)
    planned = row.payload["report"]  # made when the plan was planned, before any action
    assert len(p.actions) >= 2 and kill.sent == [
        sorted(range(len(p.actions)), key=lambda i: p.actions[i].priority)[0]
    ]

    # the restarted keeper (same DB) says it resumes the plan, then finishes it
    again = restarted(bot)
    assert again.start() == [
        {"ref": ref, "status": "approved", "done": 1, "in_flight": 0, "total": len(p.actions)}
    ]
    (out,) = again.tick(NOW + 300)
    assert out.status == "executed", out
    report = again.plans.get(ref).payload["report"]
    ordered = p.ordered()
    assert [(a["type"], a["amount"], a["asset"]) for a in report["actions"]] == [
        (a.type.value, a.amount, a.asset) for a in ordered
    ]
    assert report["total_amount"] == p.total_amount
    assert [(r["type"], r["amount"]) for r in report["results"]] == [
        (a.type.value, a.amount) for a in ordered
    ]
    assert all(r["success"] and r["tx_hash"] for r in report["results"])
    # the tiers before are those the first send was made on (recorded with it, issue 47), not
    # the state on resuming: the report and the verification are those of an unbroken run
    assert report["tiers_before"] == planned["tiers_before"]
    assert report["tiers_expected"] == planned["tiers_expected"]
    assert "resumed_after" not in report
    assert again.plans.get(ref).payload["verification"]["ok"], report
    assert again.start() == []  # nothing left to resume


def test_check__second_deposit_while_first_plan_pending__no_trigger_plans_its_legs_again(
    make_bot, fresh, accounts
):
    """Issue 47: a 400,000 deposit's plan A waits for the owners; a 300,000 deposit follows.
    The hourly threshold check, the liquidity check and the event tick used to plan from the
    chain alone and record plan B with A's legs beside A. Now each plans against the fund as
    A will leave it: no plan repeats A's move, and together the plans in flight move no tier
    past its target."""
    from keepers.fund.planning.inflight import project
    from keepers.fund.planning.state import BPS

    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot()
    assert bot.events(NOW - 60).status == "nothing_to_do"  # the event tick's starting block
    first = bot.check("liquidity", NOW)
    assert first.status == "pending_approval", first
    fresh.vault.deposit(300_000 * UNIT, accounts[1], sender=accounts[1])
    chain = bot.read().state
    outs = [
        bot.check("threshold", NOW + 3_600),
        bot.check("liquidity", NOW + 3_900),
        bot.events(NOW + 3_930),
        bot.check("threshold", NOW + 7_200),
    ]
    first_legs = {(a.type, a.asset) for a in bot.plans.plan(first.plan_id).actions}
    for row in bot.plans.with_status("proposed", "pending_approval", "approved"):
        if row.ref != first.plan_id:  # only what cannot wait, netted against A
            p = bot.plans.plan(row.ref)
            assert all(a.reason for a in p.actions), outs
    flights = bot.plans.in_flight()
    projected = project(chain, flights)
    for t in range(3):
        target = projected.total_assets * projected.tiers[t].target_bps // BPS
        here, there = chain.positions()[t], projected.positions()[t]
        assert min(here, target) - UNIT <= there <= max(here, target) + UNIT, (t, outs)
    # A's own legs are never planned a second time beside it
    others = [f for f in flights if f.ref != first.plan_id]
    bought_again = sum(
        a.amount
        for f in others
        for a in f.actions
        if (a.type, a.asset) in first_legs and a.type.value == "purchaseAsset"
    )
    assert bought_again <= 300_000 * UNIT, (outs, others)
    assert any(o.status == DUPLICATE and first.plan_id in o.detail for o in outs), outs
