"""Gas measurements of the automation contracts, shared by the gas tests, the committed snapshot
and the benchmark. Everything is deployed here through ballast_dev.deployment.automation, so the
figures come from the production wiring. Gas on anvil is deterministic.
"""

from __future__ import annotations

from typing import Any

from ballast_dev.deployment.automation import deploy_automation
from tests.support.autolib import (
    advance,
    calldata_gas,
    config,
    deploy_fleet,
    deploy_supervisor,
    execution_gas,
    now,
    outcomes,
)

BASE_FEE = 10**9
SLOT = 60
WORK_LOOPS = 20
# Chainlink Automation v2.3 (AutomationRegistryBase2_3), two different constants:
# - REGISTRY_CONDITIONAL_OVERHEAD = 98,200: used only to ESTIMATE the maximum payment while
#   checking a conditional upkeep (a ceiling, not what is billed);
# - ACCOUNTING_FIXED_GAS_OVERHEAD = 51,200 per transmit transaction plus
#   ACCOUNTING_PER_UPKEEP_GAS_OVERHEAD = 14,200 per upkeep in it: what BILLING adds to the gas
#   measured around the perform. One upkeep alone in a transaction: 65,400.
CHAINLINK_V23_CONDITIONAL_OVERHEAD = 98_200
CHAINLINK_V23_BILLED_FIXED = 51_200
CHAINLINK_V23_BILLED_PER_UPKEEP = 14_200


def _system(project: Any, accounts: Any) -> dict[str, Any]:
    deployer, gov, keeper, alice = accounts[0], accounts[1], accounts[2], accounts[4]
    # A spend cap above the 1,000-rebalancer fleet's bookings: this measures gas, not the cap.
    addr = deploy_automation(
        project,
        deployer,
        gov,
        base_fee=BASE_FEE,
        slot_seconds=SLOT,
        funder_deposit=10**20,
        funder_spend_cap_wei=10**22,
    )
    c = {
        "deployer": deployer,
        "gov": gov,
        "keeper": keeper,
        "alice": alice,
        "scheduler": project.RebalanceScheduler.at(addr["scheduler"]),
        "funder": project.TxFunder.at(addr["tx_funder"]),
        "registry": project.PaidRebalancerRegistry.at(addr["paid_registry"]),
        "supervisor": project.Supervisor.at(addr["supervisor"]),
    }
    c["scheduler"].setSlotCapacity(1, 10**12, sender=gov)
    c["scheduler"].setSlotCapacity(2, 10**12, sender=gov)
    return c


def measure_scheduler(project: Any, chain: Any, accounts: Any) -> dict[str, int]:
    """Execution overhead: execute() minus the handler's own gas for the same work (the executor
    holding a credit already, as a keeper does between withdrawals); the withdrawal, and an
    execute() right after one (the zeroed credit written again), measured beside it."""
    s = _system(project, accounts)
    scheduler, alice, keeper = s["scheduler"], s["alice"], s["keeper"]
    handler = s["deployer"].deploy(project.TestHandler, scheduler)
    handler.setWorkLoops(WORK_LOOPS, sender=alice)
    effort = 200_000
    fee = BASE_FEE * effort * 5
    ts = now(chain) + 2 * SLOT
    ids = []
    first_book = None
    for _ in range(8):
        tx = handler.book(b"", ts, 1, effort, value=fee, sender=alice)
        first_book = first_book or tx
        ids.append(tx.return_value)
    # Same slot, same priority, zero-to-nonzero writes already done: a steady-state booking.
    book_tx = handler.book(b"", ts, 1, effort, value=fee, sender=alice)
    ids.append(book_tx.return_value)
    # one more, executed after the keeper has withdrawn its credit (a zero credit written again)
    ids.append(handler.book(b"", ts, 1, effort, value=fee, sender=alice).return_value)
    advance(chain, 3 * SLOT)
    scheduler.execute(ids[0], sender=keeper)  # warm-up: handler's storage becomes non-zero
    run_tx = scheduler.execute(ids[1], sender=keeper)
    # the handler's own gas: the very call the scheduler makes (executeScheduled with the run's
    # empty data), made directly in the same state, so its prelude (the test handler's mode
    # checks, its calldata decoding) counts as the handler's, not as the scheduler's overhead.
    # Another run's id, so that its lastId write changes the slot as the run's did.
    direct_tx = handler.executeScheduled(ids[8], b"", sender=keeper)
    handler_gas = execution_gas(direct_tx)
    batch_tx = scheduler.executeBatch(ids[2:7], sender=keeper)
    cancel_tx = handler.cancel(ids[7], sender=alice)
    withdraw_tx = scheduler.withdrawCredit(keeper, sender=keeper)
    after_withdraw_tx = scheduler.execute(ids[9], sender=keeper)
    return {
        "scheduler_schedule_first": first_book.gas_used,
        "scheduler_schedule": book_tx.gas_used,
        "scheduler_execute": run_tx.gas_used,
        "scheduler_execute_batch_5": batch_tx.gas_used,
        "scheduler_cancel": cancel_tx.gas_used,
        "scheduler_withdraw_credit": withdraw_tx.gas_used,
        "scheduler_execute_after_withdraw": after_withdraw_tx.gas_used,
        "handler_own_execution_gas": handler_gas,
        "execute_overhead_execution": execution_gas(run_tx) - handler_gas,
        "execute_overhead_with_intrinsic": run_tx.gas_used - handler_gas,
    }


