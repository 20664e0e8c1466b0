"""Fixtures for the automation contracts: scheduler, funder, positions, rebalancers."""

from __future__ import annotations

import pytest

from tests.support.autolib import (
    BASE_FEE,
    DATA_FEE,
    FUNDER_CAP,
    MAX_PER_OWNER,
    MAX_TOTAL,
    PAID_ALLOWANCE,
    SLOT,
    config,
)


@pytest.fixture
def scheduler(project, deployer, gov):
    return deployer.deploy(project.RebalanceScheduler, gov, SLOT, BASE_FEE, DATA_FEE)


@pytest.fixture
def handler(project, deployer, scheduler):
    return deployer.deploy(project.TestHandler, scheduler)


@pytest.fixture
def funder(project, deployer, gov):
    f = deployer.deploy(project.TxFunder, gov, FUNDER_CAP)
    deployer.transfer(f, 10**18)
    return f


@pytest.fixture
def position(project, deployer, alice):
    return deployer.deploy(project.TestPosition, alice)


@pytest.fixture
def make_rebalancer(project, deployer, scheduler, funder, position, alice, gov):
    """A standard Rebalancer owned by alice, authorised on the funder and the position."""

    def make(pos=None, fund=None, **cfg):
        pos = pos or position
        fund = fund or funder
        r = deployer.deploy(project.Rebalancer, alice, scheduler, pos, config(fund, **cfg))
        fund.approveSpender(r, 2**256 - 1, sender=gov)
        if pos.owner() == alice.address:
            pos.setRebalancer(r, True, sender=alice)
        return r

    return make


@pytest.fixture
def rebalancer(make_rebalancer, alice):
    r = make_rebalancer()
    r.fixReschedule(sender=alice)
    return r


@pytest.fixture
def registry(project, deployer, gov, scheduler, funder):
    reg = deployer.deploy(
        project.PaidRebalancerRegistry,
        gov,
        scheduler,
        config(funder),
        PAID_ALLOWANCE,
        MAX_PER_OWNER,
        MAX_TOTAL,
    )
    funder.setManager(reg, True, sender=gov)
    return reg


@pytest.fixture
def supervisor(project, deployer, gov, scheduler, registry, funder):
    sup = deployer.deploy(
        project.Supervisor,
        gov,
        scheduler,
        registry,
        config(funder, execution_effort=5_000_000),
        400_000,
        200,
    )
    funder.approveSpender(sup, 2**256 - 1, sender=gov)
    return sup


@pytest.fixture
def fleet(project, deployer, gov, scheduler, funder):
    """A registry double that can hold misbehaving items and mass-create real Rebalancers."""
    reg = deployer.deploy(project.TestFleetRegistry)
    funder.setManager(reg, True, sender=gov)
    deployer.transfer(funder, 10**19)  # about 4,000 bookings
    scheduler.setSlotCapacity(1, 10**12, sender=gov)
    return reg


@pytest.fixture
def fleet_supervisor(project, deployer, gov, scheduler, fleet, funder):
    sup = deployer.deploy(
        project.Supervisor,
        gov,
        scheduler,
        fleet,
        config(funder, execution_effort=9_000_000),
        300_000,
        1_000,
    )
    funder.approveSpender(sup, 2**256 - 1, sender=gov)
    return sup
