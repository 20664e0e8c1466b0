"""Issue 67, the exit horizon on the deployed local fund (ERC-4626 venues, two Uniswap V3 pool
assets, an async RWA): `keeper status` (text and --json), the console's fund page and the
metrics show what the fund pays within 0, 1, 7 and 30 days, the chain's part as FundLens states
it plus the pools' part at KEEPER_HORIZON_POOL_COST_BPS; the pools' part is then paid by
selling it through the controller at that cost; an outsider who pushes a pool's price up right
before a read does not raise it."""

from __future__ import annotations

import json
import re
from typing import Any

from prometheus_client import REGISTRY

from ballast_dev.deployment.uniswap import UniswapV3, swap_exact_input
from keepers.fund.horizon import exit_horizon_view, pool_sales
from keepers.fund.horizon import read as read_horizon
from keepers.fund.planning.depth import PoolVenue, largest_within
from keepers.fund.planning.state import BPS
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import keeper_cli as keeper

NOW = 1_800_000_000
COST = 40  # bps: a cost at which the pools' depth binds (their positions sell only in part)


def test_exit_horizon__status_console_metrics(env, fresh, make_bot):
    env = {**env, "KEEPER_HORIZON_POOL_COST_BPS": str(COST)}
    lens = fresh.lens.exitHorizon(fresh.controller.address)
    out = json.loads(keeper(env, "--json", "status").output)
    h = out["exit_horizon"]
    totals = [int(x) for x in h["total"]]
    pools = [int(x) for x in h["pools"]]
    assert h["days"] == [0, 1, 7, 30]
    assert totals == sorted(totals) and totals[0] > int(h["cash"]) > 0
    assert int(h["venues"][0]) > 0 and pools[0] > 0
    # the RWA's subscription is still in flight (the rebalance filed it): not counted
    assert h["async"] == ["0"] * 4
    assert [t - p for t, p in zip(totals, pools, strict=True)] == list(lens.total)
    assert int(h["pool_value"]) == lens.poolValue > pools[0]  # the depth binds at 40 bps
    st = fresh.lens.fundState(fresh.controller.address)
    assert int(h["need_1d"]) == st.pendingRedemptions + st.totalAssets * 500 // BPS
    assert h["short_1d"] is False
    text = keeper(env, "status").output
    assert "exit horizon (base coin payable by then, inside the budgets): 0d " in text
    assert "next day's need: queue + 5% forecast" in text

    with running_console(env, now=NOW) as c:
        status, _, page = Client(c.url).get("/fund")
    assert status == 200, page[-2000:]
    table = re.search(r'<table id="exit-horizon">(.*?)</table>', page, re.S)
    assert table and "within 30 days" in table.group(1) and f"pools at {COST} bps" in page

    bot = make_bot({"KEEPER_HORIZON_POOL_COST_BPS": str(COST)})
    bot.read()
    for days, total in zip((0, 1, 7, 30), totals, strict=True):
        assert REGISTRY.get_sample_value("rebalance_exit_horizon", {"days": str(days)}) == total
    assert REGISTRY.get_sample_value("rebalance_exit_horizon_need") == int(h["need_1d"])


def _venue(bot: Any, reading: Any, token: str) -> PoolVenue:
    pool, token0 = bot.depth.pool_state(bot.depth.pool_address(token), reading.block)
    st = reading.state
    return PoolVenue(
        pool,
        token0.lower() == token.lower(),
        reading.prices[token] * 10**st.base_decimals,
        10 ** (reading.feed_decimals[token] + bot.encoder.token_decimals(token)),
    )


def test_exit_horizon__pools_part_paid_at_the_cost__outsider_push_adds_nothing(
    fresh, accounts, make_bot
):
    bot = make_bot({"KEEPER_HORIZON_POOL_COST_BPS": str(COST)})
    reading = bot.reader.read()
    before = read_horizon(bot, reading)
    sales = pool_sales(bot, reading, COST)
    assert len(sales) == 2 and all(v > 0 for v in sales.values())

    # an outsider buys TBILL-A in its pool right before a read: its price above the oracle
    attacker, a = accounts[7], fresh.adapters
    uni = UniswapV3(a["uniswap_factory"], a["uniswap_router"], None, None, None)
    tbill = fresh.assets["TBILL-A"]
    fee = int(a["uniswap"].poolFee(tbill))
    fresh.cash.mint(attacker, 5_000_000 * 10**6, sender=accounts[0])
    swap_exact_input(uni, fresh.cash, tbill, fee, 2_000_000 * 10**6, attacker)
    pushed = bot.reader.read()
    v = _venue(bot, pushed, tbill.address)
    assert v.mid_offset_bps() > COST  # the pool now well above the oracle
    naive = v.oracle_value(largest_within(v.sell_slippage_bps, v.oracle_tokens(10**13), COST))
    assert naive > sales[tbill.address] * 2  # what the plain depth maths would count now
    after = read_horizon(bot, pushed)
    assert pool_sales(bot, pushed, COST)[tbill.address] <= sales[tbill.address] * 1001 // 1000
    assert after.pool_depth_value <= before.pool_depth_value * 1001 // 1000
    # the outsider sells back: the pool where it was
    swap_exact_input(uni, tbill, fresh.cash, fee, int(tbill.balanceOf(attacker)), attacker)

    # paid: each pool's counted sale, sold through the controller at no worse than the cost
    c, keeper_acct = fresh.controller, accounts[2]
    vault_before = int(fresh.vault.freeCash())
    st = bot.reader.read()
    for token, value in sales.items():
        price = st.prices[token]
        tdec = bot.encoder.token_decimals(token)
        fdec = st.feed_decimals[token]
        tokens = value * 10 ** (fdec + tdec) // (price * 10**st.state.base_decimals)
        min_out = value * (BPS - COST) // BPS
        c.redeemAsset(token, tokens, min_out, sender=keeper_acct)
    raised = int(fresh.vault.freeCash()) - vault_before
    assert raised >= before.pool_paid[0] * 999 // 1000  # token rounding: value less a unit


def test_exit_horizon__lens_not_answering__not_read_never_zero(fresh, make_bot, monkeypatch):
    bot = make_bot()
    reading = bot.reader.read()

    def boom(*_a: Any, **_k: Any) -> Any:
        raise ConnectionError("node gone")

    monkeypatch.setattr("keepers.fund.horizon.read", boom)
    view = exit_horizon_view(bot, reading)
    assert view == {"error": "ConnectionError: node gone"}
