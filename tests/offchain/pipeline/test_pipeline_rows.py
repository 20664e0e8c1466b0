"""The pipeline's batch rows (keepers.store.rows: intents and attempts loaded with Core, not as
ORM objects) and Confirm chained after Watch in one transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from keepers.store.db import Store
from keepers.store.models import StepLog, TxAttempt, TxIntent
from keepers.store.rows import INTENTS, IntentRow, load_intents, write_changes
from keepers.tx.errors import NodeError
from keepers.tx.pipeline import IntentSpec, submit_intents
from tests.support.pipeline_anvil import Anvil, deploy
from tests.support.pipeline_helpers import hit_spec, make_pipeline, make_settings


def _spec(i: int) -> IntentSpec:
    return IntentSpec(f"k{i}", "keeper", 31337, "0x" + "aa" * 20, "0x" + "bb" * 20, "0x", value=i)


def _store(tmp_path: Any) -> Store:
    return Store(f"sqlite:///{tmp_path}/rows.db")  # migrated to head


def _load(store: Store) -> list[IntentRow]:
    with store.transaction() as s:
        return load_intents(s.connection(), select(INTENTS).order_by(INTENTS.c.id))


def test_load_intents__columns_typed_as_the_orm_reads_them_with_attempts_oldest_first(tmp_path):
    store = _store(tmp_path)
    first, second = submit_intents(store, [_spec(1), _spec(2)])
    with store.transaction() as s:
        for n in (2, 1):
            s.add(
                TxAttempt(
                    intent_id=first.id, tx_hash=f"0x{n}", raw_tx="0x", nonce=0,
                    max_fee_per_gas=2**200 + n, max_priority_fee_per_gas=1, gas_limit=21_000,
                )
            )  # fmt: skip
    rows = _load(store)
    assert [r.id for r in rows] == [first.id, second.id]
    with store.sessions() as s:
        orm = s.get(TxIntent, first.id)
        assert orm is not None
        for name in [c.name for c in INTENTS.c]:
            assert getattr(rows[0], name) == getattr(orm, name), name
    assert rows[0].updated_at.tzinfo is not None  # UtcDateTime, as the ORM reads it
    assert [a.tx_hash for a in rows[0].attempts] == ["0x2", "0x1"]  # by id
    assert rows[0].attempts[0].max_fee_per_gas == 2**200 + 2  # Uint256 round trip
    assert rows[1].attempts == []
    assert all(not r.changed for r in rows)


def test_write_changes__only_assigned_columns_written_then_clean(tmp_path):
    store = _store(tmp_path)
    (intent,) = submit_intents(store, [_spec(3)])
    rows = _load(store)
    assert write_changes_in(store, rows) == 0  # nothing assigned, nothing written
    with store.sessions() as s:
        untouched = s.get(TxIntent, intent.id)
        assert untouched is not None
        before = untouched.updated_at
    rows[0].error = "x"
    rows[0].nonce = 7
    assert rows[0].changed == {"error", "nonce"}
    now = before + dt.timedelta(seconds=5)
    with store.transaction() as s:
        assert write_changes(s.connection(), rows, now) == 1
    assert not rows[0].changed
    with store.sessions() as s:
        done = s.get(TxIntent, intent.id)
        assert done is not None
        assert (done.error, done.nonce, done.updated_at) == ("x", 7, now)
        assert done.status == "pending"  # not assigned: left as stored


def write_changes_in(store: Store, rows: list[IntentRow]) -> int:
    with store.transaction() as s:
        return write_changes(s.connection(), rows, dt.datetime.now(dt.UTC))


def test_batch_row__assigning_a_name_that_is_not_a_column__refused_naming_it(tmp_path):
    store = _store(tmp_path)
    submit_intents(store, [_spec(4)])
    (row,) = _load(store)
    with pytest.raises(AttributeError, match="tx_intents has no column 'statuss'"):
        row.statuss = "built"  # type: ignore[attr-defined]
    assert not row.changed


# --- Confirm chained after Watch ------------------------------------------------------------


@pytest.fixture(scope="module")
def manual_anvil() -> Iterator[Anvil]:
    """anvil with automine off: blocks only when the test mines them."""
    node = Anvil("--no-mining")
    yield node
    node.stop()


def _broadcast(tmp_path: Any, node: Anvil, hit: int, **settings: Any) -> tuple[Any, Any]:
    counter = deploy(node.w3, "TestCounter")
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", node.url, counter.address, **settings)
    )
    intent = pipe.submit(hit_spec(counter, hit))
    pipe._phase("pending")
    pipe._phase("validated")
    node.mine(1)
    pipe._refresh_head()
    return pipe, intent


def _status(pipe: Any, intent_id: int) -> tuple[str, list[tuple[str, str]]]:
    with pipe.store.sessions() as s:
        intent = s.get(TxIntent, intent_id)
        steps = s.scalars(
            select(StepLog).where(StepLog.intent_id == intent_id).order_by(StepLog.id)
        ).all()
        assert intent is not None
        return intent.status, [(r.step, r.outcome) for r in steps]


def _spy(pipe: Any, monkeypatch: Any, blocks: str = "real") -> list[str]:
    """Record the methods the pipeline sends; ``blocks``: "real", "none" (the node serves no
    block at the height yet) or "error" (the block read fails)."""
    seen: list[str] = []
    real = pipe.node.batch

    def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        seen.extend(m for m, _ in calls)
        if blocks == "error" and any(m == "eth_getBlockByNumber" for m, _ in calls):
            raise NodeError("node down for the block read")
        out = real(calls)
        if blocks == "none":
            return [
                None if m == "eth_getBlockByNumber" else r
                for (m, _), r in zip(calls, out, strict=True)
            ]
        return out

    monkeypatch.setattr(pipe.node, "batch", batch)
    return seen


def _confirmed_by_the_next_claim(pipe: Any, intent_id: int, node: Anvil, blocks: int) -> None:
    """Mine ``blocks``, read the head, and the next Confirm claim confirms the intent."""
    if blocks:
        node.mine(blocks)
    pipe._refresh_head()
    assert pipe._phase("mined") == 1
    assert _status(pipe, intent_id)[0] == "confirmed"
    pipe.store.close()


def test_watch__receipt_at_enough_depth__confirmed_in_the_same_transaction(
    tmp_path, manual_anvil, monkeypatch
):
    pipe, intent = _broadcast(tmp_path, manual_anvil, 1)
    seen = _spy(pipe, monkeypatch)
    assert pipe._phase("broadcast") == 1
    status, steps = _status(pipe, intent.id)
    assert status == "confirmed"
    assert steps[-2:] == [("watch", "mined"), ("confirm", "confirmed")]
    assert seen.count("eth_getBlockByNumber") == 1  # Confirm still reads the canonical hash
    assert pipe._phase("mined") == 0  # nothing left for a second claim
    pipe.store.close()


def test_watch__confirmations_not_reached__left_mined_without_reading_blocks(
    tmp_path, manual_anvil, monkeypatch
):
    pipe, intent = _broadcast(tmp_path, manual_anvil, 2, confirmations_by_chain={31337: 3})
    seen = _spy(pipe, monkeypatch)
    pipe._phase("broadcast")
    assert _status(pipe, intent.id)[0] == "mined"
    assert "eth_getBlockByNumber" not in seen
    _confirmed_by_the_next_claim(pipe, intent.id, manual_anvil, blocks=2)


def test_watch__chained_block_read_fails__watch_committed_confirmed_next_pass(
    tmp_path, manual_anvil, monkeypatch
):
    pipe, intent = _broadcast(tmp_path, manual_anvil, 3)
    _spy(pipe, monkeypatch, blocks="error")
    assert pipe._phase("broadcast") == 1  # not raised: the watch's receipt is kept
    status, steps = _status(pipe, intent.id)
    assert status == "mined"
    assert steps[-1] == ("watch", "mined")
    monkeypatch.undo()
    _confirmed_by_the_next_claim(pipe, intent.id, manual_anvil, blocks=0)


def test_confirm__no_block_served_at_the_height__waits_instead_of_reorging(
    tmp_path, manual_anvil, monkeypatch
):
    pipe, intent = _broadcast(tmp_path, manual_anvil, 4)
    seen = _spy(pipe, monkeypatch, blocks="none")
    pipe._phase("broadcast")
    status, steps = _status(pipe, intent.id)
    assert status == "mined"
    assert not any(o in ("reorged", "reorg-moved") for _, o in steps)
    assert "eth_getTransactionReceipt" in seen
    assert seen.count("eth_getTransactionReceipt") == 1  # no second receipt read for a reorg
    monkeypatch.undo()
    _confirmed_by_the_next_claim(pipe, intent.id, manual_anvil, blocks=1)


# --- a pass's later claims take the rows it committed ------------------------------------------


def _loads_by_phase(pipe: Any, monkeypatch: Any) -> list[tuple[str, int]]:
    """(status claimed, intents loaded) for each load_intents call of the pipeline."""
    from keepers.tx import pipeline as pipeline_module

    loads: list[tuple[str, int]] = []
    current = [""]
    real_load = pipeline_module.load_intents
    real_phase = pipe._phase

    def counted(conn: Any, query: Any) -> list[IntentRow]:
        rows = real_load(conn, query)
        loads.append((current[0], len(rows)))
        return rows

    def phase(status: str) -> int:
        current[0] = status
        return real_phase(status)

    monkeypatch.setattr(pipeline_module, "load_intents", counted)
    monkeypatch.setattr(pipe, "_phase", phase)
    return loads


def test_run_once__rows_committed_in_the_pass__later_claims_take_them_without_loading(
    tmp_path, anvil, counter, monkeypatch
):
    pipe = make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))
    intents = pipe.submit_many([hit_spec(counter, 900 + i) for i in range(3)])
    loads = _loads_by_phase(pipe, monkeypatch)
    pipe.run_once()
    assert pipe._handoff is None  # only within a pass
    assert ("pending", 3) in loads
    # Broadcast's claim took what Build committed, Watch's what Broadcast committed
    assert not [n for status, n in loads if status in ("validated", "broadcast")]
    with pipe.store.sessions() as s:
        for it in intents:
            row = s.get(TxIntent, it.id)
            assert row is not None and row.status in ("broadcast", "mined", "confirmed")
            (attempt,) = s.scalars(select(TxAttempt).where(TxAttempt.intent_id == it.id)).all()
            assert attempt.id == row.current_attempt_id
            assert attempt.status in ("broadcast", "mined")
            assert attempt.sent_at_block is not None
    pipe.store.close()


def test_run_once__handed_off_row_changed_in_the_store__the_claim_query_still_decides(
    tmp_path, anvil, counter, monkeypatch
):
    """Between the commit that made it validated and Broadcast's claim, something else backs
    the intent off (another replica's failed broadcast sets next_try_at): the claim's query
    is still run, and an intent it does not return is not broadcast from memory."""
    from sqlalchemy import update

    pipe = make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))
    (intent,) = pipe.submit_many([hit_spec(counter, 950)])
    real_phase = pipe._phase

    def phase(status: str) -> int:
        n = real_phase(status)
        if status == "pending" and n:
            later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
            with pipe.store.transaction() as s:
                s.execute(
                    update(TxIntent).where(TxIntent.id == intent.id).values(next_try_at=later)
                )
        return n

    monkeypatch.setattr(pipe, "_phase", phase)
    pipe.run_once()
    status, steps = _status(pipe, intent.id)
    assert status == "validated"
    assert ("broadcast", "sent") not in steps
    assert counter.functions.hits(950).call() == 0
    pipe.store.close()


def test_submit_and_sign__a_batch_inserted_in_one_statement__ids_matched_to_their_rows(
    tmp_path, anvil, counter
):
    """SQLite: 40 intents go in with one INSERT .. RETURNING (matched to their specs by key,
    whatever order RETURNING gives), and the batch's 40 new attempts with one (matched by
    hash: the attempts' insert sentinel); with parameter order asked and no sentinel,
    SQLAlchemy inserted one row per statement. Each intent then points at its own attempt."""
    from sqlalchemy import event

    pipe = make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))
    inserts: list[str] = []

    def seen(conn, cursor, statement, *rest):
        if statement.lstrip().upper().startswith("INSERT INTO TX_"):
            inserts.append(statement.split("(")[0].split()[-1])

    event.listen(pipe.store.engine, "before_cursor_execute", seen)
    specs = [hit_spec(counter, 700 + i) for i in range(40)]
    intents = pipe.submit_many(specs)
    assert [it.idempotency_key for it in intents] == [sp.idempotency_key for sp in specs]
    pipe._phase("pending")  # Build to Validate: one attempt each
    assert inserts == ["tx_intents", "tx_attempts"], inserts
    with pipe.store.sessions() as s:
        for it in intents:
            row = s.get(TxIntent, it.id)
            assert row is not None and row.idempotency_key == it.idempotency_key
            (attempt,) = s.scalars(select(TxAttempt).where(TxAttempt.intent_id == it.id)).all()
            assert row.current_attempt_id == attempt.id and attempt.nonce == row.nonce
    pipe.store.close()


def test_run_until_idle__stops_after_the_pass_that_leaves_nothing_in_flight(
    tmp_path, anvil, counter, monkeypatch
):
    """A run until idle counts what is left after every pass: the pass that confirms the last
    intents ends it (before, it counted only after a pass that did nothing, so every run ended
    with one more pass over every status)."""
    from keepers.tx.pipeline import Pipeline

    pipe = make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))
    pipe.submit_many([hit_spec(counter, 800 + i) for i in range(3)])
    passes: list[int] = []
    once = Pipeline.run_once
    monkeypatch.setattr(Pipeline, "run_once", lambda self: passes.append(once(self)) or passes[-1])
    assert pipe.run(until_idle=True, max_seconds=60) is True
    assert passes and passes[-1] > 0, passes  # no trailing pass that found nothing
    assert pipe.active_count() == 0
    pipe.store.close()
