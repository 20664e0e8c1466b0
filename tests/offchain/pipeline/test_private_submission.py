"""Private submission (issue 62): the local relay stand-in's fields and failures, and the
pipeline sending pool trades through it: a drop re-signs the same nonce (no gap, one effect),
a restart or another replica resumes a transaction held at the relay, the public pool only
when the operator allows it (with the warning), and the node's pool never shows a held trade.

Its worker processes are forked from the tests' preloaded server (tests/support/worker_fork.py: the
worker's own main, a process of its own); the entry point `python -m keepers.tx.worker` itself runs
in tests/offchain/pipeline/test_worker_policy.py and in test_pipeline_crash.py's stray-crash and
SIGKILL tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import requests
from eth_account import Account
from eth_utils import keccak
from prometheus_client import REGISTRY
from sqlalchemy import select

from ballast_dev.local.anvil_local import free_port
from ballast_dev.local.relay_local import RelayLocal
from keepers.core.settings import ConfigError, load_settings
from keepers.runtime.metrics import StoreCollector
from keepers.store.models import StepLog, TxAttempt, TxIntent
from keepers.tx.relay import (
    POOL_SELECTORS,
    Relay,
    RelayState,
    is_private,
    private_lines,
    private_view,
)
from tests.support.pipeline_anvil import KEYS, Anvil, deploy
from tests.support.pipeline_helpers import (
    SENDER,
    hit_spec,
    make_pipeline,
    make_settings,
    worker_env,
)
from tests.support.txpool_watch import TxpoolWatch
from tests.support.worker_fork import fork_worker

OTHER_KEY = KEYS[3]  # a plain sender for the stand-in's own tests (not the pipeline's)


@pytest.fixture
def relay(anvil: Anvil) -> Iterator[RelayLocal]:
    r = RelayLocal(anvil.url, drop_blocks=3).start()
    yield r
    r.stop()


def _rpc(url: str, method: str, *params: Any) -> dict[str, Any]:
    body = {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)}
    return requests.post(url, json=body, timeout=10).json()  # type: ignore[no-any-return]


def _status(relay: RelayLocal, tx_hash: str) -> dict[str, Any]:
    return requests.get(f"{relay.url}/tx/{tx_hash}", timeout=10).json()  # type: ignore[no-any-return]


def _signed(anvil: Anvil, nonce: int | None = None, **over: Any) -> tuple[str, str]:
    acct = Account.from_key(OTHER_KEY)
    if nonce is None:
        nonce = anvil.w3.eth.get_transaction_count(acct.address)
    tx = {
        "type": 2, "chainId": 31337, "nonce": nonce, "to": acct.address, "value": 1,
        "data": b"", "gas": 50_000, "maxFeePerGas": 10**11, "maxPriorityFeePerGas": 10**9,
    }  # fmt: skip
    tx.update(over)
    raw = acct.sign_transaction(tx).raw_transaction.to_0x_hex()
    return raw, "0x" + keccak(bytes.fromhex(raw[2:])).hex()


def _pool(anvil: Anvil) -> set[str]:
    """Every hash the node's public pool lists (pending and queued)."""
    content = anvil.rpc("txpool_content")
    return {
        tx["hash"].lower()
        for part in ("pending", "queued")
        for by_nonce in (content.get(part) or {}).values()
        for tx in by_nonce.values()
    }


