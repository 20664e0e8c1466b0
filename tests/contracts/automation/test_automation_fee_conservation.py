"""Scheduler money: escrow == prepaid - paid - refunded to the wei under random call sequences."""

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
    owner: dict[int, object] = {}
    when: dict[int, int] = {}  # run id -> effective timestamp

    def check() -> None:
        assert scheduler.balance == prepaid - paid - refunded
        # Stronger: escrow is exactly the open runs' fees plus the protocol's kept shares.
        assert scheduler.balance == sum(fees.values()) + scheduler.protocolFees()

    for _ in range(40):
        op = rng.choice(
            ["book", "book", "book", "execute", "batch", "cancel", "time", "admin", "bad"]
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
            run_id = h.book(data, ts, priority, effort, value=value, sender=alice).return_value
            prepaid += value
            fees[run_id] = value
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
            if op == "batch":
                tx = scheduler.executeBatch(ids + [10**6], sender=keeper, gas_price=0)
            else:
                tx = scheduler.execute(ids[0], sender=keeper, gas_price=0)
            got = sum(e.fee for e in events(tx, "RunExecuted"))
            # the executor is paid each fee less the protocol's share, which stays in escrow
            share = scheduler.protocolShareBps()
            assert got == sum(fees[i] - fees[i] * share // 10_000 for i in ids)
            assert got == keeper.balance - before
            paid += got
            for i in ids:
                del fees[i]
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
            assert ev.refund <= fees[run_id]
            refunded += ev.refund
            del fees[run_id]
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
