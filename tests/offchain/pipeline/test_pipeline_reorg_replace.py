"""Dropped transactions are replaced at the same nonce; reorgs after confirmation never make an
effect land twice (or not at all)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, update

from keepers.store.models import StepLog, TxAttempt, TxIntent
from keepers.tx.errors import NodeError, SignerConflict
from tests.support.pipeline_anvil import Anvil, deploy
from tests.support.pipeline_helpers import hit_spec, pipeline_on


@pytest.fixture(scope="module")
def manual_anvil() -> Iterator[Anvil]:
    """anvil with automine off: blocks only when the test mines them."""
    node = Anvil("--no-mining")
    yield node
    node.stop()


def _load(pipe: Any, intent_id: int) -> tuple[TxIntent, list[TxAttempt], list[str]]:
    with pipe.store.sessions() as s:
        intent = s.get(TxIntent, intent_id)
        attempts = list(s.scalars(select(TxAttempt).where(TxAttempt.intent_id == intent_id)))
        outcomes = list(s.scalars(select(StepLog.outcome).where(StepLog.intent_id == intent_id)))
    assert intent is not None
    return intent, attempts, outcomes


def _until(pipe: Any, intent_id: int, status: str, anvil: Anvil | None = None, rounds: int = 50):
    for _ in range(rounds):
        pipe.run_once()
        intent, _, _ = _load(pipe, intent_id)
        if intent.status == status:
            return intent
        if anvil is not None:
            anvil.mine(1)
    raise AssertionError(f"intent {intent_id} stuck in {intent.status}")


def _broadcast_then_drop(tmp_path, manual_anvil, hit, replace_after_blocks):
    """Submit hits(`hit`) on a fresh counter, broadcast it, then drop its only attempt from the
    node's pool; returns the counter, the pipeline, the intent and the dropped attempt."""
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter, replace_after_blocks=replace_after_blocks)
    intent = pipe.submit(hit_spec(counter, hit))
    _until(pipe, intent.id, "broadcast")
    _, (first,), _ = _load(pipe, intent.id)
    manual_anvil.rpc("anvil_dropTransaction", first.tx_hash)
    return counter, pipe, intent, first


def _mine_until_replaced(pipe: Any, manual_anvil: Anvil, intent_id: int, blocks: int = 6) -> None:
    """Mine empty blocks (the dropped attempt cannot be mined), one pipeline round each, until
    the intent is broadcast again under a second attempt."""
    for _ in range(blocks):
        manual_anvil.mine(1)
        pipe.run_once()
        intent, attempts, _ = _load(pipe, intent_id)
        if len(attempts) > 1 and intent.status == "broadcast":
            return
    raise AssertionError(f"intent {intent_id} not replaced within {blocks} blocks")


def _record_batches(pipe: Any) -> list[list[str]]:
    """From now on, the methods of each JSON-RPC batch the pipeline sends, in order."""
    batches: list[list[str]] = []
    send = pipe.node.batch

    def recorded(calls):
        batches.append([method for method, _ in calls])
        return send(calls)

    pipe.node.batch = recorded
    return batches


def _confirmed_once(
    pipe: Any, manual_anvil: Anvil, counter: Any, intent_id: int, hit: int, statuses, winner
) -> None:
    """Mine until the intent is confirmed: its attempts end as `statuses`, `winner` is the one
    mined, and the counter was hit exactly once."""
    manual_anvil.mine(1)
    done = _until(pipe, intent_id, "confirmed", manual_anvil)
    _, attempts, _ = _load(pipe, intent_id)
    assert [a.status for a in attempts] == statuses
    assert done.mined_attempt_id == winner.id
    assert counter.functions.hits(hit).call() == 1
    pipe.store.close()


def test_broadcast__dropped_tx__replaced_at_same_nonce_with_bumped_fees(tmp_path, manual_anvil):
    counter, pipe, intent, first = _broadcast_then_drop(tmp_path, manual_anvil, 7, 3)
    assert manual_anvil.rpc("eth_getTransactionByHash", first.tx_hash) is None

    _mine_until_replaced(pipe, manual_anvil, intent.id)
    _, (old, new), outcomes = _load(pipe, intent.id)
    assert "replace" in outcomes
    assert new.nonce == old.nonce
    assert new.max_fee_per_gas * 1000 >= old.max_fee_per_gas * 1125
    assert new.max_priority_fee_per_gas * 1000 >= old.max_priority_fee_per_gas * 1125

    _confirmed_once(pipe, manual_anvil, counter, intent.id, 7, ["replaced", "mined"], new)


