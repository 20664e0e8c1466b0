"""Pipeline steps against a standalone anvil: happy path, revert decoding, audit, validate.

Its worker processes are forked from the tests' preloaded server (tests/support/worker_fork.py: the
worker's own main, a process of its own); the entry point `python -m keepers.tx.worker` itself runs
in tests/offchain/pipeline/test_worker_policy.py and in test_pipeline_crash.py's stray-crash and
SIGKILL tests.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from eth_utils import keccak
from prometheus_client import REGISTRY
from sqlalchemy import select, update

from keepers.store.models import NonceAllocator, StepLog, TxAttempt, TxIntent, utcnow
from keepers.tx.pipeline import Retry
from keepers.tx.signers import RawKeySigner
from tests.support.pipeline_helpers import SENDER, hit_spec, make_pipeline, make_settings


def _intent(pipe: Any, intent_id: int) -> TxIntent:
    with pipe.store.sessions() as s:
        it = s.get(TxIntent, intent_id)
        assert it is not None
        return it


def _steps(pipe: Any, intent_id: int) -> list[tuple[str, str]]:
    with pipe.store.sessions() as s:
        rows = s.scalars(select(StepLog).where(StepLog.intent_id == intent_id).order_by(StepLog.id))
        return [(r.step, r.outcome) for r in rows]


def _attempts(pipe: Any, intent_id: int) -> list[TxAttempt]:
    with pipe.store.sessions() as s:
        return list(s.scalars(select(TxAttempt).where(TxAttempt.intent_id == intent_id)))


def _metric(step: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("keeper_pipeline_steps_total", {"step": step, "outcome": outcome})
        or 0.0
    )


def test_pipeline__one_intent__every_step_recorded_and_effect_once(tmp_path, anvil, counter):
    pipe = make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))
    confirmed_before = _metric("confirm", "confirmed")
    intent = pipe.submit(hit_spec(counter, 101))
    again = pipe.submit(hit_spec(counter, 101))
    assert again.id == intent.id  # same idempotency key -> the first intent
    pipe.run(until_idle=True, max_seconds=30)

    done = _intent(pipe, intent.id)
    assert done.status == "confirmed"
    assert [s for s, _ in _steps(pipe, intent.id)] == [
        "submit",
        "build",
        "audit",
        "sign",
        "validate",
        "broadcast",
        "watch",
        "confirm",
    ]
    assert counter.functions.hits(101).call() == 1
    assert _metric("confirm", "confirmed") == confirmed_before + 1
    pipe.store.close()


def test_build__simulation_reverts__custom_error_decoded_and_nothing_signed(
    tmp_path, anvil, counter
):
    pipe = make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))
    too_big = 10**9 + 7
    intent = pipe.submit(hit_spec(counter, too_big))
    pipe.run(until_idle=True, max_seconds=30)

    done = _intent(pipe, intent.id)
    assert done.status == "failed"
    assert done.error == f"simulation reverted: IdRejected(id={too_big}, limit=1000000000)"
    assert done.nonce is None and _attempts(pipe, intent.id) == []
    pipe.store.close()


def test_audit__selector_not_allowed__rejected_with_rule_and_nonce_filled(tmp_path, anvil, counter):
    settings = make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address)
    pipe = make_pipeline(settings)
    count_before = counter.functions.count().call()
    nonce_before = anvil.w3.eth.get_transaction_count(SENDER)
    # count() is a real function of the counter but not on the keeper's allow-list
    denied = pipe.submit(
        replace(hit_spec(counter, 0, key="not-allowed"), calldata=counter.encode_abi("count"))
    )
    allowed = pipe.submit(hit_spec(counter, 202))
    pipe.run(until_idle=True, max_seconds=30)

    d = _intent(pipe, denied.id)
    assert d.status == "rejected" and "call-not-allowed" in (d.error or "")
    assert _attempts(pipe, denied.id) == []  # nothing signed
    assert _intent(pipe, allowed.id).status == "confirmed"
    assert counter.functions.count().call() == count_before + 1
    # the denied intent's nonce went to a 0-value self-send so the allowed one was not blocked
    assert anvil.w3.eth.get_transaction_count(SENDER) == nonce_before + 2
    pipe.store.close()


def test_audit__value_and_daily_notional_caps__rejected_with_rule(tmp_path, anvil, counter):
    settings = make_settings(
        f"sqlite:///{tmp_path}/k.db",
        anvil.url,
        counter.address,
        role={"max_value_wei": 1000, "daily_notional_cap": 1500},
    )
    pipe = make_pipeline(settings)
    over_value = pipe.submit(hit_spec(counter, 301, value=1001))
    first = pipe.submit(hit_spec(counter, 302, value=1000))
    over_daily = pipe.submit(hit_spec(counter, 303, value=600))
    pipe.run(until_idle=True, max_seconds=30)

    assert "value-cap" in (_intent(pipe, over_value.id).error or "")
    assert _intent(pipe, first.id).status == "confirmed"
    assert "daily-notional-cap" in (_intent(pipe, over_daily.id).error or "")
    assert [counter.functions.hits(i).call() for i in (301, 302, 303)] == [0, 1, 0]
    pipe.store.close()


class TamperingSigner(RawKeySigner):
    """A compromised signing service: signs a different value than it was asked to."""

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        return super().sign_transaction({**tx, "value": tx["value"] + 1})


def test_validate__tampered_signed_tx__refused_and_not_broadcast(tmp_path, anvil, counter):
    from tests.support.pipeline_helpers import SENDER_KEY

    settings = make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address)
    pipe = make_pipeline(settings, signer=TamperingSigner(SENDER_KEY))
    intent = pipe.submit(hit_spec(counter, 401))
    pipe.run(until_idle=True, max_seconds=30)
    done = _intent(pipe, intent.id)
    assert done.status == "invalid"
    assert "value: signed 1 != built 0" in (done.error or "")
    assert [a.status for a in _attempts(pipe, intent.id)] == ["invalid"]
    assert counter.functions.hits(401).call() == 0
    pipe.store.close()


def test_worker__production_logging__json_lines_on_stderr(tmp_path, anvil, counter):
    import json

    from tests.support.pipeline_helpers import worker_env
    from tests.support.worker_fork import fork_worker

    env = worker_env(
        f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address, tmp_path, KEEPER_LOG_LEVEL="INFO"
    )
    out = fork_worker(env, "--until-idle", timeout=60)
    assert out.returncode == 0, out.stderr
    events = [json.loads(line) for line in out.stderr.splitlines() if line.startswith("{")]
    start = next(e for e in events if e["event"] == "worker.start")
    assert start["chain_id"] == 31337 and start["level"] == "info" and "timestamp" in start


def test_broadcast__insufficient_funds__typed_retry_then_confirmed_once_funded(
    tmp_path, anvil, counter
):
    from eth_account import Account

    poor = RawKeySigner(Account.create().key)
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address), signer=poor
    )
    intent = pipe.submit(hit_spec(counter, 601, sender=poor.address))
    pipe.run_once()
    assert _intent(pipe, intent.id).status == "validated"
    assert "InsufficientFunds" in (_intent(pipe, intent.id).error or "")
    assert ("broadcast", "retry") in _steps(pipe, intent.id)
    anvil.rpc("anvil_setBalance", poor.address, hex(10**18))
    pipe.run(until_idle=True, max_seconds=30)
    assert _intent(pipe, intent.id).status == "confirmed"
    assert counter.functions.hits(601).call() == 1
    pipe.store.close()


class OnceFailingSigner(RawKeySigner):
    """A remote signer that answers "try again" once for the calldata it is told to."""

    def __init__(self, key: str, fail_data: str) -> None:
        super().__init__(key)
        self.fail_data = fail_data.lower()

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        if str(tx["data"]).lower() == self.fail_data:
            self.fail_data = ""
            raise Retry("signer busy")
        return super().sign_transaction(tx)


class DownSigner(RawKeySigner):
    """A remote signer that is down: every request fails (a timeout is an OSError)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.down = True

    def sign_transaction(self, tx: dict[str, Any]) -> bytes:
        if self.down:
            raise TimeoutError("signer unreachable")
        return super().sign_transaction(tx)


