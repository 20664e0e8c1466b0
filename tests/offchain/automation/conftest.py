"""Fixtures of the automation-keeper tests: the automation deployed on ape's anvil with
ballast_dev.deployment.automation, TestPosition positions with paid rebalancers, and keeper bots
that talk to the same anvil over web3 (no ape inside the bots)."""

from __future__ import annotations

from typing import Any

import pytest

from ballast_dev.deployment.automation import deploy_automation
from tests.support.autobots_helpers import BASE_FEE, SLOT, make_settings


@pytest.fixture
def rpc_url(chain) -> str:
    return str(chain.provider.http_uri)


@pytest.fixture
def auto(project, deployer, gov) -> dict[str, Any]:
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
def make_paid(project, deployer, alice, gov, auto):
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
def settings(tmp_path, rpc_url, keeper, auto):
    return make_settings(tmp_path / "keeper.db", rpc_url, keeper.private_key, auto["addresses"])
