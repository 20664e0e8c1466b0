"""A new fund's first investment by the keeper, in one plan.

Regressions: (1) the planner sized each purchase to exactly 25% of the fund; the first swap's
fee lowers the fund's total, so the next purchase landed at 25.02% and the AssetController
refused it (ConcentrationExceeded) in simulation; it now keeps a 1% margin, as the contract's
own rebalance does. (2) It filled one asset to its limit before the next, which used up the
top-3 allowance on L3's first assets and left L2 below its band; it now fills towards equal
weights inside a tier first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ballast_dev.deployment.profile import deploy_profile, load_profile
from tests.support.fundbotlib import NO_APPROVAL, ROOT, UNIT, fund_bot, fund_keeper_env


@pytest.fixture(scope="module")
def empty_fund(accounts: Any) -> Any:
    profile = load_profile(ROOT / "scripts/profiles/local.yaml")
    f = deploy_profile(profile, accounts[0], accounts, log=lambda *_: None)
    admin = accounts[1]
    f.cash.mint(admin, 10_000_000 * UNIT, sender=accounts[0])
    f.cash.approve(f.vault, 2**256 - 1, sender=admin)
    f.vault.deposit(5_000_000 * UNIT, admin, sender=admin)  # all in L1, nothing invested
    return f


def test_first_investment__empty_fund__keeper_fills_every_tier_in_band(
    empty_fund, accounts, chain, tmp_path
):
    deployment = tmp_path / "deployment.json"
    deployment.write_text(json.dumps(empty_fund.addresses(), default=str))
    env = fund_keeper_env(chain, deployment, f"sqlite:///{tmp_path}/keeper.db") | NO_APPROVAL
    alerts: list[Any] = []
    bot = fund_bot(env, accounts[2], alerts)
    try:
        now = int(chain.pending_timestamp)
        from keepers.fund.planning.plan import plan as make_plan
        from keepers.fund.planning.triggers import liquidity_triggers

        reading = bot.read()
        p = make_plan(reading.state, bot.cfg, liquidity_triggers(reading.state, bot.cfg), now)
        assert p.unresolved == (), p.unresolved  # every tier can reach its band
        out = bot.check("liquidity", now)
        assert out.status == "executed", (out.status, out.detail, alerts)
        st = bot.read().state
        for t in st.tiers:
            assert t.min_bps <= t.value * 10_000 // st.total_assets <= t.max_bps
        assert all(a.value * 10_000 // st.total_assets <= 2500 for a in st.assets)
    finally:
        bot.store.close()
