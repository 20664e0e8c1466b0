"""`keeper run`: every bot (fund jobs, executor and supervisor loops) in one process on a
deployed local chain; one bot alone; unknown bots and bad configuration refused by name.

Its `keeper run` process is forked from the tests' preloaded server (tests/support/keeper_fork.py);
the console script itself runs `keeper run` end to end in
tests/offchain/operator/test_operator_walk.py (the runtime wheel's, installed in a clean venv).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from ballast_dev.local.anvil_local import free_port
from keepers.cli import main
from keepers.runtime.bots import selector
from keepers.store.db import Store
from keepers.store.models import TxIntent
from tests.support.keeper_fork import keeper_popen

SCHEDULED, EXECUTED = 1, 2
BATCH = "executeBatch(uint256[])"
EXECUTE = "execute(uint256)"


def keeper(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def wait_for(check: Any, seconds: float, proc: Any) -> bool:
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


def test_keeper_run__all_bots__executes_due_run_fixes_stuck_rebalancer_stops_on_sigint(
    chain, env, auto, due_and_stuck
):
    sched, registry = auto["scheduler"], auto["registry"]
    due_reb, stuck_reb = due_and_stuck()
    due_id = int(due_reb.bookedRun()[0])
    assert sched.status(due_id) == SCHEDULED  # due now, waiting for an executor

    port = free_port()
    full = {**os.environ, **env, "KEEPER_METRICS_PORT": str(port)}
    exe = Path(sys.executable).with_name("keeper")
    started = time.monotonic()
    proc = keeper_popen([str(exe), "run"], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_for(lambda: "keeper_scheduler_due_runs" in metrics_body(port), 90, proc)
        body = metrics_body(port)
        assert "rebalance_pending_count" in body  # the fund bot's metrics, same endpoint
        assert wait_for(lambda: sched.status(due_id) == EXECUTED, 60, proc), "executor"
        assert wait_for(lambda: int(stuck_reb.bookedRun()[0]) != 0, 60, proc), "supervisor"
        assert sched.status(int(stuck_reb.bookedRun()[0])) == SCHEDULED
        assert int(due_reb.bookedRun()[0]) not in (0, due_id)  # executed and booked again
        seconds = time.monotonic() - started

        # the chain shows the effects when the blocks are mined; the pipeline records each
        # confirmation on its next pass: stop once it has (a stop before that leaves an intent
        # `broadcast`, which the next start confirms; this test checks the run's own record)
        def statuses() -> set[str]:
            store = Store(env["KEEPER_DB_URL"])
            try:
                with store.sessions() as s:
                    return {str(x) for x in s.scalars(select(TxIntent.status)).all()}
            finally:
                store.close()

        assert wait_for(lambda: statuses() == {"confirmed"}, 60, proc), statuses()
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
    # the stuck rebalancer is booked again either by the supervisor bot's fixReschedule or, when
    # the on-chain Supervisor's own booked tick comes due first, by the executor running that
    # tick (which calls fixReschedule on chain): which one wins is a race of the two jobs
    roles = {r.role for r in rows}
    assert "executor" in roles and roles <= {"executor", "supervisor"}, roles
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


def test_keeper_run__configured_executor_role_allows_less__refused_naming_variable(
    env, policy_file, tmp_path
):
    """A configured role of the same name wins over the declared one, so an operator's role
    that lacks the declared executeBatch is refused at start-up, naming KEEPER_POLICY."""
    p = tmp_path / "policy-execute-only.json"
    data = json.loads(policy_file.read_text())
    data["roles"]["executor"]["allowed"] = [
        a for a in data["roles"]["executor"]["allowed"] if a["selector"] == selector(EXECUTE)
    ]
    p.write_text(json.dumps(data))
    r = keeper({**env, "KEEPER_POLICY_FILE": str(p)}, "run", "--once")
    assert r.exit_code == 2 and "KEEPER_POLICY" in r.output and "executor" in r.output
    assert "executeBatch(uint256[])" in r.output
    # nothing kept the store: the same DB starts with the declared roles alone
    assert keeper(env, "run", "--once").exit_code == 0


def test_keeper_run_then_worker__no_keeper_policy__declared_calls_audited_undeclared_refused(
    chain, env, auto, due_and_stuck, tmp_path
):
    """Issue 12: with no KEEPER_POLICY* at all, `keeper run` stores the roles built from the
    bots' declared calls; a standalone worker given only the database, node and key audits
    and confirms the executor's executeBatch and the supervisor's fixReschedule, passes the
    fund role's controller call through audit, and refuses a call no bot declared."""
    from eth_abi import encode as abi_encode

    from keepers.fund.bot import ROLE as FUND_ROLE
    from keepers.runtime.bots import selector as sel
    from keepers.runtime.policy import stored_policy
    from keepers.tx.contracts import FundAddresses
    from keepers.tx.pipeline import IntentSpec, submit_intent
    from tests.support.worker_fork import fork_worker

    assert not any(k.startswith("KEEPER_POLICY") for k in env)
    due_reb, stuck_reb = due_and_stuck()
    due_id = int(due_reb.bookedRun()[0])
    r = keeper(env, "run", "--once")
    assert r.exit_code == 0, r.output

    a = auto["addresses"]
    controller = FundAddresses.load(Path(env["KEEPER_DEPLOYMENT"])).controller
    store = Store(env["KEEPER_DB_URL"])
    roles = stored_policy(store).roles
    assert sorted(roles) == sorted([FUND_ROLE, "executor", "supervisor"])
    assert {(c.contract, c.selector) for c in roles["executor"].allowed} == {
        (a["scheduler"].lower(), sel(BATCH)),
        (a["scheduler"].lower(), sel("withdrawCredit(address)")),  # issue 68: pull payment
    }
    assert {(c.contract, c.selector) for c in roles["supervisor"].allowed} == {
        (a["paid_registry"].lower(), sel("fixReschedule(uint256)"))
    }
    assert all(c.contract == controller.lower() for c in roles[FUND_ROLE].allowed)

    sender = chain.provider.web3.eth.account.from_key(env["KEEPER_SIGNER_KEY"]).address
    registry_id = next(
        i for i in range(1, 10) if auto["registry"].rebalancerOf(i) == stuck_reb.address
    )

    def enc(sig: str, *args: Any) -> str:
        types = [t for t in sig[sig.index("(") + 1 : -1].split(",") if t]
        return sel(sig) + abi_encode(types, list(args)).hex()

    def spec(key: str, role: str, target: str, data: str) -> IntentSpec:
        return IntentSpec(
            idempotency_key=key,
            role=role,
            chain_id=chain.chain_id,
            sender=sender,
            target=target,
            calldata=data,
        )

    intents = {
        "executor": spec("x:exec", "executor", a["scheduler"], enc(BATCH, [due_id])),
        "supervisor": spec(
            "x:fix", "supervisor", a["paid_registry"], enc("fixReschedule(uint256)", registry_id)
        ),
        "fund": spec("x:fund", FUND_ROLE, controller, enc("rebalanceBuffer()")),
        # undeclared: the executor role calling the registry, the supervisor the scheduler
        "undeclared-1": spec(
            "x:u1", "executor", a["paid_registry"], enc("fixReschedule(uint256)", registry_id)
        ),
        "undeclared-2": spec("x:u2", "supervisor", a["scheduler"], enc(BATCH, [due_id])),
    }
    ids = {k: submit_intent(store, v).id for k, v in intents.items()}
    worker_env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "BALLAST_"))}
    worker_env |= {k: env[k] for k in ("KEEPER_DB_URL", "KEEPER_RPC_URL", "KEEPER_SIGNER_KEY")}
    worker_env |= {"KEEPER_ARTIFACTS_PATH": env["KEEPER_ARTIFACTS_PATH"]}
    out = fork_worker(worker_env, "--until-idle", "--max-seconds", "120", timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    with store.sessions() as s:
        rows = {k: s.get(TxIntent, i) for k, i in ids.items()}
        got = {k: (r.status, r.error or "") for k, r in rows.items()}
    store.close()
    assert got["executor"][0] == "confirmed", got
    assert got["supervisor"][0] == "confirmed", got
    assert "audit denied" not in got["fund"][1], got
    for k in ("undeclared-1", "undeclared-2"):
        assert got[k][0] == "rejected" and "call-not-allowed" in got[k][1], got
    assert auto["scheduler"].status(due_id) == EXECUTED
    assert int(stuck_reb.bookedRun()[0]) != 0


def test_keeper_status__automation_configured__due_runs_stuck_tasks_funders(
    chain, env, auto, due_and_stuck, accounts
):
    due_reb, stuck_reb = due_and_stuck()
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
    # the credit the scheduler owes the executor (issue 68: pull payment), once it ran a run
    assert a["executor_credit_wei"] == 0
    executor = accounts[2]  # KEEPER_SIGNER_KEY's account
    assert a["executor"] == executor.address
    auto["scheduler"].executeBatch([int(due_reb.bookedRun()[0])], sender=executor)
    owed = int(auto["scheduler"].credits(executor))
    assert owed > 0
    a = json.loads(keeper(env, "--json", "status").output)["automation"]
    assert a["executor_credit_wei"] == owed
    assert f"executor {executor.address}  credit owed" in keeper(env, "status").output
    no_auto = {k: v for k, v in env.items() if "_SCHEDULER" not in k}
    assert "automation" not in json.loads(keeper(no_auto, "--json", "status").output)


def test_keeper_run__executor_alone__sigterm_stops_cleanly(env):
    only = {k: v for k, v in env.items() if not k.startswith("KEEPER_SUPERVISOR_")}
    exe = Path(sys.executable).with_name("keeper")
    proc = keeper_popen(
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