def _until(check: Any, timeout: float = 10.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = check()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def _metric(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


# ===================================================================================== stand-in


def test_relay_local__held_transaction__hidden_then_included_with_protect_fields(anvil, relay):
    relay.withhold = True
    nonce = anvil.w3.eth.get_transaction_count(Account.from_key(OTHER_KEY).address)
    raw, tx_hash = _signed(anvil)
    head = anvil.w3.eth.block_number
    assert _rpc(relay.url, "eth_sendRawTransaction", raw)["result"] == tx_hash
    held = _status(relay, tx_hash)
    assert held["status"] == "PENDING"
    assert held["hash"] == tx_hash
    assert held["maxBlockNumber"] == head + 3
    # Protect's privacy rule: the transaction fields are empty until INCLUDED
    assert set(held["transaction"]) == {
        "from", "to", "gasLimit", "maxFeePerGas", "maxPriorityFeePerGas", "nonce", "value",
    }  # fmt: skip
    assert all(v == "" for v in held["transaction"].values())
    for key in ("fastMode", "seenInMempool", "simError", "revertReason", "isRevert"):
        assert key in held
    time.sleep(0.3)  # a few builder rounds
    assert tx_hash not in _pool(anvil)
    assert anvil.w3.eth.get_transaction_count(Account.from_key(OTHER_KEY).address) == nonce
    assert anvil.rpc("eth_getTransactionByHash", tx_hash) is None
    # the same bytes again: already held, same answer
    assert _rpc(relay.url, "eth_sendRawTransaction", raw)["result"] == tx_hash

    relay.withhold = False
    done = _until(lambda: (s := _status(relay, tx_hash))["status"] == "INCLUDED" and s)
    receipt = anvil.w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1
    assert done["transaction"]["from"] == Account.from_key(OTHER_KEY).address
    assert done["transaction"]["nonce"] != ""


def test_relay_local__malformed_requests__json_rpc_errors_as_rpc_endpoint(anvil, relay):
    assert _rpc(relay.url, "eth_sendRawTransaction")["error"] == {
        "code": -32602, "message": "empty params for eth_sendRawTransaction",
    }  # fmt: skip
    err = _rpc(relay.url, "eth_sendRawTransaction", "0x1234")["error"]
    assert err == {"code": -32600, "message": "reading transaction object failed - rawTx: 0x1234"}
    high, _ = _signed(anvil, nonce=10**9)
    assert _rpc(relay.url, "eth_sendRawTransaction", high)["error"] == {
        "code": -32600, "message": "tx rejected - nonce too high",
    }  # fmt: skip
    # a nonce the chain has passed: "nonce too low" (the keeper reads it as NonceTooLow)
    raw, tx_hash = _signed(anvil)
    anvil.w3.eth.send_raw_transaction(raw)
    _until(lambda: anvil.rpc("eth_getTransactionReceipt", tx_hash))
    stale, _ = _signed(anvil, nonce=0, value=2)
    assert _rpc(relay.url, "eth_sendRawTransaction", stale)["error"]["message"] == "nonce too low"
    # a hash it never received
    unknown = "0x" + "ab" * 32
    assert _status(relay, unknown)["status"] == "UNKNOWN"
    # anything else is the node's (as rpc-endpoint proxies it)
    assert _rpc(relay.url, "eth_chainId")["result"] == hex(31337)


def test_relay_local__not_included_for_drop_blocks__failed_never_in_public_pool(anvil, relay):
    relay.withhold = True  # a builder that never wins a block
    raw, tx_hash = _signed(anvil)
    assert _rpc(relay.url, "eth_sendRawTransaction", raw)["result"] == tx_hash
    anvil.mine(2)
    time.sleep(0.2)
    assert _status(relay, tx_hash)["status"] == "PENDING"  # within its 3 blocks
    anvil.mine(1)
    assert _until(lambda: _status(relay, tx_hash)["status"] == "FAILED")
    assert anvil.rpc("eth_getTransactionByHash", tx_hash) is None
    assert tx_hash not in _pool(anvil)


def test_relay_local__reverting_transaction__not_included_sim_error_then_failed(anvil, relay):
    counter = deploy(anvil.w3, "TestCounter")
    data = counter.encode_abi("hit", args=[10**9])  # IdRejected: reverts
    raw, tx_hash = _signed(anvil, to=counter.address, data=data, value=0, gas=100_000)
    assert _rpc(relay.url, "eth_sendRawTransaction", raw)["result"] == tx_hash
    st = _until(lambda: (s := _status(relay, tx_hash))["simError"] and s)
    assert st["status"] == "PENDING"
    anvil.mine(3)
    assert _until(lambda: _status(relay, tx_hash)["status"] == "FAILED")
    assert anvil.rpc("eth_getTransactionByHash", tx_hash) is None


def test_relay_local__cancel_private_transaction__cancelled(anvil, relay):
    relay.withhold = True
    raw, tx_hash = _signed(anvil)
    _rpc(relay.url, "eth_sendRawTransaction", raw)
    assert _rpc(relay.url, "eth_cancelPrivateTransaction", {"txHash": tx_hash})["result"] is True
    assert _status(relay, tx_hash)["status"] == "CANCELLED"
    relay.withhold = False
    time.sleep(0.3)
    assert anvil.rpc("eth_getTransactionByHash", tx_hash) is None


# ===================================================================================== settings


def test_settings__private_endpoints__comma_or_json_and_errors_name_field_and_value():
    s = load_settings(
        env={
            "KEEPER_PRIVATE_RPC_URLS": "https://rpc.flashbots.net, https://rpc.mevblocker.io",
            "KEEPER_PRIVATE_STATUS_URLS": '["https://protect.flashbots.net/tx/", '
            '"https://rpc.mevblocker.io/tx/"]',
            "KEEPER_PRIVATE_SELECTORS": "0xAABBCCDD",
            "KEEPER_PUBLIC_MEMPOOL_FALLBACK": "false",
        }
    )
    assert s.private_rpc_urls == ["https://rpc.flashbots.net", "https://rpc.mevblocker.io"]
    assert s.private_selectors == ["0xaabbccdd"]
    assert s.public_fallback_allowed(1) is False and s.public_fallback_allowed(31337) is False
    default = load_settings(env={})
    assert default.public_fallback_allowed(31337) is True  # the local chain only
    assert default.public_fallback_allowed(1) is False
    for env, named in (
        ({"KEEPER_PRIVATE_RPC_URLS": "ws://relay"}, "KEEPER_PRIVATE_RPC_URLS='ws://relay'"),
        ({"KEEPER_PRIVATE_SELECTORS": "0x12"}, "KEEPER_PRIVATE_SELECTORS='0x12'"),
        ({"KEEPER_PUBLIC_MEMPOOL_FALLBACK": "sometimes"},
         "KEEPER_PUBLIC_MEMPOOL_FALLBACK='sometimes'"),
        ({"KEEPER_PRIVATE_RPC_URLS": "https://a", "KEEPER_PRIVATE_STATUS_URLS": "https://s,https://t"},
         "KEEPER_PRIVATE_STATUS_URLS='https://s,https://t'"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as err:
            load_settings(env=env)
        assert named in str(err.value)


def test_is_private__pool_trades_marked_listed_and_nothing_else():
    s = load_settings(env={"KEEPER_PRIVATE_SELECTORS": "0x11223344", "KEEPER_PRIVATE_ROLES": "ops"})
    for sel in POOL_SELECTORS:  # purchaseAsset, redeemAsset: whoever submits them
        assert is_private(s, "anyone", sel + "00" * 96, {})
    assert is_private(s, "fund", "0xdeadbeef", {"private": 1})  # a PlanExecutor pool leg
    assert is_private(s, "x", "0x11223344", {})
    assert is_private(s, "ops", "0xdeadbeef", {})
    assert not is_private(s, "fund", "0xdeadbeef", {})


# ===================================================================================== pipeline


def _private_settings(tmp_path: Any, anvil: Anvil, counter: Any, relay_url: str | None, **kw: Any):
    urls = [relay_url] if relay_url else []
    return make_settings(
        f"sqlite:///{tmp_path}/k.db", anvil.url, counter.address,
        private_rpc_urls=urls, private_roles=["keeper"], **kw,
    )  # fmt: skip


def _attempts(pipe: Any, intent_id: int) -> list[TxAttempt]:
    with pipe.store.sessions() as s:
        q = select(TxAttempt).where(TxAttempt.intent_id == intent_id).order_by(TxAttempt.id)
        return list(s.scalars(q))


def _intent(pipe: Any, intent_id: int) -> TxIntent:
    with pipe.store.sessions() as s:
        it = s.get(TxIntent, intent_id)
        assert it is not None
        return it


def _outcomes(pipe: Any, intent_id: int) -> list[str]:
    with pipe.store.sessions() as s:
        q = select(StepLog).where(StepLog.intent_id == intent_id).order_by(StepLog.id)
        return [r.outcome for r in s.scalars(q)]


def _drive_until(pipe: Any, intent_id: int, status: str, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while _intent(pipe, intent_id).status != status:
        assert time.monotonic() < end, f"intent stuck in {_intent(pipe, intent_id).status}"
        pipe.run_once()
        time.sleep(0.05)


def test_pipeline_private__pool_trade__sent_to_relay_not_node_then_confirmed(
    tmp_path, anvil, counter, relay
):
    pipe = make_pipeline(_private_settings(tmp_path, anvil, counter, relay.url))
    sent_before = _metric("keeper_private_sent_total")
    relay.withhold = True
    intent = pipe.submit(hit_spec(counter, 6201))
    _drive_until(pipe, intent.id, "broadcast")
    (attempt,) = _attempts(pipe, intent.id)
    assert attempt.route == "private"
    assert _status(relay, attempt.tx_hash)["status"] == "PENDING"
    assert attempt.tx_hash not in _pool(anvil)
    assert anvil.rpc("eth_getTransactionByHash", attempt.tx_hash) is None
    relay.withhold = False
    assert pipe.run(until_idle=True, max_seconds=30)
    assert _intent(pipe, intent.id).status == "confirmed"
    assert "sent-private" in _outcomes(pipe, intent.id)
    assert counter.functions.hits(6201).call() == 1
    assert _metric("keeper_private_sent_total") == sent_before + 1


def test_pipeline_private__relay_drops__same_nonce_resigned_no_gap_one_effect(
    tmp_path, anvil, counter, relay
):
    pipe = make_pipeline(_private_settings(tmp_path, anvil, counter, relay.url))
    drops = _metric("keeper_private_drops_total", {"status": "FAILED"})
    relay.withhold = True
    first = pipe.submit(hit_spec(counter, 6202))
    second = pipe.submit(hit_spec(counter, 6203))  # the next nonce: waits behind the first
    _drive_until(pipe, second.id, "broadcast")
    nonce = _intent(pipe, first.id).nonce
    assert _intent(pipe, second.id).nonce == nonce + 1
    anvil.mine(3)  # the relay's window passes with no builder including them
    dropped = _attempts(pipe, first.id)[0].tx_hash
    assert _until(lambda: _status(relay, dropped)["status"] == "FAILED")
    # watch: dropped -> re-signed -> sent again
    _until(lambda: pipe.run_once() is not None and len(_attempts(pipe, first.id)) == 2
           and _intent(pipe, first.id).status == "broadcast")  # fmt: skip
    attempts = _attempts(pipe, first.id)
    assert [a.status for a in attempts] == ["relay-dropped", "broadcast"]
    assert {a.nonce for a in attempts} == {nonce}  # the nonce re-used, never given up
    assert attempts[1].tx_hash != attempts[0].tx_hash  # fees bumped: a new signature
    assert attempts[1].max_fee_per_gas > attempts[0].max_fee_per_gas
    assert "relay-dropped" in _outcomes(pipe, first.id)
    # both were held past the window: both dropped, both re-signed at their own nonce
    assert [a.status for a in _attempts(pipe, second.id)] == ["relay-dropped", "broadcast"]
    assert {a.nonce for a in _attempts(pipe, second.id)} == {nonce + 1}
    assert _metric("keeper_private_drops_total", {"status": "FAILED"}) == drops + 2
    # what `keeper status` and the metrics show meanwhile: both at the relay, two drops
    view = private_view(pipe.store, pipe.settings)
    assert [p["intent"] for p in view["pending"]] == [first.id, second.id]
    assert view["drops_24h"] == 2
    assert view["last_drop"]["relay_status"] == "FAILED"
    assert view["last_drop"]["intent"] == second.id
    text = "\n".join(private_lines(view))
    assert "pending at relay 2  drops (24h) 2" in text
    assert "127.0.0.1" in text
    gauge = {
        sample.name: sample.value
        for family in StoreCollector(pipe.store).collect()
        for sample in family.samples
    }
    assert gauge["keeper_private_pending"] == 2
    relay.withhold = False
    assert pipe.run(until_idle=True, max_seconds=30)
    assert _intent(pipe, first.id).status == "confirmed"
    assert _intent(pipe, second.id).status == "confirmed"
    # one effect each, the dropped bytes never on chain, no gap: the chain's nonce is ours + 2
    assert counter.functions.hits(6202).call() == 1
    assert counter.functions.hits(6203).call() == 1
    assert anvil.rpc("eth_getTransactionByHash", dropped) is None
    assert anvil.w3.eth.get_transaction_count(SENDER) == nonce + 2


@pytest.mark.parametrize("how", ["lost", "cancelled"])
def test_pipeline_private__relay_lost_or_cancelled__treated_as_dropped_resigned_once(
    tmp_path, anvil, counter, relay, how
):
    """UNKNOWN (the relay lost it: restarted, or never received it) counts as a drop after
    KEEPER_PRIVATE_UNKNOWN_AFTER_BLOCKS, not before; CANCELLED at once."""
    pipe = make_pipeline(
        _private_settings(tmp_path, anvil, counter, relay.url, private_unknown_after_blocks=2)
    )
    label = "UNKNOWN" if how == "lost" else "CANCELLED"
    drops = _metric("keeper_private_drops_total", {"status": label})
    relay.withhold = True
    intent = pipe.submit(hit_spec(counter, 6230 if how == "lost" else 6231))
    _drive_until(pipe, intent.id, "broadcast")
    (first,) = _attempts(pipe, intent.id)
    if how == "lost":
        relay.held.clear()  # a relay restarted: it no longer knows the hash
        anvil.mine(1)
        for _ in range(3):
            pipe.run_once()
        assert len(_attempts(pipe, intent.id)) == 1  # 1 block of UNKNOWN: still waiting
        anvil.mine(1)
    else:
        assert _rpc(relay.url, "eth_cancelPrivateTransaction", {"txHash": first.tx_hash})["result"]
        anvil.mine(1)
    relay.withhold = False
    assert pipe.run(until_idle=True, max_seconds=30)
    attempts = _attempts(pipe, intent.id)
    assert [a.status for a in attempts] == ["relay-dropped", "mined"]
    assert attempts[0].nonce == attempts[1].nonce
    assert _metric("keeper_private_drops_total", {"status": label}) == drops + 1
    assert counter.functions.hits(6230 if how == "lost" else 6231).call() == 1


def test_pipeline_private__relay_says_failed_but_included__recorded_mined_never_resent(
    tmp_path, anvil, counter, relay
):
    """The guard: a drop is only acted on while the chain shows the nonce unused and none of
    the intent's hashes included (here the relay's answer is wrong: the chain decides)."""
    pipe = make_pipeline(_private_settings(tmp_path, anvil, counter, relay.url))
    relay.withhold = True
    intent = pipe.submit(hit_spec(counter, 6204))
    _drive_until(pipe, intent.id, "broadcast")
    (attempt,) = _attempts(pipe, intent.id)
    anvil.w3.eth.send_raw_transaction(attempt.raw_tx)  # included by someone else's path
    relay.held[attempt.tx_hash].status = "FAILED"
    assert pipe.run(until_idle=True, max_seconds=30)
    assert _intent(pipe, intent.id).status == "confirmed"
    assert [a.status for a in _attempts(pipe, intent.id)] == ["mined"]
    assert "relay-dropped" not in _outcomes(pipe, intent.id)
    assert counter.functions.hits(6204).call() == 1


def test_pipeline_private__restart_while_held__resumes_waiting_not_bumped(
    tmp_path, anvil, counter, relay
):
    settings = _private_settings(tmp_path, anvil, counter, relay.url)
    pipe = make_pipeline(settings)
    relay.withhold = True
    intent = pipe.submit(hit_spec(counter, 6205))
    _drive_until(pipe, intent.id, "broadcast")
    pipe.store.close()  # the keeper stops with its trade held at the relay
    anvil.mine(2)  # blocks pass (fewer than the relay's window)
    again = make_pipeline(settings)  # a new process on the same store
    for _ in range(3):
        again.run_once()
    assert [a.status for a in _attempts(again, intent.id)] == ["broadcast"]  # no re-send
    relay.withhold = False
    assert again.run(until_idle=True, max_seconds=30)
    assert _intent(again, intent.id).status == "confirmed"
    assert len(_attempts(again, intent.id)) == 1
    assert counter.functions.hits(6205).call() == 1


def test_pipeline_private__dropped_while_down__replica_takes_over_and_resigns_once(
    tmp_path, anvil, counter, relay
):
    settings = _private_settings(tmp_path, anvil, counter, relay.url)
    leader = make_pipeline(settings, exclusive=False)
    relay.withhold = True
    intent = leader.submit(hit_spec(counter, 6206)).id
    _drive_until(leader, intent, "broadcast")
    nonce = _intent(leader, intent).nonce
    # the leader dies (no clean stop); the relay drops the trade meanwhile
    anvil.mine(3)
    held = _attempts(leader, intent)[0].tx_hash
    assert _until(lambda: _status(relay, held)["status"] == "FAILED")
    replica = make_pipeline(settings, exclusive=False)
    replica.worker_id = "replica-b"
    relay.withhold = False
    assert replica.run(until_idle=True, max_seconds=30)
    attempts = _attempts(replica, intent)
    assert [a.status for a in attempts] == ["relay-dropped", "mined"]
    assert {a.nonce for a in attempts} == {nonce}
    assert counter.functions.hits(6206).call() == 1
    with replica.store.sessions() as s:
        workers = {r.worker for r in s.scalars(select(StepLog).where(StepLog.intent_id == intent))}
    assert "replica-b" in workers


def test_worker_private__process_restarted_while_held__second_process_finishes_once(
    tmp_path, anvil, counter, relay
):
    """Real processes: a worker sends a pool trade to the relay and stops (its time limit)
    with the trade held; a second worker process on the same store follows it through the
    relay's status API to its inclusion, without sending it again."""
    db = f"sqlite:///{tmp_path}/k.db"
    env = worker_env(
        db, anvil.url, counter.address, tmp_path,
        KEEPER_PRIVATE_RPC_URLS=relay.url, KEEPER_PRIVATE_ROLES="keeper",
        KEEPER_PUBLIC_MEMPOOL_FALLBACK="false",
    )  # fmt: skip
    pipe = make_pipeline(make_settings(db, anvil.url, counter.address), exclusive=False)
    intent = pipe.submit(hit_spec(counter, 6210))
    pipe.store.close()
    relay.withhold = True
    # 2 s: a forked worker's pass sends at once (test_worker_until_idle.py's time limit with a
    # broadcast in flight is 2 s too)
    first = fork_worker(env, "--max-seconds", "2")
    assert first.returncode == 0, first.stderr
    again = make_pipeline(make_settings(db, anvil.url, counter.address), exclusive=False)
    (attempt,) = _attempts(again, intent.id)
    assert _intent(again, intent.id).status == "broadcast" and attempt.route == "private"
    assert _status(relay, attempt.tx_hash)["status"] == "PENDING"
    again.store.close()
    relay.withhold = False
    second = fork_worker(env, "--until-idle", "--max-seconds", "60")
    assert second.returncode == 0, second.stderr
    done = make_pipeline(make_settings(db, anvil.url, counter.address), exclusive=False)
    assert _intent(done, intent.id).status == "confirmed"
    assert [a.tx_hash for a in _attempts(done, intent.id)] == [attempt.tx_hash]
    assert counter.functions.hits(6210).call() == 1


def test_pipeline_private__no_relay_and_fallback_off__refused_nothing_sent(
    tmp_path, anvil, counter
):
    pipe = make_pipeline(
        _private_settings(tmp_path, anvil, counter, None, public_mempool_fallback=False)
    )
    before = anvil.w3.eth.get_transaction_count(SENDER)
    intent = pipe.submit(hit_spec(counter, 6207))
    for _ in range(4):
        pipe.run_once()
    it = _intent(pipe, intent.id)
    assert it.status == "validated"
    assert "KEEPER_PRIVATE_RPC_URLS" in (it.error or "")
    assert "KEEPER_PUBLIC_MEMPOOL_FALLBACK" in (it.error or "")
    assert anvil.w3.eth.get_transaction_count(SENDER) == before
    assert _pool(anvil) == set()
    assert counter.functions.hits(6207).call() == 0


def test_pipeline_private__fallback_allowed__public_with_warning_and_metric(
    tmp_path, anvil, counter, capsys
):
    before = _metric("keeper_private_fallback_total", {"reason": "no_relay"})
    pipe = make_pipeline(
        _private_settings(tmp_path, anvil, counter, None, public_mempool_fallback=True)
    )
    intent = pipe.submit(hit_spec(counter, 6208))
    assert pipe.run(until_idle=True, max_seconds=30)
    assert _intent(pipe, intent.id).status == "confirmed"
    assert [a.route for a in _attempts(pipe, intent.id)] == ["public"]
    assert _metric("keeper_private_fallback_total", {"reason": "no_relay"}) == before + 1
    out = capsys.readouterr()
    assert "private.public_fallback" in out.out + out.err


def test_pipeline_private__relay_unreachable__retried_or_public_only_when_allowed(
    tmp_path, anvil, counter
):
    dead = f"http://127.0.0.1:{free_port()}"
    refused = make_pipeline(
        _private_settings(tmp_path, anvil, counter, dead, public_mempool_fallback=False)
    )
    intent = refused.submit(hit_spec(counter, 6209))
    for _ in range(3):
        refused.run_once()
    it = _intent(refused, intent.id)
    assert it.status == "validated" and "unreachable" in (it.error or "")
    assert counter.functions.hits(6209).call() == 0
    refused.store.close()

    before = _metric("keeper_private_fallback_total", {"reason": "relay_unreachable"})
    allowed = make_pipeline(
        _private_settings(tmp_path, anvil, counter, dead, public_mempool_fallback=True)
    )
    assert allowed.run(until_idle=True, max_seconds=30)
    assert _intent(allowed, intent.id).status == "confirmed"
    assert _metric("keeper_private_fallback_total", {"reason": "relay_unreachable"}) == before + 1


def test_relay_client__status_combines_endpoints_and_unreachable_raises(anvil, relay):
    raw, tx_hash = _signed(anvil)
    relay.withhold = True
    dead = f"http://127.0.0.1:{free_port()}"
    client = Relay([dead, relay.url])
    sent = client.send(raw)
    assert len(sent.accepted) == 1 and len(sent.errors) == 1
    assert client.status(tx_hash) == RelayState.PENDING
    with pytest.raises(Exception, match="unreachable"):
        Relay([dead]).status(tx_hash)


# ============================================================ the public pool never shows it


def test_pipeline_private__interval_mining__txpool_never_shows_a_held_trade(tmp_path):
    """An interval-mining chain (a block a second, the pool ordered by fee) with the relay as
    its builder: a poller reads the node's txpool_content every 50 ms during the run; the
    private trades never appear in it, the public one does (so the poller can see)."""
    node = Anvil("--block-time", "1")
    relay = RelayLocal(node.url, mining="relay", block_time=1.0).start()
    try:
        counter = deploy(node.w3, "TestCounter")
        settings = make_settings(
            f"sqlite:///{tmp_path}/k.db", node.url, counter.address,
            private_rpc_urls=[relay.url],
        )  # fmt: skip
        pipe = make_pipeline(settings)
        watch = TxpoolWatch(node.url).start()
        private = [
            pipe.submit(replace(hit_spec(counter, 6300 + i), fee_policy={"private": 1}))
            for i in range(3)
        ]
        public = pipe.submit(hit_spec(counter, 6399))
        try:
            relay.paused = True  # no block for now: what is in the pool stays there
            everyone = [*private, public]
            _until(lambda: pipe.run_once() is not None and all(
                _intent(pipe, it.id).status == "broadcast" for it in everyone))  # fmt: skip
            public_hashes = {a.tx_hash for a in _attempts(pipe, public.id)}
            _until(lambda: watch.seen & public_hashes)  # the poller sees the public pool
            # and keeps polling while the relay holds the trades (a fast run ended before the
            # sixth poll: the hold must be watched, not only the hand-over)
            held_polls = watch.polls + 6
            _until(lambda: watch.polls >= held_polls)
            relay.paused = False
            assert pipe.run(until_idle=True, max_seconds=60)
        finally:
            watch.stop()
        private_hashes = {a.tx_hash for it in private for a in _attempts(pipe, it.id)}
        assert all(_intent(pipe, it.id).status == "confirmed" for it in private)
        assert all(a.route == "private" for it in private for a in _attempts(pipe, it.id))
        assert not watch.errors, watch.errors
        assert watch.polls > 5
        # a sighting is a leak when the poll was answered before the relay handed the trade to the
        # node
        leaked = watch.leaks({h: relay.held[h].released_at for h in private_hashes})
        assert not leaked, f"a held trade was in the public pool: {leaked}"
        assert watch.seen & public_hashes, "the poller never saw the public transaction"
        assert relay.blocks_built > 0
    finally:
        relay.stop()
        node.stop()


def test_pipeline_private__two_replicas_on_postgres__each_drop_resigned_once(
    tmp_path, anvil, counter, relay, postgres
):
    """Replicas on one PostgreSQL store (claims with SKIP LOCKED): the leader sends three pool
    trades and dies with them held; the relay drops them; two replicas then race over them.
    Each drop is re-signed exactly once, at its own nonce, and each trade lands once."""
    url = postgres.fresh_database()
    settings = make_settings(
        url, anvil.url, counter.address, private_rpc_urls=[relay.url], private_roles=["keeper"]
    )
    leader = make_pipeline(settings, exclusive=False)
    relay.withhold = True
    ids = [leader.submit(hit_spec(counter, 6220 + i)).id for i in range(3)]
    for i in ids:
        _drive_until(leader, i, "broadcast")
    nonces = {i: _intent(leader, i).nonce for i in ids}
    anvil.mine(3)
    held = [_attempts(leader, i)[0].tx_hash for i in ids]
    assert _until(lambda: all(_status(relay, h)["status"] == "FAILED" for h in held))
    replicas = [make_pipeline(settings, exclusive=False) for _ in range(2)]
    for n, r in enumerate(replicas):
        r.worker_id = f"replica-{n}"
    relay.withhold = False
    errors: list[BaseException] = []

    def work(p: Any) -> None:
        try:
            p.run(until_idle=True, max_seconds=60)
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    threads = [threading.Thread(target=work, args=(r,)) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    for i in ids:
        attempts = _attempts(replicas[0], i)
        assert [a.status for a in attempts] == ["relay-dropped", "mined"], (i, attempts)
        assert {a.nonce for a in attempts} == {nonces[i]}
        assert _intent(replicas[0], i).status == "confirmed"
        assert _outcomes(replicas[0], i).count("relay-dropped") == 1
    assert [counter.functions.hits(6220 + i).call() for i in range(3)] == [1, 1, 1]
    assert anvil.w3.eth.get_transaction_count(SENDER) == max(nonces.values()) + 1
