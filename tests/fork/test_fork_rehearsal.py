"""Rehearsals on an ape-foundry fork of the upstream deployment (tests/fork/run.sh)."""

import pytest

pytestmark = pytest.mark.fork


@pytest.fixture(scope="module")
def fund(project, addresses):
    a = addresses
    return {
        "vault": project.TieredVault.at(a["vault"]),
        "controller": project.AssetController.at(a["controller"]),
        "lens": project.FundLens.at(a["lens"]),
        "cash": project.TestStablecoin.at(a["cash"]),
        "timelock": project.FundTimelock.at(a["timelock"]),
        "feeds": {k: project.TestPriceFeed.at(v) for k, v in a["feeds"].items()},
        "scheduler": project.RebalanceScheduler.at(a["automation"]["scheduler"]),
        "funder": project.TxFunder.at(a["automation"]["tx_funder"]),
        "supervisor": project.Supervisor.at(a["automation"]["supervisor"]),
        "rebalancer": project.Rebalancer.at(a["automation"]["fund_rebalancer"]),
    }


def _refresh(fund, deployer):
    for f in fund["feeds"].values():
        f.updateAnswer(f.latestAnswer(), sender=deployer)


def test_fork__config_change_through_timelock__rehearsed(
    fund, accounts, upstream_fingerprint, chain
):
    before = upstream_fingerprint()
    admin = accounts[1]
    c, tl = fund["controller"], fund["timelock"]
    new_risk = (600, 300, 6000, 3600, 10_000 * 10**6)  # raising max slippage: risk-increasing
    data = c.setRiskParams.encode_input(new_risk)
    salt, pred = b"\x01" * 32, b"\x00" * 32
    tl.schedule(c.address, 0, data, pred, salt, int(tl.getMinDelay()), sender=admin)
    tl.execute(c.address, 0, data, pred, salt, sender=admin)
    assert c.riskParams().maxSlippageBps == 600
    assert upstream_fingerprint() == before


def test_fork__full_rebalance_cycle(fund, accounts, upstream_fingerprint, chain):
    before = upstream_fingerprint()
    deployer, keeper, investor = accounts[0], accounts[2], accounts[4]
    v, c, cash = fund["vault"], fund["controller"], fund["cash"]
    unit = 10 ** int(cash.decimals())
    cash.mint(investor, 5_000_000 * unit, sender=deployer)
    cash.approve(v, 2**256 - 1, sender=investor)
    v.deposit(5_000_000 * unit, investor, sender=investor)
    st = fund["lens"].fundState(c)
    assert st.tierRatioBps[0] > st.tiers[0].maxBps  # all in L1: out of band
    c.rebalance(False, sender=keeper)
    st = fund["lens"].fundState(c)
    for t in range(3):
        assert st.tiers[t].minBps <= st.tierRatioBps[t] <= st.tiers[t].maxBps
    assert upstream_fingerprint() == before


def test_fork__stuck_rebalancer__recovered(fund, accounts, upstream_fingerprint, chain):
    before = upstream_fingerprint()
    deployer, admin, keeper = accounts[0], accounts[1], accounts[2]
    sched, funder, sup, reb = (
        fund["scheduler"],
        fund["funder"],
        fund["supervisor"],
        fund["rebalancer"],
    )
    funder.withdraw(admin, chain.provider.get_balance(funder.address), sender=admin)
    chain.pending_timestamp += 86_400 + 60
    _refresh(fund, deployer)
    due = list(sched.nextDueRuns(50))
    assert due, "the fund rebalancer's run should be due"
    tx = sched.executeBatch(due, sender=keeper)
    assert any(e.event_name == "FailedRecurringSchedule" for e in tx.events)
    assert reb.bookedRun()[0] == 0  # stuck: nothing booked
    funder.refund(value=10**17, sender=admin)
    sup.fixReschedule(sender=keeper)
    sup.tick(10, sender=keeper)
    assert reb.bookedRun()[0] != 0
    assert upstream_fingerprint() == before
