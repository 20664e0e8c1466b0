"""The operator's deploy on a node declared as a real network (issue 13, "deploy unattended"):
an anvil standing in for the chain, reached as the custom network ``upstream`` at its own URI
(``--network ethereum:upstream:http://...``), declared as an operator declares theirs: in the
user-level config of a temporary ape data folder (tests/support/ape_home.py), which also holds
the deploy key as an ape keyfile account (what ``ape accounts import`` writes). Each
``ape run deploy`` is forked from the ape server (tests/support/ape_fork.py); the operator walk
runs the console script's own unattended deploy.

- ``--dry-run`` runs the whole deploy on an ape-foundry fork of that node and prints the plan:
  the node's head and the deployer's nonce do not move, no record is written;
- ``--autosign`` signs with the passphrase from ``APE_ACCOUNTS_<alias>_PASSPHRASE``, with no
  terminal (stdin closed): a wrong passphrase stops before the first transaction, and the
  passphrase never appears in the output;
- the real deploy runs out of funds part way: it stops saying where and how to go on (no
  traceback), the record keeps what was sent; the same command, funds topped up, resumes it
  and sends the rest of what the dry run planned, nothing twice, ending with "hand-over
  complete".

A deploy stopped by the fault injector and resumed is checked on the Safe profile's deploy
(tests/offchain/deploy/test_deploy_safe_cli.py: the message naming the steps done and the
record, the record kept, the deployer's nonce moved by its own steps, the resume saying how many
steps it took from the record); the missing passphrase's refusal on the deploy's account
loading in the test process (``load_account``; the wrong one runs through the command).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import click
import pytest
import yaml
from eth_account import Account
from eth_account.messages import encode_defunct
from web3 import Web3

from tests.support.anvil_node import start_anvil
from tests.support.ape_home import make_ape_home, run_deploy, write_account
from tests.support.pipeline_anvil import deploy as deploy_built

ROOT = Path(__file__).resolve().parents[3]
MNEMONIC = "test test test test test test test test test test test junk"
PASSPHRASE = "correct horse battery staple 42"
ALIAS = "ops-deployer"


@pytest.fixture
def ape_home(tmp_path):
    """An ape data folder (tests/support/ape_home.py: the rehearsal network ``upstream``
    declared in its user-level config, the installed packages shared) holding one keyfile
    account (as `ape accounts import` writes it) for the 8th key of the test mnemonic."""
    home = make_ape_home(tmp_path / "ape-home")
    Account.enable_unaudited_hdwallet_features()
    acct = Account.from_mnemonic(MNEMONIC, account_path="m/44'/60'/0'/0/7")
    return home, write_account(home, ALIAS, acct.key, PASSPHRASE)


def _deploy(
    url: str | None,
    home: Path,
    *args: str,
    passphrase: str | None = None,
    network: str = "",
    extra: dict[str, str] | None = None,
):
    network = network or f"ethereum:upstream:{url}"
    return run_deploy(home, network, ALIAS, *args, passphrase=passphrase, extra=extra)


def test_deploy__dry_run_then_autosign__nothing_sent_by_the_dry_run__out_of_funds_resumed(
    node, ape_home, tmp_path
):
    url, w3 = node
    home, deployer = ape_home
    record = tmp_path / "record.json"

    def fingerprint():
        head = w3.eth.get_block("latest")
        return head["number"], head["hash"], w3.eth.get_transaction_count(deployer)

    before = fingerprint()
    dry = _deploy(url, home, "--dry-run", "--record", str(record))
    assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
    assert fingerprint() == before  # the upstream's head and the deployer's nonce unchanged
    assert not record.exists()
    out = dry.stdout
    assert "dry run: " in out and "total gas " in out and "nothing was sent to it" in out
    planned = [ln.split()[0] for ln in out.splitlines() if ln.startswith("  deploy:")]
    assert "deploy:vault" in planned and "deploy:timelock" in planned
    total = int(out.split("total gas ")[1].split()[0].replace(",", ""))
    assert total > 10_000_000
    assert "hand-over complete" in out

    wrong = _deploy(url, home, "--autosign", "--record", str(record), passphrase="wrong")
    assert wrong.returncode != 0
    assert f"cannot unlock '{ALIAS}' with APE_ACCOUNTS_{ALIAS}_PASSPHRASE" in wrong.stderr
    assert fingerprint() == before and not record.exists()
    # no passphrase at all: test_load_account__autosign_without_passphrase... below (the same
    # refusal, raised where the wrong one is, before anything is sent); a deploy stopped by
    # the fault injector and resumed: tests/offchain/deploy/test_deploy_safe_cli.py

    # the half-written deploy: the deployer runs out of funds part way. The deploy
    # stops with where and what to do (no traceback), the record keeps what was sent, and the
    # same command run again (funds topped up) finishes it without deploying anything twice
    balance = w3.eth.get_balance(deployer)
    w3.provider.make_request("anvil_setBalance", [deployer, hex(2 * 10**16)])  # 0.02 ETH
    first = _deploy(url, home, "--autosign", "--record", str(record), passphrase=PASSPHRASE)
    assert first.returncode != 0
    assert "the deploy stopped" in first.stderr, first.stderr[-3000:]
    assert "run the same command again to resume" in first.stderr
    assert "Traceback" not in first.stderr
    partial = json.loads(record.read_text())
    sent = len(partial["steps"])
    assert 0 < sent < 60 and partial["complete"] is False
    spent = [s for s in partial["steps"] if s["from"] == deployer]
    assert w3.eth.get_transaction_count(deployer) == before[2] + len(spent)
    w3.provider.make_request("anvil_setBalance", [deployer, hex(balance)])

    real = _deploy(url, home, "--autosign", "--record", str(record), passphrase=PASSPHRASE)
    assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
    assert f"resuming from {record}: {sent} steps done" in real.stdout
    assert PASSPHRASE not in real.stdout + real.stderr + first.stdout + first.stderr
    data = json.loads(record.read_text())
    assert [s["step"] for s in data["steps"][:sent]] == [s["step"] for s in partial["steps"]]
    deployed = [s["address"] for s in data["steps"] if s.get("address")]
    assert len(deployed) == len(set(deployed))  # nothing deployed twice
    assert data["complete"] is True and data["deployer"] == deployer
    assert data["chain_id"] == w3.eth.chain_id and data["network"] == "ethereum:upstream"
    assert [s["step"] for s in data["steps"] if s["step"].startswith("deploy:")] == planned
    assert data["handover"]["todo"] == [] and data["handover"]["deployer_holds"] == []
    assert "hand-over complete" in real.stdout
    # the deploy sent what the dry run planned, once
    mine = [s for s in data["steps"] if s["from"] == deployer]
    assert w3.eth.get_transaction_count(deployer) == before[2] + len(mine)
    # every deployer step is on chain, in its recorded block
    for s in data["steps"]:
        assert w3.eth.get_transaction_receipt(s["tx"])["blockNumber"] == s["block"]


def test_load_account__autosign_without_passphrase_or_with_a_wrong_one__refused_naming_it(
    ape_home, monkeypatch
):
    """The deploy's account loading (scripts/deploy.py calls it before its first transaction;
    the wrong passphrase is run through the whole command above): ``--autosign`` with no
    ``APE_ACCOUNTS_<alias>_PASSPHRASE`` is refused naming the variable, a wrong one naming the
    variable and never the passphrase, the right one unlocks the keyfile for signing."""
    from ape_accounts.accounts import KeyfileAccount

    from ballast_dev.deployment.cli_support import load_account

    home, deployer = ape_home

    class Accounts:  # ape's account manager, for the keyfile in this ape data folder only
        def load(self, alias: str) -> KeyfileAccount:
            return KeyfileAccount(keyfile_path=home / "accounts" / f"{alias}.json")

    var = f"APE_ACCOUNTS_{ALIAS}_PASSPHRASE"
    monkeypatch.delenv(var, raising=False)
    with pytest.raises(click.ClickException) as missing:
        load_account(Accounts(), ALIAS, autosign=True)
    assert missing.value.message == f"--autosign: set {var} to the passphrase of {ALIAS!r}"
    monkeypatch.setenv(var, "wrong horse 41")
    with pytest.raises(click.ClickException) as wrong:
        load_account(Accounts(), ALIAS, autosign=True)
    assert f"cannot unlock {ALIAS!r} with {var}" in wrong.value.message
    assert "horse" not in wrong.value.message
    monkeypatch.setenv(var, PASSPHRASE)
    account = load_account(Accounts(), ALIAS, autosign=True)
    message = encode_defunct(text="deploy")
    signature = account.sign_message(message)  # no prompt: stdin is not a terminal here
    assert Account.recover_message(message, vrs=signature) == account.address == deployer


# -- a network declared outside the repository ------------------------------------------------

USER_CONFIG = """
node:
  ethereum:
    hoodi:
      uri: {url}
