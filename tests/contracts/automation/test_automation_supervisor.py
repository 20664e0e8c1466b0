"""Supervisor: registration rights, cursor ticks, pruning, isolation, self-scheduling."""

from __future__ import annotations

import ape
import pytest

from tests.support.autolib import SCHEDULED, advance, config, events, now, outcomes

ALREADY_BOOKED, BOOKED, FAILED, DESTROYED, REVERTED, NO_RESPONSE = range(6)
ANSWER, REVERT, BURN, BOMB = range(4)
TICK_BUDGET = 10_000_000


def make_paid(project, deployer, registry, supervisor, owner, n):
    """n paid rebalancers owned by `owner` (created for it by the admin), added by the admin."""
    gov = registry.owner()
    ids = []
    for _ in range(n):
        pos = deployer.deploy(project.TestPosition, owner)
        ids.append(registry.createPaidRebalancerFor(pos, owner, sender=gov).return_value)
        supervisor.addPaidRebalancer(ids[-1], sender=gov)
    return ids


def checked(tx) -> list[tuple[int, int]]:
    """(id, outcome) per item checked, from the tick's single Ticked event."""
    [ticked] = events(tx, "Ticked")
    assert ticked.checked == len(ticked.outcomes)
    return outcomes(tx)


def test_add_remove__admin_or_registry_adds_owner_removes(
    project, deployer, registry, supervisor, alice, gov, attacker
):
    """Who else can call add/remove? add: only the admin (and the registry, see
    test_registry_creates__registers_with_supervisor); the rebalancer's own registry owner
    (alice) and an attacker cannot add, so nobody outside can flood the tick. remove: the
    admin or the id's registry owner; an attacker cannot unregister someone's rebalancer."""
    [paid_id] = make_paid(project, deployer, registry, supervisor, alice, 1)
    assert supervisor.isSupervised(paid_id)
    with ape.reverts(supervisor.AlreadySupervised, id=paid_id):
        supervisor.addPaidRebalancer(paid_id, sender=gov)
    with ape.reverts(supervisor.NotRebalancerOwnerOrAdmin, id=paid_id, caller=attacker.address):
        supervisor.removePaidRebalancer(paid_id, sender=attacker)
    supervisor.removePaidRebalancer(paid_id, sender=gov)
    with ape.reverts(supervisor.NotSupervised, id=paid_id):
        supervisor.removePaidRebalancer(paid_id, sender=alice)
    for outsider in (attacker, alice):
        with ape.reverts(supervisor.NotAdminOrRegistry, caller=outsider.address):
            supervisor.addPaidRebalancer(paid_id, sender=outsider)
        with ape.reverts(supervisor.NotAdminOrRegistry, caller=outsider.address):
            supervisor.addPaidRebalancers([paid_id], sender=outsider)
    with ape.reverts(supervisor.UnknownRebalancer, id=42):
        supervisor.addPaidRebalancer(42, sender=gov)
    supervisor.addPaidRebalancer(paid_id, sender=gov)
    assert supervisor.itemCount() == 1
    supervisor.removePaidRebalancer(paid_id, sender=alice)
    supervisor.addPaidRebalancers([paid_id], sender=gov)
    with ape.reverts(supervisor.AlreadySupervised, id=paid_id):
        supervisor.addPaidRebalancers([paid_id], sender=gov)


def test_registry_creates__registers_with_supervisor(
    project, deployer, registry, supervisor, alice, gov, attacker
):
    """With the supervisor set on the registry, each paid rebalancer the registry creates is
    registered at once (the registry is the supervisor's only other caller). Who else can set
    the supervisor? Only the registry owner."""
    with ape.reverts(registry.OwnableUnauthorizedAccount, account=attacker.address):
        registry.setSupervisor(attacker, sender=attacker)
    registry.setSupervisor(supervisor, sender=gov)
    pos = deployer.deploy(project.TestPosition, alice)
    tx = registry.createPaidRebalancerFor(pos, alice, sender=gov)
    paid_id = tx.return_value
    assert supervisor.isSupervised(paid_id) and supervisor.itemCount() == 1
    [added] = events(tx, "PaidRebalancerAdded")
    assert added.id == paid_id and added.rebalancer == registry.rebalancerOf(paid_id)


def test_admin__settings__owner_only_and_validated(supervisor, funder, gov, attacker):
    with ape.reverts(supervisor.OwnableUnauthorizedAccount, account=attacker.address):
        supervisor.setTickSettings(100_000, 10, sender=attacker)
    with ape.reverts(supervisor.OwnableUnauthorizedAccount, account=attacker.address):
        supervisor.setRecurringConfig(config(funder), sender=attacker)
    with ape.reverts(supervisor.InvalidTickSettings, itemGasCap=1, maxItemsPerRun=10):
        supervisor.setTickSettings(1, 10, sender=gov)
    with ape.reverts(supervisor.NotScheduler, caller=attacker.address):
        supervisor.executeScheduled(1, b"", sender=attacker)


