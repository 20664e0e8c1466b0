"""Every run the executor is paid for gets run: profitability on the gas a run really uses
(not the 64/63 headroom its gas limit needs), a run that cannot pay said once with its figures,
and a batch never dropped because one member is due by the keeper's clock but not on chain."""

from __future__ import annotations

import logging

import pytest
import structlog
from structlog.testing import capture_logs

from keepers.automation.planning import SCHEDULED, gas_needed_for
from tests.support.autobots_helpers import advance, make_executor
from tests.support.autolib import LOW, MEDIUM, config

GWEI = 10**9
EXECUTED = 2
LOCAL_BASE_FEE = 400_000_000  # scripts/profiles/local.yaml: 0.4 gwei per unit of effort
LOW_EFFORT = 1_000_000


@pytest.fixture
def low_run(project, deployer, auto, alice, gov):
    """A standard Rebalancer of alice's booking Low runs of 1M effort at the local profile's
    fees (0.4 gwei x Low 2 x margin 1.2 = 0.96 gwei per unit of effort): its run id."""
    sched, funder = auto["scheduler"], auto["funder"]
    sched.setFees(LOCAL_BASE_FEE, 0, sender=gov)
    pos = deployer.deploy(project.TestPosition, alice)
    cfg = config(funder, priority=LOW, execution_effort=LOW_EFFORT)
    reb = deployer.deploy(project.Rebalancer, alice, sched, pos, cfg)
    funder.approveSpender(reb, 10**18, sender=gov)
    pos.setRebalancer(reb, True, sender=alice)
    reb.fixReschedule(sender=alice)
    return int(reb.bookedRun()[0])


@pytest.fixture(autouse=True)
def _info_lines_kept():
    """capture_logs swaps the processors, not the level filter: a keeper configured at WARNING
    earlier in the same worker (another test's CLI run) dropped these info lines before any
    capture, and the tests failed only in the whole suite. The level is INFO here, restored."""
    old = structlog.get_config()["wrapper_class"]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.configure(wrapper_class=old)


def _events(logs, name: str) -> list[dict]:
    return [e for e in logs if e["event"] == name]


def test_executor__low_run_fee_covers_real_gas__executed(chain, auto, settings, low_run):
    """At 1 gwei the Low run's worst case (1M effort + 64/63 + 30k, times the 1.2 margin) is
    above its 0.96e15-wei fee, so the keeper logged executor.unprofitable for it forever; the gas
    it really uses (about a third of that) is far below."""
    sched = auto["scheduler"]
    fee = int(sched.getRun(low_run).fee)
    assert fee * 10_000 < gas_needed_for(LOW_EFFORT) * GWEI * 12_000  # the old rule's refusal
    bot = make_executor(settings, auto)
    bot.io.gas_price = lambda: GWEI  # the decision at 1 gwei, whatever the local node says
    try:
        now = advance(chain, 3_700)
        with capture_logs() as logs:
            tick = bot.tick(now)
            bot.drive()
        assert any(low_run in ids for ids in tick.submitted), tick
        assert low_run not in tick.unprofitable
        assert sched.status(low_run) == EXECUTED
        assert not _events(logs, "executor.run_unprofitable")
        assert bot.run_gas[low_run] < LOW_EFFORT // 2  # what it really used, measured alone
    finally:
        bot.stop()


def test_executor__run_that_cannot_pay__said_once_with_fee_cost_gap(chain, auto, settings, low_run):
    """At 5 gwei the Low run passes the least-cost filter but not its own measured gas: it is
    left (the supervisor's run in the same batch goes without it) and said once, with its pay,
    cost and gap, however many ticks see it."""
    sched = auto["scheduler"]
    bot = make_executor(settings, auto)
    bot.io.gas_price = lambda: 5 * GWEI
    try:
        now = advance(chain, 3_700)
        with capture_logs() as logs:
            first = bot.tick(now)
            bot.drive()
            second = bot.tick(now + 5)
            third = bot.tick(now + 10)
        assert low_run in first.unprofitable
        assert low_run in second.unprofitable and low_run in third.unprofitable
        assert all(low_run not in ids for t in (first, second, third) for ids in t.submitted)
        assert sched.status(low_run) == SCHEDULED
        (said,) = [e for e in _events(logs, "executor.run_unprofitable") if e["run"] == low_run]
        fee = int(sched.getRun(low_run).fee)
        assert said["fee"] == fee and said["pay"] == fee - fee * 2_000 // 10_000
        assert said["measured"] and said["gas"] == bot.run_gas[low_run]
        assert said["cost"] == said["gas"] * 5 * GWEI
        assert said["gap"] == said["cost"] * 12_000 // 10_000 - said["pay"] > 0
        # the rest of the batch went: the supervisor's own run
        (sup_run, _) = auto["supervisor"].bookedRun()
        assert first.submitted and low_run not in first.submitted[0]
        assert int(sup_run) != 0
    finally:
        bot.stop()


def test_executor__member_not_due_on_chain__waits_rest_of_batch_goes(
    chain, project, deployer, auto, make_paid, settings, alice
):
    """The keeper's clock is ahead of the latest block: a run due by the clock but not on chain
    made the whole batch's simulation execute fewer runs than planned, and the batch was
    dropped at every tick with no log line. Now that member waits and the rest go."""
    sched = auto["scheduler"]
    paid = make_paid(3)
    ids = [int(r.bookedRun()[0]) for _, r, _ in paid]
    head = advance(chain, 3_700)  # the paid runs are due on chain
    late_handler = deployer.deploy(project.TestHandler, sched)
    late_at = head + 300
    fee = int(sched.feeFor(0, MEDIUM, 100_000))
    late = late_handler.book(b"", late_at, MEDIUM, 100_000, value=fee, sender=alice).return_value
    late_at = int(sched.getRun(late).timestamp)
    bot = make_executor(settings, auto)
    try:
        clock = late_at + 5  # the keeper's clock: past the late run's time, the chain is not
        assert int(chain.blocks.head.timestamp) < late_at
        with capture_logs() as logs:
            tick = bot.tick(clock)
            bot.drive()
        assert tick.submitted and set(ids) <= set(tick.submitted[0])
        assert late not in tick.submitted[0] and late in tick.waiting
        assert all(sched.status(i) == EXECUTED for i in ids)
        assert sched.status(late) == SCHEDULED
        (waits,) = _events(logs, "executor.run_waits")
        assert waits["runs"] == [late] and waits["reason"] == "not_due_on_chain"
        # once the chain reaches its time it goes too
        advance(chain, max(0, late_at - int(chain.pending_timestamp)) + 1)
        tick = bot.tick(clock + 10)
        bot.drive()
        assert any(late in s for s in tick.submitted)
        assert sched.status(late) == EXECUTED
    finally:
        bot.stop()
