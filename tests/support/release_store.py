"""A released keeper's store and chain, loaded for an upgrade test: the fixture a release cut
writes (tests/offchain/upgrade/fixtures/<release>/, by make_fixture.py: the store with plans in
every state, the chain it drove, the deployment record and fixture.json), on a fresh anvil
(anvil_loadState) with the store copied, and this keeper driven in-process (CliRunner)."""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from web3 import Web3

from ballast_dev.local.anvil_local import start_anvil, stop_anvil
from keepers.cli import main
from keepers.store.db import HEAD_REVISION, make_engine, stored_revision
from tests.support.operator_chain import key

ROOT = Path(__file__).resolve().parents[2]
TABLES = ("plans", "actions", "approvals", "tx_intents", "tx_attempts", "job_runs", "fund_carry")


class ReleaseStore:
    """The release's chain loaded on a fresh anvil, its store copied, the keeper's env.
    ``added``: columns added after that release (left out of ``rows``)."""

    def __init__(self, tmp: Path, fixture: Path, added: frozenset[str] = frozenset()) -> None:
        self.fixture, self.added = fixture, added
        info = json.loads((fixture / "fixture.json").read_text())
        self.info = info
        self.proc, self.url = start_anvil(chain_id=info["chain_id"])
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))
        state = "0x" + (fixture / "chain.state.json.gz").read_bytes().hex()
        assert self.w3.provider.make_request("anvil_loadState", [state])["result"] is True
        # the chain's clock goes on from the fixture's last block, not from the wall clock: its
        # feeds were last written then, with a day's heartbeat, so a chain run at the wall clock
        # turns every price stale a day after the fixture was made (the tests' plans then fail
        # their simulations on StalePrice, as they did from 24 h after this fixture was written)
        last = self.w3.eth.get_block("latest")["timestamp"]
        self.w3.provider.make_request("anvil_setTime", [last + 1])
        self.db = tmp / "keeper.db"
        shutil.copyfile(fixture / "keeper.db", self.db)
        self.account = info["keeper"]
        signer = key(2)
        assert Web3().eth.account.from_key(signer).address == self.account
        self.env = {
            "KEEPER_RPC_URL": self.url,
            "KEEPER_DB_URL": f"sqlite:///{self.db}",
            "KEEPER_DEPLOYMENT": str(fixture / "deployment.json"),
            "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
            "KEEPER_CHAIN_ID": str(info["chain_id"]),
            "KEEPER_LOG_LEVEL": "WARNING",
            "KEEPER_NATIVE_PRICE": "0",
            "REBALANCE_ADMINS": "alice,bob,carol",
            "KEEPER_SIGNER_KEY": "0x" + signer.hex(),
        }

    def keeper(self, *args: str) -> Any:
        r = CliRunner(mix_stderr=False).invoke(main, list(args), env=self.env)
        assert r.exit_code == 0, (args, r.stdout, r.stderr, r.exception)
        return json.loads(r.stdout) if "--json" in args else r.stdout

    def migrated_history(self) -> list[dict[str, Any]]:
        """`keeper --json history` by this keeper on the release's store: the store migrates at
        start-up to this keeper's head with every row of the release's tables unchanged, and
        every plan is shown with the status the release left it in. The plans shown."""
        before = self.rows()
        plans: list[dict[str, Any]] = self.keeper("--json", "history")
        assert stored_revision(make_engine(self.env["KEEPER_DB_URL"])) == HEAD_REVISION
        assert self.rows() == before  # nothing lost, nothing changed by the migration
        shown = {p["plan"]: p["status"] for p in plans}
        statuses = self.info["statuses"]
        assert shown == {ref: statuses[name] for name, ref in self.info["plans"].items()}
        return plans

    def nonce(self) -> int:
        return int(self.w3.eth.get_transaction_count(self.account))

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of the release's tables, columns it had (a column added since is left out)."""
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            out = {}
            for t in TABLES:
                cols = [
                    r[1] for r in c.execute(f"PRAGMA table_info({t})") if r[1] not in self.added
                ]
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

    def sent_keys(self) -> list[str]:
        """The idempotency key of every transaction intent in the store, in its order."""
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            return [r[0] for r in c.execute("SELECT idempotency_key FROM tx_intents")]

    def actions(self, ref: str) -> int:
        with contextlib.closing(sqlite3.connect(self.db)) as c:
            (n,) = c.execute(
                "SELECT COUNT(*) FROM actions a JOIN plans p ON p.id = a.plan_id WHERE p.ref = ?",
                (ref,),
            ).fetchone()
        return int(n)

    def stop(self) -> None:
        stop_anvil(self.proc)