def test_tick__cursor__least_recently_checked_first(
    project, deployer, registry, supervisor, alice, bob
):
    ids = make_paid(project, deployer, registry, supervisor, alice, 5)
    assert checked(supervisor.tick(2, sender=bob)) == [(ids[0], 0), (ids[1], 0)]
    assert checked(supervisor.tick(2, sender=bob)) == [(ids[2], 0), (ids[3], 0)]
    assert checked(supervisor.tick(2, sender=bob)) == [(ids[4], 0), (ids[0], 0)]
    assert supervisor.cursor() == 1
    # More than the list: each item once.
    assert [i for i, _ in checked(supervisor.tick(99, sender=bob))] == ids[1:] + ids[:1]


def test_tick__removed_rebalancer__pruned(project, deployer, registry, supervisor, alice, gov, bob):
    ids = make_paid(project, deployer, registry, supervisor, alice, 3)
    registry.removePaidRebalancer(ids[1], sender=gov)
    tx = supervisor.tick(10, sender=bob)
    [pruned] = events(tx, "ItemPruned")
    assert (pruned.id, pruned.reason) == (ids[1], DESTROYED)
    assert supervisor.itemCount() == 2 and not supervisor.isSupervised(ids[1])
    # The pruned item's outcome is in the tick's outcomes too, and the ones after it are intact.
    assert sorted(checked(tx)) == sorted([(ids[0], 0), (ids[1], DESTROYED), (ids[2], 0)])


def test_tick__funder_empty_then_refilled__recovers(
    chain, project, deployer, registry, supervisor, scheduler, funder, gov, alice, keeper, bob
):
    [paid_id] = make_paid(project, deployer, registry, supervisor, alice, 1)
    r = project.Rebalancer.at(registry.rebalancerOf(paid_id))
    saved = funder.balance
    funder.withdraw(gov, saved, sender=gov)
    run_id, ts = r.bookedRun()
    advance(chain, ts - now(chain))
    tx = scheduler.execute(run_id, sender=keeper)
    assert events(tx, "FailedRecurringSchedule")
    assert r.bookedRun() == (0, 0)
    assert checked(supervisor.tick(10, sender=bob)) == [(paid_id, FAILED)]
    gov.transfer(funder, saved)
    tx = supervisor.tick(10, sender=bob)
    assert checked(tx) == [(paid_id, BOOKED)]
    assert scheduler.status(r.bookedRun()[0]) == SCHEDULED
    assert checked(supervisor.tick(10, sender=bob)) == [(paid_id, ALREADY_BOOKED)]


def test_supervisor__books_itself_and_runs_as_cron(
    chain, project, deployer, registry, supervisor, scheduler, alice, keeper, bob
):
    ids = make_paid(project, deployer, registry, supervisor, alice, 2)
    assert supervisor.fixReschedule.call() == BOOKED
    supervisor.fixReschedule(sender=bob)
    run_id, ts = supervisor.bookedRun()
    assert scheduler.status(run_id) == SCHEDULED
    supervisor.fixReschedule(sender=bob)
    assert supervisor.bookedRun() == (run_id, ts)
    advance(chain, ts - now(chain))
    tx = scheduler.execute(run_id, sender=keeper)
    assert events(tx, "RunExecuted")[0].success
    assert checked(tx) == [(ids[0], ALREADY_BOOKED), (ids[1], ALREADY_BOOKED)]
    next_id, next_ts = supervisor.bookedRun()
    assert next_id != run_id and next_ts == ts + 3_600


def test_supervisor_run__funder_short_for_all__books_itself_before_the_items(
    chain, project, deployer, registry, supervisor, scheduler, funder, gov, alice, keeper
):
    """The funder holds the Supervisor's next booking and all but one wei of its three stuck
    items' bookings. The items used to book first and empty it: the Supervisor's own booking
    failed and nothing ticked it again until the bot or a stranger called fixReschedule. Now
    it books itself first; the last item waits for the next tick."""
    supervisor.fixReschedule(sender=alice)
    sup_run, ts = supervisor.bookedRun()
    funder.withdraw(gov, funder.balance, sender=gov)
    ids = make_paid(project, deployer, registry, supervisor, alice, 3)  # none can book
    rebs = [project.Rebalancer.at(registry.rebalancerOf(i)) for i in ids]
    assert all(r.bookedRun() == (0, 0) for r in rebs)

    def booking(task) -> int:
        c = task.recurringConfig()
        return scheduler.feeFor(0, c.priority, c.executionEffort) * c.estimationMarginBps // 10_000

    gov.transfer(funder, booking(supervisor) + sum(booking(r) for r in rebs) - 1)
    advance(chain, ts - now(chain))
    tx = scheduler.execute(sup_run, sender=keeper)
    next_run, next_ts = supervisor.bookedRun()
    assert next_run != 0 and scheduler.status(next_run) == SCHEDULED and next_ts == ts + 3_600
    assert not [
        e for e in events(tx, "FailedRecurringSchedule") if e.contract_address == supervisor.address
    ]
    assert sorted(o for _, o in checked(tx)) == [BOOKED, BOOKED, FAILED]
    assert sum(r.bookedRun()[0] != 0 for r in rebs) == 2


