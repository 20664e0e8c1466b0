"""Pipeline steps against a standalone anvil: happy path, revert decoding, audit, validate."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

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

    from tests.support.pipeline_helpers import run_worker, worker_env

    env = worker_env(
        f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address, tmp_path, KEEPER_LOG_LEVEL="INFO"
    )
    out = run_worker(env, "--until-idle", timeout=60)
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


def test_local_steps__one_transaction__built_to_validated_or_nothing(tmp_path, anvil, counter):
    """Build, Audit, Sign and Validate of a claimed batch commit together: one pass leaves the
    batch validated with each step's row and one attempt per intent; a transient failure in
    Sign rolls the whole batch back to pending (no attempt, no nonce handed out), only the
    failing intent backs off, and the next pass takes the rest. Nothing is broadcast before
    the batch is committed validated."""
    from tests.support.pipeline_helpers import SENDER_KEY

    specs = [hit_spec(counter, 650 + i) for i in range(3)]
    signer = OnceFailingSigner(SENDER_KEY, specs[1].calldata)
    pipe = make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address), signer=signer
    )
    pipe.reconcile_nonces()
    ids = [pipe.submit(spec).id for spec in specs]
    nonce_before = anvil.w3.eth.get_transaction_count(SENDER)

    assert pipe._phase("pending") == 1  # the batch rolled back, the failing intent backs off
    assert [_intent(pipe, i).status for i in ids] == ["pending"] * 3
    assert [_attempts(pipe, i) for i in ids] == [[], [], []]
    with pipe.store.sessions() as s:
        alloc = s.scalars(select(NonceAllocator)).one()
        assert alloc.next_nonce == nonce_before  # the nonces built in the batch were not kept
    failing = _intent(pipe, ids[1])
    assert failing.retries == 1 and "signer busy" in (failing.error or "")
    assert _steps(pipe, ids[1])[-1] == ("sign", "retry")
    assert _steps(pipe, ids[0]) == [("submit", "ok")]

    assert pipe._phase("pending") == 2  # the other two, in one transaction
    for i in (ids[0], ids[2]):
        assert _intent(pipe, i).status == "validated"
        assert [s for s, _ in _steps(pipe, i)] == ["submit", "build", "audit", "sign", "validate"]
        assert [a.status for a in _attempts(pipe, i)] == ["validated"]
        assert _intent(pipe, i).current_attempt_id == _attempts(pipe, i)[0].id
    assert anvil.w3.eth.get_transaction_count(SENDER) == nonce_before  # nothing sent yet

    with pipe.store.transaction() as s:  # the failing intent's backoff is over
        s.execute(update(TxIntent).where(TxIntent.id == ids[1]).values(next_try_at=utcnow()))
    pipe.run(until_idle=True, max_seconds=30)
    assert [_intent(pipe, i).status for i in ids] == ["confirmed"] * 3
    assert [_intent(pipe, i).nonce for i in ids] == [
        nonce_before,
        nonce_before + 2,
        nonce_before + 1,
    ]
    assert [counter.functions.hits(650 + i).call() for i in range(3)] == [1, 1, 1]
    pipe.store.close()
