"""``--until-idle`` means nothing in flight, and a time limit is never read as done.

The chain here mines only when told (anvil --no-mining): a broadcast intent then waits for its
receipt for as long as the test wants, which is the state a loaded machine left 273 intents in
when the replicas' time limit passed and they still exited 0.

Its workers are forked (tests/support/worker_fork.py), as test_private_submission.py's are; its
docstring names the tests that run the entry point itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from keepers.store.models import TxIntent
from keepers.tx.pipeline import submit_intent
from keepers.tx.worker import EXIT_NOT_IDLE
from tests.support.pipeline_anvil import Anvil, deploy
from tests.support.pipeline_helpers import (
    hit_spec,
    make_pipeline,
    make_settings,
    pipeline_on,
    worker_env,
)
from tests.support.worker_fork import fork_worker


@pytest.fixture
def still_anvil() -> Iterator[Anvil]:
    node = Anvil("--no-mining")
    yield node
    node.stop()


@pytest.fixture
def still_counter(still_anvil: Anvil) -> Any:
    return deploy(still_anvil.w3, "TestCounter")


def _status(store: Any, intent_id: int) -> str:
    with store.sessions() as s:
        row = s.get(TxIntent, intent_id)
        assert row is not None
        return row.status


def test_run__broadcast_then_mined_awaiting_confirmations__not_idle_until_confirmed(
    tmp_path, still_anvil, still_counter
):
    pipe = pipeline_on(tmp_path, still_anvil, still_counter, confirmations_by_chain={31337: 2})
    intent = pipe.submit(hit_spec(still_counter, 1))

    assert pipe.run(until_idle=True, max_seconds=1.0) is False
    assert _status(pipe.store, intent.id) == "broadcast"
    assert pipe.in_flight() == {"broadcast": 1}
    assert pipe.active_count() == 1

    still_anvil.mine()  # mined, 1 of 2 confirmations
    assert pipe.run(until_idle=True, max_seconds=1.0) is False
    assert pipe.in_flight() == {"mined": 1}

    still_anvil.mine()
    assert pipe.run(until_idle=True, max_seconds=30) is True
    assert _status(pipe.store, intent.id) == "confirmed"
    assert pipe.in_flight() == {} and pipe.active_count() == 0
    assert still_counter.functions.hits(1).call() == 1
    pipe.store.close()


def _events(stderr: str) -> list[str]:
    return [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]


def test_worker__time_limit_passes_with_broadcast_in_flight__exit_not_idle_then_idle_exit_0(
    tmp_path, still_anvil, still_counter
):
    url = f"sqlite:///{tmp_path}/k.db"
    env = worker_env(url, still_anvil.url, still_counter.address, tmp_path, KEEPER_LOG_LEVEL="INFO")
    pipe = make_pipeline(make_settings(url, still_anvil.url, still_counter.address))
    intent = submit_intent(pipe.store, hit_spec(still_counter, 2))
    pipe.store.close()  # the worker takes the SQLite lock

    cut = fork_worker(env, "--until-idle", "--max-seconds", "2", timeout=120)
    assert cut.returncode == EXIT_NOT_IDLE == 5, cut.stderr[-2000:]
    assert "not idle: --max-seconds 2 passed with 1 intents in flight (broadcast 1)" in cut.stderr
    assert "worker.not_idle" in _events(cut.stderr)
    assert "worker.idle" not in _events(cut.stderr)

    still_anvil.mine()
    done = fork_worker(env, "--until-idle", "--max-seconds", "60", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "worker.idle" in _events(done.stderr)
    from keepers.store.db import Store

    store = Store(url)
    assert _status(store, intent.id) == "confirmed"
    store.close()


def test_worker__time_limit_without_until_idle__planned_stop_exit_0(
    tmp_path, still_anvil, still_counter
):
    """Without --until-idle the time limit is how the run was meant to end."""
    url = f"sqlite:///{tmp_path}/k.db"
    env = worker_env(url, still_anvil.url, still_counter.address, tmp_path)
    pipe = make_pipeline(make_settings(url, still_anvil.url, still_counter.address))
    submit_intent(pipe.store, hit_spec(still_counter, 3))
    pipe.store.close()

    out = fork_worker(env, "--max-seconds", "1", timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "not idle" not in out.stderr


def test_assert_pool_drained__tx_left_in_pool_or_nonce_mismatch__fails(
    tmp_path, still_anvil, still_counter
):
    """The replica tests' leak check can fail: a broadcast transaction still in the node's
    pool (what a time-limited run leaves for the next test on the same node) is named."""
    from tests.support.pipeline_helpers import SENDER, assert_pool_drained

    pipe = pipeline_on(tmp_path, still_anvil, still_counter)
    intent = pipe.submit(hit_spec(still_counter, 4))
    assert pipe.run(until_idle=True, max_seconds=1.0) is False
    with pipe.store.sessions() as s:
        nonce = s.get(TxIntent, intent.id).nonce  # type: ignore[union-attr]
    with pytest.raises(
        AssertionError, match=f"left in the node's pool: {{'pending': \\[{nonce}\\]"
    ):
        assert_pool_drained(still_anvil, SENDER, nonce + 1)
    still_anvil.mine()
    assert_pool_drained(still_anvil, SENDER, nonce + 1)
    with pytest.raises(AssertionError, match="chain nonce"):
        assert_pool_drained(still_anvil, SENDER, nonce)
    pipe.store.close()


def test_watch__head_stands_still__stuck_transaction_replaced_after_the_stall_time_then_mined(
    tmp_path, still_anvil, still_counter
):
    """A chain that makes no blocks gives block-counted replacement nothing to count: what CI
    saw once, 297 intents the node accepted and never mined, with the head standing still for
    ten minutes. After ``stall_replace_after_s`` without a new head the keeper replaces the
    stuck transaction (a new hash the node must take up); with the default (60 s) a short run
    leaves it alone."""
    from sqlalchemy import select

    from keepers.store.models import StepLog, TxAttempt
    from tests.support.pipeline_helpers import SENDER, assert_pool_drained

    url = f"sqlite:///{tmp_path}/k.db"
    patient = make_pipeline(make_settings(url, still_anvil.url, still_counter.address))
    intent = patient.submit(hit_spec(still_counter, 5))
    assert patient.run(until_idle=True, max_seconds=2.0) is False
    with patient.store.sessions() as s:
        first = s.scalars(select(TxAttempt).where(TxAttempt.intent_id == intent.id)).all()
    assert [a.status for a in first] == ["broadcast"]
    patient.store.close()

    stall = make_pipeline(
        make_settings(url, still_anvil.url, still_counter.address, stall_replace_after_s=0.5)
    )
    assert stall.run(until_idle=True, max_seconds=2.0) is False
    with stall.store.sessions() as s:
        attempts = s.scalars(
            select(TxAttempt).where(TxAttempt.intent_id == intent.id).order_by(TxAttempt.id)
        ).all()
        reasons = [
            r.detail["reason"]
            for r in s.scalars(
                select(StepLog).where(StepLog.intent_id == intent.id, StepLog.outcome == "replace")
            )
        ]
        fees = [a.max_fee_per_gas for a in attempts]
    assert len(attempts) >= 2, attempts
    assert reasons and all("with the head still at block" in r for r in reasons), reasons
    assert fees == sorted(fees) and fees[-1] > fees[0]  # each replacement bumped
    pool = still_anvil.rpc("txpool_content")["pending"]
    (sent,) = [txs for acct, txs in pool.items() if acct.lower() == SENDER.lower()]
    assert list(sent.values())[0]["hash"] == attempts[-1].tx_hash  # the node holds the last

    still_anvil.mine()
    assert stall.run(until_idle=True, max_seconds=30) is True
    with stall.store.sessions() as s:
        row = s.get(TxIntent, intent.id)
        assert row is not None and row.status == "confirmed"
        assert row.mined_attempt_id == attempts[-1].id
        nonce = row.nonce
    assert still_counter.functions.hits(5).call() == 1
    assert_pool_drained(still_anvil, SENDER, nonce + 1)
    stall.store.close()
