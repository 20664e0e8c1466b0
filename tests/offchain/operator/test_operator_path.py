"""Issue 13 "Done when": the operator's whole path, driven as an operator drives it, on a node
declared as a real network (not ``local``).

The node is an anvil with chain id 424242, declared as the custom network ``operatorchain`` in
the user-level config of an ape data folder of the test's own (tests/support/ape_home.py),
which also holds the deployer's and the keeper's keys as `ape accounts import` writes them.
What already exists on the operator's chain (the stablecoin, the funds the fund will hold and
their feed) is deployed first, and the profile names it by address, as a real profile does.

1. ``ape run deploy --network ethereum:operatorchain:node --account deployer --dry-run``: the
   plan and its gas, nothing sent; then the deploy, unattended (``--autosign``, the passphrase
   from the environment);
2. the hand-over: the admin is a new Safe 1.4.1 of alice, bob and carol (2 of 3) that the
   deploy creates, and the PlanExecutor stands in front of the controller (profile sections
   ``roles.admin.safe`` and ``plan_executor``); the deploy holds no owner's key, so the
   checklist names four Safe transactions (``acceptOwnership`` on the scheduler, funder,
   registry and supervisor). The owners execute them as on a real network: two owners sign the
   Safe's own transaction hash off-line, any funded account sends ``execTransaction``
   (tests/support/safe_web3.py; one owner's signature is refused, GS020); the deploy's own
   check (ballast_dev.deployment.handover) then reads that the deployer holds nothing;
3. ``keeper run`` (every bot) as a long-lived process, signing with the keeper's ape keyfile,
   metrics on loopback; a deposit; the running keeper plans it (its event trigger), freezes it
   for the executor and the plan waits for 2 of the Safe's 3 owners (thresholds set small); the
   ``approval_needed`` alert fires once (metric and JSON log line, with the plan hash and the
   ``keeper approve --account`` hint), and not again after the restart;
4. the owners sign from separate processes with their own ape keystores
   (:func:`approve_plan`: ``keeper approve PLAN --account alice`` / ``bob``); mallory's keystore
   is refused (exit 1, nothing recorded); the executor itself counts the two recorded
   signatures; the owners send nothing (nonces 0). The running keeper executes through the
   executor and is stopped by SIGTERM with the plan's first transaction in flight (the fault
   injector holds it there); a restart resumes the plan: every keeper transaction targets the
   executor, ``executed(planId, k)`` holds for each action, each sent exactly once, by the
   keeper's key alone;
5. an RPC outage (the keeper's node URL is a proxy whose port the test closes for 10 s): the
   keeper's ``keeper_rpc_up`` drops to 0, its RPC errors count and the fund bot raises its
   ``network`` alert (``rebalance_alerts_total``); ``keeper history`` and ``keeper review``
   answer from the store, ``keeper status`` gives what the store knows and exits 3; the port
   open again, the keeper is healthy again; the fund ends in band.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from sqlalchemy import select
from web3 import Web3

from ballast_dev.deployment import txbuilder as tb
from ballast_dev.deployment.handover import handover_status
from ballast_dev.local.anvil_local import free_port
from ballast_dev.local.keystores import (
    account_address,
    account_key,
    approver_env,
    write_test_keystores,
)
from keepers.fund.planning.plan_approval import SignedPlan
from keepers.store import models as m
from keepers.store.db import Store
from tests.support.ape_home import make_ape_home, write_account
from tests.support.keeper_proc import keeper_exe, stop_when_held
from tests.support.keeper_store import intents, intents_per_key, plan_rows
from tests.support.operator_chain import (
    BOUND_S,
    DEPLOYER,
    DEPOSITOR,
    FUNDER,
    KEEPER,
    OWNERS,
    PASSPHRASE,
    SENDER,
    UNIT,
    alert_lines,
    chain_transactions,
    key,
    metric,
    send_all,
    wait_until,
)
from tests.support.operator_deploy import (
    deploy,
    dry_run_deploy,
    execute_handover,
    prepare_deploy,
    read_handover,
)
from tests.support.pipeline_anvil import Anvil
from tests.support.rpc_proxy import RpcProxy
from tests.support.safe_web3 import exec_call, safe_at
from tests.support.web3_views import Views, Web3Project, at

ROOT = Path(__file__).resolve().parents[3]
CHAIN_ID = 424242
NETWORK = "operatorchain"
APPROVER_PASSPHRASE = "owner passphrase 3"  # the Safe owners' own keystores
OUTAGE_S = 10.0


def user_config(url: str) -> dict[str, Any]:
    """What the operator writes in ~/.ape/ape-config.yaml for a chain ape does not know."""
    return {
        "networks": {
            "custom": [
                {
                    "name": NETWORK,
                    "chain_id": CHAIN_ID,
                    "ecosystem": "ethereum",
                    "base_ecosystem_plugin": "ethereum",
                    "default_provider": "node",
                }
            ]
        },
        "node": {"ethereum": {NETWORK: {"uri": url}}},
        # a chain that mines on demand: nothing to wait for after the last transaction
        "ethereum": {
            NETWORK: {"required_confirmations": 0, "gas_limit": {"auto": {"multiplier": 1.25}}}
        },
        "foundry": {"fork": {"ethereum": {NETWORK: {"upstream_provider": "node"}}}},
    }


def transact(w3: Web3, signer: bytes, call: Any) -> Any:
    """Sign ``call`` (a web3 contract function) with ``signer`` and wait for it."""
    (receipt,) = send_all(w3, signer, [call])
    return receipt


def approve_plan(
    env: dict[str, str], home: Path, ref: str, approver: str
) -> subprocess.CompletedProcess[str]:
    """One Safe owner approves from their own terminal: a separate process given the keeper's
    store and the owner's own ape keystore (``home``, with ape's passphrase variable for the
    alias), no node and no keeper key. `keeper approve --account` signs the frozen plan
    (EIP-712) and records the signature; the running keeper executes."""
    return subprocess.run(
        [keeper_exe(), "approve", ref, "--account", approver],
        env={
            "PATH": env["PATH"],
            "PYTHONPATH": env["PYTHONPATH"],
            "KEEPER_DB_URL": env["KEEPER_DB_URL"],
            "KEEPER_LOG_LEVEL": "WARNING",
            **approver_env(home, APPROVER_PASSPHRASE, (approver,)),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def plan_state(db: str, ref: str) -> tuple[dict[str, Any], list[tuple[str, str, str | None]]]:
    """The plan's payload and its approval rows (approver, decision, signature), from the
    store."""
    store = Store(db)
    try:
        with store.sessions() as s:
            p = s.scalars(select(m.Plan).where(m.Plan.ref == ref)).one()
            rows = [(str(a.approver), str(a.decision), a.signature) for a in p.approvals]
            return dict(p.payload), rows
    finally:
        store.close()


def keeper_cmd(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [keeper_exe(), *args], env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def node() -> Iterator[Anvil]:
    anvil = Anvil("--chain-id", str(CHAIN_ID))
    try:
        yield anvil
    finally:
        anvil.stop()


@pytest.mark.parametrize(
    "dry_run",
    [
        pytest.param(False, id="deploy"),
        pytest.param(True, id="dry_run_first", marks=pytest.mark.slow),
    ],
)
def test_operator_path__deploy_handover_run_approve_sigterm_resume_outage__in_band_once(
    dry_run: bool,
    node: Anvil,
    procs: list[subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    """The whole path. ``make test`` runs it from the unattended deploy on (``[deploy]``); with
    the dry run first (``[dry_run_first]``: step 1's ``--dry-run``, the plan, its gas and the 4
    calls the Safe must make, nothing sent, no record; an ape-foundry fork of the node and the
    whole deploy on it) it runs in ``make test-slow``. Each property of the dry run is held in
    ``make test`` by a shorter test: a dry run on a custom network declared in the user-level
    config sends nothing (the head, its hash and the deployer's nonce unchanged), writes no
    record and prints the plan and its total gas (tests/offchain/fund/
    test_deploy_unattended.py ``test_deploy__dry_run_then_autosign...``); a dry run of a
    Safe-admin profile signs the Safe's transactions on its fork and sends nothing
    (tests/offchain/deploy/test_deploy_safe_cli.py); the hand-over checklist of the 4
    ``acceptOwnership()`` calls the Safe's owners must make (scripts/deploy.py prints it with
    the same ``render`` after a dry run and after the deploy: the deploy's output is checked
    for it below, and tests/offchain/fund/test_deploy_record.py checks the checklist)."""
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    w3 = node.w3
    assert w3.eth.chain_id == CHAIN_ID
    addr = {i: Account.from_key(key(i)).address for i in range(10)}
    owner = {n: account_address(n) for n in (*OWNERS, "mallory")}

    # -- 0. the operator's ape data folder: the network, the deployer's and the keeper's keys
    home = make_ape_home(tmp_path / "ape-home", extra=user_config(node.url), rehearsal=False)
    assert write_account(home, "deployer", key(DEPLOYER), PASSPHRASE) == addr[DEPLOYER]
    assert write_account(home, "keeper", key(KEEPER), PASSPHRASE) == addr[KEEPER]
    # the Safe owners' keys, and mallory's (nobody's owner): each in their own keystore
    keystores = tmp_path / "owners-ape-home"
    assert (
        write_test_keystores(keystores, APPROVER_PASSPHRASE, (*OWNERS, "mallory"), scrypt_n=2**10)
        == owner
    )

    # what exists on the operator's chain already (the stablecoin, five funds, one feed) and
    # the profile naming it
    d = prepare_deploy(
        w3, NETWORK, tmp_path / "operatorchain.yaml", tmp_path / "ethereum-operatorchain.json"
    )
    record = d.record

    # -- 1. dry run (make test-slow), then the unattended deploy
    if dry_run:
        head, nonce = w3.eth.block_number, w3.eth.get_transaction_count(addr[DEPLOYER])
        dry = dry_run_deploy(home, d)
        assert "total gas " in dry.stdout and f"dry run on a fork of {NETWORK}" in dry.stdout
        assert (w3.eth.block_number, w3.eth.get_transaction_count(addr[DEPLOYER])) == (
            head,
            nonce,
        )
        timings["dry run"] = time.monotonic() - t0

    real, data = deploy(home, d, CHAIN_ID)
    assert data["network"] == f"ethereum:{NETWORK}" and data["deployer"] == addr[DEPLOYER]
    timings["deploy"] = time.monotonic() - t0

    # -- 2. the hand-over: the Safe's owners make exactly the calls the checklist printed,
    # each a Safe transaction signed by two of them (off-line) and sent by any account; the
    # deploy wrote them as a Safe{Wallet} Transaction Builder batch: one Safe transaction (a
    # MultiSendCallOnly DELEGATECALL) at the nonce and SafeTx hash it states
    h = read_handover(w3, data, record, real.stdout, CHAIN_ID)
    safe, executor, todo = h.safe, h.executor, h.todo
    assert [(t["call"], t["data"]) for t in todo] == [("acceptOwnership()", "0x79ba5097")] * 4
    for t in todo:
        (line,) = [x for x in real.stdout.splitlines() if f"to {t['address']}" in x]
        assert line.split()[3:] == ["acceptOwnership()", "data", "0x79ba5097"], line
        assert t["who"].startswith(f"the Safe {safe.address}: a Safe transaction (CALL, value 0)")
        assert "signed by 2 of its 3 owners" in t["who"]
    assert f"each by {todo[0]['who']}" in real.stdout
    assert "hand-over checklist: 4 call(s) the admin must make" in real.stdout
    one = exec_call(safe, todo[0]["address"], todo[0]["data"], [account_key("alice")])
    with pytest.raises(Exception, match="GS020"):  # one owner's signature is not enough
        one.call({"from": addr[SENDER]})
    assert h.tx.operation == tb.DELEGATECALL
    assert tb.safe_tx_hash(CHAIN_ID, safe.address, h.tx, h.nonce) == h.tx_hash
    assert f"batch written to {h.batch_path}: 4 call(s) as one MultiSendCallOnly" in real.stdout
    execute_handover(w3, h)  # alice and carol sign; the Safe then owns each contract
    # the deploy's own check, with the project's contracts and the Safe bound over web3 (ape is
    # not connected to this chain in the test process)
    status = handover_status(
        Web3Project(w3), data, addr[DEPLOYER], safe.address, safe_at=lambda a: Views(safe_at(w3, a))
    )
    # the deployer holds no role and no ownership
    assert status.complete, (status.todo, status.held)

    # -- 3. the keeper, long-lived, every bot, signing with its ape keyfile
    auto = data["automation"]
    db = f"sqlite:///{tmp_path}/keeper.db"
    proxy = RpcProxy(node.url)
    port = free_port()
    env = {
        "PATH": f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),  # this checkout's keepers, whichever the venv's script names
        "HOME": os.environ.get("HOME", str(tmp_path)),
        "APE_DATA_FOLDER": str(home),
        "KEEPER_RPC_URL": proxy.url,
        "KEEPER_DB_URL": db,
        "KEEPER_SIGNER_KIND": "ape",
        "KEEPER_SIGNER_ALIAS": "keeper",
        "KEEPER_SIGNER_PASSPHRASE": PASSPHRASE,
        "KEEPER_DEPLOYMENT": str(record),
        "KEEPER_CHAIN_ID": str(CHAIN_ID),
        "KEEPER_CONFIRMATIONS_BY_CHAIN": json.dumps({str(CHAIN_ID): 1}),
        "KEEPER_NATIVE_PRICE": "0",
        "KEEPER_METRICS_PORT": str(port),
        "KEEPER_HEALTH_INTERVAL_S": "0.5",
        "KEEPER_PLAN_TICK_S": "1",  # waiting plans and event triggers every second
        "KEEPER_RETRY_BACKOFF_S": "0.05",
        "KEEPER_LOG_LEVEL": "WARNING",
        "KEEPER_LOG_JSON": "1",
        "KEEPER_EXECUTOR_SCHEDULER": auto["scheduler"],
        "KEEPER_SUPERVISOR_SCHEDULER": auto["scheduler"],
        "KEEPER_SUPERVISOR_REGISTRY": auto["paid_registry"],
        # the keeper's own approval rules, small so the amounts stay small: 2 of 3 above 5K
        # (the executor's threshold caps them too); the admins are the Safe's owners, read
        # from chain (no REBALANCE_ADMINS behind an executor)
        "APPROVAL_REVIEW_AMOUNT": "1000",
        "REBALANCE_APPROVAL_THRESHOLD": "2000",
        "APPROVAL_MULTISIG_AMOUNT": "5000",
        "LARGE_DEPOSIT_AMOUNT": "10000",
    }
    marker = tmp_path / "held"
    first = subprocess.Popen(
        [keeper_exe(), "run"],
        env={**env, "KEEPER_FAULT_INJECTION": "1", "KEEPER_HOLD_AT": "sent:1",
             "KEEPER_HOLD_FILE": str(marker)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    procs.append(first)
    # its first fund tick has read the chain (the event triggers start from there)
    wait_until(
        "the fund bot's first tick",
        lambda: metric(port, "keeper_last_tick_timestamp_seconds", 'bot="fund"'),
        120,
        first,
    )
    assert metric(port, "keeper_rpc_up") == 1.0
    timings["keeper up"] = time.monotonic() - t0

    # a deposit: the running keeper plans it, freezes it for the executor, and the plan waits
    # for 2 of the Safe's 3 owners
    vault = at(w3, "TieredVault", data["vault"])
    usdt = at(w3, "TestStablecoin", d.cash)
    transact(w3, key(FUNDER), usdt.functions.mint(addr[DEPOSITOR], 100_000 * UNIT))
    transact(w3, key(DEPOSITOR), usdt.functions.approve(data["vault"], 100_000 * UNIT))
    transact(w3, key(DEPOSITOR), vault.functions.deposit(100_000 * UNIT, addr[DEPOSITOR]))
    waiting = wait_until(
        "a plan waiting for approval",
        lambda: [p for p in plan_rows(db) if p[1] == "pending_approval"],
        120,
        first,
    )
    ((ref, _, acts),) = waiting
    n = len(acts)
    assert n >= 2, acts  # SIGTERM lands mid-plan
    assert wait_until("the pending count", lambda: metric(port, "rebalance_pending_count"), 10)
    # the approval_needed alert, once, on the metrics (the JSON log line is checked below);
    # it follows the plan's freezing (the status is written first)
    needed = ("rebalance_alerts_total", 'code="approval_needed"')
    assert wait_until("the approval_needed alert", lambda: metric(port, *needed), 10) == 1.0
    payload, approvals = plan_state(db, ref)
    frozen = payload["frozen"]
    plan_id = SignedPlan.plan_id_for(ref)
    assert bytes.fromhex(frozen["plan_id"].removeprefix("0x")) == plan_id, frozen
    assert Web3.to_checksum_address(frozen["executor"]) == executor.address
    assert len(frozen["actions"]) == n and approvals == []
    timings["plan waiting"] = time.monotonic() - t0

    # -- 4. signed approvals from the owners' own processes; execution by the running keeper
    keeper_nonce = w3.eth.get_transaction_count(addr[KEEPER])
    others = {i: w3.eth.get_transaction_count(a) for i, a in addr.items() if i != KEEPER}
    block0 = w3.eth.block_number
    r = approve_plan(env, keystores, ref, "alice")
    assert r.returncode == 0, r.stdout + r.stderr
    assert APPROVER_PASSPHRASE not in r.stdout + r.stderr
    time.sleep(2)  # two keeper ticks: one signature of two, nothing may run
    assert plan_rows(db)[0][1] == "pending_approval"
    assert w3.eth.get_transaction_count(addr[KEEPER]) == keeper_nonce
    # mallory's own keystore signs the same plan: her key is no owner, refused, nothing recorded
    r = approve_plan(env, keystores, ref, "mallory")
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"recovers to {owner['mallory']}, not an admin of plan {ref}" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert [a for a, _, _ in plan_state(db, ref)[1]] == [owner["alice"]]
    r = approve_plan(env, keystores, ref, "bob")
    assert r.returncode == 0, r.stdout + r.stderr

    # the keeper executes; SIGTERM with its first transaction in flight. Nothing reads the
    # store until then: the keeper may reach its hold within a tick of bob's signature, and
    # the hold (KEEPER_HOLD_AT=sent, "sent, not yet committed") stands inside the pipeline's
    # broadcast transaction, which holds SQLite's write lock until the SIGTERM releases it; a
    # read here would wait for a lock only this test's own SIGTERM frees (busy timeout, then
    # "database is locked"). The approvals are read once the keeper has stopped.
    _, text, seconds, sent_at_signal = stop_when_held(
        first,
        marker,
        BOUND_S,
        wait_s=120,
        at_hold=lambda: w3.eth.get_transaction_count(addr[KEEPER], "pending") - keeper_nonce,
    )
    assert "keeper: received SIGTERM, stopping" in text
    assert sent_at_signal == 1
    # the approval_needed alert reached the log once, with the plan and how to sign it
    (alert,) = alert_lines(text, "approval_needed")
    assert alert["plan"] == ref and alert["level"] == "warning" and alert["required"] == 2
    assert alert["plan_hash"] == frozen["plan_hash"]
    assert f"keeper approve {ref} --account <alias>" in alert["message"]
    db_file = Path(db.removeprefix("sqlite:///"))
    assert not Path(f"{db_file}-wal").exists()  # the store was closed
    ((_, status, acts),) = plan_rows(db)
    assert status == "approved" and sum(1 for a in acts if a[2] is not None) == 1, acts
    _, approvals = plan_state(db, ref)
    assert sorted(a for a, _, _ in approvals) == sorted(owner[n] for n in ("alice", "bob"))
    assert [d for _, d, _ in approvals] == ["approve", "approve"], approvals
    # the executor itself counts the two recorded signatures of the frozen plan's hash as two
    # distinct current owners of the Safe
    sigs = [bytes.fromhex(str(sig).removeprefix("0x")) for _, _, sig in approvals]
    plan_hash = bytes.fromhex(frozen["plan_hash"].removeprefix("0x"))
    assert executor.functions.countApprovals(plan_hash, sigs).call() == 2
    timings["SIGTERM mid-plan"] = time.monotonic() - t0

    # the restart resumes the plan at once and ends it, each action once
    log = tmp_path / "keeper.err"
    with open(log, "wb") as err_file:
        second = subprocess.Popen(
            [keeper_exe(), "run"], env=env, stdout=subprocess.PIPE, stderr=err_file
        )
    procs.append(second)
    wait_until("the resumed plan executed", lambda: plan_rows(db)[0][1] == "executed", 120, second)
    timings["resumed and executed"] = time.monotonic() - t0
    keys = {k: v for k, v in intents_per_key(db).items() if k.startswith("fund:")}
    assert keys == {f"fund:{ref}:{i}": 1 for i in range(n)}
    sent = chain_transactions(w3, addr[KEEPER], block0)
    fund_txs = intents(db, "fund:")
    assert len(sent) == n == len(fund_txs)  # on chain: the keeper sent n transactions, no more
    assert [t["nonce"] for t in sent] == [t["nonce"] for t in fund_txs]
    assert {t["receipt_status"] for t in fund_txs} == {1}
    assert {str(t["sender"]).lower() for t in fund_txs} == {addr[KEEPER].lower()}
    # every keeper transaction went to the executor, which ran each action exactly once
    assert {t["to"] for t in sent} == {executor.address}, [t["to"] for t in sent]
    assert [executor.functions.executed(plan_id, k).call() for k in range(n + 1)] == [True] * n + [
        False
    ]
    # nobody else sent anything: not the owners (they only signed), the deployer or the others
    assert {i: w3.eth.get_transaction_count(a) for i, a in addr.items() if i != KEEPER} == others
    assert {n_: w3.eth.get_transaction_count(a) for n_, a in owner.items()} == dict.fromkeys(
        owner, 0
    )

    # -- 5. an RPC outage: the metric and the store-backed commands
    network_alert = ("rebalance_alerts_total", 'code="network"')
    errors_before = metric(port, "keeper_rpc_errors_total") or 0.0
    alerts_before = metric(port, *network_alert) or 0.0
    cut = time.monotonic()
    proxy.close_port()
    wait_until("keeper_rpc_up 0", lambda: metric(port, "keeper_rpc_up") == 0.0, 15, second)
    hist = keeper_cmd(env, "history")
    assert hist.returncode == 0 and ref in hist.stdout, hist.stdout + hist.stderr
    review = keeper_cmd(env, "review", ref)
    assert review.returncode == 0, review.stdout + review.stderr
    assert f"plan {ref}  status executed" in review.stdout
    # who signed what, read from the store with the node down: both signatures count
    assert "requirement multi_admin  2 of 2 counted" in review.stdout
    for name in ("alice", "bob"):
        assert f"approve {owner[name]}  (account {name})" in review.stdout
    assert review.stdout.count(f"signed {frozen['plan_hash']}") == 2
    assert "mallory" not in review.stdout and owner["mallory"] not in review.stdout
    status = keeper_cmd(env, "status")
    assert status.returncode == 3 and "chain data unavailable" in status.stdout + status.stderr
    assert "Traceback" not in status.stdout + status.stderr
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut)))
    assert second.poll() is None  # the keeper rode it out
    assert (metric(port, "keeper_rpc_errors_total") or 0.0) > errors_before
    wait_until("the network alert", lambda: (metric(port, *network_alert) or 0) > alerts_before, 15)
    proxy.open_port()
    wait_until("keeper_rpc_up 1", lambda: metric(port, "keeper_rpc_up") == 1.0, 15, second)
    timings["outage"] = time.monotonic() - t0

    # the fund ends in band, and the keeper stops cleanly
    st = keeper_cmd(env, "--json", "status")
    assert st.returncode == 0, st.stdout + st.stderr
    tiers = json.loads(st.stdout)["tiers"]
    assert all(t["within"] for t in tiers), tiers
    assert not metric(port, *needed)  # the restarted keeper did not alert the plan again
    second.send_signal(signal.SIGTERM)
    second.communicate(timeout=BOUND_S + 30)
    assert second.returncode == 0, log.read_text()[-3000:]
    assert alert_lines(log.read_text(), "approval_needed") == []
    proxy.close()
    print(
        f"operator path: {time.monotonic() - t0:.1f}s; SIGTERM to exit {seconds:.2f}s; "
        + ", ".join(f"{k} at {v:.1f}s" for k, v in timings.items())
    )
