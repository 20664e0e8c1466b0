"""Fixtures of the automation contracts on ape's anvil (ballast_dev.deployment.automation),
shared by tests/offchain/automation and tests/offchain/cli; loaded for the whole suite with
``pytest_plugins`` in tests/conftest.py (a conftest fixture of the same name wins)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from ballast_dev.deployment.automation import deploy_automation
from tests.support.autobots_helpers import BASE_FEE, SLOT


@pytest.fixture
def auto(project: Any, deployer: Any, gov: Any) -> dict[str, Any]:
    """Scheduler, funder, registry, supervisor (ape contract instances), admin = gov."""
    addrs = deploy_automation(
        project,
        deployer,
        gov,
        base_fee=BASE_FEE,
        slot_seconds=SLOT,
        funder_deposit=10**18,
        paid_interval=3_600,
        paid_effort=400_000,
        supervisor_interval=3_600,
    )
    return {
        "scheduler": project.RebalanceScheduler.at(addrs["scheduler"]),
        "funder": project.TxFunder.at(addrs["tx_funder"]),
        "registry": project.PaidRebalancerRegistry.at(addrs["paid_registry"]),
        "supervisor": project.Supervisor.at(addrs["supervisor"]),
        "addresses": addrs,
    }


@pytest.fixture
def make_paid(project: Any, deployer: Any, alice: Any, gov: Any, auto: dict[str, Any]) -> Any:
    """make_paid(n) -> n (registry id, Rebalancer, TestPosition), each booked and authorised."""

    def make(n: int = 1) -> list[tuple[int, Any, Any]]:
        out = []
        for _ in range(n):
            pos = deployer.deploy(project.TestPosition, alice)
            tx = auto["registry"].createPaidRebalancerFor(pos, alice, sender=gov)
            rid = next(e for e in tx.events if e.event_name == "PaidRebalancerCreated").id
            reb = project.Rebalancer.at(auto["registry"].rebalancerOf(rid))
            pos.setRebalancer(reb, True, sender=alice)
            out.append((rid, reb, pos))
        return out

    return make


@pytest.fixture
def due_and_stuck(
    chain: Any, auto: dict[str, Any], make_paid: Any, gov: Any, bob: Any, deployer: Any
) -> Callable[[], tuple[Any, Any]]:
    """``due_and_stuck()`` -> ``(due, stuck)``: two paid rebalancers an hour later: the first
    one's run is due and waits for an executor; the second is stuck (the funder was empty when
    another executor, bob, ran its booking, so the next booking failed: nothing booked), and
    the funder is refilled."""

    def make() -> tuple[Any, Any]:
        sched, funder = auto["scheduler"], auto["funder"]
        (_, due_reb, _), (_, stuck_reb, _) = make_paid(2)
        funder.withdraw(gov, funder.balance, sender=gov)
        chain.mine(1, timestamp=chain.pending_timestamp + 3_600)
        tx = sched.executeBatch([int(stuck_reb.bookedRun()[0])], sender=bob)
        assert [e.event_name for e in tx.events].count("FailedRecurringSchedule") == 1
        assert int(stuck_reb.bookedRun()[0]) == 0
        deployer.transfer(funder, 10**17)
        return due_reb, stuck_reb

    return make
