"""Scheduler money: balance == prepaid - withdrawn - refunded == the open runs' executor parts +
the executors' credits + the protocol's tally, to the wei, under random call sequences (the
protocol's share split at booking at the rate of the booking, whatever the rate when it runs)."""

from __future__ import annotations

import random

import ape
import pytest

from tests.support.autolib import SCHEDULED, SLOT, advance, events, now

MULT = (10, 5, 2)


@pytest.mark.parametrize("seed", [1, 2])
def test_escrow__random_sequence__conserved_to_the_wei(
    chain, project, deployer, scheduler, gov, alice, keeper, attacker, seed
):
    rng = random.Random(seed)
    handlers = [deployer.deploy(project.TestHandler, scheduler) for _ in range(3)]
    scheduler.setSlotCapacity(0, 600_000, sender=gov)  # High fills up, so HighSlotFull shows too
    prepaid = paid = refunded = 0
    fees: dict[int, int] = {}  # run id -> prepaid fee, for runs still Scheduled
    booked_share: dict[int, int] = {}  # run id -> the protocol's share tallied at its booking
    credit = 0  # the keeper's credit, as the test expects it
    owner: dict[int, object] = {}
    when: dict[int, int] = {}  # run id -> effective timestamp

    def check() -> None:
        assert scheduler.balance == prepaid - paid - refunded
        assert scheduler.credits(keeper) == credit
        # Stronger: the balance is exactly the open runs' executor parts (their shares were
        # tallied at booking), the executors' credits and the protocol's tally.
        escrow = sum(fees[i] - booked_share[i] for i in fees)
        assert scheduler.balance == escrow + credit + scheduler.protocolFees()

    for _ in range(40):
        op = rng.choice(
            [
                "book",
                "book",
                "book",
                "execute",
                "batch",
                "cancel",
                "withdraw",
                "time",
                "admin",
                "bad",
            ]
        )
        if op == "book":
            h = rng.choice(handlers)
            priority = rng.randrange(3)
            effort = rng.randrange(10_000, 300_000)
            data = bytes(rng.randrange(1, 256) for _ in range(rng.randrange(0, 40)))
            ts = now(chain) + rng.randrange(2, 10 * SLOT)
            f, _, err = scheduler.estimate(data, ts, priority, effort)
            if err != 0:
                with ape.reverts(scheduler.ScheduleRejected, code=err):
                    h.book(data, ts, priority, effort, value=10**15, sender=alice)
                continue
            assert f == scheduler.baseFeePerEffort() * effort * MULT[
                priority
            ] + scheduler.dataFeePerByte() * len(data)
            value = f + rng.randrange(0, 10**12)
            share_now = scheduler.protocolShareBps()
            tally = scheduler.protocolFees()
            run_id = h.book(data, ts, priority, effort, value=value, sender=alice).return_value
            prepaid += value
            fees[run_id] = value
            booked_share[run_id] = value * share_now // 10_000
            assert scheduler.getRun(run_id).shareBps == share_now
            assert scheduler.protocolFees() == tally + booked_share[run_id]
            owner[run_id] = h
            when[run_id] = scheduler.getRun(run_id).timestamp
        elif op in ("execute", "batch"):
            t = now(chain)
            due = [i for i in fees if when[i] <= t]
            if not due:
                continue
            ids = (
                rng.sample(due, k=min(len(due), rng.randrange(1, 4)))
                if op == "batch"
                else [rng.choice(due)]
            )
            before = keeper.balance
            tally = scheduler.protocolFees()
            if op == "batch":
                tx = scheduler.executeBatch(ids + [10**6], sender=keeper, gas_price=0)
            else:
                tx = scheduler.execute(ids[0], sender=keeper, gas_price=0)
            got = sum(e.fee for e in events(tx, "RunExecuted"))
            # the executor is credited each fee less the share booked with it (the rate of the
            # booking, whatever it is now); nothing is sent, the protocol's tally does not move
            assert got == sum(fees[i] - booked_share[i] for i in ids)
            assert keeper.balance == before
            assert scheduler.protocolFees() == tally
            credit += got
            for i in ids:
                del fees[i]
                del booked_share[i]
                with ape.reverts(scheduler.RunNotScheduled):
                    scheduler.execute(i, sender=keeper)
        elif op == "cancel":
            if not fees:
                continue
            run_id = rng.choice(list(fees))
            with ape.reverts(scheduler.NotRunHandler):
                scheduler.cancel(run_id, sender=attacker)
            tx = owner[run_id].cancel(run_id, sender=alice)
            [ev] = events(tx, "RunCanceled")
            assert ev.refund + ev.kept == fees[run_id]
            # the refund share of the fee, never into the share the protocol tallied at booking
            want = min(
                fees[run_id] * scheduler.refundBps() // 10_000, fees[run_id] - booked_share[run_id]
            )
            assert ev.refund == want
            refunded += ev.refund
            del fees[run_id]
            del booked_share[run_id]
        elif op == "withdraw":
            if credit == 0:
                with ape.reverts(scheduler.NoCredit, executor=keeper.address):
                    scheduler.withdrawCredit(keeper, sender=keeper)
                continue
            before = keeper.balance
            tx = scheduler.withdrawCredit(keeper, sender=keeper, gas_price=0)
            assert keeper.balance - before == credit == tx.return_value
            paid += credit
            credit = 0
        elif op == "time":
            advance(chain, rng.randrange(1, 4 * SLOT))
        elif op == "admin":
            r = rng.random()
            if r < 0.25:
                share = scheduler.protocolShareBps()
                scheduler.setRefundBps(rng.randrange(0, 10_001 - share), sender=gov)
            elif r < 0.5:
                top = min(5_000, 10_000 - scheduler.refundBps())
                scheduler.setProtocolShareBps(rng.randrange(1_000, top + 1), sender=gov)
            else:
                amount = scheduler.protocolFees()
                tx = scheduler.withdrawProtocolFees(gov, sender=gov)
                assert events(tx, "ProtocolFeesWithdrawn")[0].amount == amount
                paid += amount
        else:  # bad input never moves money
            with ape.reverts(scheduler.RunNotScheduled):
                scheduler.execute(10**6, sender=attacker)
            for i in [i for i in fees if when[i] > now(chain)][:1]:
                with ape.reverts(scheduler.RunNotDue):
                    scheduler.execute(i, sender=attacker)
        check()
    for i in fees:
        assert scheduler.status(i) == SCHEDULED
