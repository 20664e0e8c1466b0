"""Depth-aware sizing and partial progress on anvil (issue 14): venue depth read from the real
Uniswap V3 pools and checked on QuoterV2; a pool that fills nothing safely is routed around;
a flow that depth holds back is carried and deployed in slices; a block alerts once."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from ballast_dev.deployment.uniswap import arbitrage_to_oracle
from keepers.cli import main
from keepers.fund.planning.risk import slippage_bps
from tests.support.fundbotlib import DEX, NO_APPROVAL, UNIT, push_pool

NOW = 1_800_000_000
HOUR = 3_600


def deposit(fund: Any, accounts: Any, amount: int) -> None:
    fund.vault.deposit(amount * UNIT, accounts[1], sender=accounts[1])


def shock(fund: Any, accounts: Any, market: Any, sym: str, pct: int) -> None:
    feed = fund.feeds[sym]
    feed.updateAnswer(feed.latestAnswer() * (100 + pct) // 100, sender=accounts[0])
    arbitrage_to_oracle(fund, market[1], DEX, market[0])


def test_depth_reader__local_pools__model_sizes_match_quoter_v2(make_bot, fresh):
    bot = make_bot(NO_APPROVAL)
    reading = bot.read()
    limit = bot.cfg.rebalance_max_slippage
    depth = bot.depth.read(reading, limit)
    assert {reading.state.asset(t).symbol for t in depth} == set(DEX)
    cash = bot.addresses.cash
    q = bot.contracts.quoter
    for token, d in depth.items():
        assert "QuoterV2" not in d.detail, d.detail  # the exact maths agreed with the pool
        fee = bot.encoder.pool_fee(token)
        oracle = bot.encoder.oracle_tokens_for(reading, token, d.max_buy)
        out = q.functions.quoteExactInputSingle((cash, token, d.max_buy, fee, 0)).call()[0]
        assert slippage_bps(out, oracle) <= limit
        if d.max_buy < reading.state.total_assets * 9_999 // 10_000:  # an edge, not the cap
            big = d.max_buy * 102 // 100
            oracle = bot.encoder.oracle_tokens_for(reading, token, big)
            out = q.functions.quoteExactInputSingle((cash, token, big, fee, 0)).call()[0]
            assert slippage_bps(out, oracle) > limit


def test_liquidity_check__pool_left_its_range__routed_around_and_executed(
    make_bot, fresh, accounts, market, alerts
):
    """The demo's day 20: TBILL-A's oracle fell 22% while its pool's liquidity sits +-20%
    around the old price, so every purchase fills > 500 bps under the oracle. The old keeper
    planned a TBILL-A leg, the risk check blocked the whole plan and the cash stayed in L1."""
    shock(fresh, accounts, market, "TBILL-A", -12)
    shock(fresh, accounts, market, "TBILL-A", -12)
    bot = make_bot(NO_APPROVAL)
    tbill_a = fresh.assets["TBILL-A"].address
    assert bot.depth.read(bot.read(), bot.cfg.rebalance_max_slippage)[tbill_a].max_buy == 0
    deposit(fresh, accounts, 600_000)
    out = bot.check("liquidity", NOW)
    assert out.status == "executed", (out.detail, alerts)
    p = bot.plans.plan(out.plan_id)
    assert p.actions and all(a.asset != tbill_a for a in p.actions)
    assert not [a for a in alerts if a.code.startswith("risk_")]
    row = bot.plans.get(out.plan_id)
    assert row.payload["verification"]["progress"] == "in band"
    after = bot.read().state
    assert after.position(0) * 10_000 <= 1_500 * after.total_assets


def test_slices__venues_off_the_oracle__partial_move_now_rest_carried_over_slices(
    make_bot, fresh, accounts, market, alerts
):
    admin = accounts[1]
    bot = make_bot(NO_APPROVAL)
    deposit(fresh, accounts, 3_000_000)
    st = bot.read().state
    # L3's fund-like assets are at their (lowered) concentration limits: only the pools can
    # take L3's share of the deposit, and both pools were just pushed 3% above the oracle.
    for sym in ("CREDIT", "PRIVCRED"):
        a = st.asset(fresh.assets[sym].address)
        share = a.value * 10_000 // st.total_assets
        fresh.controller.setAssetLimits(a.token, 2**128 - 1, share, sender=admin)
    for sym in DEX:
        push_pool(fresh, market, sym, 3)
    out = bot.check("liquidity", NOW)
    assert out.status == "executed", (out.detail, alerts)
    first = bot.plans.plan(out.plan_id)
    assert first.actions and all(a.to_tier == 1 for a in first.actions)  # L2's part ran
    assert any(u.reason == "depth" for u in first.unresolved)
    assert bot.plans.get(out.plan_id).payload["verification"]["progress"] == "improved"
    carry = bot.carry.active()
    assert carry and {c.tier for c in carry} >= {2}
    # `keeper status` shows the remaining carry (the CLI opens the keeper's own database)
    db = bot.k.db_url
    bot.store.close()
    cli_env = {
        "KEEPER_RPC_URL": fresh.cash.provider.uri,
        "KEEPER_DB_URL": db,
        "KEEPER_DEPLOYMENT": str(bot.k.deployment),
        "KEEPER_ARTIFACTS_PATH": str(bot.k.artifacts_path),
        "KEEPER_LOG_LEVEL": "WARNING",
    }
    r = CliRunner().invoke(main, ["--json", "status"], env=cli_env, catch_exceptions=False)
    shown = json.loads(r.output)["carry"]
    assert {c["tier"] for c in shown} == {f"L{c.tier + 1}" for c in carry}
    assert {c["amount"] for c in shown} == {int(c.amount) for c in carry}
    text = CliRunner().invoke(main, ["status"], env=cli_env).output
    assert "carried flow (slice schedule" in text
    bot = make_bot({**NO_APPROVAL, "KEEPER_DB_URL": db})  # the keeper again, same database
    assert bot.tick(NOW + 60) == []  # the next slice is not due yet
    # due, but the pools are still off the oracle: no safe move, one alert
    assert [o.status for o in bot.tick(NOW + HOUR)] == ["no_safe_move"]
    assert [o.status for o in bot.tick(NOW + 2 * HOUR)] == ["no_safe_move"]
    warned = [a for a in alerts if a.code == "no_safe_move"]
    assert len(warned) == 1 and "Unblock" in warned[0].message
    assert bot.carry.active()
    # arbitrageurs bring the pools back: the next slice deploys the carried flow
    arbitrage_to_oracle(fresh, market[1], DEX, market[0])
    outs = bot.tick(NOW + 3 * HOUR)
    assert [o.status for o in outs] == ["executed"], [o.detail for o in outs]
    later = bot.plans.plan(outs[0].plan_id)
    assert any(t.code == "carry" for t in later.triggers)
    assert {a.to_tier for a in later.actions} == {2}
    after = bot.read().state
    assert all(
        after.tiers[t].min_bps * after.total_assets <= after.position(t) * 10_000 for t in range(3)
    )
    assert all(
        after.position(t) * 10_000 <= after.tiers[t].max_bps * after.total_assets for t in range(3)
    )


def test_execute__attacker_moves_pool_between_plan_and_send__leg_refused_rest_runs(
    make_bot, fresh, accounts, market, alerts
):
    """Attacker: any trader. After the keeper sized its plan on a pool at the oracle, the
    attacker trades TBILL-B 6% above the oracle right before that leg is sent, hoping the
    keeper buys at the top. The re-quote refuses the leg (> SLIPPAGE_BLOCK_BPS), the other
    legs still run, and the fund loses nothing to the move beyond fees on what it bought."""
    bot = make_bot(NO_APPROVAL)
    deposit(fresh, accounts, 600_000)
    tbill_b = fresh.assets["TBILL-B"].address
    attacked = []

    def attack(idx: int) -> None:
        p = bot.plans.with_status("approved")[0]
        action = p.payload["plan"]["actions"][idx]
        if action["asset"] == tbill_b and not attacked:
            push_pool(fresh, market, "TBILL-B", 6)
            attacked.append(idx)

    bot.before_action = attack
    before = bot.read().state.total_assets
    out = bot.check("liquidity", NOW)
    assert attacked, "the plan had no TBILL-B leg to attack"
    assert out.status == "partial", out.detail
    skipped = [r for r in out.results if not r.success]
    assert [r.action.asset for r in skipped] == [tbill_b]
    assert "under the oracle" in (skipped[0].error or "")
    assert all(r.success for r in out.results if r.action.asset != tbill_b)
    after = bot.read().state.total_assets
    assert (before - after) * 10_000 <= before * 5  # < 0.05% of the fund: fees and impact


def test_make_sized_plan__depth_unreadable__leg_cut_on_live_quote_and_plan_remade(
    make_bot, fresh, accounts, market, monkeypatch
):
    """With no depth (the pool read failed), the plan is still cut on QuoterV2 before it is
    stored: the out-of-range TBILL-A leg is dropped with the reason, the rest re-planned."""
    shock(fresh, accounts, market, "TBILL-A", -12)
    shock(fresh, accounts, market, "TBILL-A", -12)
    bot = make_bot(NO_APPROVAL)

    def broken(*_a: Any) -> Any:
        raise ConnectionError("pool read failed")

    monkeypatch.setattr(bot.depth, "read", broken)
    assert bot.sizing.read_depth(bot.read()) == {}
    deposit(fresh, accounts, 600_000)
    tbill_a = fresh.assets["TBILL-A"].address
    reading = bot.read()
    from keepers.fund.planning.plan import plan as make_plan

    unsized = make_plan(
        reading.state, bot.cfg, bot.triggers_for("liquidity", reading.state, NOW), NOW
    )
    assert any(a.asset == tbill_a for a in unsized.actions)  # what the old keeper sent to risk
    out = bot.check("liquidity", NOW)
    assert out.status == "executed", out.detail
    p = bot.plans.plan(out.plan_id)
    assert all(a.asset != tbill_a for a in p.actions)
    assert any(u.reason == "depth" and "QuoterV2" in u.detail for u in p.unresolved)
