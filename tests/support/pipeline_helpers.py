"""Helpers of the transaction-pipeline tests: settings, pipelines, intents, worker runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from keepers.core.settings import KeeperSettings
from keepers.store.db import Store
from keepers.tx.intents import submit_intent
from keepers.tx.node import Node
from keepers.tx.pipeline import IntentSpec, Pipeline
from keepers.tx.signers import RawKeySigner
from tests.support.pipeline_anvil import ARTIFACTS, KEYS, ROOT

SENDER_KEY = KEYS[2]
SENDER = Account.from_key(SENDER_KEY).address


def policy_for(counter_address: str, **role: Any) -> dict[str, Any]:
    selector = "0x" + keccak(text="hit(uint256)")[:4].hex()
    keeper = {
        "allowed": [{"contract": counter_address, "selector": selector}],
        "max_value_wei": 10**18,
    }
    keeper.update(role)
    return {"roles": {"keeper": keeper}}


def make_settings(db_url: str, rpc_url: str, counter_address: str, **kw: Any) -> KeeperSettings:
    base: dict[str, Any] = {
        "db_url": db_url,
        "rpc_url": rpc_url,
        "signer_key": SENDER_KEY,
        "policy": policy_for(counter_address, **kw.pop("role", {})),
        "artifacts_path": ARTIFACTS,
        "log_json": True,
        "log_level": "WARNING",
        "retry_backoff_s": 0.05,
    }
    base.update(kw)
    return KeeperSettings(**base)


def make_pipeline(settings: KeeperSettings, signer: Any = None, exclusive: bool = True) -> Pipeline:
    store = Store(settings.db_url, exclusive=exclusive)
    node = Node(settings.rpc_url)
    pipe = Pipeline(
        store, node, [signer or RawKeySigner(SENDER_KEY)], settings, crash=lambda *a: None
    )
    pipe.reconcile_nonces()
    return pipe


def pipeline_on(tmp_path: Path, node: Any, counter: Any, **kw: Any) -> Pipeline:
    """A pipeline whose sender may hit ``counter`` on ``node`` (an Anvil), its store
    ``tmp_path/k.db``; ``kw``: settings over make_settings' own."""
    return make_pipeline(
        make_settings(f"sqlite:///{tmp_path}/k.db", node.url, counter.address, **kw)
    )


def hit_spec(
    counter: Any,
    ident: int,
    *,
    key: str | None = None,
    value: int = 0,
    chain_id: int = 31337,
    role: str = "keeper",
    sender: str = SENDER,
) -> IntentSpec:
    data = counter.encode_abi("hit", args=[ident])
    return IntentSpec(
        idempotency_key=key or f"hit:{counter.address}:{ident}",
        role=role,
        chain_id=chain_id,
        sender=sender,
        target=counter.address,
        calldata=data,
        value=value,
    )


def stored_intent(store: Store, key: str, status: str, **columns: Any) -> int:
    """An intent as the pipeline stores it (``submit_intent``: a call from SENDER), then put in
    ``status`` with ``columns`` set: for a test that reads intents in every status. Returns
    its id."""
    from keepers.store import models as m

    spec = IntentSpec(
        idempotency_key=key,
        role="keeper",
        chain_id=31337,
        sender=SENDER,
        target="0x" + "02" * 20,
        calldata="0x",
    )
    intent_id = submit_intent(store, spec).id
    with store.transaction() as s:
        row = s.get(m.TxIntent, intent_id)
        assert row is not None
        row.status = status
        for name, value in columns.items():
            setattr(row, name, value)
    return intent_id


