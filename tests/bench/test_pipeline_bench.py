"""Throughput of the full keeper pipeline (every step persisted, SQLite WAL), measured so that it
cannot flatter itself: against the plain ape loop and against the node's own floors, all in
this run on ape's anvil (automine).

- **Same chain for every path.** anvil gets slower per transaction as its chain grows, so a
  chain snapshot is taken before each path and restored after it: every path sends its N
  transactions on the same chain.
- **Rotated order.** Over ROUNDS rounds the order of the paths rotates, so none is always
  first (warm caches) or last.
- **Production settings.** ``make bench`` runs with ``BALLAST_APE_SPEEDUPS=0``: the test suite's
  ape speed-ups (tests/support/ape_speedups.py) are off, so the ape baseline is the ape an
  operator runs. The pipeline logs as in production (JSON, INFO), and the process's garbage
  collector is set as the worker sets it once started (keepers.core.gc_tuning; it applies to
  every path measured here, the ape loop included).
- **The floors.** ``raw``: the same N transactions signed before the clock starts and sent one
  ``eth_sendRawTransaction`` per HTTP request, then the last receipt awaited (what any client
  must at least pay per transaction). ``batched``: the same, all in one JSON-RPC batch request
  (the node's own limit).
- min / median / max per path, and the pipeline's ratios to each (targets: at least 5x the ape
  loop, 60% of the raw floor, 30% of the batched floor).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import pytest
import requests
from eth_account import Account
from eth_utils import keccak
from hexbytes import HexBytes
from sqlalchemy import func, select

from keepers.core.gc_tuning import tune_gc
from keepers.core.logging import configure_logging
from keepers.core.settings import KeeperSettings
from keepers.store.db import Store
from keepers.store.models import StepLog
from keepers.tx.node import Node
from keepers.tx.pipeline import IntentSpec, Pipeline
from keepers.tx.signers import RawKeySigner

N = 300
ROUNDS = 5
WARMUP = 5


def _rpc(url: str, method: str, params: list, post=requests.post) -> dict:
    """One JSON-RPC call to the node (`post`: requests' own or a session's); its whole answer."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": params}
    return post(url, json=body, timeout=30).json()


def _drain_pool(url: str) -> int:
    """Drop what a path left in anvil's pool and return how many: restoring a snapshot does not
    empty the pool, and a transaction left there becomes valid again on the restored chain.
    anvil can keep a replaced transaction queued after its nonce was used (seen after the
    pipeline's fee-bump replacements); on the restored chain it was mined in the next path,
    where the pipeline rightly took it for another sender using its key and halted."""

    def rpc(method: str) -> object:
        return _rpc(url, method, [])["result"]

    status = rpc("txpool_status")
    assert isinstance(status, dict)
    n = int(status["pending"], 16) + int(status["queued"], 16)
    if n:
        rpc("anvil_dropAllTransactions")
    return n


