"""Upgrades tested from the last release's store: the 0.1.0 keeper's SQLite store with plans in
every state and the chain it drove (fixtures/0.1.0, written by fixtures/0.1.0/make_fixture.py
in a checkout of v0.1.0), opened by this keeper as docs/operator/upgrades.md says: the store
migrates at start-up, nothing is lost, `keeper history` shows every plan, the half-executed
plan resumes with each action sent once; and the page's downgrade, after which the 0.1.0
keeper (its code taken from the v0.1.0 tag) resumes a plan this keeper half executed.

Each test starts its own anvil and loads the fixture's chain (anvil_loadState), copies the
store, and drives the keeper in-process (CliRunner) except the 0.1.0 keeper (a subprocess).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from web3 import Web3

from ballast_dev.local.anvil_local import start_anvil, stop_anvil
from keepers.cli import main
from keepers.store.db import HEAD_REVISION, downgrade, make_engine, stored_revision
from tests.support.fundbotlib import KillBeforeSecondAction
from tests.support.operator_chain import key

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "fixtures" / "0.1.0"
INFO = json.loads((FIXTURE / "fixture.json").read_text())
NOW = INFO["now"] + 4_000  # after every plan was made, before any deadline
TABLES = ("plans", "actions", "approvals", "tx_intents", "tx_attempts", "job_runs", "fund_carry")
# columns added after 0.1.0 (plans.deployment: 0010; tx_attempts.route: 0012)
ADDED = frozenset({"deployment", "route"})


class Old:
    """The 0.1.0 chain loaded on a fresh anvil, the 0.1.0 store copied, the keeper's env."""

    def __init__(self, tmp: Path) -> None:
        self.proc, self.url = start_anvil(chain_id=INFO["chain_id"])
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))
        state = "0x" + (FIXTURE / "chain.state.json.gz").read_bytes().hex()
        assert self.w3.provider.make_request("anvil_loadState", [state])["result"] is True
        self.db = tmp / "keeper.db"
        shutil.copyfile(FIXTURE / "keeper.db", self.db)
        self.account = INFO["keeper"]
        signer = key(2)
        assert Web3().eth.account.from_key(signer).address == self.account
        self.env = {
            "KEEPER_RPC_URL": self.url,
            "KEEPER_DB_URL": f"sqlite:///{self.db}",
            "KEEPER_DEPLOYMENT": str(FIXTURE / "deployment.json"),
            "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
            "KEEPER_CHAIN_ID": str(INFO["chain_id"]),
            "KEEPER_LOG_LEVEL": "WARNING",
            "KEEPER_NATIVE_PRICE": "0",
            "REBALANCE_ADMINS": "alice,bob,carol",
            "KEEPER_SIGNER_KEY": "0x" + signer.hex(),
        }

    def keeper(self, *args: str) -> Any:
        r = CliRunner(mix_stderr=False).invoke(main, list(args), env=self.env)
        assert r.exit_code == 0, (args, r.stdout, r.stderr, r.exception)
        return json.loads(r.stdout) if "--json" in args else r.stdout

    def nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.account))

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the 0.1.0 tables, columns 0.1.0 had (a new column is left out)."""
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            out = {}
            for t in TABLES:
                cols = [r[1] for r in c.execute(f"PRAGMA table_info({t})") if r[1] not in ADDED]
                out[t] = c.execute(f"SELECT {','.join(cols)} FROM {t} ORDER BY id").fetchall()
            return out

    def intents_per_action(self) -> dict[tuple[str, int], int]:
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            rows = c.execute(
                "SELECT p.ref, a.seq, COUNT(i.id) FROM actions a JOIN plans p ON p.id = a.plan_id"
                " LEFT JOIN tx_intents i ON i.idempotency_key = 'fund:' || p.ref || ':' || a.seq"
                " GROUP BY p.ref, a.seq"
            ).fetchall()
        return {(r[0], r[1]): r[2] for r in rows}

    def done(self, ref: str) -> int:
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            rows = c.execute(
                "SELECT a.payload FROM actions a JOIN plans p ON p.id = a.plan_id WHERE p.ref = ?",
                (ref,),
            ).fetchall()
        return sum(1 for (p,) in rows if (json.loads(p).get("result") or {}).get("success"))

    def actions(self, ref: str) -> int:
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            (n,) = c.execute(
                "SELECT COUNT(*) FROM actions a JOIN plans p ON p.id = a.plan_id WHERE p.ref = ?",
                (ref,),
            ).fetchone()
        return int(n)

    def stop(self) -> None:
        stop_anvil(self.proc)


@pytest.fixture
def old(tmp_path: Path) -> Iterator[Old]:
    o = Old(tmp_path)
    yield o
    o.stop()


def _sent_keys(db: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(db)) as c:
        return [r[0] for r in c.execute("SELECT idempotency_key FROM tx_intents")]


def test_upgrade__0_1_0_store__migrates_and_keeps_every_plan_history_shows_each(old):
    started = time.monotonic()
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == "0008"
    before = old.rows()
    plans = old.keeper("--json", "history")
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == HEAD_REVISION
    assert old.rows() == before  # nothing lost, nothing changed by the migration
    shown = {p["plan"]: p["status"] for p in plans}
    assert shown == {ref: INFO["statuses"][name] for name, ref in INFO["plans"].items()}
    # the old plans have no deployment recorded and these are 0.1.0 contracts: this one's
    assert all(p["deployment"] is None and p["other_deployment"] is None for p in plans)
    status = old.keeper("--json", "status")
    assert status["release"]["contracts_release"] == "0.1.0 or older"
    assert status["release"]["abis_release"] == "0.2.0"
    print(f"upgrade (migrate + history + status): {time.monotonic() - started:.1f} s")


def test_upgrade__half_executed_plan__resumes_each_action_sent_once(old):
    started = time.monotonic()
    half, approved = INFO["plans"]["half"], INFO["plans"]["approved"]
    assert old.nonce() == INFO["keeper_nonce"]
    left = old.actions(half) - old.done(half)
    assert old.done(half) == 1 and left >= 1
    keys_before = _sent_keys(old.db)
    out = old.keeper("--json", "--now", str(NOW), "run", "--once", "--bots", "fund")
    assert {r["ref"]: r["done"] for r in out["resumes"]}[half] == 1
    moved = {r["plan_id"]: r["status"] for c in out["cycle"] for r in c["result"] or []}
    assert moved[half] == "executed" and moved[approved] == "executed", out["cycle"]
    # each action of the two approved plans sent once: one transaction per action left
    assert old.nonce() - INFO["keeper_nonce"] == left + old.actions(approved)
    keys = _sent_keys(old.db)
    assert len(keys) == len(set(keys)) and set(keys_before) <= set(keys)
    assert all(n <= 1 for n in old.intents_per_action().values())
    assert old.done(half) == old.actions(half)
    # a second run sends nothing more
    nonce = old.nonce()
    old.keeper("--json", "--now", str(NOW + 60), "run", "--once", "--bots", "fund")
    assert old.nonce() == nonce
    print(f"upgrade (resume the half-executed plan): {time.monotonic() - started:.1f} s")


def _old_keeper_code(tmp: Path) -> Path:
    """The 0.1.0 keeper's package, from the tag (or its commit) of this repository."""
    out = tmp / "keeper-0.1.0"
    out.mkdir()
    for ref in ("v0.1.0", "f7cf037"):
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "keepers"], capture_output=True
        )
        if archive.returncode == 0:
            subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
            return out
    pytest.skip("neither the v0.1.0 tag nor its commit is in this clone (a shallow clone)")


