"""A held feed of the fund stays stale for 30 hours on the deployed local fund (real anvil, real
Uniswap pools, the fund's own automation from scripts/profiles/local.yaml): the executor bot
holds the fund rebalancer's due run back instead of paying for runs that value the held
position at zero, keeps the run booked, keeps executing the other jobs (the Supervisor's own
run), says so (alert, log line, metric), and executes the held run in the tick the feed is
usable again. The number of runs it lets through meanwhile is the trust table's (docs/
trust-model.md, "executor bot, for the fund's rebalancer on a held feed"): none a day by
default, at most one a day with KEEPER_EXECUTOR_HELD_RETRY_S=86400, each one run fee."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from keepers.automation.executor import ExecutorBot
from keepers.automation.settings import ExecutorConfig, SupervisorBotConfig
from keepers.automation.supervisor import SupervisorBot
from keepers.core.settings import load_settings
from keepers.runtime.alerts import Alert
from tests.support.autobots_helpers import make_settings
from tests.support.fundbotlib import UNIT

SCHEDULED, EXECUTED = 1, 2
HOUR = 3_600
STALE_HOURS = 30
STEP_HOURS = 3
DAY = 86_400
# the trust table's worst case per day of the fund rebalancer's runs the executor sends while a
# held feed is down: KEEPER_EXECUTOR_HELD_RETRY_S -> runs per day (0: the default)
RUNS_PER_DAY = {0: 0, DAY: 1}


def _refresh(fund: Any, skip: str, sender: Any) -> None:
    """Every feed but `skip` answers again now (their heartbeat is a day)."""
    for sym, feed in fund.feeds.items():
        if sym != skip:
            feed.updateAnswer(feed.latestAnswer(), sender=sender)


def _to(chain: Any, ts: int) -> int:
    chain.mine(1, timestamp=max(ts, chain.pending_timestamp))
    return int(chain.blocks.head.timestamp)


def _go_stale(fund: Any, chain: Any, t0: int, sender: Any) -> tuple[int, Any, int]:
    """A second after `t0`: TBILL-A's feed answers under a new round dated two days back (past
    its one-day heartbeat), every other feed answers now. Returns (now, the feed, its answer)."""
    now = _to(chain, t0 + 1)
    tbill = fund.feeds["TBILL-A"]
    answer = int(tbill.latestAnswer())
    _refresh(fund, "TBILL-A", sender)
    old = now - 2 * DAY
    tbill.updateRoundData(tbill.latestRound() + 1, answer, old, old, sender=sender)
    return now, tbill, answer


@pytest.mark.parametrize("retry_s", [0, DAY], ids=["default", "retry_daily"])
def test_held_feed__fund_rebalancer_held_other_jobs_go__runs_when_fresh(
    fresh, chain, accounts, tmp_path, retry_s
):
    f, auto = fresh, fresh.automation
    reb, sched, funder, sup = (
        auto["fund_rebalancer"],
        auto["scheduler"],
        auto["tx_funder"],
        auto["supervisor"],
    )
    gov = accounts[0]
    f.vault.deposit(300_000 * UNIT, accounts[1], sender=accounts[1])  # L1 over its band
    first_run, t0 = (int(x) for x in reb.bookedRun())
    sup_run = int(sup.bookedRun()[0])
    alerts: list[Alert] = []
    addrs = {k: auto[k].address for k in ("scheduler", "paid_registry", "supervisor")}
    settings = make_settings(
        tmp_path / "keeper.db", str(chain.provider.http_uri), accounts[6].private_key, addrs
    )
    retry = {} if retry_s == 0 else {"held_retry_s": retry_s}
    cfg = load_settings(ExecutorConfig, scheduler=sched.address, held_check_every_s=0, **retry)
    assert cfg.held_retry_s == retry_s  # 0 is the default
    bot = ExecutorBot.from_settings(settings, cfg, [alerts.append])
    try:
        bot.start()
        start_block = int(chain.blocks.head.number) + 1
        # the run falls due and TBILL-A's feed goes stale (its last answer two days old)
        now, tbill, answer = _go_stale(f, chain, t0, gov)
        assert f.controller.pricingValues()[2]  # the controller's own verdict: feedDown

        held_ticks, fund_sent = 0, []
        for h in range(0, STALE_HOURS + 1, STEP_HOURS):  # the last tick reads the logs
            now = _to(chain, t0 + 1 + h * HOUR)
            _refresh(f, "TBILL-A", gov)
            tick = bot.tick(now)
            bot.drive()
            fund_sent += [
                i
                for ids in tick.submitted
                for i in ids
                if _handler(sched, i).lower() == reb.address.lower()
            ]
            held_ticks += bool(tick.held)
            if h == 0:
                # held at once, named; the other job due with it (the Supervisor's run) goes
                assert tick.held == [first_run]
                assert any(sup_run in ids for ids in tick.submitted)
                assert REGISTRY.get_sample_value("keeper_executor_runs_held_back") == 1

        # the Supervisor's runs were executed (the first and the next day's); the fund
        # rebalancer's run waited, booked and unpaid, but for the retries the setting allows
        assert sched.status(sup_run) == EXECUTED
        assert int(sup.bookedRun()[1]) > t0 + DAY  # its next day's run went too
        stale_days = -(-STALE_HOURS * HOUR // DAY)
        allowed = RUNS_PER_DAY[retry_s] * stale_days
        if retry_s == 0:
            assert fund_sent == [] and held_ticks == STALE_HOURS // STEP_HOURS + 1
        else:  # one retry, a day after the hold began: the controller refuses to move while a
            # held feed is down (test_rebalance_feed_down.py: MarkWhileFeedDown, so the
            # Rebalancer books its retry soon, which the bot holds again)
            assert fund_sent == [first_run] and held_ticks == STALE_HOURS // STEP_HOURS
            assert bot.hold.last_run[reb.address] == f"run {first_run} reverted MarkWhileFeedDown()"
            since = bot.hold.holds[f.controller.address].since
            assert DAY <= bot.hold.retried[reb.address] - since <= DAY + STEP_HOURS * HOUR
        fees = [
            int(e.args["amount"])
            for e in bot.io.logs(
                start_block, chain.blocks.head.number, [funder.address], ["FeeWithdrawn"]
            )
            if e.args["spender"].lower() == reb.address.lower()
        ]
        assert len(fees) == len(fund_sent) <= allowed  # one run fee per run, no hourly retries
        assert all(fee == int(sched.getRun(first_run).fee) for fee in fees)
        booked, at = (int(x) for x in reb.bookedRun())
        assert booked != 0 and sched.status(booked) == SCHEDULED and at <= now  # due, held
        (held,) = [a for a in alerts if a.code == "rebalancer_held"]
        assert held.level == "warning" and reb.address in held.message
        assert tbill.address in held.message and "stale" in held.message
        assert not any(a.code == "rebalancer_resumed" for a in alerts)

        # the feed answers again: the held run goes in the same tick
        now = _to(chain, now + 60)
        tbill.updateAnswer(answer, sender=gov)
        _refresh(f, "TBILL-A", gov)
        assert not f.controller.pricingValues()[2]
        tick = bot.tick(now)
        bot.drive()
        assert tick.held == [] and any(booked in ids for ids in tick.submitted)
        assert sched.status(booked) == EXECUTED
        assert [a.code for a in alerts].count("rebalancer_resumed") == 1
        assert REGISTRY.get_sample_value("keeper_executor_runs_held_back") == 0
        assert int(reb.bookedRun()[0]) not in (0, booked)  # booked on
        bot.tick(now + 1)  # reads the run's logs
        if retry_s == 0:  # the fund's rebalance, held for 30 h, happens now: L1 back in band
            assert bot.hold.last_run[reb.address] == f"run {booked} moved"
            assert f.lens.fundState(f.controller.address).tierRatioBps[0] <= 2_000
    finally:
        bot.stop()


def _handler(sched: Any, run_id: int) -> Any:
    return sched.getRun(run_id).handler


def test_held_feed__supervisor_rebooks_held_fund_rebalancer_once_per_period__at_once_when_fresh(
    fresh, chain, accounts, tmp_path
):
    """The fund rebalancer loses its booking while TBILL-A is stale (an outside executor runs it
    when the funder is empty): the supervisor bot books it again once (its booking is what the
    executor then holds), does not re-book it for an outsider again within held_fix_every_s
    (fix_held_back), and re-books it at once when the feed answers."""
    f, auto = fresh, fresh.automation
    reb, sched, funder = auto["fund_rebalancer"], auto["scheduler"], auto["tx_funder"]
    gov, outsider = accounts[0], accounts[7]
    owner = next(a for a in accounts if a.address == funder.owner())
    addrs = {k: auto[k].address for k in ("scheduler", "paid_registry", "supervisor")}
    settings = make_settings(
        tmp_path / "keeper.db", str(chain.provider.http_uri), accounts[6].private_key, addrs
    )
    cfg = load_settings(
        SupervisorBotConfig,
        scheduler=sched.address,
        registry=addrs["paid_registry"],
        supervisor=addrs["supervisor"],
        scan_every_s=1,
        held_check_every_s=0,
        held_fix_every_s=2 * DAY,
    )
    assert SupervisorBotConfig.model_fields["held_fix_every_s"].default == DAY
    bot = SupervisorBot.from_settings(settings, cfg, sinks=[])

    def lose_booking(run_id: int) -> None:
        """The funder empty, an outsider executes the run: its next booking fails."""
        kept = funder.balance
        funder.withdraw(owner, kept, sender=owner)
        sched.execute(run_id, sender=outsider)
        assert int(reb.bookedRun()[0]) == 0
        owner.transfer(funder, kept)

    try:
        bot.start()
        first_run, t0 = (int(x) for x in reb.bookedRun())
        now, tbill, answer = _go_stale(f, chain, t0, gov)
        lose_booking(first_run)

        tick = bot.tick(_to(chain, now + 60))  # held, but its first fix: booked again
        bot.drive()
        assert tick.fixes == [reb.address] and tick.held_back == []
        booked, at = (int(x) for x in reb.bookedRun())
        assert booked != 0 and sched.status(booked) == SCHEDULED

        now = _to(chain, at + 1)  # a day on, still stale; an outsider runs it again
        _refresh(f, "TBILL-A", gov)
        lose_booking(booked)
        for step in (60, 3_600, 6 * 3_600):  # not re-booked within the period, every tick
            tick = bot.tick(_to(chain, now + step))
            assert tick.fixes == [] and tick.held_back == [reb.address]
        assert int(reb.bookedRun()[0]) == 0

        now = _to(chain, now + 7 * 3_600)  # the feed answers: booked at once
        tbill.updateAnswer(answer, sender=gov)
        _refresh(f, "TBILL-A", gov)
        # (the first tick meets the first fix's intent under the same key, "fix:..:<task>:0:0",
        # final already: the supervisor's attempt counter moves on, and the next tick sends)
        ticks = [bot.tick(now), bot.tick(now + 1)]
        bot.drive()
        assert [t.fixes for t in ticks] == [[], [reb.address]]
        assert all(t.held_back == [] for t in ticks)
        assert int(reb.bookedRun()[0]) != 0
    finally:
        bot.stop()


def test_held_feed__outsider_runs_the_held_run__hold_still_ends_when_the_feed_answers(
    fresh, chain, accounts, tmp_path
):
    """While the executor holds the run, an outside executor runs it (its next run is a day
    away): the hold is not left standing with nothing due; it ends, said, when the feed answers."""
    f, auto = fresh, fresh.automation
    reb, sched = auto["fund_rebalancer"], auto["scheduler"]
    gov = accounts[0]
    alerts: list[Alert] = []
    addrs = {k: auto[k].address for k in ("scheduler", "paid_registry", "supervisor")}
    settings = make_settings(
        tmp_path / "keeper.db", str(chain.provider.http_uri), accounts[6].private_key, addrs
    )
    cfg = load_settings(ExecutorConfig, scheduler=sched.address, held_check_every_s=0)
    bot = ExecutorBot.from_settings(settings, cfg, [alerts.append])
    try:
        bot.start()
        first_run, t0 = (int(x) for x in reb.bookedRun())
        now, tbill, answer = _go_stale(f, chain, t0, gov)
        assert bot.tick(now).held == [first_run]
        sched.execute(first_run, sender=accounts[7])  # someone else's executor
        tick = bot.tick(_to(chain, now + 60))
        assert tick.held == [] and all(first_run not in ids for ids in tick.submitted)
        assert f.controller.address in bot.hold.holds  # still down: still said
        tbill.updateAnswer(answer, sender=gov)
        bot.tick(_to(chain, now + 120))
        assert bot.hold.holds == {}
        assert [a.code for a in alerts] == ["rebalancer_held", "rebalancer_resumed"]
        assert REGISTRY.get_sample_value("keeper_executor_runs_held_back") == 0
    finally:
        bot.stop()