def _count_node_calls(pipe: Any) -> list[str]:
    calls: list[str] = []
    batch = pipe.node.batch

    def counted(c: list[tuple[str, list[Any]]]) -> list[Any]:
        calls.extend(method for method, _ in c)
        return batch(c)

    pipe.node.batch = counted
    return calls


def _backoff_over(pipe: Any) -> None:
    with pipe.store.transaction() as s:
        s.execute(update(TxIntent).values(next_try_at=utcnow()))


def test_local_steps__one_transaction__a_sign_failure_keeps_what_the_batch_got_to(
    tmp_path, anvil, counter
):
    """Build, Audit, Sign and Validate of a claimed batch commit together (one pass: validated,
    each step's row, one attempt per intent, nothing sent yet). A transient failure in Sign
    stops the batch where it got and commits that: the intent signed before it stays signed
    (validated next pass from its stored attempt), the failing one backs off at audited with
    its nonce, the rest wait audited; nothing is simulated twice and each effect lands once,
    in nonce order."""
    from tests.support.pipeline_helpers import SENDER_KEY

    specs = [hit_spec(counter, 650 + i) for i in range(3)]
    signer = OnceFailingSigner(SENDER_KEY, specs[1].calldata)
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address), signer=signer
    )
    pipe.reconcile_nonces()
    calls = _count_node_calls(pipe)
    ids = [pipe.submit(spec).id for spec in specs]
    nonce_before = anvil.w3.eth.get_transaction_count(SENDER)

    assert pipe._phase("pending") == 3
    assert [_intent(pipe, i).status for i in ids] == ["signed", "audited", "audited"]
    assert [_intent(pipe, i).nonce for i in ids] == [nonce_before + i for i in range(3)]
    assert [[a.status for a in _attempts(pipe, i)] for i in ids] == [["signed"], [], []]
    with pipe.store.sessions() as s:
        assert s.scalars(select(NonceAllocator)).one().next_nonce == nonce_before + 3
    failing = _intent(pipe, ids[1])
    assert failing.retries == 1 and "signer busy" in (failing.error or "")
    assert _steps(pipe, ids[1]) == [("submit", "ok"), ("build", "ok"), ("audit", "ok"),
                                    ("sign", "retry")]  # fmt: skip
    assert [s for s, _ in _steps(pipe, ids[0])] == ["submit", "build", "audit", "sign"]
    assert anvil.w3.eth.get_transaction_count(SENDER) == nonce_before  # nothing sent yet

    _backoff_over(pipe)
    pipe.run(until_idle=True, max_seconds=30)
    assert [_intent(pipe, i).status for i in ids] == ["confirmed"] * 3
    for i in ids:
        assert [s for s, _ in _steps(pipe, i)][-3:] == ["broadcast", "watch", "confirm"]
        assert "validate" in [s for s, _ in _steps(pipe, i)]
        assert _intent(pipe, i).current_attempt_id == _attempts(pipe, i)[0].id
    assert calls.count("eth_call") == 3  # each intent simulated once
    assert [counter.functions.hits(650 + i).call() for i in range(3)] == [1, 1, 1]
    pipe.store.close()


