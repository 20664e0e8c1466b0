"""Issue 47: jobs never wait on the chain. Sending a plan's action and seeing it confirmed are
separate steps: with the DEFAULT KEEPER_EXECUTE_TIMEOUT_S (300 s), a node that stops answering
right after a send, or a chain that stops mining, holds no job (each returns within 15 s of
wall time), the action is sent once, and the plan completes once the node is back."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select

from keepers.store import models as m
from tests.support.fundbotlib import NO_APPROVAL, UNIT
from tests.support.rpc_proxy import RpcProxy

NOW = 1_800_000_000
LONGEST_JOB_S = 15.0


@pytest.fixture
def proxy(chain: Any) -> Iterator[RpcProxy]:
    p = RpcProxy(chain.provider.uri)
    yield p
    p.close()


def _keys(bot: Any) -> list[str]:
    with bot.store.sessions() as s:
        return list(s.scalars(select(m.TxIntent.idempotency_key)).all())


class Jobs:
    """Runs the keeper's jobs as the scheduler does, timing each one's wall time."""

    def __init__(self) -> None:
        self.walls: list[tuple[str, float]] = []

    def __call__(self, name: str, fn: Callable[[], Any]) -> Any:
        t = time.monotonic()
        try:
            return fn()
        finally:
            self.walls.append((name, time.monotonic() - t))

    def longest(self) -> tuple[str, float]:
        return max(self.walls, key=lambda w: w[1])


def _until_done(bot: Any, jobs: Jobs, ref: str, now: int) -> tuple[Any, int]:
    """Ticks 30 s apart until the plan ends (the scheduler's fund.tick), at most 10."""
    for k in range(10):
        outs = jobs("fund.tick", lambda k=k: bot.tick(now + 30 * k))
        mine = [o for o in outs if o.plan_id == ref]
        if mine and mine[0].status not in ("executing", "approved"):
            return mine[0], k + 1
    raise AssertionError(f"plan {ref} did not end: {bot.plans.get(ref).status}")


def test_outage__node_503_right_after_a_send__no_job_waits_sent_once_plan_completes(
    make_bot, fresh, accounts, alerts, chain, proxy
):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    # every timing setting at its default (the fixture's fast retry backoff put back)
    bot = make_bot({**NO_APPROVAL, "KEEPER_RPC_URL": proxy.url, "KEEPER_RETRY_BACKOFF_S": "1.0"})
    assert bot.k.execute_timeout_s == 300.0 and bot.k.follow_budget_s == 5.0
    w3 = chain.provider.web3  # the chain itself, not through the keeper's node
    keeper = accounts[2].address
    nonce0 = w3.eth.get_transaction_count(keeper)
    jobs = Jobs()

    proxy.cut_after_sends(1)
    out = jobs("fund.liquidity", lambda: bot.check("liquidity", NOW))
    assert proxy.down.is_set(), "the node was never cut: no transaction sent"
    assert out.status == "executing", out
    ref = out.plan_id
    n = len(bot.plans.plan(ref).actions)
    assert n >= 2
    assert w3.eth.get_transaction_count(keeper) == nonce0 + 1
    row = bot.plans.get(ref)
    assert row.status == "approved" and "start" in row.payload
    assert [a.status for a in sorted(row.actions, key=lambda a: a.seq)].count("sent") == 1
    # the fund stays locked to this plan: the projection counts every action not landed
    (flight,) = bot.plans.in_flight()
    assert flight.ref == ref and len(flight.actions) == n

    # an hour without a node: the tick runs, does not wait on it, sends nothing again (the
    # hostile month runs the other jobs through its outage)
    now = NOW + 3_600
    outs = jobs("fund.tick", lambda: bot.tick(now))
    assert [o.status for o in outs if o.plan_id == ref] == ["approved"], outs
    assert w3.eth.get_transaction_count(keeper) == nonce0 + 1
    assert bot.plans.get(ref).status == "approved"

    # the node is back: the tick follows the intent in flight, then sends the rest
    proxy.restore()
    done, ticks = _until_done(bot, jobs, ref, NOW + 4_000)
    assert done.status == "executed", done
    assert w3.eth.get_transaction_count(keeper) == nonce0 + n
    keys = _keys(bot)
    assert len(keys) == n == len(set(keys)), keys  # each action sent once
    assert bot.plans.get(ref).payload["verification"]["ok"]
    name, longest = jobs.longest()
    assert longest < LONGEST_JOB_S, jobs.walls
    print(
        f"\nlongest job: {name} {longest:.1f}s; ended in {ticks} ticks; "
        + ", ".join(f"{n} {w:.1f}s" for n, w in jobs.walls)
    )
    codes = [a.code for a in alerts]
    assert "network" in codes
    assert "tx_failed" not in codes and "job_failed" not in codes, codes


def test_outage__chain_stops_mining_after_a_send__unconfirmed_alert_then_completes(
    make_bot, fresh, accounts, alerts, chain
):
    """The node answers but mines nothing: the sent action stays unconfirmed, the ticks return
    at once, ``action_unconfirmed`` is raised once past KEEPER_EXECUTE_TIMEOUT_S (the keeper's
    clock), and when blocks come again the plan goes on with no action sent twice."""
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    # the default KEEPER_EXECUTE_TIMEOUT_S; a 1 s follow budget keeps the test short (each
    # pass over the unmined action spends it)
    bot = make_bot({**NO_APPROVAL, "KEEPER_RETRY_BACKOFF_S": "1.0", "KEEPER_FOLLOW_BUDGET_S": "1"})
    assert bot.k.execute_timeout_s == 300.0
    w3 = chain.provider.web3
    keeper = accounts[2].address
    nonce0 = w3.eth.get_transaction_count(keeper)
    jobs = Jobs()
    w3.provider.make_request("evm_setAutomine", [False])
    try:
        out = jobs("fund.liquidity", lambda: bot.check("liquidity", NOW))
        assert out.status == "executing", out
        ref = out.plan_id
        n = len(bot.plans.plan(ref).actions)
        for now in (NOW + 301, NOW + 400):
            outs = jobs("fund.tick", lambda now=now: bot.tick(now))
            assert [o.status for o in outs if o.plan_id == ref] == ["approved"], outs
        unconfirmed = [a for a in alerts if a.code == "action_unconfirmed"]
        assert len(unconfirmed) == 1, unconfirmed  # once per action, past the timeout
        assert "KEEPER_EXECUTE_TIMEOUT_S=300" in unconfirmed[0].message
        assert w3.eth.get_transaction_count(keeper, "pending") == nonce0 + 1
    finally:
        w3.provider.make_request("evm_setAutomine", [True])
    w3.provider.make_request("evm_mine", [])
    done, _ = _until_done(bot, jobs, ref, NOW + 600)
    assert done.status == "executed", done
    assert w3.eth.get_transaction_count(keeper) == nonce0 + n
    keys = _keys(bot)
    assert len(keys) == n == len(set(keys)), keys
    assert jobs.longest()[1] < LONGEST_JOB_S, jobs.walls
