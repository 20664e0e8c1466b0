"""Supervisor keeper bot on anvil: recovers a rebalancer the moment its funder is refilled
(without waiting for the on-chain Supervisor), pages on low runway before booking fails, ticks
the Supervisor when its own booking is stuck, refuses bad config."""

from __future__ import annotations

import re

import pytest

from keepers.automation.settings import SupervisorBotConfig
from keepers.automation.supervisor import SupervisorBot
from keepers.core.settings import ConfigError, load_settings
from tests.support.autobots_helpers import advance, intents, start_refused
from tests.support.rpc_recorder import RpcRecorder

SCHEDULED = 1
FEE = 10**9 * 400_000 * 5 * 12_000 // 10_000  # a paid rebalancer's booking (Medium, 1.2 margin)


def make_bot(settings, auto, **kw) -> SupervisorBot:
    fields = {
        "scheduler": auto["scheduler"].address,
        "registry": auto["registry"].address,
        "scan_every_s": 86_400,
    }
    fields.update(kw)
    cfg = load_settings(SupervisorBotConfig, **fields)
    bot = SupervisorBot.from_settings(settings, cfg, sinks=[])
    bot.start()
    return bot


def drain(funder, gov, keep: int) -> None:
    bal = funder.balance
    if bal > keep:
        funder.withdraw(gov, bal - keep, sender=gov)


def run_due(chain, sched, bob, rebalancers) -> object:
    """bob (another executor) executes the rebalancers' booked runs."""
    ids = [int(r.bookedRun()[0]) for r in rebalancers]
    return sched.executeBatch(ids, sender=bob)


def test_supervisor_bot__funder_dry_then_refilled__recovers_rebalancer_at_once(
    chain, auto, make_paid, settings, gov, bob, deployer
):
    paid = make_paid(2)
    rebs = [r for _, r, _ in paid]
    sched, funder, sup = auto["scheduler"], auto["funder"], auto["supervisor"]
    bot = make_bot(settings, auto, supervisor=sup.address)
    try:
        assert bot.tick(advance(chain, 1)).stuck == []
        drain(funder, gov, 0)
        advance(chain, 3_600)
        tx = run_due(chain, sched, bob, rebs)
        assert len([e for e in tx.events if e.event_name == "FailedRecurringSchedule"]) == 2
        assert all(int(r.bookedRun()[0]) == 0 for r in rebs)

        now = advance(chain, 1)
        recorder = RpcRecorder(bot.node.w3.provider)
        try:
            t = bot.tick(now)
        finally:
            recorder.close()
        assert set(t.failed_events) == {r.address for r in rebs}
        assert {a for a, _ in t.stuck} >= {r.address for r in rebs}
        # the fixes were checked through the simulator: each alone, one JSON-RPC batch
        fix_checks = recorder.batches_with("eth_simulateV1")
        assert fix_checks[0] == ["eth_simulateV1"] * len(t.stuck)
        assert t.fixes == [] and set(t.blocked) >= {r.address for r in rebs}
        assert intents(bot.store) == []  # a fix that would fail is not sent
        assert [a.code for a in t.alerts] == ["funder_empty"]

        deployer.transfer(funder, 10**17)  # refill
        t = bot.tick(now + 1)
        bot.drive()
        assert set(t.fixes) == {r.address for r in rebs}
        assert all(int(r.bookedRun()[0]) != 0 for r in rebs)
        assert all(sched.status(int(r.bookedRun()[0])) == SCHEDULED for r in rebs)
        assert [i.status for i in intents(bot.store)] == ["confirmed", "confirmed"]
        # the on-chain Supervisor's own run has not happened: the bot did not wait for it
        sup_run = int(sup.bookedRun()[0])
        assert sup_run != 0 and sched.status(sup_run) == SCHEDULED

        # idempotent: nothing left to fix, nothing sent
        t = bot.tick(now + 2)
        bot.drive()
        assert t.fixes == [] and len(intents(bot.store)) == 2
    finally:
        bot.stop()


def test_supervisor_bot__failure_before_start__found_by_scan_of_nothing_booked(
    chain, auto, make_paid, settings, gov, bob, deployer
):
    paid = make_paid(1)
    reb = paid[0][1]
    sched, funder = auto["scheduler"], auto["funder"]
    drain(funder, gov, 0)
    advance(chain, 3_600)
    run_due(chain, sched, bob, [reb])
    assert int(reb.bookedRun()[0]) == 0
    deployer.transfer(funder, 10**17)
    bot = make_bot(settings, auto)  # starts at the head: the failure event is out of sight
    try:
        t = bot.tick(advance(chain, 1))
        bot.drive()
        assert t.failed_events == [] and t.stuck == [(reb.address, "nothing-booked")]
        assert t.fixes == [reb.address] and int(reb.bookedRun()[0]) != 0
    finally:
        bot.stop()