def worker_env(
    settings_db: str, rpc_url: str, counter_address: str, tmp: Path, **extra: str
) -> dict[str, str]:
    policy = tmp / "policy.json"
    policy.write_text(json.dumps(policy_for(counter_address)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
    env.update(
        KEEPER_DB_URL=settings_db,
        KEEPER_RPC_URL=rpc_url,
        KEEPER_SIGNER_KEY=SENDER_KEY,
        KEEPER_POLICY_FILE=str(policy),
        KEEPER_ARTIFACTS_PATH=str(ARTIFACTS),
        KEEPER_LOG_LEVEL="WARNING",
        KEEPER_RETRY_BACKOFF_S="0.05",
    )
    env.update(extra)
    return env


def run_worker(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepers.tx.worker", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


# generous for a loaded 2-core machine (three workers + PostgreSQL + anvil on a full CI run); a
# quiet machine finishes the 500-intent run in about 15 s, and an idle worker exits at once
REPLICA_MAX_SECONDS = 600


# A replica: forked by the tests' worker server (tests/support/worker_fork.py, the repository's
# one pre-fork server, which imported the worker once: about 1 s of CPU, all of it import), so
# the import is paid once, not once per replica. Each is its own process from there on (its own
# settings, store engine and connections, node session and signer, all made in ``main``), with
# its stderr in its own file; it says it is up with a file and waits for the go file before
# running ``main``.
_REPLICA = """
import pathlib, sys, time
import keepers.tx.worker as w
pathlib.Path(sys.argv[1]).touch()
go = pathlib.Path(sys.argv[2])
while not go.exists():
    time.sleep(0.01)
sys.exit(w.main(sys.argv[3:]))
"""


def run_replicas(
    env: dict[str, str],
    cwd: Path,
    log_dir: Path,
    n: int = 3,
    max_seconds: float = REPLICA_MAX_SECONDS,
) -> None:
    """``n`` ``keepers.tx.worker --until-idle`` replicas on one store, each its own process
    (forked from the preloaded worker server: ``_REPLICA``). Each must exit 0 having gone idle
    (its ``worker.idle`` event: exit 5 is its time limit passing with work in flight); on a
    failure every replica's exit code and stderr tail is in the message. A replica still
    running after the limit (+60 s) is killed (SIGKILL to its pid), never left behind."""
    from tests.support.worker_fork import worker_forks

    env = {"KEEPER_STALL_REPLACE_AFTER_S": "10", **env}
    env.update(KEEPER_LOG_LEVEL="INFO", KEEPER_LOG_JSON="true")
    # The replicas start together: each says it is up with a file and waits for the go file
    # before running `main`; otherwise the first one up could drain a small queue alone before
    # the others were forked, and the "work was shared" checks would measure the start-up
    # stagger, not the claims.
    go = log_dir / "replicas.go"
    logs = [log_dir / f"worker-{i}.stderr" for i in range(n)]
    ready = [log_dir / f"worker-{i}.ready" for i in range(n)]
    args = ["--until-idle", "--max-seconds", f"{max_seconds:g}"]
    forks = worker_forks()
    pids = [
        forks.spawn(
            env,
            ["-c", _REPLICA, str(ready[i]), str(go), *args],
            cwd=cwd,
            out=os.devnull,
            err=logs[i],
        )
        for i in range(n)
    ]
    started = time.monotonic()
    while not all(m.exists() for m in ready) and time.monotonic() - started < 120:
        if any(forks.poll(pid) is not None for pid in pids):
            break  # one died importing or starting: the codes and stderr are reported below
        time.sleep(0.01)
    go.touch()
    deadline = time.monotonic() + max_seconds + 60
    codes: list[int] = []
    try:
        for pid in pids:
            codes.append(forks.wait(pid, max(0.0, deadline - time.monotonic()))[0])
    except subprocess.TimeoutExpired:
        pass
    finally:
        for pid in pids[len(codes) :]:  # every replica still running: killed, then reaped
            os.kill(pid, signal.SIGKILL)
            codes.append(forks.wait(pid, 30)[0])
        for pid in pids:
            forks.forget(pid)
    report = []
    idle = []
    for i, (path, pid, code) in enumerate(zip(logs, pids, codes, strict=True)):
        text = path.read_text(errors="replace") if path.exists() else ""
        events = [_event(line) for line in text.splitlines()]
        idle.append(code == 0 and "worker.idle" in events)
        report.append(f"--- worker {i} (pid {pid}) exit {code}:\n{text[-1500:]}")
    if not all(idle):
        report.append(node_state(env["KEEPER_RPC_URL"], SENDER))
    assert all(idle), "not every replica exited idle:\n" + "\n".join(report)


def node_state(rpc_url: str, account: str) -> str:
    """What the node holds of ``account``: its nonces (latest, pending), the head, and the
    nonces in the pool's pending and queued parts (a failed run's message: a nonce gap, a
    queued transaction the node never promoted, or a pool the miner skipped tell apart)."""
    try:
        w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 10}))
        content = w3.provider.make_request("txpool_content", []).get("result") or {}  # type: ignore[arg-type]
        pool = {
            kind: sorted(int(n) for n in txs)
            for kind in ("pending", "queued")
            for acct, txs in (content.get(kind) or {}).items()
            if acct.lower() == account.lower()
        }
        brief = {k: (len(v), v[:5], v[-2:]) for k, v in pool.items()}
        return (
            f"--- node: head {w3.eth.block_number}, nonce latest "
            f"{w3.eth.get_transaction_count(account, 'latest')} pending "
            f"{w3.eth.get_transaction_count(account, 'pending')}; pool (count, first, last): "
            f"{brief}"
        )
    except Exception as err:  # noqa: BLE001 - a diagnostic only
        return f"--- node: unreadable ({err})"


def _event(line: str) -> str | None:
    try:
        return str(json.loads(line).get("event"))
    except (ValueError, AttributeError):
        return None


def assert_pool_drained(anvil: Any, account: str, allocated: int | None) -> None:
    """Nothing of ``account`` is left in the node's pool and the chain's nonce is exactly what
    the store allocated: a test that leaves transactions behind fails itself, not the next
    test on the same node.

    Only what could still be mined counts: a nonce at or above the chain's. anvil can keep a
    transaction that reached it out of nonce order in its queue after the keeper replaced it
    and the replacement was mined (foundry-rs/foundry#10122); that entry's nonce is used, so
    it can never be mined and never move the nonce."""
    content = anvil.rpc("txpool_content")
    latest = anvil.w3.eth.get_transaction_count(account, "latest")
    left = {
        kind: sorted(int(n) for n in txs if int(n) >= latest)
        for kind in ("pending", "queued")
        for acct, txs in (content.get(kind) or {}).items()
        if acct.lower() == account.lower()
    }
    assert not any(left.values()), f"transactions of {account} left in the node's pool: {left}"
    assert latest == allocated, f"chain nonce {latest}, store allocated up to {allocated}"
