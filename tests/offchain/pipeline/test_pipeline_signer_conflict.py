"""Two keepers with one key and two stores (issue 13, "double execution with one key").

Before: each store allocated nonces on its own; the second keeper read the chain's nonce, sent
its own copy of the plan at the next nonces, and both executed it. Now any transaction at or
past this keeper's nonces that it did not send halts the pipeline before anything more is sent
(SignerConflict), in every process: the running keeper (`keeper run`) stops with a critical
alert and exit code 4, the standalone worker with exit code 4.
"""

from __future__ import annotations

import pytest

from keepers.tx.errors import SignerConflict
from tests.support.pipeline_helpers import hit_spec, make_pipeline, make_settings


def _two(tmp_path, anvil, counter, **kw):
    a = make_pipeline(make_settings(f"sqlite:///{tmp_path}/a.db", anvil.url, counter.address, **kw))
    b = make_pipeline(make_settings(f"sqlite:///{tmp_path}/b.db", anvil.url, counter.address, **kw))
    return a, b


def test_pipeline__second_keeper_same_key_other_store__halts_before_sending(
    tmp_path, anvil, counter
):
    a, b = _two(tmp_path, anvil, counter)
    # both keepers built "the same plan": A sends first
    a.submit(hit_spec(counter, 301))
    b.submit(hit_spec(counter, 301))
    a.run(until_idle=True, max_seconds=30)
    assert counter.functions.hits(301).call() == 1

    with pytest.raises(SignerConflict, match="used by another sender"):
        b.run(until_idle=True, max_seconds=30)
    assert counter.functions.hits(301).call() == 1  # not executed twice
    # halted for good in this process: a later pass refuses at once, nothing sent
    b.submit(hit_spec(counter, 302))
    with pytest.raises(SignerConflict):
        b.run_once()
    assert counter.functions.hits(302).call() == 0
    a.store.close()
    b.store.close()


def test_pipeline__running_keeper_sees_another_send_with_its_key__halts(tmp_path, anvil, counter):
    a, b = _two(tmp_path, anvil, counter)
    a.run_once()  # A is running and has seen the head
    b.submit(hit_spec(counter, 311))
    b.run(until_idle=True, max_seconds=30)  # B's own nonces: B has no reason to stop yet
    a.submit(hit_spec(counter, 312))
    with pytest.raises(SignerConflict, match="the chain's nonce is"):
        a.run(until_idle=True, max_seconds=30)
    assert counter.functions.hits(312).call() == 0
    a.store.close()
    b.store.close()


def test_pipeline__exclusive_signer_off__the_hazard_it_guards_against(tmp_path, anvil, counter):
    """With the check off (the old behaviour) the same effect is executed twice."""
    a, b = _two(tmp_path, anvil, counter, exclusive_signer=False)
    a.submit(hit_spec(counter, 321))
    b.submit(hit_spec(counter, 321))
    a.run(until_idle=True, max_seconds=30)
    b.run(until_idle=True, max_seconds=30)
    assert counter.functions.hits(321).call() == 2
    a.store.close()
    b.store.close()
