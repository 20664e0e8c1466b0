"""The operator's whole path as a test, walked once: issue 13's "Done when" (the path driven as
an operator drives it, on a node declared as a real network, not ``local``) and issue 48's walk
of the operator guide's real-network pages (docs/operator/deploy.md, real-network.md,
approving.md, running.md, stop-restart.md, backups.md) as written, on a host where the keeper
is what an operator installs. (Until issue 68 these were two files, test_operator_path.py and
this one, that deployed, handed over and ran the keeper twice.)

- The chain is an anvil with interval mining. In ``make test`` (the short form) it is one ape
  does not know, chain id 424242, declared as the custom network ``operatorchain`` in the
  operator's **user-level** ape config (real-network.md step 1; no rehearsal network beside it),
  where the operator also asks for **2 confirmations**
  (``ethereum.operatorchain.required_confirmations: 2``); in the long form it has Sepolia's
  chain id, 11155111, standing in for the testnet: ape's own ``ethereum:sepolia`` network with
  its node URI and ``ethereum.sepolia.required_confirmations: 2`` in the user-level config
  (deploy.md step 2). The keeper is asked for 2 in its own setting
  (``KEEPER_CONFIRMATIONS_BY_CHAIN``).
- The deploy (``ape run deploy ... --autosign``, the passphrase from ape's variable; the long
  form runs ``--dry-run`` first: the plan, its gas and the hand-over's 4 calls, nothing sent,
  no record) names what exists on the chain by address and creates the admin Safe (2 of alice,
  bob, carol) and the PlanExecutor in front of the controller. It holds no owner's key, so the
  checklist names four Safe transactions (``acceptOwnership`` on the scheduler, funder,
  registry and supervisor) and the hand-over is the Transaction Builder batch it writes beside
  its record: the test reads that file, checks its checksum, the Safe nonce and the SafeTx hash
  it states against the Safe's own ``getTransactionHash``, checks that one owner's signature is
  refused (GS020), and executes it as the owners would (two owners sign the SafeTx hash
  off-line, any account with gas sends ``execTransaction``); the deploy's own check then finds
  the deployer holds nothing, in the test process (ballast_dev.deployment.handover) and as
  ``ape run handover`` (the long form runs it before too: exit 1 and the same SafeTx hash).
- The keeper is the runtime wheel (``pip wheel .``) installed into a clean venv
  (tests/support/runtime_venv.py), run with that venv's ``bin`` alone on PATH: no ape, no node,
  no anvil, no PYTHONPATH; started with the shipped systemd unit's ``ExecStart``,
  ``WorkingDirectory`` and ``Environment=`` and an ``/etc/ballast/keeper.env`` of
  real-network.md step 5's settings, its store and ape keyfile where the unit puts them
  (``/var/lib/ballast``; its home is empty), its node URL a proxy the test can cut.
  ``keeper run`` (every bot ticks, metrics on loopback); a deposit (the long form with ``ape run
  deposit``); the running keeper plans it (its event trigger), freezes it for the executor and
  the plan waits for 2 of the Safe's 3 owners (thresholds set small); the ``approval_needed``
  alert fires once (metric and JSON log line, with the plan hash and the ``keeper approve
  --account`` hint), and not again after the restart.
- The owners approve from their own processes, each way approving.md gives: alice with her own
  ape keystore (``keeper approve PLAN --account alice``), bob in a wallet (``keeper review PLAN
  --typed-data``, signed with his key as a wallet does, recorded with ``keeper approve PLAN
  --signature 0x...``); mallory's keystore is refused (exit 1, nothing recorded); one signature
  of two runs nothing; the executor itself counts the two recorded signatures; the owners send
  nothing (nonces 0).
- The running keeper simulates and executes through the executor and is stopped by SIGTERM with
  the plan's first transaction in flight (the fault injector holds it there; running.md
  "Stopping": exit 0 within the bound, the plan approved with its one sent action recorded); a
  backup of the store with SQLite's online backup and a restore (backups.md); the keeper started
  again on the restored store resumes the plan and ends it: every keeper transaction targets the
  executor, ``executed(planId, k)`` holds for each action, each sent exactly once, by the
  keeper's key alone; no job of either keeper failed on the way.
- An RPC outage (the proxy's port closed for at least 6 s): ``keeper_rpc_up`` drops to 0, its RPC
  errors count and the fund bot raises its ``network`` alert (``rebalance_alerts_total``);
  ``keeper history`` and ``keeper review`` answer from the store, ``keeper status`` gives what
  the store knows and exits 3; the port open again, the keeper is healthy again (``/readyz``);
  the fund ends in band and the keeper stops cleanly.

The short form (a block a second, anvil's ``--mixed-mining``: a transaction is mined when it
arrives, blocks come every second, so the deploy's 55 transactions do not take 55 s) runs in
``make test``; the long form (Sepolia, pure interval mining, two-second blocks, the deploy's
dry run first, ``ape run handover`` before the owners act, ``ape run deposit``, ``keeper run
--once`` before the long-lived keeper) is ``slow``. In ``make test`` the dry run's properties
are held as docs/development/testing.md's "Slow tests and what holds them" says, and the user's
``ethereum.sepolia.required_confirmations: 2`` winning over any project value by
tests/offchain/deploy/test_operator_commands.py
(``test_confirmations__user_level_sepolia_2__ape_resolves_2_not_a_project_value``: the value
the deploy reads) with this walk's deploy saying and awaiting the user-level value.

On the main of issue 48's filing the long form fails twice over: the deploy awaits 1
confirmation, not the operator's 2 (the project's ``ethereum.sepolia.required_confirmations:
1`` wins over the user's file), and past that every ``fund.tick`` of the wheel's keeper fails
with ``job_failed ... FileNotFoundError: 'anvil'`` (the fund bot simulated each plan on an
anvil fork it started itself; the short form fails on this too): the wait for the plan's
first transaction times out quoting those lines.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
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
from tests.support.ape_home import ROOT, make_ape_home, write_account
from tests.support.keeper_proc import wait_file
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
    stop_all,
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
from tests.support.runtime_venv import DEV_TOOLS, runtime_env, runtime_venv
from tests.support.safe_web3 import exec_call, safe_at
from tests.support.systemd_unit import (
    exec_start,
    service_env,
    working_directory,
    write_environment_file,
)
from tests.support.web3_views import Views, Web3Project, at

CONFIRMATIONS = 2
DEPOSIT = 100_000
APPROVER_PASSPHRASE = "owner passphrase 3"  # the Safe owners' own keystores
# the RPC outage's least length (10 s before): the port opens again only once keeper_rpc_up
# is 0, the error count rose and the fund bot's network alert was raised (each waited for
# inside the outage, so a read the keeper gives up on ends inside it however long its retries
# take); the store-backed commands run inside it too
OUTAGE_S = 6.0


@dataclass(frozen=True)
class Form:
    name: str
    network: str  # ape's network name: sepolia (ape's own) or a custom one
    chain_id: int
    custom: bool  # declared in the user-level config's networks.custom
    block_time_s: int
    mixed_mining: bool  # anvil's --mixed-mining: a transaction mined at once, blocks on time
    dry_run: bool  # deploy.md step 4 before step 5
    run_once: bool  # running.md: `keeper run --once` before the long-lived keeper


SHORT = Form("short", "operatorchain", 424242, True, 1, mixed_mining=True, dry_run=False,
             run_once=False)  # fmt: skip
LONG = Form("long", "sepolia", 11155111, False, 2, mixed_mining=False, dry_run=True,
            run_once=True)  # fmt: skip


def user_config(form: Form, url: str) -> dict[str, Any]:
    """The operator's ~/.ape/ape-config.yaml (deploy.md step 2): the node's URI and 2
    confirmations; for a chain ape does not know, its declaration as a custom network
    (real-network.md step 2)."""
    net = form.network
    config: dict[str, Any] = {
        "node": {"ethereum": {net: {"uri": url}}},
        "ethereum": {net: {"required_confirmations": CONFIRMATIONS}},
        "foundry": {"fork": {"ethereum": {net: {"upstream_provider": "node"}}}},
    }
    if form.custom:
        config["networks"] = {
            "custom": [
                {
                    "name": net,
                    "chain_id": form.chain_id,
                    "ecosystem": "ethereum",
                    "base_ecosystem_plugin": "ethereum",
                    "default_provider": "node",
                }
            ]
        }
        config["ethereum"][net]["gas_limit"] = {"auto": {"multiplier": 1.25}}
    return config


def ape_run(
    home: Path, script: str, *args: str, alias: str | None = None, passphrase: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``ape run <script> <args>`` from the checkout (the deploy host: its venv and
    node_modules on PATH), ``home`` as the ape data folder, no terminal, the account's
    passphrase (if any) in ape's own variable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("APE_ACCOUNTS_")}
    env["APE_DATA_FOLDER"] = str(home)
    env["PATH"] = f"{ROOT / 'node_modules' / '.bin'}:{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    if alias is not None and passphrase is not None:
        env[f"APE_ACCOUNTS_{alias}_PASSPHRASE"] = passphrase
    return subprocess.run(
        ["ape", "run", script, *args], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def alerts(path: Path, code: str) -> list[dict[str, Any]]:
    """The alerts with ``code`` in the keeper's JSON log, its stderr file."""
    return alert_lines(path.read_text(errors="replace"), code)


