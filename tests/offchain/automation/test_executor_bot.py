"""Scheduler executor bot on anvil: due runs executed in batches and paid, races with another
executor, unprofitable runs left alone, config errors."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY

from keepers.automation.executor import ExecutorBot, executed_records
from keepers.automation.planning import SCHEDULED
from keepers.automation.settings import ExecutorConfig
from keepers.core.settings import ConfigError, load_settings
from tests.support.autobots_helpers import advance, intents, make_executor, start_refused
from tests.support.rpc_recorder import RpcRecorder

EXECUTED = 2


def lag_sample(kind: str) -> float:
    name = f"keeper_scheduler_run_lag_seconds_{kind}"
    return REGISTRY.get_sample_value(name, {"executor": "self"}) or 0.0


def booked_ids(rebalancers) -> list[int]:
    return [int(r.bookedRun()[0]) for r in rebalancers]


def test_executor__due_runs__executed_in_one_batch_and_paid(
    chain, auto, make_paid, settings, keeper
):
    paid = make_paid(3)
    rebs = [r for _, r, _ in paid]
    ids = booked_ids(rebs)
    sched = auto["scheduler"]
    bot = make_executor(settings, auto)
    try:
        now = advance(chain, 10)
        first = bot.tick(now)
        assert first.due == 0 and first.submitted == []  # booked an hour ahead: nothing due

        count_before = lag_sample("count")
        sum_before = lag_sample("sum")
        fees = sum(int(sched.getRun(i).fee) for i in ids)
        balance = keeper.balance
        now = advance(chain, 3_600)
        tick = bot.tick(now)
        bot.drive()
        bot.tick(now + 1)  # sees its own RunExecuted logs: lag metric and store records

        # the paid rebalancers' runs and the supervisor's own run went in one executeBatch
        assert len(tick.submitted) == 1 and set(ids) <= set(tick.submitted[0])
        assert all(sched.status(i) == EXECUTED for i in ids)
        assert [p.calls() for _, _, p in paid] == [1, 1, 1]
        assert all(b != 0 and b not in ids for b in booked_ids(rebs))  # next runs booked
        (intent,) = intents(bot.store)
        assert intent.status == "confirmed" and intent.role == "executor"
        # the executor is credited each fee less the share booked with it (issue 68: pull
        # payment; below the default withdrawal threshold the credit stays owed)
        pay = sum(
            int(sched.getRun(i).fee) - int(sched.getRun(i).fee) * sched.getRun(i).shareBps // 10_000
            for i in tick.submitted[0]
        )
        assert int(sched.credits(keeper)) == pay
        gas_cost = balance - keeper.balance
        assert 0 < gas_cost < pay  # credited more than the gas it burned
        assert fees > gas_cost

        records = executed_records(bot.store)
        assert {r["id"] for r in records} == set(tick.submitted[0])
        # due an hour after booking; the clock jumped 3,610 s, so each lag is the overshoot
        assert all(r["lag_s"] == r["executed_at"] - r["due"] > 0 for r in records)
        assert all(r["executed_at"] - now <= 2 for r in records)
        # the histogram saw exactly these runs and lags
        assert lag_sample("count") - count_before == len(records)
        assert lag_sample("sum") - sum_before == sum(r["lag_s"] for r in records)
        assert bot.executed_total == len(tick.submitted[0])
    finally:
        bot.stop()


def test_executor__race_with_second_executor__skips_taken_runs_without_failing_tx(
    chain, auto, make_paid, settings, bob
):
    paid = make_paid(4)
    ids = booked_ids([r for _, r, _ in paid])
    sched = auto["scheduler"]
    # no credit withdrawal here (its own test: test_executor_credit.py): every intent is a batch
    bot = make_executor(settings, auto, withdraw_credit_above_wei=0)
    try:
        now = advance(chain, 3_700)
        # bob executes two runs before the bot looks
        sched.executeBatch(ids[:2], sender=bob)
        # and the bot's first read is stale (as if made just before bob's transaction landed)
        real_read = bot._read_runs
        calls = {"n": 0, "stale": set(ids[:2])}

        def stale(run_ids):
            calls["n"] += 1
            if calls["n"] > 1:
                return real_read(run_ids)
            runs = real_read(sorted(set(run_ids) | calls["stale"]))
            return [r.__class__(r.id, r.timestamp, r.effort, r.fee, SCHEDULED) for r in runs]

        bot._read_runs = stale
        tick = bot.tick(now + 1)
        bot.drive()
        assert set(ids[:2]) <= set(tick.raced)
        assert len(tick.submitted) == 1 and not set(ids[:2]) & set(tick.submitted[0])
        assert set(ids[2:]) <= set(tick.submitted[0])
        assert all(sched.status(i) == EXECUTED for i in ids)
        assert [it.status for it in intents(bot.store)] == ["confirmed"]

        # bob takes every due run: the bot sends nothing at all
        now = advance(chain, 3_700)
        due = [int(i) for i in sched.nextDueRuns(100)]
        assert due
        sched.executeBatch(due, sender=bob)
        bot._read_runs = stale
        calls["n"] = 0
        calls["stale"] = set(due)
        tick = bot.tick(now + 1)
        bot.drive()
        assert tick.submitted == [] and set(due) <= set(tick.raced)
        assert [it.status for it in intents(bot.store)] == ["confirmed"]
    finally:
        bot.stop()


def test_executor__fee_below_gas_times_margin__leaves_runs(chain, auto, make_paid, settings):
    paid = make_paid(1)
    (rid,) = booked_ids([r for _, r, _ in paid])
    bot = make_executor(settings, auto, fee_margin_bps=1_000_000)  # fees must cover 100x the gas
    gas_price = bot.io.gas_price()
    # 100x margin: a 2.4e15-wei fee pays 100x its ~0.5M gas only above ~48 gwei
    assert gas_price < 40 * 10**9
    try:
        now = advance(chain, 3_700)
        tick = bot.tick(now)
        bot.drive()
        assert rid in tick.unprofitable and tick.submitted == []
        assert auto["scheduler"].status(rid) == SCHEDULED
        assert intents(bot.store) == []
    finally:
        bot.stop()


def test_executor_config__bad_values__refuse_start_naming_field(auto, settings):
    with pytest.raises(ConfigError, match=r"scheduler='0x12'"):
        load_settings(ExecutorConfig, scheduler="0x12")
    with pytest.raises(ConfigError, match=r"max_batch_runs=0"):
        load_settings(ExecutorConfig, scheduler=auto["scheduler"].address, max_batch_runs=0)
    # an address with no contract
    cfg = load_settings(ExecutorConfig, scheduler="0x" + "11" * 20)
    start_refused(ExecutorBot.from_settings(settings, cfg), r"scheduler='0x1111.*no contract")
    # a policy that does not let the executor role call executeBatch
    cfg = load_settings(ExecutorConfig, scheduler=auto["scheduler"].address, role="nobody")
    start_refused(ExecutorBot.from_settings(settings, cfg), r"policy\.roles\.nobody")


def test_executor__restart_with_batch_in_flight__sends_it_once(chain, auto, make_paid, settings):
    from keepers.runtime.base import Bot

    paid = make_paid(2)
    ids = booked_ids([r for _, r, _ in paid])
    bot = make_executor(settings, auto, pipeline_passes=0)  # submit, do not send yet
    assert isinstance(bot, Bot)
    now = advance(chain, 3_700)
    tick = bot.tick(now)
    assert set(ids) <= set(tick.submitted[0])
    bot.stop()  # dies with the intent recorded, nothing sent

    again = make_executor(settings, auto)
    try:
        assert set(ids) <= {i for run_ids in again.in_flight.values() for i in run_ids}
        tick = again.tick(now + 1)
        assert tick.submitted == []  # its runs are in flight: not planned twice
        again.drive()
        assert all(auto["scheduler"].status(i) == EXECUTED for i in ids)
        assert [i.status for i in intents(again.store)] == ["confirmed"]
    finally:
        again.stop()


def test_executor__check__through_eth_simulateV1_and_reverting_run_skipped_with_reason(
    chain, auto, make_paid, settings, bob
):
    """The pre-send check of every planned call is one JSON-RPC batch of separate
    eth_simulateV1 requests (each call alone, nothing carried), with the estimate beside each;
    a run whose execute(id) would revert (bob took it) is skipped with its decoded error and
    the others are sent."""
    paid = make_paid(2)
    ids = booked_ids([r for _, r, _ in paid])
    sched = auto["scheduler"]
    bot = make_executor(settings, auto, unbatched=True)
    assert bot.simulator.name == "node"  # anvil answers eth_simulateV1 (auto picks it)
    try:
        now = advance(chain, 3_700)
        sched.execute(ids[0], sender=bob)
        real_read = bot._read_runs
        first = {"read": True}

        def stale(run_ids):  # the bot's first read misses bob's transaction
            runs = real_read(sorted(set(run_ids) | {ids[0]}))
            if first.pop("read", False):
                return [r.__class__(r.id, r.timestamp, r.effort, r.fee, SCHEDULED) for r in runs]
            return runs

        bot._read_runs = stale
        recorder = RpcRecorder(bot.node.w3.provider)
        try:
            tick = bot.tick(now + 1)
        finally:
            recorder.close()
        ((skipped_ids, reason),) = tick.skipped
        assert skipped_ids == [ids[0]] and reason.startswith("RunNotScheduled(")
        assert ids[0] in tick.raced and [ids[0]] not in tick.submitted
        assert [ids[1]] in tick.submitted
        (check,) = recorder.batches_with("eth_simulateV1")
        planned = len(tick.submitted) + len(tick.skipped)
        assert check.count("eth_simulateV1") == planned >= 2
        assert check.count("eth_estimateGas") == planned and "eth_call" not in check
        bot.drive()
        assert sched.status(ids[1]) == EXECUTED
        assert all(it.status == "confirmed" for it in intents(bot.store))
    finally:
        bot.stop()


def test_executor__scheduler_of_another_release__refuses_start_naming_both(
    auto, settings, monkeypatch
):
    """A keeper of a later release (its ABIs') pointed at this scheduler: exit 2 material
    (a ConfigError) naming both releases and the upgrade page, before anything is sent."""
    from keepers.tx import release
    from keepers.version import CONTRACTS_RELEASE

    other = f"{int(CONTRACTS_RELEASE.split('.')[0]) + 1}.0.0"  # a release no keeper drives
    monkeypatch.setattr(release, "CONTRACTS_RELEASE", other)
    cfg = load_settings(ExecutorConfig, scheduler=auto["scheduler"].address)
    start_refused(
        ExecutorBot.from_settings(settings, cfg),
        rf"scheduler {re.escape(CONTRACTS_RELEASE)}\).*release {re.escape(other)}.*docs/operator/upgrades\.md",
    )