def _wait_receipt(url: str, tx_hash: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        r = _rpc(url, "eth_getTransactionReceipt", [tx_hash])
        if r.get("result"):
            assert int(r["result"]["status"], 16) == 1, r
            return
        time.sleep(0.002)
    raise AssertionError(f"no receipt for {tx_hash}")


@pytest.mark.bench
def test_pipeline_bench__rotated_rounds_same_chain__vs_ape_and_the_nodes_floors(
    project, deployer, keeper, chain, tmp_path
):
    counter = project.TestCounter.deploy(sender=deployer)
    w3 = chain.provider.web3
    url = chain.provider.http_uri
    for i in range(WARMUP):  # every path measured warm (first calls compile caches)
        counter.hit(10**6 + i, sender=keeper)
    selector = "0x" + keccak(text="hit(uint256)")[:4].hex()
    calldata = [HexBytes(counter.hit.encode_input(i)) for i in range(N)]
    gas = int(w3.eth.estimate_gas({"from": keeper.address, "to": counter.address,
                                   "data": calldata[0]}) * 13 // 10)  # fmt: skip
    configure_logging(json=True, level="INFO")  # production logging; per-step lines are DEBUG
    tune_gc()  # what the worker and keeper run do once started (keepers.core.gc_tuning)
    acct = Account.from_key(keeper.private_key)

    def presigned() -> list[str]:
        nonce = w3.eth.get_transaction_count(keeper.address)
        base = int(w3.eth.get_block("latest")["baseFeePerGas"])
        return [
            "0x"
            + acct.sign_transaction(
                {
                    "chainId": chain.chain_id,
                    "nonce": nonce + i,
                    "to": counter.address,
                    "data": calldata[i],
                    "gas": gas,
                    "maxFeePerGas": 4 * base + 10**9,
                    "maxPriorityFeePerGas": 10**9,
                    "value": 0,
                    "type": 2,
                }
            )
            .raw_transaction.hex()
            .removeprefix("0x")
            for i in range(N)
        ]

    def ape_loop(_: int) -> float:
        t0 = time.perf_counter()
        for i in range(N):
            counter.hit(i, sender=keeper)
        return time.perf_counter() - t0

    def raw(_: int) -> float:
        txs = presigned()
        session = requests.Session()
        t0 = time.perf_counter()
        last = None
        for tx in txs:
            last = _rpc(url, "eth_sendRawTransaction", [tx], post=session.post)["result"]
        _wait_receipt(url, str(last))
        return time.perf_counter() - t0

    def batched(_: int) -> float:
        txs = presigned()
        body = [
            {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [tx]}
            for i, tx in enumerate(txs)
        ]
        t0 = time.perf_counter()
        answers = requests.post(url, json=body, timeout=120).json()
        last = max(answers, key=lambda a: a["id"])["result"]
        _wait_receipt(url, str(last))
        return time.perf_counter() - t0

    replaced: dict[int, int] = {}  # round -> the pipeline's fee-bump replacements

    def pipeline(rnd: int) -> float:
        settings = KeeperSettings(
            db_url=f"sqlite:///{tmp_path}/bench-{rnd}.db",  # a new store on the restored chain
            rpc_url=url,
            policy={
                "roles": {
                    "keeper": {"allowed": [{"contract": counter.address, "selector": selector}]}
                }
            },
            batch_size=256,
        )
        store = Store(settings.db_url, exclusive=True)
        node = Node(settings.rpc_url)
        pipe = Pipeline(
            store, node, [RawKeySigner(keeper.private_key)], settings, crash=lambda *a: None
        )
        pipe.reconcile_nonces()
        specs = [
            IntentSpec(
                idempotency_key=f"bench:{rnd}:{i}",
                role="keeper",
                chain_id=node.chain_id,
                sender=keeper.address,
                target=counter.address,
                calldata=calldata[i].to_0x_hex(),
            )
            for i in range(N)
        ]  # encoded before the clock, as for every other path
        t0 = time.perf_counter()
        pipe.submit_many(specs)
        assert pipe.run(until_idle=True, max_seconds=600)
        elapsed = time.perf_counter() - t0
        with store.sessions() as s:  # nothing is stuck on automine: a fee bump paid for nothing
            replaced[rnd] = s.scalar(
                select(func.count()).select_from(StepLog).where(StepLog.outcome == "replace")
            )
        store.close()
        return elapsed

    paths: dict[str, Callable[[int], float]] = {
        "ape loop": ape_loop,
        "keeper pipeline": pipeline,
        "raw floor (1 request/tx)": raw,
        "batched floor (1 request)": batched,
    }
    rates: dict[str, list[float]] = {k: [] for k in paths}
    names = list(paths)
    left = dict.fromkeys(paths, 0)
    for rnd in range(ROUNDS):
        order = names[rnd % len(names) :] + names[: rnd % len(names)]
        for name in order:
            snap = chain.snapshot()
            before = int(counter.count())
            seconds = paths[name](rnd)
            assert int(counter.count()) == before + N, name
            left[name] += _drain_pool(url)
            chain.restore(snap)
            rates[name].append(N / seconds)

    def line(name: str) -> str:
        r = sorted(rates[name])
        return (
            f"  {name:<26}: min {r[0]:7.1f}  median {statistics.median(r):7.1f}  "
            f"max {r[-1]:7.1f} tx/s"
        )

    med = {k: statistics.median(v) for k, v in rates.items()}
    pipe = med["keeper pipeline"]
    print(
        f"\n[pipeline bench] {N} txs per path, one account, anvil automine, {ROUNDS} rounds, "
        "order rotated, the chain restored before each path\n"
        + "\n".join(line(n) for n in names)
        + f"\n  pipeline / ape loop       : {pipe / med['ape loop']:.2f}x (target >= 5x)"
        f"\n  pipeline / raw floor      : {pipe / med['raw floor (1 request/tx)']:.1%}"
        " (target >= 60%)"
        f"\n  pipeline / batched floor  : {pipe / med['batched floor (1 request)']:.1%}"
        " (target >= 30%)"
        + f"\n  pipeline fee-bump replacements per round: {list(replaced.values())}"
        + "".join(
            f"\n  {name}: {n} transaction(s) left in anvil's pool, dropped before the restore"
            for name, n in left.items()
            if n
        )
    )


LATENCY_SAMPLES = 10


@pytest.mark.bench
def test_pipeline_latency__1s_blocks__broadcast_to_confirmed_vs_the_raw_floor(tmp_path):
    """Latency, not throughput: on an anvil that mines a block every second (a real chain's
    rhythm, not automine), how long one intent takes from its broadcast to confirmed (the step
    log's timestamps: the broadcast row is written right after eth_sendRawTransaction returned)
    and from submit to confirmed, against the floor: one pre-signed transaction sent and its
    receipt polled every 2 ms. Samples alternate between the two paths, so both see the same
    spread of positions inside the block interval. Production settings (poll interval 50 ms,
    confirmations 1 on a local chain id)."""
    from tests.support.pipeline_anvil import KEYS, Anvil, deploy
    from tests.support.pipeline_helpers import SENDER_KEY, hit_spec, policy_for

    node_proc = Anvil("--block-time", "1")
    try:
        counter = deploy(node_proc.w3, "TestCounter")
        configure_logging(json=True, level="INFO")
        tune_gc()
        settings = KeeperSettings(
            db_url=f"sqlite:///{tmp_path}/latency.db",
            rpc_url=node_proc.url,
            policy=policy_for(counter.address),
        )
        store = Store(settings.db_url, exclusive=True)
        pipe = Pipeline(
            store, Node(settings.rpc_url), [RawKeySigner(SENDER_KEY)], settings,
            crash=lambda *a: None,
        )  # fmt: skip
        pipe.reconcile_nonces()
        acct = Account.from_key(KEYS[3])  # the floor's own key: the keeper's is the keeper's alone
        w3 = node_proc.w3
        send_to_confirmed: list[float] = []
        submit_to_confirmed: list[float] = []
        raw: list[float] = []
        for i in range(2 * LATENCY_SAMPLES):
            if i % 2 == 0:
                t0 = time.perf_counter()
                intent = pipe.submit(hit_spec(counter, 5_000_000 + i))
                assert pipe.run(until_idle=True, max_seconds=60)
                submit_to_confirmed.append(time.perf_counter() - t0)
                with store.sessions() as s:
                    at = dict(
                        s.execute(
                            select(StepLog.step, StepLog.at).where(StepLog.intent_id == intent.id)
                        ).all()
                    )
                send_to_confirmed.append((at["confirm"] - at["broadcast"]).total_seconds())
            else:
                tx = acct.sign_transaction(
                    {
                        "chainId": w3.eth.chain_id,
                        "nonce": w3.eth.get_transaction_count(acct.address, "pending"),
                        "to": counter.address,
                        "data": counter.encode_abi("hit", args=[6_000_000 + i]),
                        "gas": 200_000,
                        "maxFeePerGas": 4 * int(w3.eth.get_block("latest")["baseFeePerGas"])
                        + 10**9,
                        "maxPriorityFeePerGas": 10**9,
                        "value": 0,
                        "type": 2,
                    }
                ).raw_transaction
                t0 = time.perf_counter()
                tx_hash = w3.eth.send_raw_transaction(tx)
                _wait_receipt(node_proc.url, tx_hash.to_0x_hex())
                raw.append(time.perf_counter() - t0)
        store.close()
    finally:
        node_proc.stop()

    def line(name: str, xs: list[float]) -> str:
        r = sorted(xs)
        return (
            f"  {name:<34}: min {r[0]:6.3f}  median {statistics.median(r):6.3f}  max {r[-1]:6.3f} s"
        )

    med_raw = statistics.median(raw)
    print(
        f"\n[pipeline latency] one intent at a time, anvil --block-time 1, "
        f"{LATENCY_SAMPLES} samples per path, alternating\n"
        + line("pipeline, broadcast -> confirmed", send_to_confirmed)
        + "\n"
        + line("pipeline, submit -> confirmed", submit_to_confirmed)
        + "\n"
        + line("raw floor, send -> receipt", raw)
        + f"\n  broadcast -> confirmed / raw floor : "
        f"{statistics.median(send_to_confirmed) / med_raw:.2f}x"
        + f"\n  submit -> confirmed / raw floor    : "
        f"{statistics.median(submit_to_confirmed) / med_raw:.2f}x"
    )