ethereum:
  hoodi:
    required_confirmations: 2
foundry:
  fork:
    ethereum:
      hoodi:
        upstream_provider: node
"""


def _deploy_raw(w3: Web3, name: str, *args) -> str:
    """A contract of this project's build, deployed with web3 alone by test account 0 (the
    tokens and the feed that exist already on the operator's chain)."""
    return str(deploy_built(w3, name, *args).address)


@pytest.mark.slow  # about 2 minutes: the deploy waits on 1-second blocks by design
def test_deploy__network_in_user_config_only__dry_run_and_deploy_with_its_confirmations(
    ape_home, tmp_path
):
    """The operator's network (here ``hoodi``: a chain ape knows, which the project's
    ape-config.yaml does not configure) is given in the user-level config only: its RPC, its
    confirmations and its fork provider. The dry run forks it, the deploy waits for the
    user's 2 confirmations once, on its last transaction (anvil mines a block a second)."""
    proc, url, w3 = start_anvil("--chain-id", "560048", "--block-time", "1")
    try:
        home, deployer = ape_home
        (home / "ape-config.yaml").write_text(USER_CONFIG.format(url=url))
        cash = _deploy_raw(w3, "TestStablecoin", "Tether USD (test)", "USDT", 6)
        feed = _deploy_raw(w3, "TestPriceFeed", 8, 10**8)
        mmf = _deploy_raw(w3, "TestMoneyMarketFund", cash, "MMF", "MMF")
        admin = Web3.to_checksum_address("0x" + "a1" * 20)
        profile = {
            "network": "hoodi",
            "base": {"address": cash},
            "tiers": [[1000, 500, 2000], [3000, 2000, 4000], [6000, 5000, 7000]],
            "risk": {"loss_budget": 50_000, "notional_budget": 10_000_000},
            "roles": {
                "admin": admin,
                "keeper": Web3.to_checksum_address("0x" + "b2" * 20),
                "guardian": Web3.to_checksum_address("0x" + "c3" * 20),
            },
            "timelock_delay": 3600,
            "assets": [{"symbol": "MMF", "kind": "erc4626", "tier": 1, "token": mmf, "feed": feed}],
            "automation": {"funder_deposit_wei": 10**17},
        }
        prof = tmp_path / "hoodi.yaml"
        prof.write_text(yaml.safe_dump(profile))
        record = tmp_path / "record.json"
        args = ("--profile", str(prof), "--record", str(record))

        nonce = w3.eth.get_transaction_count(deployer)
        dry = _deploy(None, home, "--dry-run", *args, network="ethereum:hoodi:node")
        assert dry.returncode == 0, dry.stdout[-3000:] + dry.stderr[-3000:]
        assert "total gas" in dry.stdout and not record.exists()
        assert w3.eth.get_transaction_count(deployer) == nonce
        # the dry run knows the hand-over a bare-address admin must finish
        assert "4 call(s) the admin must make" in dry.stdout

        started = time.monotonic()
        real = _deploy(
            None, home, "--autosign", *args, passphrase=PASSPHRASE, network="ethereum:hoodi:node"
        )
        elapsed = time.monotonic() - started
        assert real.returncode == 0, real.stdout[-3000:] + real.stderr[-3000:]
        assert "2 confirmation(s) awaited" in real.stdout
        data = json.loads(record.read_text())
        assert data["network"] == "ethereum:hoodi" and data["chain_id"] == 560048
        assert w3.eth.block_number >= data["blocks"]["last"] + 2
        todo = data["handover"]["todo"]
        assert [t["call"] for t in todo] == ["acceptOwnership()"] * 4
        assert all(t["who"] == f"admin {admin}" for t in todo)
        assert data["handover"]["deployer_holds"] == []
        for t in todo:
            assert f"{t['address']}  acceptOwnership()" in real.stdout
        print(f"deploy of {len(data['steps'])} transactions at 1 s blocks: {elapsed:.1f} s")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _networks(home: Path) -> str:
    env = dict(os.environ, APE_DATA_FOLDER=str(home))
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}:{env['PATH']}"
    out = subprocess.run(
        ["ape", "networks", "list", "--ecosystem", "ethereum"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


OPERATOR_CHAIN = {
    "networks": {
        "custom": [
            {
                "name": "operatorchain",
                "chain_id": 424242,
                "ecosystem": "ethereum",
                "base_ecosystem_plugin": "ethereum",
                "default_provider": "node",
            }
        ]
    },
    "node": {"ethereum": {"operatorchain": {"uri": "http://127.0.0.1:1"}}},
}


def test_user_config__custom_chain__declared_without_editing_a_tracked_file(tmp_path):
    """An operator declares a chain ape does not know in the user-level config only (README
    "Run on a real network", step 2): the project's ape-config.yaml declares no custom network,
    so the user's list is the one ape reads. With the project's rehearsal network in the same
    user-level file, both are there. Without it, only the operator's: the project's file
    declares none (checked below) and the data folder is the test's own, and
    tests/offchain/operator/test_operator_walk.py deploys and runs the keeper on
    ``operatorchain`` declared in a user-level file that holds no rehearsal network (a second
    ``ape networks list`` here cost about 5 s of CPU)."""
    both = _networks(make_ape_home(tmp_path / "both", extra=OPERATOR_CHAIN))
    assert "operatorchain" in both and "upstream" in both
    tracked = yaml.safe_load((ROOT / "ape-config.yaml").read_text())
    assert "custom" not in (tracked.get("networks") or {})  # a project list would hide theirs
