"""Benchmark: one full plan cycle (read -> plan -> risk with pool quotes -> fork simulation ->
pipeline execution -> verify -> record) against baselines measured in the same run: the one
eth_call read, and starting/stopping the throwaway anvil fork. `make bench` runs it with -s.
(Here rather than tests/bench/ because it needs this folder's deployed-fund fixtures.)"""

from __future__ import annotations

import statistics
import time

import pytest

from keepers.tx.simulation import ForkSimulator
from tests.support.fundbotlib import NO_APPROVAL, UNIT

NOW = 1_800_000_000


@pytest.mark.bench
def test_bench__full_plan_cycle(make_bot, fresh, accounts, chain):
    bot = make_bot(NO_APPROVAL)
    reads = []
    for _ in range(20):
        t = time.perf_counter()
        bot.read()
        reads.append(time.perf_counter() - t)
    sim = ForkSimulator(bot.k.rpc_url, bot.decoder)
    forks = []
    block = chain.blocks.head.number
    for _ in range(3):
        t = time.perf_counter()
        with sim.fork(block):
            pass
        forks.append(time.perf_counter() - t)
    depths = []
    reading = bot.read()
    for _ in range(5):
        t = time.perf_counter()
        bot.sizing.read_depth(reading)
        depths.append(time.perf_counter() - t)
    snap = chain.snapshot()
    # baseline in the same run: the cycle without depth sizing (the keeper before issue 14)
    plain = []
    for i in range(3):
        fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
        bot = make_bot(NO_APPROVAL)
        bot.depth.read = lambda *_a: {}  # type: ignore[method-assign]
        t = time.perf_counter()
        assert bot.check("liquidity", NOW + i).status == "executed"
        plain.append(time.perf_counter() - t)
        chain.restore(snap)
        snap = chain.snapshot()
    cycles, execs, sims, actions = [], [], [], 0
    for i in range(3):
        fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
        bot = make_bot(NO_APPROVAL)
        t = time.perf_counter()
        out = bot.check("liquidity", NOW + i)
        cycles.append(time.perf_counter() - t)
        assert out.status == "executed"
        execs.append(out.seconds)
        sims.append(bot.plans.get(out.plan_id).payload["simulation"]["seconds"])
        actions = len(out.results)
        chain.restore(snap)
        snap = chain.snapshot()
    read_ms = statistics.median(reads) * 1000
    fork_s = statistics.median(forks)
    cycle_s = statistics.median(cycles)
    print(
        f"\nread (1 eth_call)      {read_ms:8.1f} ms  (baseline)"
        f"\nanvil fork start/stop  {fork_s:8.2f} s"
        f"\nfork simulation        {statistics.median(sims):8.2f} s   ({actions} actions)"
        f"\nsimulate..verify       {statistics.median(execs):8.2f} s"
        f"\nfull plan cycle        {cycle_s:8.2f} s   = {cycle_s * 1000 / read_ms:.0f}x a read, "
        f"{cycle_s / fork_s:.1f}x a fork start"
        f"\nvenue depth (2 pools)  {statistics.median(depths) * 1000:8.1f} ms  "
        f"(exact V3 maths + QuoterV2 checks)"
        f"\ncycle without depth    {statistics.median(plain):8.2f} s   (baseline: the keeper "
        f"before depth sizing); with it {cycle_s / statistics.median(plain):.2f}x"
    )
