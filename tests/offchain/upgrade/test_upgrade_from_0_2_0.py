"""Upgrades tested from release 0.2.0's store: the 0.2.0 keeper's SQLite store with plans in
every state and the chain its contracts ran on (fixtures/0.2.0, written by the release's cut,
scripts/toolchain/cut_release.py, with fixtures/make_fixture.py at c160aa7), opened by this keeper as
docs/operator/upgrades.md says: the store migrates at start-up (to this keeper's head), nothing
is lost, `keeper history` shows every plan as 0.2.0 left it, `keeper status` drives 0.2.0's
contracts with nothing said to be missing, and the half-executed plan resumes with each action
sent once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepers.version import CONTRACTS_RELEASE, NOT_IN_CONTRACTS
from tests.support.release_store import ReleaseStore

FIXTURE = Path(__file__).parent / "fixtures" / "0.2.0"
INFO = json.loads((FIXTURE / "fixture.json").read_text())
NOW = INFO["now"] + 4_000  # after every plan was made, before any deadline


@pytest.fixture
def old(tmp_path: Path) -> Iterator[ReleaseStore]:
    o = ReleaseStore(tmp_path, FIXTURE)
    yield o
    o.stop()


def test_upgrade__0_2_0_store__migrates_keeps_every_plan__its_contracts_driven_whole(old):
    assert INFO["release"] == "0.2.0" and CONTRACTS_RELEASE != "0.2.0"
    old.migrated_history()
    status = old.keeper("--json", "status")
    assert status["release"]["contracts_release"] == "0.2.0"
    assert status["release"]["abis_release"] == CONTRACTS_RELEASE
    # every feature this keeper reads is in 0.2.0's contracts: none said missing, each read
    assert NOT_IN_CONTRACTS not in json.dumps(status)
    assert status["exit_horizon"] is not None and "error" not in status["exit_horizon"]
    text = old.keeper("status")
    assert NOT_IN_CONTRACTS not in text and "exit horizon" in text


def test_upgrade__0_2_0_half_executed_plan__resumes_each_action_sent_once(old):
    half, approved = INFO["plans"]["half"], INFO["plans"]["approved"]
    assert old.nonce() == INFO["keeper_nonce"]
    left = old.actions(half) - old.done(half)
    assert old.done(half) >= 1 and left >= 1
    keys_before = old.sent_keys()
    out = old.keeper("--json", "--now", str(NOW), "run", "--once", "--bots", "fund")
    assert {r["ref"]: r["done"] for r in out["resumes"]}[half] == old.actions(half) - left
    moved = {r["plan_id"]: r["status"] for c in out["cycle"] for r in c["result"] or []}
    assert moved[half] == "executed" and moved[approved] == "executed", out["cycle"]
    # each action of the two approved plans sent once: one transaction per action left
    assert old.nonce() - INFO["keeper_nonce"] == left + old.actions(approved)
    keys = old.sent_keys()
    assert len(keys) == len(set(keys)) and set(keys_before) <= set(keys)
    assert old.done(half) == old.actions(half)
    nonce = old.nonce()  # a second run sends nothing more
    old.keeper("--json", "--now", str(NOW + 60), "run", "--once", "--bots", "fund")
    assert old.nonce() == nonce


def test_upgrade__0_2_0_scheduler__runs_read_in_their_shape_credit_said_absent(old):
    """0.2.0's scheduler pays executions by value and its Run has no booked share (the pull
    payment changed both): this keeper names the pull payment absent there and reads its runs
    with 0.2.0's getRun shape (fee a uint96, no shareBps)."""
    from keepers.automation.chain import Call, ChainIO
    from keepers.tx.node import Node
    from keepers.tx.release import check_release

    addr = json.loads((FIXTURE / "deployment.json").read_text())["automation"]["scheduler"]
    found = check_release(old.w3, {"scheduler": addr}, who="test-executor-0.2.0")
    assert found.contracts == "0.2.0" and found.absent == ("credit",)
    io = ChainIO(Node(old.url, 30))
    current = io.contract("RebalanceScheduler", addr)
    assert int(io.call(Call(current, "nextId", ()))) > 1
    run = io.call(Call(io.scheduler_before_credit(addr), "getRun", (1,)))
    handler, ts, effort, _prio, status, _has_data, payer, fee = run
    assert int(ts) > 0 and int(effort) > 0 and int(fee) > 0 and int(status) in (1, 2, 3)
    # the handler booked it itself (0.2.0's rule) and is a contract: the words are where 0.2.0
    # put them (the loaded state keeps no logs to compare the fee with)
    assert payer == handler and old.w3.eth.get_code(old.w3.to_checksum_address(handler))
    (credit,) = io.call_many([Call(current, "credits", (old.account,))])
    assert isinstance(credit, Exception)  # no credits there: the executor reads none
