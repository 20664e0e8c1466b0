"""Three keeper replicas against a real PostgreSQL server: every intent executed exactly once.

The server is a throwaway cluster started by the test itself (see pg.py); the test is skipped,
with the reason, only where PostgreSQL cannot be installed or started.

Each test gets its own database AND its own anvil: every test signs with the same key
(pipeline_helpers.SENDER), so a test that left transactions in a shared node's pool (a run cut
short) would hand the next test a chain whose nonce moves past what the next test's fresh store
allocated, and the next test would halt with SignerConflict (correctly: that is what a second
sender with the key looks like). A replica run also checks that it left the node's pool empty.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from eth_utils import to_checksum_address
from sqlalchemy import select

from keepers.registry import declarations
from keepers.store.db import Store
from keepers.store.models import NonceAllocator, StepLog, TxIntent
from keepers.tx.node import Node
from keepers.tx.pipeline import IntentSpec, submit_intent, submit_intents
from tests.support.pg import ThrowawayPostgres
from tests.support.pipeline_anvil import ARTIFACTS, Anvil, deploy
from tests.support.pipeline_helpers import (
    ROOT,
    SENDER,
    assert_pool_drained,
    hit_spec,
    run_replicas,
    worker_env,
)

_ids = itertools.count(50_000)


@pytest.fixture
def anvil() -> Iterator[Anvil]:
    """A chain per test (this module's tests all sign with SENDER: see the module doc).

    It mines on every transaction AND every second, as a real chain keeps making blocks:
    anvil's automine alone can leave transactions that reached it out of nonce order in its
    pool for good (foundry-rs/foundry#10122). CI saw that once: 297 intents the node had
    accepted, unmined for the whole 10-minute limit, with the head standing still. The
    keeper's own answer to a standing head (replacement after ``stall_replace_after_s``) is
    tested on a chain that never mines (test_worker_until_idle.py)."""
    node = Anvil("--mixed-mining", "--block-time", "1")
    yield node
    node.stop()


@pytest.fixture
def counter(anvil: Anvil) -> Any:
    return deploy(anvil.w3, "TestCounter")


@pytest.fixture
def pg_url(postgres: ThrowawayPostgres) -> str:
    """A fresh database per test."""
    return postgres.fresh_database()


def _replicas(tmp_path: Any, anvil: Any, counter: Any, url: str, n_intents: int) -> None:
    ids = [next(_ids) for _ in range(n_intents)]
    store = Store(url)
    submit_intents(store, [hit_spec(counter, i) for i in ids])  # one transaction
    count_before = counter.functions.count().call()
    # small batches so that the replicas really contend for the same rows
    env = worker_env(url, anvil.url, counter.address, tmp_path, KEEPER_BATCH_SIZE="8")
    run_replicas(env, ROOT, tmp_path)

    with store.sessions() as s:
        statuses = Counter(s.scalars(select(TxIntent.status)).all())
        steps = s.execute(select(StepLog.intent_id, StepLog.step, StepLog.worker)).all()
        nonces = s.scalars(select(TxIntent.nonce)).all()
        allocated = s.scalar(select(NonceAllocator.next_nonce))
    store.close()
    assert statuses == {"confirmed": n_intents}
    assert_pool_drained(anvil, SENDER, allocated)
    assert counter.functions.count().call() == count_before + n_intents
    reads = [
        ("eth_call", [{"to": counter.address, "data": _hits(counter, i)}, "latest"]) for i in ids
    ]
    assert [int(r, 16) for r in Node(anvil.url).batch(reads)] == [1] * n_intents
    # one Build (one nonce) and one final Confirm per intent, by whichever replica claimed it;
    # Sign/Broadcast may repeat for a replacement at the same nonce
    per_step = Counter((i, st) for i, st, _ in steps if st in ("build", "confirm"))
    assert set(per_step.values()) == {1}
    assert len(set(nonces)) == n_intents
    workers = Counter(w for _, st, w in steps if w is not None)
    assert len(workers) >= 2, f"work was not shared: {workers}"


def _hits(counter: Any, ident: int) -> str:
    return str(counter.encode_abi("hits", args=[ident]))


def test_replicas__three_workers_500_intents__each_exactly_once(tmp_path, anvil, counter, pg_url):
    """About 15 s on a quiet machine, so it stays in the normal suite (no smaller stand-in
    needed); the workers' time limit is generous (run_replicas) for a loaded one."""
    _replicas(tmp_path, anvil, counter, pg_url, 500)


def test_audit_on_postgres__daily_notional_cap__enforced_under_advisory_lock(
    tmp_path, anvil, counter, pg_url
):
    from tests.support.pipeline_helpers import make_pipeline, make_settings

    settings = make_settings(
        pg_url, anvil.url, counter.address, role={"max_value_wei": 1000, "daily_notional_cap": 1500}
    )
    pipe = make_pipeline(settings)
    a, b = (next(_ids) for _ in range(2))
    first = pipe.submit(hit_spec(counter, a, value=1000))
    over = pipe.submit(hit_spec(counter, b, value=600))
    assert pipe.run(until_idle=True, max_seconds=120), pipe.in_flight()
    with pipe.store.sessions() as s:
        assert s.get(TxIntent, first.id).status == "confirmed"  # type: ignore[union-attr]
        assert "daily-notional-cap" in (s.get(TxIntent, over.id).error or "")  # type: ignore[union-attr]
    pipe.store.close()


# --- issue 12: three replicas, every bot's role, one policy built from the declared calls ----

# checksummed (the cross-chain config refuses a mis-cased address, as EIP-55 asks)
_EOA = {
    n: to_checksum_address("0x" + f"{i:02x}" * 20)
    for i, n in enumerate(("ctl", "sch", "sup", "reb", "tok"), 0xA1)
}


def _bots_env(tmp_path: Any) -> dict[str, str]:
    """The four bots configured on plain addresses (no code on anvil: every call succeeds, so
    the audit and the exactly-once accounting are what the test sees)."""
    record = tmp_path / "deployment.json"
    record.write_text(
        json.dumps(
            {
                "controller": _EOA["ctl"],
                "lens": _EOA["sch"],
                "vault": _EOA["sup"],
                "cash": _EOA["tok"],
            }
        )
    )
    chain = {
        "rpc_url": "http://127.0.0.1:1",
        "base_balances": {"USDC": "100"},
        "routes": ["CEX"],
    }
    cc = tmp_path / "crosschain.json"
    cc.write_text(
        json.dumps(
            {
                "trigger_percentage": "0.5",
                "chains": [
                    {
                        **chain,
                        "name": "local",
                        "cex_network": "ETH",
                        "chain_id": 31337,
                        "tokens": {"USDC": {"address": _EOA["tok"], "decimals": 6}},
                    },
                    {
                        **chain,
                        "name": "other",
                        "chain_id": 56,
                        "tokens": {
                            "USDC": {
                                "address": to_checksum_address("0x" + "b5" * 20),
                                "decimals": 18,
                            }
                        },
                    },
                ],
                "route_costs": {"CEX": 10},
            }
        )
    )
    return {
        "KEEPER_DEPLOYMENT": str(record),
        "KEEPER_EXECUTOR_SCHEDULER": _EOA["sch"],
        "KEEPER_SUPERVISOR_SCHEDULER": _EOA["sch"],
        "KEEPER_SUPERVISOR_SUPERVISOR": _EOA["sup"],
        "KEEPER_SUPERVISOR_REBALANCERS": json.dumps([_EOA["reb"]]),
        "BALLAST_CROSSCHAIN_CONFIG": str(cc),
    }


def _call(sig: str, *args: Any) -> str:
    from eth_abi import encode

    from keepers.runtime.bots import selector

    types = [t for t in sig[sig.index("(") + 1 : -1].split(",") if t]
    return selector(sig) + encode(types, list(args)).hex()


def test_replicas__fund_automation_crosschain_intents__each_once_with_one_stored_policy(
    tmp_path, anvil, pg_url
):
    """Three workers with no KEEPER_POLICY* and no bot configuration share one PostgreSQL
    store; the policy was built once from the four bots' declared calls and stored. Every
    intent of the fund, executor, supervisor and cross-chain roles is executed exactly once
    (one nonce, one successful receipt each); a call no bot declared is refused."""
    from keepers.fund.bot import ROLE as FUND_ROLE
    from keepers.runtime.policy import declared_from_env, store_policy
    from keepers.store.models import TxAttempt
    from tests.support.pipeline_helpers import SENDER, SENDER_KEY

    policy = declared_from_env(_bots_env(tmp_path), declarations())
    assert sorted(policy.roles) == sorted([FUND_ROLE, "executor", "supervisor", "crosschain"])
    store = Store(pg_url)
    store_policy(store, policy, written_by="test")

    per_role = 20
    calls: list[tuple[str, str, str]] = []  # role, target, calldata
    for i in range(per_role):
        calls += [
            (FUND_ROLE, _EOA["ctl"], _call("allocateToLayer(uint8,uint256)", 1, i)),
            ("executor", _EOA["sch"], _call("executeBatch(uint256[])", [i, i + 1])),
            ("supervisor", _EOA["sup"], _call("tick(uint256)", i)),
            ("supervisor", _EOA["reb"], _call("fixReschedule()") + f"{i:064x}"),
            ("crosschain", _EOA["tok"], _call("approve(address,uint256)", _EOA["sch"], i)),
        ]
    undeclared = ("executor", _EOA["sch"], _call("cancel(uint256)", 1))
    for n, (role, target, data) in enumerate([*calls, undeclared]):
        submit_intent(
            store,
            IntentSpec(
                idempotency_key=f"bots:{n}",
                role=role,
                chain_id=31337,
                sender=SENDER,
                target=target,
                calldata=data,
            ),
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "BALLAST_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        KEEPER_DB_URL=pg_url,
        KEEPER_RPC_URL=anvil.url,
        KEEPER_SIGNER_KEY=SENDER_KEY,
        KEEPER_ARTIFACTS_PATH=str(ARTIFACTS),
        KEEPER_LOG_LEVEL="WARNING",
        KEEPER_RETRY_BACKOFF_S="0.05",
        KEEPER_BATCH_SIZE="4",
    )
    # cwd: no default deployment record here, the stored roles alone
    run_replicas(env, tmp_path, tmp_path)

    with store.sessions() as s:
        rows = s.scalars(select(TxIntent).where(TxIntent.idempotency_key.like("bots:%"))).all()
        by_status = Counter(r.status for r in rows)
        refused = [r.error for r in rows if r.status == "rejected"]
        mined = {
            r.id: (r.nonce, s.get(TxAttempt, r.mined_attempt_id).tx_hash)  # type: ignore[union-attr]
            for r in rows
            if r.status == "confirmed"
        }
        steps = s.execute(
            select(StepLog.intent_id, StepLog.step, StepLog.worker).where(
                StepLog.intent_id.in_([r.id for r in rows])
            )
        ).all()
        rejected_nonce = next(r.nonce for r in rows if r.status == "rejected")
        fillers = s.execute(
            select(TxIntent.nonce, TxIntent.status).where(TxIntent.kind == "filler")
        ).all()
        allocated = s.scalar(select(NonceAllocator.next_nonce))
    store.close()
    assert by_status == {"confirmed": len(calls), "rejected": 1}, by_status
    assert len(refused) == 1 and "call-not-allowed" in refused[0]
    per_step = Counter((i, st) for i, st, _ in steps if st in ("build", "confirm"))
    assert set(per_step.values()) == {1}
    # the refused call was built (given a nonce) before its audit refused it: a 0-value filler
    # sends at that nonce, wherever the replicas' interleaving put it among the others
    assert rejected_nonce is not None
    assert [tuple(f) for f in fillers] == [(rejected_nonce, "confirmed")]
    nonces = sorted([n for n, _ in mined.values()] + [rejected_nonce])
    assert nonces == list(range(nonces[0], nonces[0] + len(calls) + 1))
    assert_pool_drained(anvil, SENDER, allocated)
    for nonce, tx_hash in mined.values():
        tx = anvil.w3.eth.get_transaction(tx_hash)
        assert tx["nonce"] == nonce
        assert anvil.w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    workers = Counter(w for _, st, w in steps if w is not None)
    assert len(workers) >= 2, f"work was not shared: {workers}"
    print(f"replicas: {len(calls)} intents of 4 roles, steps per worker {dict(workers)}")