def test_supervisor_bot__low_runway__alert_fires_before_booking_fails(
    chain, auto, make_paid, settings, gov, bob
):
    paid = make_paid(2)
    rebs = [r for _, r, _ in paid]
    sched, funder = auto["scheduler"], auto["funder"]
    funder.setRunwayParams(2 * FEE, 3, sender=gov)
    drain(funder, gov, 2 * 2 * FEE + 10**14)  # two more rounds of bookings
    bot = make_bot(settings, auto)
    seen: list[tuple[str, int]] = []  # (alert code, block)
    first_failure = None
    try:
        for round_ in range(3):
            t = bot.tick(advance(chain, 1))
            seen += [(a.code, a.detail["block"]) for a in t.alerts]
            advance(chain, 3_600)
            tx = run_due(chain, sched, bob, rebs)
            if first_failure is None and any(
                e.event_name == "FailedRecurringSchedule" for e in tx.events
            ):
                first_failure = (round_, tx.block_number)
        assert first_failure is not None and first_failure[0] == 2
        codes = [c for c, _ in seen]
        # the runway view pages first; the funder's own LowRunway event (emitted by a booking
        # that still succeeded) next; "bookings will fail" before the round that fails
        assert codes == ["low_runway", "low_runway_event", "funder_empty"]
        assert all(block < first_failure[1] for _, block in seen)
    finally:
        bot.stop()


def test_supervisor_bot__supervisor_cannot_book__ticks_it_directly(
    chain, auto, make_paid, settings, gov, bob, deployer
):
    paid = make_paid(1)
    sched, funder, sup = auto["scheduler"], auto["funder"], auto["supervisor"]
    bot = make_bot(settings, auto, supervisor=sup.address)
    try:
        drain(funder, gov, FEE + 10**14)  # enough for a rebalancer, not for the supervisor
        advance(chain, 3_600)
        sched.executeBatch([int(sup.bookedRun()[0])], sender=bob)  # its rebooking fails
        assert int(sup.bookedRun()[0]) == 0
        t = bot.tick(advance(chain, 1))
        bot.drive()
        assert sup.address in t.blocked and t.supervisor_ticked
        assert [i.status for i in intents(bot.store)] == ["confirmed"]
        # once per the supervisor's interval, not every tick
        t = bot.tick(advance(chain, 1))
        assert not t.supervisor_ticked
        assert paid  # the paid rebalancer it checked is still booked
        assert int(paid[0][1].bookedRun()[0]) != 0
    finally:
        bot.stop()


def test_supervisor_bot_config__bad_values__refuse_start_naming_field(auto, settings):
    with pytest.raises(ConfigError, match=r"registry='0xnope'"):
        load_settings(SupervisorBotConfig, scheduler=auto["scheduler"].address, registry="0xnope")
    with pytest.raises(ConfigError, match=r"runway_alert_intervals=0"):
        load_settings(
            SupervisorBotConfig,
            scheduler=auto["scheduler"].address,
            registry=auto["registry"].address,
            runway_alert_intervals=0,
        )
    with pytest.raises(ConfigError, match="at least one of supervisor, registry, rebalancers"):
        load_settings(SupervisorBotConfig, scheduler=auto["scheduler"].address)
    cfg = load_settings(
        SupervisorBotConfig,
        scheduler=auto["scheduler"].address,
        registry=auto["registry"].address,
        role="executor",
    )
    start_refused(
        SupervisorBot.from_settings(settings, cfg, sinks=[]),
        r"policy\.roles\.executor: must allow fixReschedule",
    )


def test_supervisor_bot__spend_cap_reached__alert_then_clears_after_window(
    chain, auto, make_paid, settings, gov, bob
):
    """The funder's rolling-day spend cap (issue 11) stops bookings whatever the balance: the
    bot pages spend_cap_reached (critical) once, and re-arms when the window has drained.
    Who else can lift the cap? Only the funder's owner (tests/contracts/automation)."""
    paid = make_paid(1)
    reb = paid[0][1]
    sched, funder = auto["scheduler"], auto["funder"]
    advance(chain, 86_400)  # the deploy's and the first bookings drain out of the window
    funder.setSpendCap(FEE // 2, sender=gov)
    bot = make_bot(settings, auto)
    try:
        t = bot.tick(advance(chain, 1))
        [alert] = [a for a in t.alerts if a.code == "spend_cap_reached"]
        assert alert.level.value == "critical" and alert.detail["funder"] == funder.address
        assert int(alert.detail["available"]) < FEE
        tx = run_due(chain, sched, bob, [reb])
        assert [e for e in tx.events if e.event_name == "FailedRecurringSchedule"]
        t = bot.tick(advance(chain, 1))
        assert "spend_cap_reached" not in [a.code for a in t.alerts]  # fired once
        advance(chain, 86_400)
        funder.setSpendCap(10**18, sender=gov)
        t = bot.tick(advance(chain, 1))
        assert "spend_cap_reached" not in [a.code for a in t.alerts]
        assert (funder.address, "spend_cap_reached") not in bot.armed
    finally:
        bot.stop()


def test_supervisor_bot__contracts_of_another_release__refuses_start_naming_both(
    auto, settings, monkeypatch
):
    from keepers.tx import release
    from keepers.version import CONTRACTS_RELEASE

    other = f"{int(CONTRACTS_RELEASE.split('.')[0]) + 1}.0.0"  # a release no keeper drives
    monkeypatch.setattr(release, "CONTRACTS_RELEASE", other)
    cfg = load_settings(
        SupervisorBotConfig, scheduler=auto["scheduler"].address, registry=auto["registry"].address
    )
    start_refused(
        SupervisorBot.from_settings(settings, cfg, sinks=[]),
        rf"release {re.escape(CONTRACTS_RELEASE)} .*release {re.escape(other)}.*docs/operator/upgrades\.md",
    )