def failures(path: Path) -> str:
    """What the keeper said went wrong (its last job_failed alerts, else its stderr's tail):
    the message of a walk that stops waiting."""
    lines = [str(d.get("message"))[:600] for d in alerts(path, "job_failed")[-3:]]
    return "\n".join(lines) or path.read_text(errors="replace")[-3000:]


def sqlite_backup(src: Path, dest: Path, venv: Path) -> None:
    """backups.md's line: ``sqlite3 keeper.db ".backup 'FILE'"``; where the host has no sqlite3
    command, the same online backup through the runtime venv's Python."""
    if shutil.which("sqlite3"):
        subprocess.run(["sqlite3", str(src), f".backup '{dest}'"], check=True, timeout=60)
    else:
        code = (
            "import sqlite3,sys; sqlite3.connect(sys.argv[1]).backup(sqlite3.connect(sys.argv[2]))"
        )
        subprocess.run([str(venv / "bin" / "python"), "-c", code, str(src), str(dest)],
                       check=True, timeout=60)  # fmt: skip


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


@pytest.fixture(scope="module")
def venv() -> Path:
    """The runtime wheel in a clean venv; no command of the dev toolchain in it."""
    v = runtime_venv()
    assert (v / "bin" / "keeper").exists()
    assert [t for t in DEV_TOOLS if (v / "bin" / t).exists()] == []
    return v