def test_downgrade__as_the_docs_say__0_1_0_keeper_resumes_a_plan_this_keeper_half_executed(
    old, tmp_path
):
    from keepers.fund.bot import FundBot
    from keepers.fund.settings import load_fund_config
    from keepers.runtime.alerts import Alerter
    from keepers.store.db import Store
    from keepers.tx.signers import RawKeySigner

    started = time.monotonic()
    half = INFO["plans"]["half"]
    # this keeper resumes the half-executed plan and is killed before its second action
    cfg = load_fund_config(old.env)
    store = Store(cfg.keeper.db_url)
    bot = FundBot(cfg, store, signer=RawKeySigner(key(2)), alerter=Alerter([]))
    bot.check_chain()
    bot.before_action = KillBeforeSecondAction()
    with contextlib.suppress(KeyboardInterrupt):
        bot.advance(half, NOW)
    store.close()
    assert old.done(half) == 2 and old.nonce() == INFO["keeper_nonce"] + 1
    # the page's downgrade: this version's code takes the schema back to 0.1.0's revision
    downgrade(make_engine(old.env["KEEPER_DB_URL"]), "0008")
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == "0008"
    # the 0.1.0 keeper resumes it: each action left sent once
    code = _old_keeper_code(tmp_path)
    env = {**os.environ, **old.env, "PYTHONPATH": str(code)}
    r = subprocess.run(
        [sys.executable, "-c", "from keepers.cli import main; main()", "--json", "--now",
         str(NOW + 120), "run", "--once", "--bots", "fund"],
        cwd=code, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert "0.2.0" not in subprocess.run(
        [sys.executable, "-c", "import keepers; print(keepers.__version__, keepers.__file__)"],
        cwd=code, env=env, capture_output=True, text=True,
    ).stdout  # fmt: skip
    out = json.loads(r.stdout)
    assert {x["ref"]: x["done"] for x in out["resumes"]}[half] == 2
    assert old.done(half) == old.actions(half)
    approved = INFO["plans"]["approved"]
    assert old.nonce() - INFO["keeper_nonce"] == old.actions(half) - 1 + old.actions(approved)
    keys = _sent_keys(old.db)
    assert len(keys) == len(set(keys))
    print(
        f"downgrade (this keeper, downgrade, the 0.1.0 keeper): {time.monotonic() - started:.1f} s"
    )
