"""The executor keeper and the scheduler's pull payment (issue 68): executions are credited, the
keeper withdraws its credit to itself once it reaches KEEPER_EXECUTOR_WITHDRAW_CREDIT_ABOVE_WEI,
exactly what it is owed, one withdrawal at a time; below the threshold (or with 0) it leaves the
credit owed and shows it (metric and ``keeper status``'s automation part)."""

from __future__ import annotations

from eth_utils import keccak
from prometheus_client import REGISTRY

from keepers.automation.executor import ExecutorBot, executor_calls
from keepers.automation.settings import ExecutorConfig
from keepers.core.keeper_settings import PolicyConfig
from keepers.core.settings import load_settings
from keepers.runtime.bots import selector
from tests.support.autobots_helpers import advance, intents, make_executor

EXECUTED = 2
BATCH = selector("executeBatch(uint256[])")


def credit_metric() -> float | None:
    return REGISTRY.get_sample_value("keeper_executor_credit_wei")


def _pay(sched, ids) -> int:
    runs = [sched.getRun(i) for i in ids]
    return sum(int(r.fee) - int(r.fee) * int(r.shareBps) // 10_000 for r in runs)


def test_executor__credit_above_threshold__withdrawn_exactly_once(
    chain, auto, make_paid, settings, keeper
):
    sched = auto["scheduler"]
    rebs = [r for _, r, _ in make_paid(2)]
    ids = [int(r.bookedRun()[0]) for r in rebs]
    bot = make_executor(settings, auto, withdraw_credit_above_wei=1, due_scan_every_s=0)
    try:
        now = advance(chain, 3_610)
        tick = bot.tick(now)
        bot.drive()
        assert all(sched.status(i) == EXECUTED for i in ids)
        assert tick.withdrawing == 0  # the credit was read before the runs were executed
        owed = int(sched.credits(keeper))
        assert owed >= _pay(sched, ids) > 0
        # the next tick reads the credit, finds it above 1 wei and withdraws it to itself
        start = chain.blocks.head.number
        tick = bot.tick(now + 1)
        assert tick.withdrawing == owed
        assert bot.withdraw_intent is not None
        assert bot.tick(now + 2).withdrawing == 0  # one withdrawal in flight at a time
        bot.drive()
        assert int(sched.credits(keeper)) == 0
        logs = list(sched.CreditWithdrawn.range(start, chain.blocks.head.number + 1))
        assert [(e.executor, e.to, e.amount) for e in logs] == [
            (keeper.address, keeper.address, owed)
        ]
        bot.tick(now + 3)
        assert bot.withdraw_intent is None and credit_metric() == 0
        sel = "0x" + keccak(text="withdrawCredit(address)")[:4].hex()
        withdrawals = [i for i in intents(bot.store) if i.calldata.startswith(sel)]
        assert [i.status for i in withdrawals] == ["confirmed"]
    finally:
        bot.stop()


def test_executor__credit_below_threshold__left_owed_and_shown(
    chain, auto, make_paid, settings, keeper
):
    sched = auto["scheduler"]
    make_paid(1)
    bot = make_executor(settings, auto, withdraw_credit_above_wei=10**18, due_scan_every_s=0)
    try:
        now = advance(chain, 3_610)
        bot.tick(now)
        bot.drive()
        owed = int(sched.credits(keeper))
        assert 0 < owed < 10**18
        tick = bot.tick(now + 1)
        assert tick.withdrawing == 0 and bot.withdraw_intent is None
        assert credit_metric() == owed
        assert int(sched.credits(keeper)) == owed
    finally:
        bot.stop()


def test_executor_calls__threshold_zero__withdraw_not_declared(auto):
    on = load_settings(ExecutorConfig, scheduler=auto["scheduler"].address)
    off = load_settings(
        ExecutorConfig, scheduler=auto["scheduler"].address, withdraw_credit_above_wei=0
    )
    assert executor_calls(on).calls[0].signatures == (
        "executeBatch(uint256[])",
        "withdrawCredit(address)",
    )
    assert executor_calls(off).calls[0].signatures == ("executeBatch(uint256[])",)


def test_executor__withdrawal_fails__alert_and_credit_still_owed(
    chain, auto, make_paid, settings, keeper
):
    """The bot's withdrawal ends without paying (here the audit refuses it: an operator's policy
    replaced without `withdrawCredit`): the bot raises executor_credit_withdraw_failed, the
    credit stays owed, and the next due scan tries again."""
    sched = auto["scheduler"]
    make_paid(1)
    alerts: list = []
    cfg = load_settings(
        ExecutorConfig,
        scheduler=sched.address,
        withdraw_credit_above_wei=1,
        due_scan_every_s=0,
        pipeline_passes=0,
    )
    bot = ExecutorBot.from_settings(settings, cfg, [alerts.append])
    bot.start()
    try:
        now = advance(chain, 3_610)
        bot.tick(now)
        bot.drive()
        owed = int(sched.credits(keeper))
        assert owed > 0
        tick = bot.tick(now + 1)  # submits the withdrawal; no pipeline pass in the tick
        assert tick.withdrawing == owed
        policy = bot.pipeline.settings.policy
        narrowed = PolicyConfig.model_validate(
            {"roles": {"executor": {"allowed": [{"contract": sched.address, "selector": BATCH}]}}}
        )
        bot.pipeline.settings.policy = narrowed
        bot.drive()
        bot.pipeline.settings.policy = policy
        bot.tick(now + 2)
        assert [a.code for a in alerts] == ["executor_credit_withdraw_failed"]
        assert int(sched.credits(keeper)) == owed  # nothing lost
        # the next due scan (this tick's) sent it again, and this one goes through
        assert bot.withdraw_intent is not None
        bot.drive()
        assert int(sched.credits(keeper)) == 0
    finally:
        bot.stop()