def test_runtime_wheel__every_module_imports_in_its_clean_venv__no_dev_package(
    venv: Path,
) -> None:
    # every module of the wheel (each bot's, the cross-chain routes' included; the store's
    # migrations run under alembic) imports with the wheel's own dependencies, and none of the
    # dev toolchain's packages is there
    probe = (
        "import importlib, importlib.util as u, pkgutil, keepers\n"
        "mods = [m.name for m in pkgutil.walk_packages(keepers.__path__, 'keepers.')\n"
        "        if '.migrations' not in m.name]\n"
        "for m in mods: importlib.import_module(m)\n"
        "print(len(mods), *[m for m in ('ape', 'ballast_dev', 'pytest', 'solcx') if u.find_spec(m)])"
    )
    r = subprocess.run(
        [str(venv / "bin" / "python"), "-c", probe],
        capture_output=True, text=True, env={"PATH": str(venv / "bin")}, cwd="/",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    count, *dev = r.stdout.split()
    assert int(count) > 50 and dev == [], r.stdout


def walk(form: Form, venv: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def mark(step: str) -> None:
        timings[step] = time.monotonic() - t0

    mining = ("--block-time", str(form.block_time_s))
    node = Anvil(
        "--chain-id", str(form.chain_id), *mining, *(["--mixed-mining"] * form.mixed_mining)
    )
    proxy = RpcProxy(node.url)  # the keeper's node URL: a port the test can close
    try:
        _walk(form, venv, tmp_path, procs, node, proxy, mark)
    finally:
        stop_all(procs)
        proxy.close()
        node.stop()
        print(
            f"operator walk ({form.name}, {form.network}, {form.block_time_s} s blocks): "
            f"{time.monotonic() - t0:.1f}s; "
            + ", ".join(f"{k} at {v:.1f}s" for k, v in timings.items())
        )


def _walk(
    form: Form,
    venv: Path,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
    node: Anvil,
    proxy: RpcProxy,
    mark: Callable[[str], None],
) -> None:
    w3, chain_id, net = node.w3, form.chain_id, form.network
    assert w3.eth.chain_id == chain_id
    b0 = w3.eth.block_number
    # the chain mines on its own, block by block (waited for, not slept: 1.5 blocks before)
    wait_until("a block mined with no transaction sent", lambda: w3.eth.block_number > b0,
               form.block_time_s * 3)  # fmt: skip
    addr = {i: Account.from_key(key(i)).address for i in range(10)}
    owner = {n: account_address(n) for n in (*OWNERS, "mallory")}

    # -- the operator's ape data folder: the node and 2 confirmations in the user-level config
    # (the long form's chain declared there too), the deployer's key
    home = make_ape_home(tmp_path / "ape-home", extra=user_config(form, node.url), rehearsal=False)
    assert write_account(home, "deployer", key(DEPLOYER), PASSPHRASE) == addr[DEPLOYER]
    # the Safe owners' keys, and mallory's (nobody's owner): each in their own keystore
    keystores = tmp_path / "owners-ape-home"
    assert (
        write_test_keystores(keystores, APPROVER_PASSPHRASE, (*OWNERS, "mallory"), scrypt_n=2**10)
        == owner
    )

    # what exists on the chain already (the stablecoin, its feed, the funds the fund holds)
    # and the profile naming it
    (tmp_path / "deployments").mkdir()
    d = prepare_deploy(
        w3, net, tmp_path / f"{net}.yaml", tmp_path / "deployments" / f"ethereum-{net}.json"
    )
    record, network = d.record, d.network
    mark("chain ready")

    # -- deploy.md steps 4 and 5: the dry run (long form), the unattended deploy
    if form.dry_run:
        head, nonce = w3.eth.block_number, w3.eth.get_transaction_count(addr[DEPLOYER])
        dry = dry_run_deploy(home, d)  # succeeds, the 4 calls printed, no record
        assert "total gas " in dry.stdout and f"dry run on a fork of {net}" in dry.stdout
        # nothing sent: the deployer's nonce unchanged, the blocks mined meanwhile empty
        assert w3.eth.get_transaction_count(addr[DEPLOYER]) == nonce
        mined = range(head + 1, w3.eth.block_number + 1)
        assert [b for b in mined if w3.eth.get_block(b)["transactions"]] == []
        mark("dry run")
    real, data = deploy(home, d, chain_id)
    assert data["network"] == f"ethereum:{net}" and data["deployer"] == addr[DEPLOYER]
    # the operator's 2 confirmations, from the user-level config, honoured and said
    said = [x for x in real.stdout.splitlines() if "confirmation" in x]
    source = f"ethereum.{net}.required_confirmations in {home / 'ape-config.yaml'}"
    assert f"confirmations: {CONFIRMATIONS} ({source})" in real.stdout, said
    assert f"{CONFIRMATIONS} confirmation(s) awaited" in real.stdout, said
    mark("deployed")

    # -- deploy.md step 7: the hand-over. The Safe's owners make exactly the calls the
    # checklist printed, written as a Safe{Wallet} Transaction Builder batch: one Safe
    # transaction (a MultiSendCallOnly DELEGATECALL) at the nonce and SafeTx hash it states,
    # checked by each owner before signing, signed by two of them (off-line), sent by any account
    h = read_handover(w3, data, record, real.stdout, chain_id)
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
    assert tb.safe_tx_hash(chain_id, safe.address, h.tx, h.nonce) == h.tx_hash
    assert f"batch written to {h.batch_path}: 4 call(s) as one MultiSendCallOnly" in real.stdout
    handover = ("handover", "--network", network, "--record", str(record))
    if form.dry_run:  # the long form: the check command before the owners act (deploy.md 7)
        check = ape_run(home, *handover)
        assert check.returncode == 1, check.stdout[-3000:] + check.stderr[-3000:]
        stated = f"Safe nonce {h.nonce}, SafeTx hash 0x{h.tx_hash.hex()}"
        assert stated in check.stdout, check.stdout
    execute_handover(w3, h)  # alice and carol sign; the Safe then owns each contract
    # the deploy's own check, in the test process (the project's contracts and the Safe bound
    # over web3: ape is not connected to this chain here): the deployer holds no role and no
    # ownership; then as the operator runs it, read from the chain
    status = handover_status(
        Web3Project(w3), data, addr[DEPLOYER], safe.address, safe_at=lambda a: Views(safe_at(w3, a))
    )
    assert status.complete, (status.todo, status.held)
    check = ape_run(home, *handover)
    assert check.returncode == 0, check.stdout[-3000:] + check.stderr[-3000:]
    assert "hand-over complete: the deployer" in check.stdout, check.stdout
    mark("handed over")

    # -- real-network.md step 5: the keeper from the installed wheel, its venv alone on PATH;
    # its store and its keyfile (what `ape accounts import keeper` writes) where the shipped
    # unit puts them: /var/lib/ballast, the one directory its sandbox lets it write
    host = tmp_path / "opt-ballast"  # the keeper's working directory (systemd: /opt/ballast)
    host.mkdir()
    state = tmp_path / "var-lib-ballast"  # systemd: /var/lib/ballast (StateDirectory)
    (state / "ape" / "accounts").mkdir(parents=True)
    assert write_account(state / "ape", "keeper", key(KEEPER), PASSPHRASE) == addr[KEEPER]
    keeper_home = tmp_path / "keeper-home"  # empty: ProtectHome hides the user's ~/.ape
    keeper_home.mkdir()
    auto = data["automation"]
    db_file = state / "keeper.db"
    port = free_port()
    # /etc/ballast/keeper.env as real-network.md step 5 and running.md "As a systemd service"
    # say, and the environment, working directory and command the shipped unit gives the
    # keeper (deploy/systemd/ballast-keeper.service), but with the venv's bin alone on PATH
    etc = tmp_path / "etc-ballast"
    etc.mkdir()
    settings = {
        "KEEPER_RPC_URL": proxy.url,
        "KEEPER_SIGNER_KIND": "ape",
        "KEEPER_SIGNER_ALIAS": "keeper",
        "KEEPER_SIGNER_PASSPHRASE": PASSPHRASE,
        "KEEPER_DEPLOYMENT": str(record),
        "KEEPER_CHAIN_ID": str(chain_id),
        "KEEPER_CONFIRMATIONS_BY_CHAIN": json.dumps({str(chain_id): CONFIRMATIONS}),
        "KEEPER_METRICS_PORT": str(port),  # the unit's 9464 is taken by another test
        "KEEPER_EXECUTOR_SCHEDULER": auto["scheduler"],
        "KEEPER_SUPERVISOR_SCHEDULER": auto["scheduler"],
        "KEEPER_SUPERVISOR_REGISTRY": auto["paid_registry"],
        # the test's own pace and amounts (real-network.md step 5 says which it sets): waiting
        # plans and event triggers every second; the keeper's own approval rules, small so
        # the amounts stay small: 2 of 3 above 5K (the executor's threshold caps them too);
        # the admins are the Safe's owners, read from chain (no REBALANCE_ADMINS behind an
        # executor)
        "KEEPER_PLAN_TICK_S": "1",
        "KEEPER_HEALTH_INTERVAL_S": "0.5",
        "KEEPER_RETRY_BACKOFF_S": "0.05",
        "APPROVAL_REVIEW_AMOUNT": "1000",
        "REBALANCE_APPROVAL_THRESHOLD": "2000",
        "APPROVAL_MULTISIG_AMOUNT": "5000",
        "LARGE_DEPOSIT_AMOUNT": "10000",
    }
    write_environment_file(etc / "keeper.env", settings)
    mapping = {
        "/opt/ballast/.venv": venv,
        "/opt/ballast": host,
        "/etc/ballast": etc,
        "/var/lib/ballast": state,
    }
    env = {
        **service_env(mapping, path=str(venv / "bin")),
        "HOME": str(keeper_home),  # systemd: the User='s home
        "LANG": "C.UTF-8",
    }
    assert env["KEEPER_LOG_JSON"] == "true" and env["KEEPER_METRICS_HOST"] == "127.0.0.1"
    # the store and the keyfile from the unit's own defaults
    assert env["KEEPER_DB_URL"] == f"sqlite:///{db_file}"
    assert env["APE_DATA_FOLDER"] == str(state / "ape")
    argv = exec_start(mapping)
    assert argv == [str(venv / "bin" / "keeper"), "run"], argv
    assert working_directory(mapping) == str(host)
    keeper = str(venv / "bin" / "keeper")

    def run(*argv: str, environ: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [keeper, *argv], env=environ or env, cwd=host, capture_output=True, text=True,
            timeout=180,
        )  # fmt: skip

    if form.run_once:
        once = run("run", "--once")
        assert once.returncode == 0, once.stdout[-3000:] + once.stderr[-3000:]
        mark("run --once")

    def start(n: int, **extra: str) -> tuple[subprocess.Popen[bytes], Path]:
        """The keeper as the unit starts it (its output in keeper-N.err), stopped at the end."""
        log = tmp_path / f"keeper-{n}.err"
        with open(log, "wb") as err:
            proc = subprocess.Popen(argv, env={**env, **extra}, cwd=host, stdout=err, stderr=err)
        procs.append(proc)
        return proc, log

    # the first keeper holds its plan's first transaction once sent, not yet committed (the
    # test's fault injector), for the SIGTERM below
    marker = tmp_path / "held"
    first, log1 = start(
        1, KEEPER_FAULT_INJECTION="1", KEEPER_HOLD_AT="sent:1", KEEPER_HOLD_FILE=str(marker)
    )
    wait_until(
        "the fund bot's first tick",
        lambda: metric(port, "keeper_last_tick_timestamp_seconds", 'bot="fund"'),
        120, first, lambda: failures(log1),
    )  # fmt: skip
    for bot in ("executor", "supervisor"):  # every bot of `keeper run` ticks from the wheel
        wait_until(
            f"the {bot} bot's first tick",
            lambda b=bot: metric(port, "keeper_last_tick_timestamp_seconds", f'bot="{b}"'),
            60, first, lambda: failures(log1),
        )  # fmt: skip
    assert metric(port, "keeper_rpc_up") == 1.0
    mark("keeper up")

    # -- a deposit; the running keeper plans it, freezes it for the executor, and the plan
    # waits for 2 of the Safe's 3 owners
    vault = at(w3, "TieredVault", data["vault"])
    usdt = at(w3, "TestStablecoin", d.cash)
    send_all(w3, key(FUNDER), [usdt.functions.mint(addr[DEPOSITOR], DEPOSIT * UNIT)])  # faucet
    if form.dry_run:  # the long form: real-network.md step 6's test deposit line
        assert write_account(home, "investor", key(DEPOSITOR), PASSPHRASE) == addr[DEPOSITOR]
        dep = ape_run(
            home, "deposit", "--network", network, "--account", "investor", "--autosign",
            "--amount", str(DEPOSIT), "--record", str(record),
            alias="investor", passphrase=PASSPHRASE,
        )  # fmt: skip
        assert dep.returncode == 0, dep.stdout[-3000:] + dep.stderr[-3000:]
    else:
        send_all(w3, key(DEPOSITOR), [usdt.functions.approve(data["vault"], DEPOSIT * UNIT)])
        send_all(w3, key(DEPOSITOR), [vault.functions.deposit(DEPOSIT * UNIT, addr[DEPOSITOR])])
    assert vault.functions.balanceOf(addr[DEPOSITOR]).call() > 0
    db = env["KEEPER_DB_URL"]
    ((ref, _, acts),) = wait_until(
        "a plan waiting for approval",
        lambda: [p for p in plan_rows(db) if p[1] == "pending_approval"],
        120, first, lambda: failures(log1),
    )  # fmt: skip
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
    mark("plan waiting")

    # -- approving.md: the owners sign from their own processes, with the wheel's keeper given
    # the store and no node and no keeper key: alice with her ape keystore (its passphrase in
    # ape's variable), bob in a wallet from the plan's typed data
    owner_env = runtime_env(
        venv,
        tmp_path / "owner-home",
        KEEPER_DB_URL=db,
        **approver_env(keystores, APPROVER_PASSPHRASE, ("alice", "mallory")),
    )
    keeper_nonce = w3.eth.get_transaction_count(addr[KEEPER])
    others = {i: w3.eth.get_transaction_count(a) for i, a in addr.items() if i != KEEPER}
    block0 = w3.eth.block_number
    r = run("approve", ref, "--account", "alice", environ=owner_env)
    assert r.returncode == 0 and f"signed by {owner['alice']}" in r.stdout, r.stdout + r.stderr
    assert APPROVER_PASSPHRASE not in r.stdout + r.stderr
    time.sleep(2)  # two keeper ticks: one signature of two, nothing may run
    assert plan_rows(db)[0][1] == "pending_approval"
    assert w3.eth.get_transaction_count(addr[KEEPER], "pending") == keeper_nonce
    # mallory's own keystore signs the same plan: her key is no owner, refused, nothing recorded
    r = run("approve", ref, "--account", "mallory", environ=owner_env)
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"recovers to {owner['mallory']}, not an admin of plan {ref}" in r.stdout + r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert [a for a, _, _ in plan_state(db, ref)[1]] == [owner["alice"]]
    r = run("review", ref, "--typed-data", environ=owner_env)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)  # the file bob's wallet signs (eth_signTypedData_v4)
    signed = Account.sign_message(encode_typed_data(full_message=doc), account_key("bob"))
    r = run("approve", ref, "--signature", signed.signature.to_0x_hex(), environ=owner_env)
    assert r.returncode == 0 and f"signed by {owner['bob']}" in r.stdout, r.stdout + r.stderr
    mark("approved")

    # -- the keeper simulates and executes; SIGTERM with its first transaction in flight
    # (running.md "Stopping"). Nothing reads the store until then: the keeper may reach its
    # hold within a tick of bob's signature, and the hold (KEEPER_HOLD_AT=sent, "sent, not yet
    # committed") stands inside the pipeline's broadcast transaction, which holds SQLite's
    # write lock until the SIGTERM releases it; a read here would wait for a lock only this
    # test's own SIGTERM frees. The store is read once the keeper has stopped.
    assert wait_file(marker, first, 120), failures(log1)
    sent_at_signal = w3.eth.get_transaction_count(addr[KEEPER], "pending") - keeper_nonce
    signalled = time.monotonic()
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=BOUND_S + 30)
    stop_s = time.monotonic() - signalled
    text = log1.read_text(errors="replace")
    assert first.returncode == 0, text[-3000:]
    assert stop_s < BOUND_S and "keeper: received SIGTERM, stopping" in text
    assert "keeper.signal_received" in text and "keeper stopped" in text
    assert sent_at_signal == 1
    # the approval_needed alert reached the log once, with the plan and how to sign it
    (alert,) = alerts(log1, "approval_needed")
    assert alert["plan"] == ref and alert["level"] == "warning" and alert["required"] == 2
    assert alert["plan_hash"] == frozen["plan_hash"]
    assert f"keeper approve {ref} --account <alias>" in alert["message"]
    assert not Path(f"{db_file}-wal").exists()  # the store was closed
    ((_, status_, acts),) = plan_rows(db)
    sent = sum(1 for a in acts if a[2] is not None)
    assert status_ == "approved" and sent == 1 < n, (status_, acts)
    _, approvals = plan_state(db, ref)
    assert sorted(a for a, _, _ in approvals) == sorted(owner[n] for n in ("alice", "bob"))
    assert [d for _, d, _ in approvals] == ["approve", "approve"], approvals
    # the executor itself counts the two recorded signatures of the frozen plan's hash as two
    # distinct current owners of the Safe
    sigs = [bytes.fromhex(str(sig).removeprefix("0x")) for _, _, sig in approvals]
    plan_hash = bytes.fromhex(frozen["plan_hash"].removeprefix("0x"))
    assert executor.functions.countApprovals(plan_hash, sigs).call() == 2
    mark("SIGTERM mid-plan")

    # -- backups.md: the online backup, then a restore in place with the keeper stopped
    backup = tmp_path / "keeper-backup.db"
    sqlite_backup(db_file, backup, venv)
    db_file.unlink()
    shutil.copy2(backup, db_file)
    mark("backup and restore")

    # -- the keeper again, on the restored store: it resumes the plan and ends it, each
    # action once
    second, log2 = start(2)
    wait_until(
        "the resumed plan executed",
        lambda: plan_rows(db)[0][1] == "executed",
        180,
        second,
        lambda: failures(log2),
    )
    mark("resumed and executed")
    keys = {k: v for k, v in intents_per_key(db).items() if k.startswith("fund:")}
    assert keys == {f"fund:{ref}:{i}": 1 for i in range(n)}
    on_chain = chain_transactions(w3, addr[KEEPER], block0)
    fund_txs = intents(db, "fund:")
    assert len(on_chain) == n == len(fund_txs)  # on chain: the keeper sent n transactions, no more
    assert [t["nonce"] for t in on_chain] == [t["nonce"] for t in fund_txs]
    assert {t["receipt_status"] for t in fund_txs} == {1}
    assert {str(t["sender"]).lower() for t in fund_txs} == {addr[KEEPER].lower()}
    # every keeper transaction went to the executor, which ran each action exactly once
    assert {t["to"] for t in on_chain} == {executor.address}, [t["to"] for t in on_chain]
    assert [executor.functions.executed(plan_id, k).call() for k in range(n + 1)] == [True] * n + [
        False
    ]
    # nobody else sent anything: not the owners (they only signed), the deployer or the others
    assert {i: w3.eth.get_transaction_count(a) for i, a in addr.items() if i != KEEPER} == others
    assert {n_: w3.eth.get_transaction_count(a) for n_, a in owner.items()} == dict.fromkeys(
        owner, 0
    )
    # no job of either keeper failed on the way (the simulation above all)
    assert alerts(log1, "job_failed") == alerts(log2, "job_failed") == [], failures(log1)

    # -- an RPC outage: the metric and the store-backed commands
    network_alert = ("rebalance_alerts_total", 'code="network"')
    errors_before = metric(port, "keeper_rpc_errors_total") or 0.0
    alerts_before = metric(port, *network_alert) or 0.0
    cut = time.monotonic()
    proxy.close_port()
    wait_until("keeper_rpc_up 0", lambda: metric(port, "keeper_rpc_up") == 0.0, 15, second)
    hist = run("history")
    assert hist.returncode == 0 and ref in hist.stdout, hist.stdout + hist.stderr
    review = run("review", ref)
    assert review.returncode == 0, review.stdout + review.stderr
    assert f"plan {ref}  status executed" in review.stdout
    # who signed what, read from the store with the node down: both signatures count
    assert "requirement multi_admin  2 of 2 counted" in review.stdout
    assert f"approve {owner['alice']}  (account alice)" in review.stdout, review.stdout
    assert f"approve {owner['bob']}  (" in review.stdout, review.stdout  # a wallet: no alias
    assert review.stdout.count(f"signed {frozen['plan_hash']}") == 2
    assert "mallory" not in review.stdout and owner["mallory"] not in review.stdout
    st = run("status")
    assert st.returncode == 3 and "chain data unavailable" in st.stdout + st.stderr
    assert "Traceback" not in st.stdout + st.stderr
    time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - cut)))
    assert second.poll() is None  # the keeper rode it out
    assert (metric(port, "keeper_rpc_errors_total") or 0.0) > errors_before
    wait_until("the network alert", lambda: (metric(port, *network_alert) or 0) > alerts_before, 15)
    proxy.open_port()
    wait_until("keeper_rpc_up 1", lambda: metric(port, "keeper_rpc_up") == 1.0, 15, second)
    mark("outage")

    # the fund ends in band, the keeper is ready, and it stops cleanly
    st = run("--json", "status")
    assert st.returncode == 0, st.stdout + st.stderr
    tiers = json.loads(st.stdout)["tiers"]
    assert all(t["within"] for t in tiers), tiers
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
        assert resp.status == 200
    assert not metric(port, *needed)  # the restarted keeper did not alert the plan again
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=BOUND_S + 30)
    assert second.returncode == 0, log2.read_text(errors="replace")[-3000:]
    assert alerts(log2, "approval_needed") == []
    mark("stopped")


def test_operator_walk__short__custom_network_wheel_venv_2_confirmations__approve_sigterm_backup_resume_outage(
    venv: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    walk(SHORT, venv, tmp_path, procs)


@pytest.mark.slow
def test_operator_walk__long__sepolia_dry_run_run_once_2s_blocks(
    venv: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    walk(LONG, venv, tmp_path, procs)