def test_local_steps__signer_down__built_once_then_waits_without_simulating_again(
    tmp_path, anvil, counter
):
    """A signer that is down for several passes: the batch is built and audited once, its
    nonces kept; each pass costs a signing attempt or two and no node call (a paid RPC plan is not
    spent on simulations nobody can send); once the signer is back every intent is confirmed
    once."""
    from tests.support.pipeline_helpers import SENDER_KEY

    signer = DownSigner(SENDER_KEY)
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address), signer=signer
    )
    pipe.reconcile_nonces()
    calls = _count_node_calls(pipe)
    ids = [pipe.submit(hit_spec(counter, 660 + i)).id for i in range(3)]
    for _ in range(4):
        pipe.run_once()
        _backoff_over(pipe)
    assert [_intent(pipe, i).status for i in ids] == ["audited"] * 3
    assert calls.count("eth_call") == 3 and calls.count("eth_estimateGas") == 3
    assert "eth_sendRawTransaction" not in calls
    # the first in line backs off each pass (the second once: in the first pass the audited
    # phase tried it after the first had backed off)
    assert [_intent(pipe, i).retries for i in ids] == [4, 1, 0]
    assert "TimeoutError: signer unreachable" in (_intent(pipe, ids[0]).error or "")

    signer.down = False
    pipe.run(until_idle=True, max_seconds=30)
    assert [_intent(pipe, i).status for i in ids] == ["confirmed"] * 3
    assert calls.count("eth_call") == 3
    assert [counter.functions.hits(660 + i).call() for i in range(3)] == [1, 1, 1]
    pipe.store.close()


def test_validate__stored_attempt_swapped_in_the_store__refused_and_not_broadcast(
    tmp_path, anvil, counter
):
    """Someone with write access to the store swaps a signed attempt's bytes for another
    transaction signed with the keeper's key (value 1 instead of 0) while the intent waits at
    signed. Validate reads the stored attempt and refuses it (the fields differ from what was
    built and audited, and the recorded hash no longer matches): the intent is invalid, its
    nonce goes to a filler, and the swapped transaction is never sent."""
    from tests.support.pipeline_helpers import SENDER_KEY

    specs = [hit_spec(counter, 670), hit_spec(counter, 671)]
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address),
        signer=OnceFailingSigner(SENDER_KEY, specs[1].calldata),
    )
    pipe.reconcile_nonces()
    ids = [pipe.submit(spec).id for spec in specs]
    pipe._phase("pending")  # the second one's signing fails: the first is committed signed
    first = _intent(pipe, ids[0])
    assert first.status == "signed"
    (attempt,) = _attempts(pipe, ids[0])
    swapped = RawKeySigner(SENDER_KEY).sign_transaction(
        {"type": 2, "chainId": 31337, "nonce": first.nonce, "to": first.target, "value": 1,
         "data": first.calldata, "gas": first.gas_limit, "maxFeePerGas": first.max_fee_per_gas,
         "maxPriorityFeePerGas": first.max_priority_fee_per_gas}
    )  # fmt: skip
    with pipe.store.transaction() as s:
        s.execute(
            update(TxAttempt).where(TxAttempt.id == attempt.id).values(raw_tx="0x" + swapped.hex())
        )
    _backoff_over(pipe)
    pipe.run(until_idle=True, max_seconds=30)

    done = _intent(pipe, ids[0])
    assert done.status == "invalid"
    assert "value: signed 1 != built 0" in (done.error or "")
    assert "recorded hash does not match the signed bytes" in (done.error or "")
    assert [a.status for a in _attempts(pipe, ids[0])] == ["invalid"]
    for tx_hash in (attempt.tx_hash, "0x" + keccak(swapped).hex()):  # neither was sent
        assert anvil.rpc("eth_getTransactionByHash", tx_hash) is None
    assert counter.functions.hits(670).call() == 0
    assert _intent(pipe, ids[1]).status == "confirmed"  # the filler took the nonce before it
    assert counter.functions.hits(671).call() == 1
    pipe.store.close()
