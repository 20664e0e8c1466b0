"""The same cycle over a 6- and an 18-decimal base stablecoin (USDT on Ethereum / on BSC):
reading, oracle minOut and pool quotes, execution and verification."""

from __future__ import annotations

from typing import Any

import pytest

from ballast_dev.deployment.profile import deploy_profile, load_profile
from keepers.fund.planning.actions import Action, ActionType, Plan, plan_id
from keepers.fund.planning.report import plan_report
from keepers.fund.planning.simulate import tier_deltas
from keepers.fund.planning.triggers import manual_trigger
from tests.support.fundbotlib import NO_APPROVAL, ROOT

NOW = 1_800_000_000


@pytest.fixture(scope="module", params=[6, 18], ids=["usdt6", "usdt18"])
def fund(request: Any, accounts: Any, chain: Any) -> Any:
    profile = load_profile(ROOT / "scripts/profiles/local.yaml")
    base = profile.base.model_copy(update={"decimals": request.param})
    profile = profile.model_copy(update={"base": base})
    f = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
    unit = 10**request.param
    admin, keeper = accounts[1], accounts[2]
    f.cash.mint(admin, 10_000_000 * unit, sender=accounts[0])
    f.cash.approve(f.vault, 2**256 - 1, sender=admin)
    f.vault.deposit(2_000_000 * unit, admin, sender=admin)
    f.controller.rebalance(True, sender=keeper)
    f.unit = unit
    return f


def test_cycle__both_decimals__liquidity_plan_executed_and_verified(make_bot, fresh, accounts):
    unit = fresh.unit
    fresh.vault.deposit(400_000 * unit, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    state = bot.read().state
    assert state.base_decimals == fresh.cash.decimals()
    assert 2_390_000 * unit < state.total_assets < 2_410_000 * unit
    out = bot.check("liquidity", NOW)
    assert out.status == "executed", out.detail
    row = bot.plans.get(out.plan_id)
    assert row.payload["verification"]["ok"], row.payload["verification"]


def test_dex_purchase__both_decimals__min_out_from_oracle_and_quote(make_bot, fresh):
    unit = fresh.unit
    bot = make_bot(NO_APPROVAL)
    token = fresh.assets["TBILL-A"].address  # 18 decimals, priced 100 base tokens
    a = Action(
        ActionType.PURCHASE,
        50_000 * unit,
        1,
        "buy",
        from_tier=0,
        to_tier=2,
        asset=token,
        expected_deltas=tier_deltas(2, -50_000 * unit, 50_000 * unit),
    )
    p = Plan(plan_id(NOW, (a,)), NOW, (manual_trigger("t", "t"),), (a,), manual=True)
    reading = bot.read()
    quote = bot.encoder.quote(reading, a, reading.block)
    assert quote.oracle_out == 500 * 10**18  # 50K / 100 per token, whatever the base decimals
    assert quote.oracle_out * 97 // 100 < quote.quote_out < quote.oracle_out
    call = bot.encoder.encode(reading, a, quote)
    assert call.min_out == quote.oracle_out * 98 // 100  # quote within 2%: oracle less 2%
    bot.plans.save_new(p, "proposed", {"report": plan_report(reading.state, p)})
    out = bot.advance(p.id, NOW)
    assert out.status == "executed", out.detail
    assert quote.oracle_out * 98 // 100 <= out.results[0].received <= quote.quote_out
