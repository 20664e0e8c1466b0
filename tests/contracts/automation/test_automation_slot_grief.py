"""Slot griefing: a booker that fills every slot a recurring Medium booking searches.

The attack (measured at the local profile's fees, 0.4 gwei per unit of effort, Medium x5):
fill 2 x 7.5M Medium effort in each of the 33 slots a rebalancer's next booking searches, so
that the booking fails with EstimateRejected(NoSlotWithRoom); then execute the 66 runs oneself.
Before the scheduler kept a share of every executed run's fee, the attacker got its whole 0.99
ETH back and the attack cost only gas. Now protocolShareBps (20%) of every fee stays with the
scheduler whoever executes: the fill costs at least 0.198 ETH, and cancelling instead costs
more (refundBps + protocolShareBps <= BPS).
"""

from __future__ import annotations

import ape
import pytest

from tests.support.autolib import DATA_FEE, INTERVAL, MEDIUM, SLOT, config, events, selector

LOCAL_BASE_FEE = 400_000_000  # scripts/profiles/local.yaml: 0.4 gwei per unit of effort
FILL = 7_500_000  # two of these fill a slot's 15M Medium pool
SEARCHED = 33  # the slot of the timestamp and MAX_SLOT_SEARCH (32) after it
NO_SLOT_WITH_ROOM = 6
FAILED = 2  # IRecurringTask.FixOutcome.Failed
SHARE_BPS = 2_000  # the scheduler's default protocolShareBps


@pytest.fixture
def market(project, deployer, gov):
    return deployer.deploy(project.RebalanceScheduler, gov, SLOT, LOCAL_BASE_FEE, DATA_FEE)


@pytest.fixture
def victim(project, deployer, market, funder, position, alice, gov):
    """Alice's standard rebalancer (Medium, 400,000 effort, hourly), nothing booked yet."""
    r = deployer.deploy(project.Rebalancer, alice, market, position, config(funder))
    funder.approveSpender(r, 2**256 - 1, sender=gov)
    position.setRebalancer(r, True, sender=alice)
    return r


def _fill(chain, market, grief, attacker, first_slot: int) -> tuple[list[int], int, int]:
    """Books 2 x FILL Medium effort in each of the SEARCHED slots from ``first_slot``: (run
    ids, fees escrowed, gas cost of the bookings in wei)."""
    fee = market.feeFor(0, MEDIUM, FILL)
    ids, gas_cost = [], 0
    for slot in range(first_slot, first_slot + SEARCHED):
        for _ in range(2):
            tx = grief.book(b"", slot * SLOT, MEDIUM, FILL, value=fee, sender=attacker)
            ids.append(tx.return_value)
            gas_cost += tx.gas_used * tx.gas_price
    return ids, fee * len(ids), gas_cost


def test_slot_grief__fill_then_self_execute__costs_the_protocol_share(
    project, chain, deployer, market, victim, attacker, gov
):
    grief = deployer.deploy(project.TestHandler, market)
    at = chain.pending_timestamp + 600  # when the victim's booking is tried
    first_slot = (at + INTERVAL) // SLOT  # its first booking: now + interval
    start = attacker.balance + grief.balance
    ids, escrowed, booking_gas = _fill(chain, market, grief, attacker, first_slot)
    assert escrowed == SEARCHED * 2 * 5 * LOCAL_BASE_FEE * FILL  # Medium x5: 0.99 ETH
    assert escrowed == 990 * 10**15

    chain.pending_timestamp = at
    tx = victim.fixReschedule(sender=deployer)
    assert tx.return_value == FAILED
    (failed,) = events(tx, "FailedRecurringSchedule")
    assert failed.reason == selector("EstimateRejected(uint8)") + NO_SLOT_WITH_ROOM.to_bytes(
        32, "big"
    )
    assert victim.bookedRun() == (0, 0)

    # the attacker executes its own 66 runs once due
    chain.pending_timestamp = (first_slot + SEARCHED) * SLOT
    ex = market.executeBatch(ids, sender=attacker)
    assert ex.return_value == len(ids)
    # executors are paid by credit (issue 68): the attacker takes its pay out
    wd = market.withdrawCredit(attacker, sender=attacker)
    exec_gas = ex.gas_used * ex.gas_price + wd.gas_used * wd.gas_price
    recovered = attacker.balance + grief.balance - (start - escrowed - booking_gas - exec_gas)
    fees_lost = escrowed - recovered
    # Before the share: fees_lost == 0 (the executor, the attacker itself, was paid every fee).
    assert fees_lost == escrowed * SHARE_BPS // 10_000 == 198 * 10**15
    assert market.protocolShareBps() == SHARE_BPS
    assert market.protocolFees() == fees_lost
    print(
        f"\nslot grief ({SEARCHED} slots x 2 x {FILL:,} Medium): escrowed {escrowed / 1e18} ETH,"
        f" fees lost {fees_lost / 1e18} ETH, gas {(booking_gas + exec_gas) / 1e18:.6f} ETH"
        f" ({booking_gas // max(1, ex.gas_price)} + {ex.gas_used} gas)"
    )

    # once the fill is gone the victim books
    assert victim.fixReschedule(sender=deployer).return_value == 1  # Booked


def test_slot_grief__fill_then_cancel__costs_at_least_as_much(
    project, chain, deployer, market, victim, attacker
):
    grief = deployer.deploy(project.TestHandler, market)
    first_slot = (chain.pending_timestamp + INTERVAL) // SLOT + 10
    ids, escrowed, _ = _fill(chain, market, grief, attacker, first_slot)
    before = grief.balance
    for i in ids:
        grief.cancel(i, sender=attacker)
    refunded = grief.balance - before
    assert escrowed - refunded >= escrowed * SHARE_BPS // 10_000


def test_protocol_share__bounds_and_refund_sum__enforced(market, gov, attacker):
    with ape.reverts(market.InvalidConfig, field="protocolShareBps", value=999):
        market.setProtocolShareBps(999, sender=gov)
    with ape.reverts(market.InvalidConfig, field="protocolShareBps", value=5_001):
        market.setProtocolShareBps(5_001, sender=gov)
    with ape.reverts():
        market.setProtocolShareBps(3_000, sender=attacker)
    # refund 50% + share 50% is the most: a cancel never returns more than an execution
    market.setProtocolShareBps(5_000, sender=gov)
    with ape.reverts(market.InvalidConfig, field="refundBps", value=5_001):
        market.setRefundBps(5_001, sender=gov)
    market.setRefundBps(2_000, sender=gov)
    tx = market.setProtocolShareBps(3_000, sender=gov)
    assert market.protocolShareBps() == 3_000
    assert events(tx, "ProtocolShareSet")[0].protocolShareBps == 3_000
    with ape.reverts(market.InvalidConfig, field="refundBps", value=8_000):
        market.setRefundBps(8_000, sender=gov)
