"""Issue 48, the walk as a test: the operator guide's real-network pages (docs/operator/
deploy.md, real-network.md, approving.md, running.md, stop-restart.md, backups.md) followed as
written, on a host where the keeper is what an operator installs.

- The chain is an anvil with interval mining (a block a second, two in the long form) and
  Sepolia's chain id, 11155111, standing in for the testnet: ape's own ``ethereum:sepolia``
  network with its node URI in the operator's **user-level** ape config, where the operator
  also asks for **2 confirmations** (``ethereum.sepolia.required_confirmations: 2``, deploy.md
  step 2); the keeper is asked for 2 in its own setting (``KEEPER_CONFIRMATIONS_BY_CHAIN``).
- The deploy (``ape run deploy ... --autosign``, the dev toolchain: ape runs the deploy) names
  what exists on the chain by address and creates the admin Safe (2 of alice, bob, carol) and
  the PlanExecutor. It holds no owner's key, so the hand-over is the Transaction Builder batch
  it writes beside its record: the test reads that file, checks its checksum, the Safe nonce
  and the SafeTx hash it states against the Safe's own ``getTransactionHash``, and executes it
  as the owners would (two owners sign the SafeTx hash off-line, any account with gas sends
  ``execTransaction``); ``ape run handover`` then finds the hand-over complete (the long form
  runs it before too: exit 1 and the same SafeTx hash).
- The keeper is the runtime wheel (``pip wheel .``) installed into a clean venv
  (tests/support/runtime_venv.py), run with that venv's ``bin`` alone on PATH: no ape, no node,
  no anvil, no PYTHONPATH; started with the shipped systemd unit's ``ExecStart``,
  ``WorkingDirectory`` and ``Environment=`` and an ``/etc/ballast/keeper.env`` of
  real-network.md step 5's settings, its store and ape keyfile where the unit puts them
  (``/var/lib/ballast``; its home is empty). ``keeper run`` (every bot ticks); a deposit (the
  long form with ``ape run deposit``); the plan waits for 2 of the Safe's 3 owners;
  two owners sign it elsewhere (``keeper review PLAN --typed-data``, signed with their keys
  as a wallet does, recorded with ``keeper approve PLAN --signature 0x...``: approving.md);
  the running keeper simulates and executes it; SIGTERM with the plan part-way (running.md
  "Stopping": exit 0, the plan approved with its sent actions recorded); a backup of the store
  with SQLite's online backup and a restore (backups.md); the keeper started again on the
  restored store resumes the plan and ends it, each action sent once, every transaction the
  keeper's, to the executor.

The short form (a block a second, anvil's ``--mixed-mining``: a transaction is mined when it
arrives, blocks come every second, so the deploy's 55 transactions do not take 55 s) runs in
``make test``; the long form (pure interval mining, two-second blocks, the deploy's dry run
first, ``keeper run --once`` before the long-lived keeper) is ``slow``.

On the main of issue 48's filing the walk fails twice over: the deploy awaits 1 confirmation,
not the operator's 2 (the project's ``ethereum.sepolia.required_confirmations: 1`` wins over
the user's file), and past that every ``fund.tick`` of the wheel's keeper fails with
``job_failed ... FileNotFoundError: 'anvil'`` (the fund bot simulated each plan on an anvil fork
it started itself): the wait for the plan's first transaction times out quoting those lines.
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

from ballast_dev.local.anvil_local import free_port
from ballast_dev.local.keystores import account_address, account_key
from keepers.fund.planning.plan_approval import SignedPlan
from tests.support.ape_home import ROOT, make_ape_home, write_account
from tests.support.keeper_store import intents, intents_per_key, plan_rows
from tests.support.operator_chain import (
    BOUND_S,
    DEPLOYER,
    DEPOSITOR,
    FUNDER,
    KEEPER,
    OWNERS,
    PASSPHRASE,
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
from tests.support.runtime_venv import DEV_TOOLS, runtime_env, runtime_venv
from tests.support.systemd_unit import (
    exec_start,
    service_env,
    working_directory,
    write_environment_file,
)
from tests.support.web3_views import at

CHAIN_ID = 11155111  # Sepolia's: ape's own ethereum:sepolia network
NETWORK = "sepolia"
CONFIRMATIONS = 2
DEPOSIT = 100_000


@dataclass(frozen=True)
class Form:
    name: str
    block_time_s: int
    mixed_mining: bool  # anvil's --mixed-mining: a transaction mined at once, blocks on time
    dry_run: bool  # deploy.md step 4 before step 5
    run_once: bool  # running.md: `keeper run --once` before the long-lived keeper


SHORT = Form("short", 1, mixed_mining=True, dry_run=False, run_once=False)
LONG = Form("long", 2, mixed_mining=False, dry_run=True, run_once=True)


def user_config(url: str) -> dict[str, Any]:
    """The operator's ~/.ape/ape-config.yaml for Sepolia (deploy.md step 2), asking for 2
    confirmations."""
    return {
        "node": {"ethereum": {NETWORK: {"uri": url}}},
        "ethereum": {NETWORK: {"required_confirmations": CONFIRMATIONS}},
        "foundry": {"fork": {"ethereum": {NETWORK: {"upstream_provider": "node"}}}},
    }


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
    node = Anvil("--chain-id", str(CHAIN_ID), *mining, *(["--mixed-mining"] * form.mixed_mining))
    try:
        _walk(form, venv, tmp_path, procs, node, mark)
    finally:
        stop_all(procs)
        node.stop()
        print(
            f"operator walk ({form.name}, {form.block_time_s} s blocks): "
            f"{time.monotonic() - t0:.1f}s; "
            + ", ".join(f"{k} at {v:.1f}s" for k, v in timings.items())
        )


def _walk(
    form: Form,
    venv: Path,
    tmp_path: Path,
    procs: list[subprocess.Popen[bytes]],
    node: Anvil,
    mark: Callable[[str], None],
) -> None:
    w3 = node.w3
    assert w3.eth.chain_id == CHAIN_ID
    b0 = w3.eth.block_number
    time.sleep(form.block_time_s * 1.5)
    assert w3.eth.block_number > b0  # the chain mines on its own, block by block
    addr = {i: Account.from_key(key(i)).address for i in range(10)}
    owner = {n: account_address(n) for n in OWNERS}

    # -- the operator's ape data folder: Sepolia's node and 2 confirmations, the deployer's key
    home = make_ape_home(tmp_path / "ape-home", extra=user_config(node.url), rehearsal=False)
    assert write_account(home, "deployer", key(DEPLOYER), PASSPHRASE) == addr[DEPLOYER]

    # what exists on the chain already (the stablecoin, its feed, the funds the fund holds)
    # and the profile naming it
    (tmp_path / "deployments").mkdir()
    d = prepare_deploy(
        w3, NETWORK, tmp_path / "sepolia.yaml", tmp_path / "deployments" / "ethereum-sepolia.json"
    )
    record, network = d.record, d.network
    mark("chain ready")

    # -- deploy.md steps 4 and 5: the dry run (long form), the unattended deploy
    if form.dry_run:
        dry_run_deploy(home, d)
        mark("dry run")
    real, data = deploy(home, d, CHAIN_ID)
    # the operator's 2 confirmations, from the user-level config, honoured and said
    said = [x for x in real.stdout.splitlines() if "confirmation" in x]
    source = f"ethereum.{NETWORK}.required_confirmations in {home / 'ape-config.yaml'}"
    assert f"confirmations: {CONFIRMATIONS} ({source})" in real.stdout, said
    assert f"{CONFIRMATIONS} confirmation(s) awaited" in real.stdout, said
    mark("deployed")

    # -- deploy.md step 7: the hand-over, executed from the batch file through the Safe, after
    # the checks each owner makes before signing (the nonce and SafeTx hash the deploy stated)
    h = read_handover(w3, data, record, real.stdout, CHAIN_ID)
    executor = h.executor
    handover = ("handover", "--network", network, "--record", str(record))
    if form.dry_run:  # the long form: the check command before the owners act (deploy.md 7)
        check = ape_run(home, *handover)
        assert check.returncode == 1, check.stdout[-3000:] + check.stderr[-3000:]
        stated = f"Safe nonce {h.nonce}, SafeTx hash 0x{h.tx_hash.hex()}"
        assert stated in check.stdout, check.stdout
    execute_handover(w3, h)
    check = ape_run(home, *handover)  # the deploy's check, read from the chain
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
        "KEEPER_RPC_URL": node.url,
        "KEEPER_SIGNER_KIND": "ape",
        "KEEPER_SIGNER_ALIAS": "keeper",
        "KEEPER_SIGNER_PASSPHRASE": PASSPHRASE,
        "KEEPER_DEPLOYMENT": str(record),
        "KEEPER_CHAIN_ID": str(CHAIN_ID),
        "KEEPER_CONFIRMATIONS_BY_CHAIN": json.dumps({str(CHAIN_ID): CONFIRMATIONS}),
        "KEEPER_METRICS_PORT": str(port),  # the unit's 9464 is taken by another test
        "KEEPER_EXECUTOR_SCHEDULER": auto["scheduler"],
        "KEEPER_SUPERVISOR_SCHEDULER": auto["scheduler"],
        "KEEPER_SUPERVISOR_REGISTRY": auto["paid_registry"],
        # the test's own pace and amounts (real-network.md step 5 says which it sets)
        "KEEPER_PLAN_TICK_S": "1",
        "KEEPER_HEALTH_INTERVAL_S": "0.5",
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

    def start(n: int) -> tuple[subprocess.Popen[bytes], Path]:
        """The keeper as the unit starts it (its output in keeper-N.err), stopped at the end."""
        log = tmp_path / f"keeper-{n}.err"
        with open(log, "wb") as err:
            proc = subprocess.Popen(argv, env=env, cwd=host, stdout=err, stderr=err)
        procs.append(proc)
        return proc, log

    first, log1 = start(1)
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
    mark("keeper up")

    # -- a deposit; the running keeper plans it and the plan waits for 2 of 3 owners
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
    mark("plan waiting")

    # -- approving.md: two owners sign the plan's typed data elsewhere and record it
    owner_env = runtime_env(venv, tmp_path / "owner-home", KEEPER_DB_URL=db)
    keeper_nonce = w3.eth.get_transaction_count(addr[KEEPER])
    block0 = w3.eth.block_number
    r = run("review", ref, "--typed-data", environ=owner_env)
    assert r.returncode == 0, r.stderr[-3000:]
    doc = json.loads(r.stdout)  # the file each owner's wallet signs (eth_signTypedData_v4)
    for i, name in enumerate(("alice", "bob")):
        signed = Account.sign_message(encode_typed_data(full_message=doc), account_key(name))
        r = run("approve", ref, "--signature", signed.signature.to_0x_hex(), environ=owner_env)
        assert r.returncode == 0 and f"signed by {owner[name]}" in r.stdout, r.stdout + r.stderr
        if i == 0:
            time.sleep(2)  # two keeper ticks: one signature of two, nothing may run
            assert plan_rows(db)[0][1] == "pending_approval"
            assert w3.eth.get_transaction_count(addr[KEEPER], "pending") == keeper_nonce
    mark("approved")

    # -- the keeper simulates and executes; SIGTERM once its first transaction is out
    # (running.md "Stopping")
    wait_until(
        "the plan's first transaction (simulated, then sent)",
        lambda: intents(db, f"fund:{ref}:"),
        120, first, lambda: failures(log1),
    )  # fmt: skip
    signalled = time.monotonic()
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=BOUND_S + 30)
    stop_s = time.monotonic() - signalled
    text = log1.read_text(errors="replace")
    assert first.returncode == 0, text[-3000:]
    assert stop_s < BOUND_S and "keeper: received SIGTERM, stopping" in text
    assert not Path(f"{db_file}-wal").exists()  # the store was closed
    ((_, status, acts),) = plan_rows(db)
    sent = sum(1 for a in acts if a[2] is not None)
    assert status == "approved" and 1 <= sent < n, (status, acts)
    mark("SIGTERM mid-plan")

    # -- backups.md: the online backup, then a restore in place with the keeper stopped
    backup = tmp_path / "keeper-backup.db"
    sqlite_backup(db_file, backup, venv)
    db_file.unlink()
    shutil.copy2(backup, db_file)
    mark("backup and restore")

    # -- the keeper again, on the restored store: it resumes the plan and ends it
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
    assert len(on_chain) == n == len(fund_txs)  # the keeper sent n transactions, no more
    assert {t["to"] for t in on_chain} == {executor.address}
    assert {t["receipt_status"] for t in fund_txs} == {1}
    plan_id = SignedPlan.plan_id_for(ref)
    assert [executor.functions.executed(plan_id, k).call() for k in range(n + 1)] == [True] * n + [
        False
    ]
    assert {n_: w3.eth.get_transaction_count(a) for n_, a in owner.items()} == dict.fromkeys(
        owner, 0
    )  # the owners only signed

    st = run("--json", "status")
    assert st.returncode == 0, st.stdout + st.stderr
    tiers = json.loads(st.stdout)["tiers"]
    assert all(t["within"] for t in tiers), tiers
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
        assert r.status == 200
    second.send_signal(signal.SIGTERM)
    second.wait(timeout=BOUND_S + 30)
    assert second.returncode == 0, log2.read_text(errors="replace")[-3000:]
    # no job of either keeper failed on the way (the simulation above all)
    assert alerts(log1, "job_failed") == alerts(log2, "job_failed") == [], failures(log1)
    mark("stopped")


def test_operator_walk__short__wheel_venv_only_sepolia_1s_blocks_2_confirmations(
    venv: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    walk(SHORT, venv, tmp_path, procs)


@pytest.mark.slow
def test_operator_walk__long__dry_run_run_once_2s_blocks(
    venv: Path, tmp_path: Path, procs: list[subprocess.Popen[bytes]]
) -> None:
    walk(LONG, venv, tmp_path, procs)
