"""Execution-time failures of seed 001 section 7.1 (slippage, failed transaction, gas funds,
network), DEX quotes in the risk check, and the metrics endpoint."""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml

from keepers.fund.bot import FundBot
from keepers.fund.planning.actions import Action, ActionType, Plan, plan_id
from keepers.fund.planning.report import plan_report
from keepers.fund.planning.simulate import tier_deltas
from keepers.fund.planning.triggers import manual_trigger
from keepers.tx.retry import NetworkUnavailable, with_retries
from tests.support.fundbotlib import NO_APPROVAL, ROOT, UNIT

NOW = 1_800_000_000


def intents(bot: Any) -> int:
    from sqlalchemy import func, select

    from keepers.store import models as m

    with bot.store.sessions() as s:
        return int(s.scalar(select(func.count(m.TxIntent.id))) or 0)


def purchase_plan(bot: FundBot, fund: Any, legs: list[tuple[str, int]]) -> str:
    """A manual plan buying L3 assets (symbol, whole units), stored as proposed."""
    actions = tuple(
        Action(
            ActionType.PURCHASE,
            amount * UNIT,
            i + 1,
            f"buy {sym}",
            from_tier=0,
            to_tier=2,
            asset=fund.assets[sym].address,
            expected_deltas=tier_deltas(2, -amount * UNIT, amount * UNIT),
        )
        for i, (sym, amount) in enumerate(legs)
    )
    p = Plan(
        plan_id(NOW, actions), NOW, (manual_trigger("test", "hand-made"),), actions, manual=True
    )
    reading = bot.read()
    bot.plans.save_new(p, "proposed", {"report": plan_report(reading.state, p)})
    return p.id


