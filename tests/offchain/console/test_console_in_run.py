"""The console inside `keeper run` (KEEPER_CONSOLE_IN_RUN) and the fund lease a manual
rebalance from the page takes, on the local fund behind a PlanExecutor and a 2-of-3 Safe
(tests/offchain/fundbot/executor_fund.py) with a 400,000 deposit to invest.

The keeper is a fund bot leading the fund's lease as `keeper run` makes it lead
(keepers.runtime.leases: the bot's ``fence``); its console serves from that bot (the same
store, the same reader). While it leads, a standalone `keeper console` beside it proposes
nothing (refused naming the replica that leads, nothing stored), as `keeper plan` does; the
keeper's own console proposes under the keeper's lease; once another replica took the lease,
the keeper's console proposes nothing either.

Its `keeper run` process is forked from the tests' preloaded server (tests/support/keeper_fork.py);
the console script itself runs `keeper run` end to end in
tests/offchain/operator/test_operator_walk.py (the runtime wheel's, installed in a clean venv).
"""

from __future__ import annotations

import os
import threading
from unittest import mock

from ballast_dev.local.anvil_local import free_port
from keepers.console.cli import serve_in_run
from keepers.runtime.leases import Leases
from tests.offchain.fundbot.executor_fund import *  # noqa: F403 - the fixtures (one module)
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import UNIT, local_fund_env


def propose(base: str, by: str) -> tuple[int, dict[str, str], str]:
    return Client(base).propose_rebalance(by, "invest")


def test_console_in_run__keepers_bot_and_lease__standalone_console_refused_while_it_leads(
    fresh, accounts, chain, executor_fund, keeper_bot
):
    env, bot = keeper_bot(KEEPER_LOG_LEVEL="WARNING", KEEPER_LEASE_TTL_S="30")
    store = bot.store
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    now = int(chain.pending_timestamp)
    lease = f"fund:{bot.lease_scope}"
    keeper = Leases(store, "replica-a", ttl_s=30)
    assert keeper.try_acquire(lease).mine
    bot.fence = keeper.fence_for(lease)  # as keepers.runtime.runner.build_runtime does
    stop = threading.Event()
    with mock.patch.dict(os.environ, env | {"KEEPER_CONSOLE_PORT": "0"}):
        assert serve_in_run(bot, stop) is None  # the setting is off by default
        with mock.patch.dict(os.environ, {"KEEPER_CONSOLE_IN_RUN": "true"}):
            server = serve_in_run(bot, stop)
    assert server is not None
    try:
        served = server.console.ctx
        assert served.bot_or_offline() is bot and served.store() is store  # nothing opened twice
        url = f"http://127.0.0.1:{server.port}"

        # a standalone `keeper console` while the keeper leads: refused, naming it
        with running_console(env, now=now) as c:
            status, _, body = propose(c.url, "ops-desk")
        assert status == 409 and "replica-a leads fund:" in body, body[-800:]
        assert bot.plans.history(10) == []

        # the keeper's own console: a proposed plan, decided under the keeper's lease
        status, headers, body = propose(url, "ops-desk")
        assert status == 303, body[-800:]
        ref = headers["Location"].removeprefix("/plans/")
        row = bot.plans.get(ref)
        assert row.status == "proposed" and row.payload["proposed_by"] == "console:ops-desk"
        assert any(t["kind"].lower() == "manual" for t in row.payload["report"]["triggers"])
        # the same page again: the pending plan covers it (refused, naming it)
        status, _, body = propose(url, "ops-desk")
        assert status == 409 and ref in body

        # another replica took the lease (the keeper released it): the keeper's console decides
        # nothing any more
        bot.plans.update(ref, "blocked")  # (as a risk check would): nothing in flight
        keeper.release(lease)
        other = Leases(store, "replica-b", ttl_s=30)
        assert other.try_acquire(lease).mine
        status, _, body = propose(url, "ops-desk")
        assert status == 409 and "replica-b" in body, body[-800:]
        assert [p.ref for p in bot.plans.history(10)] == [ref]
    finally:
        server.stop()
        stop.set()


def test_keeper_run__console_in_run__serves_the_fund__proposes_under_its_lease__stops_on_sigterm(
    fresh, accounts, chain, executor_fund, deployment_file, tmp_path
):
    """`keeper run --bots fund` as an operator starts it with KEEPER_CONSOLE_IN_RUN: its
    console's address printed, the fund page served from the keeper's own bot (its replica
    leading the fund in the fleet), a manual rebalance proposed under the keeper's lease, and
    SIGTERM stops both (exit 0)."""
    import signal
    import subprocess

    from tests.support.keeper_fork import keeper_popen
    from tests.support.keeper_proc import keeper_exe

    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    env = local_fund_env(chain, deployment_file, f"sqlite:///{tmp_path}/keeper.db")
    env |= {
        "KEEPER_SIGNER_KEY": accounts[2].private_key,
        "KEEPER_METRICS_PORT": str(free_port()),
        "KEEPER_REPLICA_ID": "keeper-with-console",
        "KEEPER_CONSOLE_IN_RUN": "true",
        "KEEPER_CONSOLE_PORT": "0",
    }
    proc = keeper_popen(
        [keeper_exe(), "run", "--bots", "fund"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = ""
        while not line.startswith("keeper console at "):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()[-3000:]
        url = line.split()[3].removesuffix("/approvals")
        ops = Client(url)
        status, _, page = ops.get("/fund")
        assert status == 200 and "The fund at block" in page
        assert "keeper-with-console" in page  # the fleet: this keeper, leading the fund
        status, headers, body = ops.post(
            "/rebalance", form={"by": "ops-desk", "reason": "invest", "csrf": ops.csrf(page)}
        )
        assert status in (303, 409), body[-800:]
        if status == 409:  # the keeper's own job planned first: the console names its plan
            assert "already covers these actions" in body, body[-800:]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    assert "keeper stopped" in err


def test_serve_in_run__no_fund_bot__no_console_and_says_so(capsys):
    """`keeper run --bots crosschain` with KEEPER_CONSOLE_IN_RUN: no fund, so no console, and
    the operator is told why (not a console that silently never starts)."""
    with mock.patch.dict(os.environ, {"KEEPER_CONSOLE_IN_RUN": "true"}):
        assert serve_in_run(None, threading.Event()) is None
    assert (
        "KEEPER_CONSOLE_IN_RUN is set but this keeper runs no fund bot" in capsys.readouterr().err
    )