def _fleet(project, deployer, fleet, scheduler, position, funder, alice, healthy, bad_each):
    first = None
    left = healthy
    while left:
        n = min(left, 12)  # about 2M gas each: 12 stay well inside a 30M block
        tx = fleet.createRebalancers(n, scheduler, position, config(funder), alice, sender=deployer)
        first = first or tx.return_value
        left -= n
    healthy_ids = list(range(first, first + healthy))
    bad = []
    for mode, answer in ((REVERT, 0), (BURN, 0), (BOMB, 0), (ANSWER, 7)):
        items = [deployer.deploy(project.TestSupervisedItem, mode, answer) for _ in range(bad_each)]
        start = fleet.registerMany(items, alice, sender=deployer).return_value
        bad += list(range(start, start + bad_each))
    start = fleet.registerMany([deployer.address] * bad_each, alice, sender=deployer).return_value
    eoa = list(range(start, start + bad_each))
    return healthy_ids, bad, eoa


@pytest.fixture
def run_isolation(
    project, deployer, fleet, fleet_supervisor, scheduler, position, funder, alice, gov, bob
):
    """Register `healthy` paid items plus `bad_each` of each bad handler kind and an EOA each,
    tick until every item was checked once, assert each outcome; returns the ticks it took."""

    def run(healthy, bad_each):
        healthy_ids, bad, eoa = _fleet(
            project, deployer, fleet, scheduler, position, funder, alice, healthy, bad_each
        )
        ids = healthy_ids + bad + eoa
        # Interleave so bad items sit between healthy ones.
        total = len(ids)
        ids.sort(key=lambda i: (i * 7919) % total)
        for k in range(0, total, 200):
            fleet_supervisor.addPaidRebalancers(ids[k : k + 200], sender=gov)
        seen: dict[int, int] = {}
        ticks = 0
        while len(seen) < len(ids) and ticks < 20:
            tx = fleet_supervisor.tick(len(ids), sender=bob, gas_limit=TICK_BUDGET)
            assert tx.gas_used <= TICK_BUDGET
            pruned = {e.id: e.reason for e in events(tx, "ItemPruned")}
            assert set(pruned) <= {item_id for item_id, _ in checked(tx)}
            for item_id, outcome in checked(tx):
                seen.setdefault(item_id, outcome)
                assert pruned.get(item_id, outcome) == outcome
            ticks += 1
        assert all(seen[i] == ALREADY_BOOKED for i in healthy_ids)
        assert all(seen[i] == REVERTED for i in bad)
        assert all(seen[i] == NO_RESPONSE for i in eoa)
        assert fleet_supervisor.itemCount() == len(ids) - len(eoa)
        return ticks

    return run


def test_tick__50_items_with_bad_handlers__isolated_under_budget(run_isolation):
    assert run_isolation(35, 3) <= 2


@pytest.mark.slow
def test_tick__1000_items_with_bad_handlers__isolated_under_budget(run_isolation):
    run_isolation(900, 20)


def test_supervisor_run__burners_exceed_its_effort__stops_early_and_rebooks(
    chain, project, deployer, fleet, fleet_supervisor, scheduler, position, funder, gov, keeper, bob
):
    burners = [deployer.deploy(project.TestSupervisedItem, BURN, 0) for _ in range(40)]
    first = fleet.registerMany(burners, gov, sender=deployer).return_value
    fleet_supervisor.addPaidRebalancers(list(range(first, first + 40)), sender=gov)
    fleet_supervisor.fixReschedule(sender=bob)
    run_id, ts = fleet_supervisor.bookedRun()
    advance(chain, ts - now(chain))
    tx = scheduler.execute(run_id, sender=keeper)
    assert events(tx, "RunExecuted")[0].success
    [ticked] = events(tx, "Ticked")
    assert 0 < ticked.checked < 40  # 40 x 300k cannot fit in a 9M run: it stopped early
    assert [o for _, o in checked(tx)] == [REVERTED] * ticked.checked
    next_id, _ = fleet_supervisor.bookedRun()
    assert next_id != run_id and scheduler.status(next_id) == SCHEDULED
    # The next tick starts where this one stopped.
    assert fleet_supervisor.cursor() == ticked.checked
