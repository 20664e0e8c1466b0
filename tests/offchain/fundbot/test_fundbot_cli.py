"""`keeper` CLI on the deployed fund, bad configuration refused, and the persisted scheduler.

Its `keeper run` process is forked from the tests' preloaded server (tests/support/keeper_fork.py);
the console script itself runs `keeper run` end to end in
tests/offchain/operator/test_operator_walk.py (the runtime wheel's, installed in a clean venv).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from keepers.cli import main
from keepers.runtime.scheduler import (
    JobSpec,
    build_scheduler,
    due_runs,
    scheduled_time,
    stop_scheduler,
)
from tests.support.fundbotlib import UNIT
from tests.support.fundbotlib import keeper_cli as keeper

NOW = 1_800_000_000


@pytest.mark.parametrize(
    "var,value",
    [
        ("KEEPER_CHAIN_ID", "abc"),
        ("KEEPER_RPC_URL", "ftp://node"),
        ("KEEPER_METRICS_PORT", "70000"),
        ("KEEPER_DB_URL", "mysql://x"),
        ("REBALANCE_MAX_SLIPPAGE", "900"),
        ("L1_TARGET_RATIO", "2000"),
        ("DEVIATION_THRESHOLD", "-5"),
    ],
)
def test_cli__bad_env_value__refuses_start_naming_variable(var, value):
    result = CliRunner().invoke(main, ["status"], env={var: value})
    assert result.exit_code == 2
    assert var in result.output


def test_cli__wrong_chain_id__refused(env):
    result = keeper({**env, "KEEPER_CHAIN_ID": "1"}, "status")
    assert result.exit_code == 2 and "KEEPER_CHAIN_ID=1" in result.output


def test_cli__status_plan_approve_review_history(env, fresh, accounts, make_bot):
    env = {**env, "KEEPER_SIGNER_KEY": accounts[2].private_key}
    running = make_bot({k: env[k] for k in ("KEEPER_DB_URL", "APPROVAL_MULTISIG_AMOUNT")})
    r = keeper(env, "--json", "status")
    assert r.exit_code == 0, r.output
    tiers = json.loads(r.output)["tiers"]
    assert [t["tier"] for t in tiers] == ["L1", "L2", "L3"]
    assert keeper(env, "status").output.splitlines()[1].startswith("tier")
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    r = keeper(env, "--json", "plan", "--dry-run", "--job", "liquidity")
    assert json.loads(r.output)["status"] == "dry_run"
    r = CliRunner(mix_stderr=False).invoke(
        main, ["--json", "--now", str(NOW), "plan", "--job", "liquidity"], env=env
    )
    out = json.loads(r.stdout)
    assert out["status"] == "pending_approval", out
    # issue 13: the plan that starts waiting alerts (a log line on stderr), naming what it needs
    assert "approval_needed" in r.stderr and f"keeper approve {out['plan']} --by" in r.stderr
    ref = out["plan"]
    assert keeper(env, "approve", "nosuchplan", "--by", "alice").exit_code == 1
    r = keeper(env, "--json", "--now", str(NOW + 60), "approve", ref[:8], "--by", "alice")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["recorded"] == "approve"  # recorded only: the keeper executes
    assert [o.status for o in running.tick(NOW + 90) if o.plan_id == ref] == ["executed"]
    r = keeper(env, "--json", "review", ref)
    data = json.loads(r.output)
    assert data["verification"]["ok"] and data["approvals"][0]["by"] == "alice"
    assert ref in keeper(env, "history").output
    text = keeper(env, "review", ref)
    assert text.exit_code == 0 and f"plan {ref}  status executed" in text.output
    assert "alice approve" in text.output and "verification" in text.output
    r = keeper(env, "--json", "--now", str(NOW + 120), "approve", ref, "--by", "bob")
    assert r.exit_code == 1  # no longer waiting
    r = keeper(env, "--json", "run", "--bots", "fund", "--once")
    ids = sorted(j["id"] for j in json.loads(r.output)["jobs"])
    assert ids == ["fund.daily", "fund.liquidity", "fund.threshold", "fund.tick", "fund.weekly"]
    assert keeper(env, "run", "--bots", "nope", "--once").exit_code == 1


def test_scheduler__jobs_persisted__restart_keeps_next_run(tmp_path):
    url = f"sqlite:///{tmp_path}/jobs.db"
    calls: list[int] = []
    specs = [JobSpec("t.daily", {"hour": 0, "minute": 0}, calls.append)]
    s1 = build_scheduler(url, specs)
    first = s1.get_job("t.daily")
    assert first.trigger.fields and first.coalesce and first.misfire_grace_time == 300
    next_run = first.next_run_time
    stop_scheduler(s1)
    s2 = build_scheduler(url, specs)  # a restart: the stored job is kept, not re-added
    assert [j.id for j in s2.get_jobs()] == ["t.daily"]
    assert s2.get_job("t.daily").next_run_time == next_run
    stop_scheduler(s2)


def test_scheduler__handler_gets_scheduled_time__replays_deterministically():
    spec = JobSpec("x", {"minute": "*/5"}, lambda now: now)
    late = dt.datetime(2027, 1, 15, 8, 7, 31, tzinfo=dt.UTC)
    assert scheduled_time(spec, late) == dt.datetime(2027, 1, 15, 8, 5, tzinfo=dt.UTC)
    monday = JobSpec("w", {"day_of_week": 0, "hour": 0, "minute": 0}, lambda now: now)
    runs = due_runs(
        monday, dt.datetime(2027, 1, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 31, tzinfo=dt.UTC)
    )
    assert [r.day for r in runs] == [4, 11, 18, 25] and all(r.weekday() == 0 for r in runs)


def test_scheduler__restart_after_missed_runs__runs_once(tmp_path):
    import time as _time

    url = f"sqlite:///{tmp_path}/jobs.db"
    calls: list[int] = []
    specs = [JobSpec("t.five", {"minute": "*/5"}, calls.append)]
    s1 = build_scheduler(url, specs)
    now = dt.datetime.now(dt.UTC)
    s1.get_job("t.five").modify(next_run_time=now - dt.timedelta(minutes=12))  # 3 runs missed
    stop_scheduler(s1)
    s2 = build_scheduler(url, specs)  # the keeper restarts
    s2.resume()
    deadline = _time.monotonic() + 10
    while not calls and _time.monotonic() < deadline:
        _time.sleep(0.05)
    _time.sleep(0.5)
    stop_scheduler(s2)
    assert len(calls) == 1  # coalesced: one run, not three
    slot = dt.datetime.fromtimestamp(calls[0], dt.UTC)
    assert slot.minute % 5 == 0 and slot.second == 0 and slot <= dt.datetime.now(dt.UTC)


def test_keeper_run__long_lived_process__serves_metrics_and_stops(env, accounts, tmp_path):
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time as _time
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    full = {
        **os.environ,
        **env,
        "KEEPER_SIGNER_KEY": accounts[2].private_key,
        "KEEPER_METRICS_PORT": str(port),
    }
    from tests.support.keeper_fork import keeper_popen

    exe = Path(sys.executable).with_name("keeper")
    proc = keeper_popen(
        [str(exe), "run", "--bots", "fund"],
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        body = ""
        deadline = _time.monotonic() + 60
        while _time.monotonic() < deadline and proc.poll() is None:
            try:
                body = (
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
                    .read()
                    .decode()
                )
                break
            except OSError:
                _time.sleep(0.2)
        assert "rebalance_pending_count" in body, proc.stderr.read().decode() if proc.poll() else ""
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert b"fund.liquidity" in out


def test_keeper_run__no_signer_key__refuses_start_naming_variable(env):
    result = keeper({k: v for k, v in env.items() if k != "KEEPER_SIGNER_KEY"}, "run", "--once")
    assert result.exit_code == 2 and "KEEPER_SIGNER_KEY" in result.output
