"""Issue 13, "Stopping": `keeper run` on SIGTERM mid-plan logs the signal, starts no new intent,
leaves the transaction in flight sent and recorded, closes its store (no SQLite -wal left) and
exits 0 within KEEPER_STOP_TIMEOUT_S; a restart says which plan it resumes and completes it,
each action sent once.

The keeper is paused mid-plan the way the kill tests pause it: KEEPER_HOLD_AT=<step>:<n> holds
the process at a pipeline step (here with KEEPER_FAULT_INJECTION=1, which `keeper run` needs
to arm it) and writes KEEPER_HOLD_FILE, so the signal lands with a transaction in flight on
every run.

Its `keeper plan` and `keeper run` processes are forked from the tests' preloaded server
(tests/support/keeper_fork.py; SIGTERM and SIGKILL reach the forked process as they reach a started
one); the console script runs `keeper run` end to end in
tests/offchain/operator/test_operator_walk.py and `keeper plan` in
tests/offchain/cli/test_docs_examples.py (docs/operator/running.md).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import func, select

from keepers.cli import main
from keepers.store import models as m
from keepers.store.db import Store
from tests.support.fundbotlib import NO_APPROVAL, UNIT
from tests.support.keeper_fork import keeper_popen
from tests.support.keeper_proc import keeper_exe, sigterm_when_held, wait_file
from tests.support.keeper_store import intents_per_key, plan_rows

ROOT = Path(__file__).resolve().parents[3]
BOUND_S = 30.0


def fund_intents_sent(db: str) -> int:
    """The fund's intents recorded as sent (broadcast or later)."""
    store = Store(db)
    try:
        with store.sessions() as s:
            return int(
                s.scalar(
                    select(func.count(m.TxIntent.id)).where(
                        m.TxIntent.idempotency_key.like("fund:%"),
                        m.TxIntent.status.in_(("broadcast", "mined", "confirmed", "reverted")),
                    )
                )
                or 0
            )
    finally:
        store.close()


def test_keeper_run__sigterm_mid_plan__exit_0_in_bound_store_closed_restart_completes_plan(
    chain: Any, env: dict[str, str], fresh: Any, accounts: Any, tmp_path: Path
) -> None:
    full = {**os.environ, **env, **NO_APPROVAL, "PYTHONPATH": str(ROOT), "KEEPER_LOG_JSON": "1"}
    # the killed `keeper plan` leaves its fund lease behind: `keeper run` takes the lead when it
    # expires (KEEPER_LEASE_TTL_S, 15 s by default; 6 s as in the replica tests)
    full["KEEPER_LEASE_TTL_S"] = "6"
    # the executor every second (0.2 s by default, with the conftest's due scan every tick):
    # nothing here is about the executor but its stopping with the rest
    full["KEEPER_EXECUTOR_INTERVAL_S"] = "1"
    db_file = Path(env["KEEPER_DB_URL"].removeprefix("sqlite:///"))
    w3 = chain.provider.web3
    keeper_addr = accounts[2].address
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    nonce0 = w3.eth.get_transaction_count(keeper_addr)

    # 1. `keeper plan` killed (-9) right after it built its first intent: an approved plan
    #    whose first action has an intent, nothing sent
    marker = tmp_path / "held-plan"
    proc = keeper_popen(
        [keeper_exe(), "plan", "--job", "liquidity"],
        env={**full, "KEEPER_HOLD_AT": "build:1", "KEEPER_HOLD_FILE": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_file(marker, proc, 180), proc.communicate(timeout=30)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    ((ref, status, acts),) = plan_rows(env["KEEPER_DB_URL"])
    n = len(acts)
    assert status == "approved" and n >= 2, acts
    assert w3.eth.get_transaction_count(keeper_addr) == nonce0  # nothing sent yet

    # 2. `keeper run` (fund, executor, supervisor) resumes it at start and is held right
    #    after its second transaction went to the node; SIGTERM there
    marker = tmp_path / "held-run"
    held = {
        **full,
        "KEEPER_FAULT_INJECTION": "1",
        "KEEPER_HOLD_AT": "sent:2",
        "KEEPER_HOLD_FILE": str(marker),
    }
    out, text, seconds, sent_at_signal = sigterm_when_held(
        [keeper_exe(), "run"],
        held,
        marker,
        BOUND_S,
        at_hold=lambda: w3.eth.get_transaction_count(keeper_addr, "pending") - nonce0,
    )
    assert "SIGTERM" in text
    assert "keeper: received SIGTERM, stopping" in text and "keeper stopped" in text
    assert f"resumes plan {ref} (approved): 0/{n} actions done, 1 in flight" in out
    assert not Path(f"{db_file}-wal").exists() and not Path(f"{db_file}-shm").exists()
    # the held transaction was sent and recorded; nothing after it was sent
    assert w3.eth.get_transaction_count(keeper_addr, "pending") - nonce0 == sent_at_signal
    assert fund_intents_sent(env["KEEPER_DB_URL"]) == 2
    ((_, status, acts),) = plan_rows(env["KEEPER_DB_URL"])
    assert status == "approved", acts
    assert sum(1 for _, _, intent in acts if intent is not None) == 2

    # 3. the restart says what it resumes and completes it: `keeper run --once` prints the plan
    #    it resumes, and its one cycle of every bot runs the rest of the plan (the long-lived
    #    `keeper run` resuming at start: tests/offchain/operator/test_operator_walk.py)
    r = CliRunner(mix_stderr=False).invoke(
        main, ["--json", "run", "--bots", "fund", "--once"], env=full
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    (resumed,) = data["resumes"]
    assert resumed["ref"] == ref and resumed["total"] == n
    assert resumed["done"] + resumed["in_flight"] == 2
    (fund,) = [c for c in data["cycle"] if c["bot"] == "fund"]
    assert [o["status"] for o in fund["result"] if o["plan_id"] == ref] == ["executed"]
    ((_, status, acts),) = plan_rows(env["KEEPER_DB_URL"])
    assert status == "executed", acts
    keys = intents_per_key(env["KEEPER_DB_URL"])
    assert {k: v for k, v in keys.items() if k.startswith("fund:")} == {
        f"fund:{ref}:{i}": 1 for i in range(n)
    }
    assert w3.eth.get_transaction_count(keeper_addr) - nonce0 == n
    print(f"SIGTERM mid-plan to exit 0: {seconds:.2f}s (bound {BOUND_S:.0f}s), {n} actions")