def move_feed(fund: Any, symbol: str, pct: int, sender: Any) -> None:
    feed = fund.feeds[symbol]
    feed.updateAnswer(feed.latestAnswer() * (100 + pct) // 100, sender=sender)


def test_risk__dex_quote_over_5pct__blocked_with_critical_alert(make_bot, fresh, accounts, alerts):
    bot = make_bot(NO_APPROVAL)
    ref = purchase_plan(bot, fresh, [("TBILL-A", 50_000)])
    move_feed(fresh, "TBILL-A", -10, accounts[0])  # the pool now pays ~10% under the oracle
    out = bot.advance(ref, NOW)
    assert out.status == "blocked" and "slippage:block" in out.detail
    assert any(a.code == "risk_block" and a.level == "critical" for a in alerts)


def test_risk__dex_quote_between_2_and_5pct__warns_and_runs(make_bot, fresh, accounts, alerts):
    bot = make_bot(NO_APPROVAL)
    ref = purchase_plan(bot, fresh, [("TBILL-A", 50_000)])
    move_feed(fresh, "TBILL-A", -2, accounts[0])
    out = bot.advance(ref, NOW)
    assert out.status == "executed", out.detail
    assert any(a.code == "risk_warn" and "slippage:warn" in a.message for a in alerts)
    call = bot.plans.get(ref).actions[0].payload["call"]
    assert call["function"] == "purchaseAsset" and int(call["min_out"]) > 0


def test_execute__slippage_moves_before_send__that_action_skipped_rest_run(
    make_bot, fresh, accounts, alerts
):
    bot = make_bot(NO_APPROVAL)
    ref = purchase_plan(bot, fresh, [("TBILL-A", 50_000), ("CREDIT", 50_000)])
    bot.before_action = lambda i: move_feed(fresh, "TBILL-A", -10, accounts[0]) if i == 0 else None
    out = bot.advance(ref, NOW)
    assert out.status == "partial", out.detail
    assert [r.success for r in out.results] == [False, True]
    assert out.results[0].tx_hash is None and "not sent" in out.results[0].error
    assert any(a.code == "slippage" and a.level == "critical" for a in alerts)


def test_execute__failed_transaction__recorded_next_runs(make_bot, fresh, accounts, alerts):
    bot = make_bot(NO_APPROVAL)
    ref = purchase_plan(bot, fresh, [("CREDIT", 50_000), ("TBILL-B", 50_000)])
    admin = accounts[1]
    # after the simulation passed, CREDIT's concentration limit is lowered: its purchase fails
    # when sent (a lowered cap is a misfit the keeper reads before the send: test_fundbot_many_movers)
    credit = fresh.assets["CREDIT"]
    cap = int(fresh.controller.assetParams(credit).cap)
    bot.before_action = lambda i: (
        fresh.controller.setAssetLimits(credit, cap, 1, sender=admin) if i == 0 else None
    )
    out = bot.advance(ref, NOW)
    assert out.status == "partial", out.detail
    assert [r.success for r in out.results] == [False, True]
    assert "ConcentrationExceeded" in out.results[0].error
    rows = bot.plans.get(ref).actions
    assert [a.status for a in rows] == ["failed", "done"]
    assert any(a.code == "tx_failed" for a in alerts)


def test_execute__keeper_out_of_gas_funds__paused_then_resumed(
    make_bot, fresh, accounts, alerts, chain
):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    w3 = chain.provider.web3
    keeper = accounts[2].address
    w3.provider.make_request("anvil_setBalance", [keeper, hex(10**9)])
    out = bot.check("liquidity", NOW)
    assert out.status == "paused" and "execution paused" in out.detail
    assert any(a.code == "gas_funds" and a.level == "critical" for a in alerts)
    row = bot.plans.get(out.plan_id)
    assert row.status == "approved" and row.payload["paused"] == "gas_funds"
    assert intents(bot) == 0
    w3.provider.make_request("anvil_setBalance", [keeper, hex(10**21)])  # gas refilled
    assert [o.status for o in bot.tick(NOW + 300)] == ["executed"]


def test_execute__gas_runs_out_mid_plan__paused_and_resumed_without_resending(
    make_bot, fresh, accounts, alerts, chain
):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot({**NO_APPROVAL, "KEEPER_EXECUTE_TIMEOUT_S": "20"})
    w3 = chain.provider.web3
    keeper = accounts[2].address
    nonce0 = w3.eth.get_transaction_count(keeper)
    calls: list[int] = []

    def drain(i: int) -> None:
        calls.append(i)
        if len(calls) == 2:
            w3.provider.make_request("anvil_setBalance", [keeper, hex(10**9)])

    bot.before_action = drain
    out = bot.check("liquidity", NOW)
    assert out.status == "paused", out.detail
    assert w3.eth.get_transaction_count(keeper) == nonce0 + 1
    assert any(a.code == "gas_funds" for a in alerts)
    bot.before_action = None
    w3.provider.make_request("anvil_setBalance", [keeper, hex(10**21)])
    outs = bot.tick(NOW + 300)
    assert [o.status for o in outs] == ["executed"], outs
    n = len(bot.plans.plan(out.plan_id).actions)
    assert w3.eth.get_transaction_count(keeper) == nonce0 + n and intents(bot) == n


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_network__retried_3_times_then_alert(make_bot, fresh, alerts):
    calls = []

    def flaky() -> int:
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("timeout")
        return 7

    assert with_retries(flaky, "x", delay_s=0) == 7 and len(calls) == 3
    bot = make_bot(NO_APPROVAL)
    from web3 import HTTPProvider, Web3

    dead = Web3(HTTPProvider(f"http://127.0.0.1:{_dead_port()}", request_kwargs={"timeout": 1}))
    bot.reader.w3 = dead
    bot.reader.contracts = type(bot.contracts)(dead, bot.addresses)
    import keepers.tx.retry as retry

    orig = retry.with_retries
    seen: list[int] = []

    def counting(fn, what, attempts=3, delay_s=0.0):  # noqa: ANN001
        seen.append(attempts)
        return orig(fn, what, attempts, 0)

    retry.with_retries = counting
    import keepers.fund.reader as fr

    fr.with_retries = counting
    try:
        out = bot.check("liquidity", NOW)
    finally:
        fr.with_retries = orig
        retry.with_retries = orig
    assert out.status == "network_error" and "after 3 retries" in out.detail
    assert seen == [3]
    assert any(a.code == "network" for a in alerts)
    with pytest.raises(NetworkUnavailable):
        with_retries(lambda: (_ for _ in ()).throw(TimeoutError("t")), "y", delay_s=0)


def test_metrics__endpoint_serves_seed_metrics(make_bot, fresh, accounts):
    from keepers.runtime import metrics
    from keepers.runtime.health import serve

    # the gauge is the process's: a test before this one in the same worker may have labelled
    # a token its own deployment lists (not this fund's record) by its address
    metrics.SLIPPAGE.clear()
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    bot = make_bot(NO_APPROVAL)
    assert bot.check("liquidity", NOW).status == "executed"
    port = _dead_port()
    server = serve("127.0.0.1", port, store=bot.store)
    try:
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
    finally:
        server.shutdown()
        server.server_close()
    body = body.decode()
    for name in (
        "rebalance_deviation_ratio",
        "rebalance_execution_time",
        "rebalance_slippage",
        "rebalance_gas_cost",
        "rebalance_success_rate",
        "rebalance_pending_count",
    ):
        assert f"\n{name}" in body, name
    gas = [ln for ln in body.splitlines() if ln.startswith("rebalance_gas_cost ")]
    assert float(gas[0].split()[1]) > 0
    # the store's figures: one plan executed, every action done; slippage labelled by symbol
    assert 'rebalance_plans{status="executed"} 1.0' in body
    assert "rebalance_success_rate 1.0" in body
    slip = [ln for ln in body.splitlines() if ln.startswith("rebalance_slippage{")]
    assert slip and all('asset="0x' not in ln for ln in slip), slip


def test_alert_rules__seed_thresholds():
    rules = yaml.safe_load(Path(ROOT / "keepers/alerts/rebalance.rules.yml").read_text())
    exprs = {r["alert"]: (r["expr"], r["labels"]["severity"]) for r in rules["groups"][0]["rules"]}
    assert exprs["RebalanceDeviationWarning"] == (
        'rebalance_deviation_ratio{tier="max"} > 0.07',
        "warning",
    )
    assert exprs["RebalanceDeviationCritical"] == (
        'rebalance_deviation_ratio{tier="max"} > 0.10',
        "critical",
    )
    assert exprs["RebalanceExecutionSlow"][0] == "rebalance_execution_time > 300"
    assert exprs["RebalanceSlippageWarning"][0].endswith("> 0.02")
    assert exprs["RebalanceSlippageCritical"] == ("max(rebalance_slippage) > 0.05", "critical")
    assert exprs["RebalanceGasCostHigh"][0] == "rebalance_gas_cost > 0.5"
    assert exprs["RebalanceSuccessRateLow"][0] == "rebalance_success_rate < 0.90"
    assert exprs["RebalancePendingPlans"][0] == "rebalance_pending_count > 5"


def test_risk__gas_above_10pct_of_benefit__skipped(make_bot, fresh, accounts, alerts):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    ok = make_bot(NO_APPROVAL).check("liquidity", NOW, dry_run=True)
    assert "gas:skip" not in ok.detail  # default native price: gas is cheap next to the benefit
    bot = make_bot({**NO_APPROVAL, "KEEPER_NATIVE_PRICE": str(10**9)})
    out = bot.check("liquidity", NOW)
    assert out.status == "blocked" and "gas:skip" in out.detail
    assert any(a.code == "risk_skip" for a in alerts)
