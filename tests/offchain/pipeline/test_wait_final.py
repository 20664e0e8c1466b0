"""Pipeline.wait_final: how an intent ended, as a type (no bot matches error text)."""

from __future__ import annotations

from dataclasses import replace

from eth_account import Account
from sqlalchemy import update

from keepers.store.models import TxIntent
from keepers.tx.outcome import Outcome, read_outcomes
from keepers.tx.pipeline import CHAINED_STEPS
from keepers.tx.signers import RawKeySigner
from tests.support.pipeline_helpers import SENDER_KEY, hit_spec, make_pipeline, make_settings


def _pipe(tmp_path, anvil, counter):
    return make_pipeline(make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address))


def test_wait_final__mined_ok__confirmed_with_its_tx(tmp_path, anvil, counter):
    pipe = _pipe(tmp_path, anvil, counter)
    intent = pipe.submit(hit_spec(counter, 7001))
    out = pipe.wait_final(intent.id, 30)
    assert out.kind is Outcome.CONFIRMED and out.ok and out.final
    receipt = anvil.w3.eth.get_transaction_receipt(out.tx_hash)
    assert receipt["status"] == 1 and receipt["blockNumber"] == out.block
    assert counter.functions.hits(7001).call() == 1
    pipe.store.close()


def test_wait_final__simulation_reverts__custom_error_decoded_not_text(tmp_path, anvil, counter):
    pipe = _pipe(tmp_path, anvil, counter)
    too_big = 10**9 + 11
    intent = pipe.submit(hit_spec(counter, too_big))
    out = pipe.wait_final(intent.id, 30)
    assert out.kind is Outcome.SIMULATION_REVERTED and out.final and not out.ok
    assert out.revert is not None and out.revert.name == "IdRejected"
    assert out.revert.args == (too_big, 10**9) and out.revert.arg_names == ("id", "limit")
    assert out.tx_hash is None  # nothing was signed
    pipe.store.close()


def test_wait_final__mined_but_reverted__reverted_with_its_tx(
    tmp_path, anvil, counter, monkeypatch
):
    pipe = _pipe(tmp_path, anvil, counter)
    intent = pipe.submit(hit_spec(counter, 7002))
    monkeypatch.setitem(CHAINED_STEPS, "pending", ())  # stop at built, before it is signed
    pipe._phase("pending")  # built: the simulation passed, gas estimated
    monkeypatch.undo()
    with pipe.store.transaction() as s:  # too little gas for the SSTOREs: out of gas on chain
        s.execute(update(TxIntent).where(TxIntent.id == intent.id).values(gas_limit=22_000))
    out = pipe.wait_final(intent.id, 30)
    assert out.kind is Outcome.REVERTED and out.final and not out.ok
    assert anvil.w3.eth.get_transaction_receipt(out.tx_hash)["status"] == 0
    assert counter.functions.hits(7002).call() == 0
    pipe.store.close()


def test_wait_final__audit_refuses__rejected_naming_the_rule(tmp_path, anvil, counter):
    pipe = _pipe(tmp_path, anvil, counter)
    denied = pipe.submit(
        replace(hit_spec(counter, 0, key="wf-denied"), calldata=counter.encode_abi("count"))
    )
    out = pipe.wait_final(denied.id, 30)
    assert out.kind is Outcome.REJECTED and out.rule == "call-not-allowed"
    assert out.final and out.tx_hash is None
    pipe.store.close()


class _TamperingSigner(RawKeySigner):
    def sign_transaction(self, tx):
        return super().sign_transaction({**tx, "value": tx["value"] + 1})


def test_wait_final__signed_tx_differs__invalid(tmp_path, anvil, counter):
    settings = make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address)
    pipe = make_pipeline(settings, signer=_TamperingSigner(SENDER_KEY))
    intent = pipe.submit(hit_spec(counter, 7003))
    out = pipe.wait_final(intent.id, 30)
    assert out.kind is Outcome.INVALID and out.final
    assert counter.functions.hits(7003).call() == 0
    pipe.store.close()


def test_wait_final__sender_without_gas__out_of_gas_funds_then_confirmed(tmp_path, anvil, counter):
    poor = RawKeySigner(Account.create().key)
    settings = make_settings(f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address)
    pipe = make_pipeline(settings, signer=poor)
    intent = pipe.submit(hit_spec(counter, 7004, sender=poor.address))
    out = pipe.wait_final(intent.id, 30)
    assert out.kind is Outcome.OUT_OF_GAS_FUNDS and not out.final  # not ended: it waits
    assert read_outcomes(pipe.store, [intent.id])[intent.id].kind is Outcome.OUT_OF_GAS_FUNDS
    anvil.rpc("anvil_setBalance", poor.address, hex(10**18))
    assert pipe.wait_final(intent.id, 30).kind is Outcome.CONFIRMED
    pipe.store.close()


def test_wait_final__not_final_in_time__timeout_with_status(tmp_path, anvil, counter):
    pipe = _pipe(tmp_path, anvil, counter)
    intent = pipe.submit(hit_spec(counter, 7005))
    out = pipe.wait_final(intent.id, 1, drive=lambda: 0)  # nobody drives the pipeline
    assert out.kind is Outcome.TIMEOUT and out.status == "pending" and not out.final
    assert read_outcomes(pipe.store, [intent.id]) == {}  # on its way: no outcome yet
    assert pipe.wait_final(intent.id, 30).kind is Outcome.CONFIRMED
    pipe.store.close()


def test_wait_final__another_keeper_uses_the_key__halted_not_raised(tmp_path, anvil, counter):
    a = make_pipeline(make_settings(f"sqlite:///{tmp_path}/a.db", anvil.url, counter.address))
    b = make_pipeline(make_settings(f"sqlite:///{tmp_path}/b.db", anvil.url, counter.address))
    a.submit(hit_spec(counter, 7006))
    a.run(until_idle=True, max_seconds=30)
    dup = b.submit(hit_spec(counter, 7006))
    out = b.wait_final(dup.id, 30)
    assert out.kind is Outcome.HALTED and out.halted is not None and not out.final
    assert "used by another sender" in str(out.halted)
    assert counter.functions.hits(7006).call() == 1  # not executed twice
    a.store.close()
    b.store.close()