def test_watch__original_attempt_mines_after_replacement__original_wins(tmp_path, manual_anvil):
    counter, pipe, intent, first = _broadcast_then_drop(tmp_path, manual_anvil, 8, 2)
    _mine_until_replaced(pipe, manual_anvil, intent.id)
    _, (old, new), _ = _load(pipe, intent.id)
    # the replacement disappears and the ORIGINAL signed transaction comes back and is mined
    manual_anvil.rpc("anvil_dropTransaction", new.tx_hash)
    manual_anvil.rpc("eth_sendRawTransaction", old.raw_tx)
    _confirmed_once(pipe, manual_anvil, counter, intent.id, 8, ["mined", "replaced"], old)


@pytest.mark.parametrize("depth", range(1, 11))
def test_confirm__reorg_after_inclusion__effect_lands_exactly_once(tmp_path, anvil, counter, depth):
    """Confirmations = 12, so a reorg of depth <= 10 hits an included, not yet final, tx. Odd
    depths re-include our signed tx in a different block; even depths drop it."""
    pipe = pipeline_on(tmp_path, anvil, counter, confirmations_by_chain={31337: 12})
    ident = 500 + depth
    intent = pipe.submit(hit_spec(counter, ident))
    mined = _until(pipe, intent.id, "mined")
    anvil.mine(depth - 1)  # the tx block is now `depth` deep
    pipe.run_once()
    assert _load(pipe, intent.id)[0].status == "mined"  # not final early
    assert anvil.w3.eth.block_number - mined.mined_block + 1 == depth

    _, attempts, _ = _load(pipe, intent.id)
    pairs = [[attempts[-1].raw_tx, depth - 1]] if depth % 2 else []
    anvil.rpc("anvil_reorg", depth, pairs)
    assert counter.functions.hits(ident).call() == (1 if depth % 2 else 0)

    done = _until(pipe, intent.id, "confirmed", anvil, rounds=60)
    _, _, outcomes = _load(pipe, intent.id)
    assert ("reorg-moved" if depth % 2 else "reorged") in outcomes
    assert done.mined_block_hash == anvil.w3.eth.get_block(done.mined_block)["hash"].to_0x_hex()
    assert counter.functions.hits(ident).call() == 1
    pipe.store.close()


def _lagging_receipts(pipe: Any, monkeypatch: Any) -> dict[str, bool]:
    """The node shows the new nonce but serves no receipt while ``hide["on"]``: what anvil does
    between executing a block and storing it, and a load-balanced RPC whose backends differ."""
    hide = {"on": True}
    real = pipe.node.batch

    def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        out = real(calls)
        if not hide["on"]:
            return out
        return [
            None if m == "eth_getTransactionReceipt" else r
            for (m, _), r in zip(calls, out, strict=True)
        ]

    monkeypatch.setattr(pipe.node, "batch", batch)
    return hide


def _mined_but_receipt_hidden(tmp_path, manual_anvil, monkeypatch, hit):
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter, replace_after_blocks=2, nonce_recheck_s=0.5)
    intent = pipe.submit(hit_spec(counter, hit))
    _until(pipe, intent.id, "broadcast")
    manual_anvil.mine(3)  # mined in the first: the nonce is passed
    hide = _lagging_receipts(pipe, monkeypatch)
    pipe.run_once()
    got, _, outcomes = _load(pipe, intent.id)
    assert got.status == "broadcast" and outcomes[-1] == "nonce-passed-recheck"
    assert pipe.halted is None  # one answer without our receipt decides nothing
    return counter, pipe, intent, hide


def test_watch__nonce_passed_before_the_receipt_is_served__rechecked_then_mined(
    tmp_path, manual_anvil, monkeypatch
):
    counter, pipe, intent, hide = _mined_but_receipt_hidden(tmp_path, manual_anvil, monkeypatch, 9)
    hide["on"] = False
    time.sleep(0.6)
    done = _until(pipe, intent.id, "confirmed", manual_anvil)
    assert done.mined_block is not None and pipe.halted is None
    assert counter.functions.hits(9).call() == 1
    pipe.store.close()


def test_watch__nonce_passed_and_still_no_receipt_after_recheck__halts(
    tmp_path, manual_anvil, monkeypatch
):
    _, pipe, intent, _ = _mined_but_receipt_hidden(tmp_path, manual_anvil, monkeypatch, 10)
    time.sleep(0.6)
    manual_anvil.mine(1)
    with pytest.raises(SignerConflict, match=rf"nonce \d+ of intent {intent.id} was used"):
        pipe.run_once()
    pipe.store.close()