def measure_rebalancer(project: Any, chain: Any, accounts: Any) -> dict[str, int]:
    """Paid rebalancer creation, its run (rebalance + rebook), and a no-op fixReschedule."""
    s = _system(project, accounts)
    scheduler, registry, alice, keeper = s["scheduler"], s["registry"], s["alice"], s["keeper"]
    position = s["deployer"].deploy(project.TestPosition, alice)
    # The deploy booked the supervisor's first run at deploy time + 3,600 s; the new rebalancer
    # books at creation time + 3,600 s. Whether both land in one scheduler slot depended on the
    # wall clock (a slot boundary between the two blocks made creation 34,096 gas dearer: a CI
    # run failed on it). One slot later, the rebalancer always books a slot of its own, as it
    # does in production, where creations are not in the deploy's minute.
    advance(chain, SLOT)
    create_tx = registry.createPaidRebalancerFor(position, alice, sender=s["gov"])
    r = project.Rebalancer.at(registry.rebalancerOf(create_tx.return_value))
    position.setRebalancer(r, True, sender=alice)
    noop_tx = r.fixReschedule(sender=keeper)
    run_id, ts = r.bookedRun()
    advance(chain, ts - now(chain))
    run_tx = scheduler.execute(run_id, sender=keeper)
    funder = s["funder"]
    funder.approveSpender(alice, 10**18, sender=s["gov"])
    withdraw_tx = funder.withdrawFee(10**9, sender=alice)
    return {
        "registry_create_paid_rebalancer": create_tx.gas_used,
        "rebalancer_run_rebalance_and_rebook": run_tx.gas_used,
        "rebalancer_fix_reschedule_noop": noop_tx.gas_used,
        "rebalancer_fix_reschedule_noop_execution": execution_gas(noop_tx),
        "funder_withdraw_fee": withdraw_tx.gas_used,
    }


def measure_supervisor(
    project: Any, chain: Any, accounts: Any, sizes: tuple[int, int]
) -> dict[str, int]:
    """Ticks over `sizes` healthy (booked) real Rebalancers; marginal gas per item."""
    s = _system(project, accounts)
    deployer, gov, keeper = s["deployer"], s["gov"], s["keeper"]
    scheduler, funder = s["scheduler"], s["funder"]
    fleet = deploy_fleet(project, deployer, gov, funder)
    sup = deploy_supervisor(project, deployer, gov, scheduler, fleet, funder, max_items=5_000)
    position = deployer.deploy(project.TestPosition, s["alice"])
    small, large = sizes
    made = 0
    out: dict[str, int] = {}
    for size in (small, large):
        while made < size:
            n = min(size - made, 12)  # about 2M gas each: 12 stay well inside a 30M block
            fleet.createRebalancers(n, scheduler, position, config(funder), gov, sender=deployer)
            made += n
        new_ids = list(range(sup.itemCount() + 1, size + 1))
        for k in range(0, len(new_ids), 200):
            sup.addPaidRebalancers(new_ids[k : k + 200], sender=gov)
        tx = sup.tick(size, sender=keeper, gas_limit=29_000_000)
        assert [o for _, o in outcomes(tx)] == [0] * size  # every item AlreadyBooked
        out[f"supervisor_tick_{size}"] = tx.gas_used
    out["supervisor_marginal_per_item"] = (
        out[f"supervisor_tick_{large}"] - out[f"supervisor_tick_{small}"]
    ) // (large - small)
    return out


__all__ = [
    "CHAINLINK_V23_CONDITIONAL_OVERHEAD",
    "CHAINLINK_V23_BILLED_FIXED",
    "CHAINLINK_V23_BILLED_PER_UPKEEP",
    "calldata_gas",
    "measure_rebalancer",
    "measure_scheduler",
    "measure_supervisor",
]
