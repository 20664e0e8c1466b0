"""`keeper run`: every bot (fund jobs, executor and supervisor loops) in one process on a
deployed local chain; one bot alone; unknown bots and bad configuration refused by name."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from keepers.cli import main
from keepers.store.db import Store
from keepers.store.models import TxIntent

SCHEDULED, EXECUTED = 1, 2


def keeper(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Any, seconds: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if check():
            return True
        time.sleep(0.25)
    return bool(check())


def metrics_body(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return str(r.read().decode())
    except OSError:
        return ""


def due_and_stuck(chain, auto, make_paid, gov, bob, deployer) -> tuple[Any, Any]:
    """Two paid rebalancers an hour later: the first one's run is due and waits for an
    executor; the second is stuck (the funder was empty when another executor ran its
    booking, so the next booking failed: nothing booked), and the funder is refilled."""
    sched, funder = auto["scheduler"], auto["funder"]
    (_, due_reb, _), (_, stuck_reb, _) = make_paid(2)
    funder.withdraw(gov, funder.balance, sender=gov)
    chain.mine(1, timestamp=chain.pending_timestamp + 3_600)
    tx = sched.executeBatch([int(stuck_reb.bookedRun()[0])], sender=bob)
    assert [e.event_name for e in tx.events].count("FailedRecurringSchedule") == 1
    assert int(stuck_reb.bookedRun()[0]) == 0
    deployer.transfer(funder, 10**17)
    return due_reb, stuck_reb


def test_keeper_run__all_bots__executes_due_run_fixes_stuck_rebalancer_stops_on_sigint(
    chain, env, auto, make_paid, gov, bob, deployer
):
    sched, registry = auto["scheduler"], auto["registry"]
    due_reb, stuck_reb = due_and_stuck(chain, auto, make_paid, gov, bob, deployer)
    due_id = int(due_reb.bookedRun()[0])
    assert sched.status(due_id) == SCHEDULED  # due now, waiting for an executor

    port = free_port()
    full = {**os.environ, **env, "KEEPER_METRICS_PORT": str(port)}
    exe = Path(sys.executable).with_name("keeper")
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(exe), "run"], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        assert wait_for(lambda: "keeper_scheduler_due_runs" in metrics_body(port), 90, proc)
        body = metrics_body(port)
        assert "rebalance_pending_count" in body  # the fund bot's metrics, same endpoint
        assert wait_for(lambda: sched.status(due_id) == EXECUTED, 60, proc), "executor"
        assert wait_for(lambda: int(stuck_reb.bookedRun()[0]) != 0, 60, proc), "supervisor"
        assert sched.status(int(stuck_reb.bookedRun()[0])) == SCHEDULED
        assert int(due_reb.bookedRun()[0]) not in (0, due_id)  # executed and booked again
        seconds = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2_000:]
    text = out.decode()
    assert "keeper running bots fund,executor,supervisor" in text
    assert "fund.liquidity" in text and "executor" in text and "supervisor" in text
    assert b"keeper stopped" in err
    # one store, one pipeline: both bots' transactions, one nonce sequence, all confirmed
    store = Store(env["KEEPER_DB_URL"])
    with store.sessions() as s:
        rows = s.execute(select(TxIntent.role, TxIntent.nonce, TxIntent.status)).all()
    store.close()
    assert {r.role for r in rows} == {"executor", "supervisor"}
    assert {r.status for r in rows} == {"confirmed"}
    nonces = sorted(r.nonce for r in rows)
    assert nonces == list(range(nonces[0], nonces[0] + len(rows)))
    # the store was closed: its lock is free, a new keeper can start on it at once
    r = keeper(env, "--json", "run", "--bots", "executor", "--once")
    assert r.exit_code == 0, r.output
    assert registry.rebalancerOf(1) != "0x" + "00" * 20
    print(f"keeper run: due run executed and stuck rebalancer fixed within {seconds:.1f}s")


def test_keeper_run__executor_only__runs_that_bot_alone(env, auto):
    only = {k: v for k, v in env.items() if not k.startswith(("KEEPER_SUPERVISOR_", "REBAL"))}
    only.pop("KEEPER_DEPLOYMENT")  # the fund bot's config is not needed, nor read
    r = keeper(only, "--json", "run", "--bots", "executor", "--once")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["bots"] == ["executor"] and data["jobs"] == []
    assert [x["bot"] for x in data["loops"]] == ["executor"]
    r = keeper(env, "--json", "run", "--bots", "executor,supervisor", "--once")
    assert r.exit_code == 0, r.output
    assert [x["bot"] for x in json.loads(r.output)["loops"]] == ["executor", "supervisor"]


def test_keeper_run__unknown_bot__exits_nonzero_naming_it(env):
    r = keeper(env, "run", "--bots", "fund,nope", "--once")
    assert r.exit_code == 1 and "nope" in r.output and "supervisor" in r.output


@pytest.mark.parametrize(
    "drop,set_,var",
    [
        ("KEEPER_EXECUTOR_SCHEDULER", {}, "KEEPER_EXECUTOR_SCHEDULER"),
        (None, {"KEEPER_EXECUTOR_SCHEDULER": "0xbad"}, "KEEPER_EXECUTOR_SCHEDULER"),
        (None, {"KEEPER_SUPERVISOR_INTERVAL_S": "0"}, "KEEPER_SUPERVISOR_INTERVAL_S"),
        ("KEEPER_SUPERVISOR_REGISTRY", {}, "KEEPER_SUPERVISOR_REGISTRY"),
        (None, {"KEEPER_BATCH_SIZE": "0"}, "KEEPER_BATCH_SIZE"),
        (None, {"L1_TARGET_RATIO": "2000"}, "L1_TARGET_RATIO"),
        ("KEEPER_SIGNER_KEY", {}, "KEEPER_SIGNER_KEY"),
    ],
)
def test_keeper_run__one_bot_misconfigured__whole_process_refused_naming_variable(
    env, drop, set_, var
):
    bad = {k: v for k, v in env.items() if k != drop} | set_
    r = keeper(bad, "run", "--once")
    assert r.exit_code == 2, r.output
    assert var in r.output


def test_keeper_run__policy_misses_executor_role__refused_naming_variable(env, tmp_path):
    p = tmp_path / "policy-sup-only.json"
    data = json.loads(Path(env["KEEPER_POLICY_FILE"]).read_text())
    del data["roles"]["executor"]
    p.write_text(json.dumps(data))
    r = keeper({**env, "KEEPER_POLICY_FILE": str(p)}, "run", "--once")
    assert r.exit_code == 2 and "KEEPER_POLICY" in r.output and "executor" in r.output
    # nothing kept the store: the same DB starts with a good policy
    assert keeper(env, "run", "--once").exit_code == 0


def test_keeper_status__automation_configured__due_runs_stuck_tasks_funders(
    chain, env, auto, make_paid, gov, bob, deployer
):
    due_reb, stuck_reb = due_and_stuck(chain, auto, make_paid, gov, bob, deployer)
    r = keeper(env, "--json", "status")
    assert r.exit_code == 0, r.output
    a = json.loads(r.output)["automation"]
    # due: due_reb's run and the on-chain Supervisor's own run (both booked an hour ago)
    assert a["due_runs"] == 2 and a["tasks"] == 2
    assert a["stuck"] == [{"task": stuck_reb.address, "reason": "nothing-booked"}]
    (f,) = a["funders"]
    assert f["funder"] == auto["funder"].address and f["balance_wei"] == 10**17
    text = keeper(env, "status").output
    assert "due runs 2" in text and f"{stuck_reb.address} (nothing-booked)" in text
    assert "balance 0.10" in text
    no_auto = {k: v for k, v in env.items() if "_SCHEDULER" not in k}
    assert "automation" not in json.loads(keeper(no_auto, "--json", "status").output)


def test_keeper_run__executor_alone__sigterm_stops_cleanly(env):
    only = {k: v for k, v in env.items() if not k.startswith("KEEPER_SUPERVISOR_")}
    exe = Path(sys.executable).with_name("keeper")
    proc = subprocess.Popen(
        [str(exe), "run", "--bots", "executor"],
        env={**os.environ, **only},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first.strip() == "keeper running bots executor"
        time.sleep(1.0)  # a few ticks
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err.decode()[-2_000:]
    assert b"keeper stopped" in err and b"fund." not in out
