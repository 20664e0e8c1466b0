"""Fixtures for the automation contracts: scheduler, funder, positions, rebalancers."""

from __future__ import annotations

import pytest

from tests.support.autolib import (
    BASE_FEE,
    DATA_FEE,
    FUNDER_CAP,
    SLOT,
    config,
    deploy_fleet,
    deploy_registry,
    deploy_supervisor,
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
    return deploy_registry(project, deployer, gov, scheduler, funder)


@pytest.fixture
def make_supervisor(project, deployer, gov, scheduler, funder):
    """A Supervisor over a registry (the paid one or a fleet) on the scheduler, paid by the
    funder: autolib.deploy_supervisor with the fixtures' scheduler, funder and admin."""

    def make(registry, **kw):
        return deploy_supervisor(project, deployer, gov, scheduler, registry, funder, **kw)

    return make


@pytest.fixture
def supervisor(make_supervisor, registry):
    return make_supervisor(registry, effort=5_000_000, item_gas_cap=400_000, max_items=200)


@pytest.fixture
def fleet(project, deployer, gov, scheduler, funder):
    """A registry double that can hold misbehaving items and mass-create real Rebalancers."""
    reg = deploy_fleet(project, deployer, gov, funder)
    deployer.transfer(funder, 10**19)  # about 4,000 bookings
    scheduler.setSlotCapacity(1, 10**12, sender=gov)
    return reg


@pytest.fixture
def fleet_supervisor(make_supervisor, fleet):
    return make_supervisor(fleet, max_items=1_000)