def test_confirm__five_intents_in_one_block__the_block_read_once(
    tmp_path, manual_anvil, monkeypatch
):
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter)
    intents = [pipe.submit(hit_spec(counter, 20 + i)) for i in range(5)]
    for it in intents:
        _until(pipe, it.id, "broadcast")
    manual_anvil.mine(1)  # all five in one block
    asked: list[str] = []
    real = pipe.node.batch

    def batch(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        asked.extend(p[0] for m, p in calls if m == "eth_getBlockByNumber")
        return real(calls)

    monkeypatch.setattr(pipe.node, "batch", batch)
    for it in intents:
        _until(pipe, it.id, "confirmed", manual_anvil)
    blocks = {_load(pipe, it.id)[0].mined_block for it in intents}
    assert len(blocks) == 1
    assert asked == [hex(blocks.pop())]  # one read for the five
    assert [counter.functions.hits(20 + i).call() for i in range(5)] == [1] * 5
    pipe.store.close()


def test_broadcast__sent_before_a_crash_and_mined__receipt_late__rechecked_not_halted(
    tmp_path, manual_anvil, monkeypatch
):
    """The crash point between eth_sendRawTransaction and Broadcast's commit: the intent is still
    validated but its transaction is mined. Sending it again gets "nonce too low"; if the node
    does not serve the receipt yet, the keeper waits nonce_recheck_s (no re-send meanwhile)
    instead of halting, then finds the receipt and records the intent mined."""
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter, nonce_recheck_s=0.5)
    intent = pipe.submit(hit_spec(counter, 31))
    _until(pipe, intent.id, "broadcast")
    manual_anvil.mine(1)
    with pipe.store.transaction() as s:  # as if the process died before Broadcast committed
        s.execute(update(TxIntent).where(TxIntent.id == intent.id).values(status="validated"))
    hide = _lagging_receipts(pipe, monkeypatch)
    pipe.run_once()
    got, _, outcomes = _load(pipe, intent.id)
    assert got.status == "validated" and outcomes[-1] == "nonce-passed-recheck"
    assert pipe.halted is None and pipe.run_once() == 0  # held back until the recheck time
    hide["on"] = False
    time.sleep(0.6)
    _until(pipe, intent.id, "confirmed", manual_anvil)
    assert counter.functions.hits(31).call() == 1
    pipe.store.close()


def test_watch__burst_mined_one_a_block__nothing_replaced(tmp_path, manual_anvil):
    """Five transactions of one sender that the chain mines one a block (automine does; so does
    a congested chain): the last waits four blocks behind the others, past replace_after_blocks
    (2), while the sender's nonce moves every block. None of them is stuck, and a fee bump would
    pay more for a place it already has: nothing is replaced, each lands once at its first
    attempt's fees."""
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter, replace_after_blocks=2)
    ids = [pipe.submit(hit_spec(counter, 40 + i)).id for i in range(5)]
    for intent_id in ids:
        _until(pipe, intent_id, "broadcast")
    loaded = [_load(pipe, i) for i in ids]
    sent_at = {a.sent_at_block for _, (a,), _ in loaded}
    gas = max(intent.gas_limit for intent, _, _ in loaded)
    limit = manual_anvil.rpc("eth_getBlockByNumber", "latest", False)["gasLimit"]
    manual_anvil.rpc("evm_setBlockGasLimit", hex(gas))  # room for one of them a block
    try:
        for _ in range(12):
            manual_anvil.mine(1)
            pipe.run_once()
            if all(_load(pipe, i)[0].status == "confirmed" for i in ids):
                break
    finally:
        manual_anvil.rpc("evm_setBlockGasLimit", limit)
    rows = [_load(pipe, i) for i in ids]
    assert [intent.status for intent, _, _ in rows] == ["confirmed"] * 5
    mined = sorted(intent.mined_block for intent, _, _ in rows)
    assert mined == list(range(mined[0], mined[0] + 5))  # one a block
    assert mined[-1] - max(sent_at) >= 4  # the last waited past replace_after_blocks
    for intent, attempts, outcomes in rows:
        assert len(attempts) == 1 and "replace" not in outcomes, (intent.id, outcomes)
    assert [counter.functions.hits(40 + i).call() for i in range(5)] == [1] * 5
    pipe.store.close()


def _mined_but_send_not_recorded(tmp_path, manual_anvil, *, first_key: int, n: int):
    """A pipeline whose `n` intents were broadcast and mined, then set back to validated as if
    the sends were never committed (a crash between the send and its commit)."""
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter)
    ids = [pipe.submit(hit_spec(counter, first_key + i)).id for i in range(n)]
    for intent_id in ids:
        _until(pipe, intent_id, "broadcast")
    manual_anvil.mine(1)
    with pipe.store.transaction() as s:
        s.execute(update(TxIntent).where(TxIntent.id.in_(ids)).values(status="validated"))
        s.execute(update(TxAttempt).where(TxAttempt.intent_id.in_(ids)).values(status="validated"))
    return pipe, counter, ids


