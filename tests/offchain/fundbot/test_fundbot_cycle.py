"""The fund bot end to end on anvil: triggers -> plan -> risk -> approval -> simulation (the
node's eth_simulateV1, the default on the local chain) -> pipeline execution -> verification ->
records."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from keepers.store import models as m
from tests.support.fundbotlib import NO_APPROVAL, UNIT

NOW = 1_800_000_000  # a fixed replay time (Fri 2027-01-15 08:00 UTC)


def deposit(fund: Any, accounts: Any, amount: int) -> None:
    fund.vault.deposit(amount * UNIT, accounts[1], sender=accounts[1])


def test_reader__one_eth_call__matches_contract_totals(make_bot, fresh):
    bot = make_bot(NO_APPROVAL)
    r = bot.read()
    st = fresh.lens.fundState(fresh.controller.address)
    assert r.state.total_assets == st.totalAssets
    assert r.state.position(0) == st.tierValues[0]
    assert r.state.tiers[1].value == st.tierValues[1] and r.state.tiers[2].value == st.tierValues[2]
    assert [abs(t.value) > 0 for t in r.state.tiers] == [True, True, True]
    assert {a.symbol for a in r.state.assets} == set(fresh.assets)


def test_liquidity_check__l1_high__plan_executed_and_verified(make_bot, fresh, accounts, alerts):
    deposit(fresh, accounts, 400_000)
    bot = make_bot(NO_APPROVAL)
    started = time.perf_counter()
    out = bot.check("liquidity", NOW)
    elapsed = time.perf_counter() - started
    print(f"\nfull plan cycle: {elapsed:.2f}s, {len(out.results)} actions")
    assert out.status == "executed", (out.detail, alerts)
    assert out.results and all(r.success and r.tx_hash for r in out.results)
    row = bot.plans.get(out.plan_id)
    assert row.payload["verification"]["ok"], row.payload["verification"]
    sim = row.payload["simulation"]
    assert sim["ok"] and sim["simulator"] == "node", sim
    assert len(sim["gas"]) == len(out.results) and all(g > 21_000 for g in sim["gas"])
    # the tiers the simulation said the plan leaves are the tiers it left on chain
    assert sim["after"] == row.payload["verification"]["actual"], (sim, row.payload)
    assert "LIQUIDITY" in row.trigger
    after = bot.read().state
    assert after.position(0) * 10_000 <= 1_500 * after.total_assets  # L1 back under its high mark
    with bot.store.sessions() as s:
        keys = s.scalars(select(m.TxIntent.idempotency_key)).all()
    assert sorted(keys) == sorted(f"fund:{out.plan_id}:{i}" for i in range(len(out.results)))
    assert not [a for a in alerts if a.level != "warning" or a.code != "risk_warn"]


def test_threshold_check__tier_off_target__plan_fires(make_bot, fresh, accounts):
    c, keeper = fresh.controller, accounts[2]
    bot = make_bot(NO_APPROVAL)
    # Move 9% of the fund from L2 to L3 by hand: L1 stays at target, only the tiers deviate.
    mmf = bot.read().state.asset(fresh.assets["MMF-A"].address)
    c.redeemAsset(mmf.token, mmf.tokens_for_value(180_000 * UNIT), 0, sender=keeper)
    c.purchaseAsset(fresh.assets["CREDIT"], 90_000 * UNIT, 0, sender=keeper)
    c.purchaseAsset(fresh.assets["TBILL-B"], 90_000 * UNIT, 0, sender=keeper)
    assert bot.check("liquidity", NOW).status == "nothing_to_do"
    out = bot.check("threshold", NOW, dry_run=True)
    assert out.status == "dry_run" and out.plan_id
    out = bot.check("threshold", NOW)
    assert out.status in ("executed", "partial"), out.detail
    assert "THRESHOLD" in bot.plans.get(out.plan_id).trigger


def test_daily_check__runs_once_per_day(make_bot, fresh, accounts):
    deposit(fresh, accounts, 400_000)
    bot = make_bot(NO_APPROVAL)
    assert bot.check("daily", NOW, dry_run=True).status == "dry_run"  # a dry run does not count
    out = bot.check("daily", NOW + 60)
    assert out.status == "executed", out.detail
    assert "SCHEDULED" in bot.plans.get(out.plan_id).trigger
    out = bot.check("daily", NOW + 120)
    assert out.status == "nothing_to_do" and "no trigger" in out.detail  # already ran today
    out = bot.check("daily", NOW + 86_400)  # the next day: due again, the fund is in band
    assert out.plan_id is not None and out.status == "nothing_to_do"
    assert bot.check("weekly", NOW + 86_400).plan_id is not None  # never ran: due


def test_event_check__large_deposit__plan_fires(make_bot, fresh, accounts):
    bot = make_bot(NO_APPROVAL)
    assert bot.events(NOW).status == "nothing_to_do"  # first check: records where it starts
    deposit(fresh, accounts, 50_000)  # below LARGE_DEPOSIT_AMOUNT (100K): no event
    assert bot.events(NOW + 300).status == "nothing_to_do"
    deposit(fresh, accounts, 400_000)
    out = bot.events(NOW + 600)
    assert out.status == "executed", out.detail
    row = bot.plans.get(out.plan_id)
    codes = [t["code"] for t in row.payload["plan"]["triggers"]]
    assert codes == ["large_deposit"] and row.trigger == "EVENT"


def test_event_check__price_move__trigger_recorded(make_bot, fresh, accounts):
    bot = make_bot(NO_APPROVAL)
    bot.events(NOW)
    feed = fresh.feeds["TBILL-B"]
    feed.updateAnswer(feed.latestAnswer() * 94 // 100, sender=accounts[0])  # -6% > 5%
    reading = bot.read()
    last = bot.plans.last_job_detail("events")
    from keepers.fund.planning.triggers import price_move_triggers

    moved = price_move_triggers(
        {k: int(v) for k, v in last["prices"].items()}, reading.prices, bot.cfg
    )
    assert [t.asset for t in moved] == [fresh.assets["TBILL-B"].address]
    out = bot.events(NOW + 300)  # the move triggers a plan (in band: it has nothing to do)
    assert out.plan_id is not None and out.status in ("nothing_to_do", "executed")
    assert bot.plans.last_job_detail("events")["at"] == NOW + 300


def test_manual__operator_request__plan_goes_through_approval(make_bot, fresh, accounts):
    deposit(fresh, accounts, 400_000)
    bot = make_bot()
    out = bot.manual(NOW, "alice", "deploy the new cash")
    assert out.status == "pending_approval"
    row = bot.plans.get(out.plan_id)
    assert row.trigger == "MANUAL" and row.payload["plan"]["triggers"][0]["code"] == "manual_force"


def test_reader__pending_redemptions__l1_is_cash_less_owed_and_planned_for(
    make_bot, fresh, accounts
):
    admin = accounts[1]
    shares = fresh.vault.convertToShares(300_000 * UNIT)  # more than L1's ~200K of cash
    fresh.vault.requestRedeem(shares, admin, admin, sender=admin)
    bot = make_bot(NO_APPROVAL)
    r = bot.read()
    st = fresh.lens.fundState(fresh.controller.address)
    assert st.pendingRedemptions > 0 and r.state.pending_redemptions == st.pendingRedemptions
    assert r.state.cash == st.freeCash and r.state.total_assets == st.totalAssets
    assert (
        r.state.position(0) == st.freeCash - st.pendingRedemptions < 0
    )  # the contract clamps to 0
    assert st.tierValues[0] == 0
    out = bot.check("liquidity", NOW)
    assert out.status == "executed", out.detail
    p = bot.plans.plan(out.plan_id)
    assert [a.priority for a in p.actions][0] == 0  # redemption preparation first
    after = bot.read().state
    assert after.position(0) >= 0  # free cash now covers what is owed