def test_broadcast__nonces_used_meanwhile__receipts_read_in_one_round_trip(tmp_path, manual_anvil):
    """A batch broadcast again after its transactions were mined (a replacement sent as its
    original lands; a crash between the send and its commit): the node answers nonce too low to
    each, and the receipts that decide it are read for the whole batch in one round trip, not
    one per intent. Each intent is recorded mined at its one attempt."""
    pipe, _, ids = _mined_but_send_not_recorded(tmp_path, manual_anvil, first_key=60, n=5)
    batches = _record_batches(pipe)
    for _ in range(5):
        pipe.run_once()
        if all(_load(pipe, i)[0].status == "confirmed" for i in ids):
            break
    rows = [_load(pipe, i) for i in ids]
    assert [intent.status for intent, _, _ in rows] == ["confirmed"] * 5
    assert all(len(attempts) == 1 for _, attempts, _ in rows)
    assert all("mined" in outcomes for _, _, outcomes in rows)
    receipt_trips = [b for b in batches if "eth_getTransactionReceipt" in b]
    assert [b.count("eth_getTransactionReceipt") for b in receipt_trips] == [5], batches
    pipe.store.close()


def test_watch__head_read_lags_the_receipts__confirmed_in_the_same_pass(tmp_path, manual_anvil):
    """The head a pass reads can be below the block its receipts come from (automine mines
    while the pass runs; a load-balanced RPC's backends stand at different heads): a receipt
    the node served shows the chain reached its block. With one confirmation the intents are
    confirmed in the pass that read their receipts, not left mined for another pass (another
    claim, write and commit of the same rows); their blocks' hashes are still read and
    compared. The next pass reads the head again."""
    counter = deploy(manual_anvil.w3, "TestCounter")
    pipe = pipeline_on(tmp_path, manual_anvil, counter)
    assert pipe.confirmations == 1
    ids = [pipe.submit(hit_spec(counter, 80 + i)).id for i in range(3)]
    for intent_id in ids:
        _until(pipe, intent_id, "broadcast")
    # the pass watched them at head H; they are mined at H + 2, after an empty block H + 1
    raws = [attempts[0].raw_tx for _, attempts, _ in (_load(pipe, i) for i in ids)]
    manual_anvil.rpc("anvil_dropAllTransactions")
    manual_anvil.mine(1)
    for raw in raws:
        manual_anvil.rpc("eth_sendRawTransaction", raw)
    manual_anvil.mine(1)
    real = pipe.node.block_number
    pipe.node.block_number = lambda: real() - 1  # type: ignore[method-assign]  # reads H + 1
    reads = _record_batches(pipe)
    pipe.run_once()
    rows = [_load(pipe, i) for i in ids]
    assert [intent.status for intent, _, _ in rows] == ["confirmed"] * 3
    assert ["eth_getBlockByNumber"] in reads  # the block's hash read and compared
    assert all(intent.checked_block == real() - 1 for intent, _, _ in rows)
    pipe.store.close()


def test_broadcast__receipts_read_for_used_nonces_fails__nothing_recorded_then_mined_once(
    tmp_path, manual_anvil
):
    """The one read of the used nonces' receipts fails (node error): the claimed batch rolls
    back whole, nothing half written (still validated, no step row of that pass), the error
    reaches the run loop (which backs off); the next pass sends again, reads the receipts and
    records each intent mined at its one attempt, each effect once."""
    pipe, counter, ids = _mined_but_send_not_recorded(tmp_path, manual_anvil, first_key=90, n=3)
    steps_before = {i: len(_load(pipe, i)[2]) for i in ids}
    send = pipe.node.batch

    def receipts_down(calls):
        if any(method == "eth_getTransactionReceipt" for method, _ in calls):
            raise NodeError("receipts unavailable")
        return send(calls)

    pipe.node.batch = receipts_down  # type: ignore[method-assign]
    with pytest.raises(NodeError, match="receipts unavailable"):
        pipe.run_once()
    for i in ids:
        intent, (attempt,), outcomes = _load(pipe, i)
        assert intent.status == "validated" and attempt.status == "validated"
        assert len(outcomes) == steps_before[i]
    pipe.node.batch = send  # type: ignore[method-assign]
    for _ in range(5):
        pipe.run_once()
        if all(_load(pipe, i)[0].status == "confirmed" for i in ids):
            break
    for i in ids:
        intent, attempts, outcomes = _load(pipe, i)
        assert intent.status == "confirmed" and len(attempts) == 1, outcomes
    assert [counter.functions.hits(90 + i).call() for i in range(3)] == [1, 1, 1]
    pipe.store.close()
