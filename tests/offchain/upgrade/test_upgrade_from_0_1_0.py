"""Upgrades tested from the last release's store: the 0.1.0 keeper's SQLite store with plans in
every state and the chain it drove (fixtures/0.1.0, written by the script its README names
in a checkout of release 0.1.0, commit f7cf037), opened by this keeper as docs/operator/upgrades.md says: the store
migrates at start-up, nothing is lost, `keeper history` shows every plan, the half-executed
plan resumes with each action sent once; and the page's downgrade, after which the 0.1.0
keeper (its code taken from the release commit f7cf037 with git archive) resumes a plan this keeper half executed.

Each test starts its own anvil and loads the fixture's chain (anvil_loadState), copies the
store, and drives the keeper in-process (CliRunner) except the 0.1.0 keeper (a subprocess).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keepers.cli import main
from keepers.store.db import HEAD_REVISION, downgrade, make_engine, stored_revision
from keepers.version import CONTRACTS_RELEASE
from tests.support.fundbotlib import KillBeforeSecondAction
from tests.support.operator_chain import key
from tests.support.release_store import ReleaseStore

ROOT = Path(__file__).resolve().parents[3]
FIXTURE = Path(__file__).parent / "fixtures" / "0.1.0"
INFO = json.loads((FIXTURE / "fixture.json").read_text())
NOW = INFO["now"] + 4_000  # after every plan was made, before any deadline
# columns added after 0.1.0 (plans.deployment: 0010; tx_attempts.route: 0012)
ADDED = frozenset({"deployment", "route"})


class Old(ReleaseStore):
    """The 0.1.0 chain loaded on a fresh anvil, the 0.1.0 store copied, the keeper's env."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(tmp, FIXTURE, ADDED)


@pytest.fixture
def old(tmp_path: Path) -> Iterator[Old]:
    o = Old(tmp_path)
    yield o
    o.stop()


def test_upgrade__0_1_0_store__migrates_and_keeps_every_plan_history_shows_each(old):
    started = time.monotonic()
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == "0008"
    plans = old.migrated_history()
    # the old plans have no deployment recorded and these are 0.1.0 contracts: this one's
    assert all(p["deployment"] is None and p["other_deployment"] is None for p in plans)
    status = old.keeper("--json", "status")
    assert status["release"]["contracts_release"] == "0.1.0 or older"
    assert status["release"]["abis_release"] == CONTRACTS_RELEASE
    print(f"upgrade (migrate + history + status): {time.monotonic() - started:.1f} s")


def test_upgrade__half_executed_plan__resumes_each_action_sent_once(old):
    started = time.monotonic()
    half, approved = INFO["plans"]["half"], INFO["plans"]["approved"]
    assert old.nonce() == INFO["keeper_nonce"]
    left = old.actions(half) - old.done(half)
    assert old.done(half) == 1 and left >= 1
    keys_before = old.sent_keys()
    out = old.keeper("--json", "--now", str(NOW), "run", "--once", "--bots", "fund")
    assert {r["ref"]: r["done"] for r in out["resumes"]}[half] == 1
    moved = {r["plan_id"]: r["status"] for c in out["cycle"] for r in c["result"] or []}
    assert moved[half] == "executed" and moved[approved] == "executed", out["cycle"]
    # each action of the two approved plans sent once: one transaction per action left
    assert old.nonce() - INFO["keeper_nonce"] == left + old.actions(approved)
    keys = old.sent_keys()
    assert len(keys) == len(set(keys)) and set(keys_before) <= set(keys)
    assert all(n <= 1 for n in old.intents_per_action().values())
    assert old.done(half) == old.actions(half)
    # a second run sends nothing more
    nonce = old.nonce()
    old.keeper("--json", "--now", str(NOW + 60), "run", "--once", "--bots", "fund")
    assert old.nonce() == nonce
    print(f"upgrade (resume the half-executed plan): {time.monotonic() - started:.1f} s")


def _old_keeper_code(tmp: Path) -> Path:
    """The 0.1.0 keeper's package, from its release commit (named in CHANGELOG.md)."""
    out = tmp / "keeper-0.1.0"
    out.mkdir()
    for ref in ("f7cf037", "v0.1.0"):
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", ref, "keepers"], capture_output=True
        )
        if archive.returncode == 0:
            subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
            return out
    pytest.skip("release 0.1.0's commit f7cf037 is not in this clone (a shallow clone)")


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
    # the page's downgrade: this version's `keeper store downgrade` takes the schema back to
    # 0.1.0's revision (nothing stranded: the half plan is 0.1.0's own)
    out = old.keeper("--json", "store", "downgrade", "0008")
    assert out["ended"] == [] and out["to"] == "0008", out
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
    keys = old.sent_keys()
    assert len(keys) == len(set(keys))
    print(
        f"downgrade (this keeper, downgrade, the 0.1.0 keeper): {time.monotonic() - started:.1f} s"
    )


def test_upgrade__0_1_0_contracts__features_they_lack_named_once_and_never_shown_as_values(
    old, monkeypatch
):
    """On 0.1.0's contracts the keeper names exactly what they lack (fees, valuation step
    bounds, the in-kind exit, venue room, accounted units, RELEASE()), once, and never the
    held-feed safeguard (0.1.0's rebalancer has trustedTarget(): the safeguard is on there);
    `keeper status`, the metrics and the console say "not in these contracts" for the fees,
    the holds and the in-kind exit, where they said "fees: not read", "valuation holds: none"
    and "in-kind exit: no shares", which read as facts about the fund."""
    from prometheus_client import REGISTRY

    from keepers.cli_base import Ctx
    from keepers.console import operator
    from keepers.console.settings import ConsoleSettings
    from keepers.tx import release as rel
    from keepers.version import NOT_IN_CONTRACTS, NOT_IN_OLDER

    monkeypatch.setattr(rel, "_said", set())  # another test of this process may have said it
    r = CliRunner(mix_stderr=False).invoke(main, ["--json", "status"], env=old.env)
    assert r.exit_code == 0, (r.stdout, r.stderr)
    status = json.loads(r.stdout)
    said = [json.loads(x) for x in r.stderr.splitlines() if "keeper.older_contracts" in x]
    assert len(said) == 1, r.stderr  # once: the fund bot's contracts, read once
    off = said[0]["features_off"]
    assert off == status["release"]["features_off"]
    assert not any("held-feed" in f for f in off), off
    text = old.keeper("status")
    fund_lacks = [k for k, c, _w in NOT_IN_OLDER[rel.LEGACY_RELEASE] if c != "scheduler"]
    assert status["release"]["not_in_these_contracts"] == fund_lacks
    for word in (
        "TieredVault.fees",
        "priceHold",
        "redeemInKind",
        "investableNow",
        "accountedUnits",
    ):
        assert sum(word in f for f in off) == 1, (word, off)
    assert status["not_in_these_contracts"] == ["fees", "valuation_holds", "in_kind"]
    assert status["fees"] is None and status["valuation_holds"] is None
    assert status["exit_horizon"] is None  # issue 67: the 0.1.0 lens has no exitHorizon
    for line in ("fees: ", "valuation holds: ", "in-kind exit: ", "exit horizon: "):
        assert f"{line}{NOT_IN_CONTRACTS}" in text, text
    for wrong in ("fees: not read", "valuation holds: none", "in-kind exit: no shares"):
        assert wrong not in text
    assert text.count("off on these contracts:") == len(fund_lacks)
    for feature in fund_lacks:
        assert REGISTRY.get_sample_value(
            "keeper_contract_feature_absent", {"bot": "fund", "feature": feature}
        ) == 1, feature  # fmt: skip
    for k, v in old.env.items():
        monkeypatch.setenv(k, v)
    ctx = Ctx(False, NOW)
    try:
        html = operator.fund_page(ctx, ConsoleSettings(), NOW, "nonce", "csrf")
    finally:
        ctx.close()
    assert html.count(NOT_IN_CONTRACTS) == 4, html  # and the exit horizon (issue 67)
    assert f"exit horizon: {NOT_IN_CONTRACTS}" in html
    assert "fees not read" not in html and "no valuation held" not in html
    assert "no shares: no in-kind exit" not in html


def _clone_plan(db: Path, src: str, ref: str, status: str, **extra: Any) -> None:
    """A copy of plan ``src`` stored as ``ref`` with ``status`` (and columns of ``extra``): a
    store's rows in the states a store accumulates (stale, another deployment's)."""
    with contextlib.closing(sqlite3.connect(db)) as c:
        cols = [r[1] for r in c.execute("PRAGMA table_info(plans)") if r[1] != "id"]
        row = dict(zip(cols, c.execute(
            f"SELECT {','.join(cols)} FROM plans WHERE ref = ?", (src,)).fetchone(), strict=True))  # fmt: skip
        row |= {"ref": ref, "status": status, **extra}
        c.execute(
            f"INSERT INTO plans ({','.join(row)}) VALUES ({','.join('?' * len(row))})",
            tuple(row.values()),
        )
        c.commit()


def _statuses(db: Path) -> dict[str, str]:
    with contextlib.closing(sqlite3.connect(db)) as c:
        return dict(c.execute("SELECT ref, status FROM plans").fetchall())


def _run_0_1_0(code: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from keepers.cli import main; main()", *args],
        cwd=code, env={**os.environ, **env, "PYTHONPATH": str(code)}, capture_output=True,
        text=True, timeout=600,
    )  # fmt: skip


def test_downgrade__plan_this_keeper_made_and_half_executed__refused_named_then_ended_by_command(
    old, tmp_path
):
    """The page's downgrade with a plan THIS keeper made and half executed (the 0.1.0 keeper
    failed on it at every tick: `AssetState.__init__() got an unexpected keyword argument
    'investable_now'`, the plan left approved), a stale plan (revision 0008 cannot hold it), an
    expired one and another deployment's in the store. `keeper store downgrade 0008` refuses,
    naming the two it would strand and writing nothing; so does the library's downgrade; with
    --end-plans it ends them (aborted, the reason kept) and takes the store to 0008; the 0.1.0
    keeper then runs clean, and this keeper reads the store again after the round trip."""
    from keepers.abis import load
    from keepers.fund.bot import FundBot
    from keepers.fund.settings import load_fund_config
    from keepers.runtime.alerts import Alerter
    from keepers.store.db import Store
    from keepers.tx.signers import RawKeySigner
    from tests.support.fundbotlib import NO_APPROVAL, UNIT

    code = _old_keeper_code(tmp_path)
    # this keeper takes over: the 0.1.0 plans in flight finish, the pending one expires
    later = NOW + 8 * 86_400
    old.keeper("--json", "--now", str(NOW), "run", "--once", "--bots", "fund")
    old.keeper("--json", "--now", str(later), "run", "--once", "--bots", "fund")
    assert _statuses(old.db)[INFO["plans"]["pending"]] == "expired"
    # a deposit, and this keeper's plan for it killed before its second action
    dep = json.loads((FIXTURE / "deployment.json").read_text())
    depositor = old.w3.eth.accounts[1]
    vault = old.w3.eth.contract(address=dep["vault"], abi=load("TieredVault"))
    tx = vault.functions.deposit(600_000 * UNIT, depositor).transact({"from": depositor})
    assert old.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    cfg = load_fund_config({**old.env, **NO_APPROVAL})
    store = Store(cfg.keeper.db_url)
    bot = FundBot(cfg, store, signer=RawKeySigner(key(2)), alerter=Alerter([]))
    bot.check_chain()
    bot.before_action = KillBeforeSecondAction()
    with contextlib.suppress(KeyboardInterrupt):
        bot.check("liquidity", later + 600)
    (mine,) = [r for r in bot.plans.with_status("approved")]
    assert mine.deployment is not None and old.done(mine.ref) == 1 < old.actions(mine.ref)
    store.close()
    # a stale plan and another deployment's (ended) in the same store
    executed = INFO["plans"]["executed"]
    _clone_plan(old.db, executed, "stale0000000001", "stale")
    _clone_plan(old.db, executed, "other0000000001", "aborted",
                deployment="1:0x0000000000000000000000000000000000000001@0.2.0")  # fmt: skip
    before = _statuses(old.db)
    nonce = old.nonce()
    with contextlib.closing(sqlite3.connect(old.db)) as c:  # every plan this keeper left open
        made = dict(c.execute(
            "SELECT ref, status FROM plans WHERE deployment IS NOT NULL AND status IN"
            " ('proposed', 'pending_approval', 'approved')").fetchall())  # fmt: skip
    assert made[mine.ref] == "approved"
    stranded = made | {"stale0000000001": "stale"}

    # refused, naming the two plans and the command, nothing written
    r = CliRunner(mix_stderr=False).invoke(main, ["store", "downgrade", "0008"], env=old.env)
    assert r.exit_code == 1, (r.stdout, r.stderr)
    assert all(ref in r.stderr for ref in stranded), r.stderr
    assert "keeper store downgrade 0008 --end-plans" in r.stderr
    for other in (INFO["plans"]["pending"], "other0000000001", executed):
        assert other not in r.stderr
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == HEAD_REVISION
    assert _statuses(old.db) == before
    with pytest.raises(Exception, match="keeper store downgrade 0009 --end-plans"):
        downgrade(make_engine(old.env["KEEPER_DB_URL"]), "0008")
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == HEAD_REVISION

    # the command ends them and downgrades
    out = old.keeper("--json", "--now", str(later + 900), "store", "downgrade", "0008",
                     "--end-plans")  # fmt: skip
    assert out["from"] == HEAD_REVISION and out["to"] == "0008"
    assert {e["plan"]: e["status"] for e in out["ended"]} == stranded
    after = _statuses(old.db)
    assert all(after[ref] == "aborted" for ref in stranded)
    assert {k: v for k, v in after.items() if k not in stranded} == {
        k: v for k, v in before.items() if k not in stranded}  # fmt: skip
    with contextlib.closing(sqlite3.connect(old.db)) as c:
        (payload,) = c.execute("SELECT payload FROM plans WHERE ref = ?", (mine.ref,)).fetchone()
    ended = json.loads(payload)["ended"]
    assert ended["stage"] == "downgrade" and ended["was"] == "approved"
    assert "ended for the downgrade to 0008" in ended["reason"]

    # the 0.1.0 keeper runs clean over this store, twice: nothing fails, nothing of the ended
    # plan is sent again
    for at in (later + 1_200, later + 1_800):
        r = _run_0_1_0(code, old.env, "--json", "--now", str(at), "run", "--once", "--bots",
                       "fund")  # fmt: skip
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "investable_now" not in r.stderr and "job_failed" not in r.stderr, r.stderr
        assert "Traceback" not in r.stderr, r.stderr
    assert old.done(mine.ref) == 1
    assert len(old.sent_keys()) == len(set(old.sent_keys()))
    assert old.nonce() >= nonce
    r = _run_0_1_0(code, old.env, "--json", "history", "--limit", "100")
    assert r.returncode == 0 and mine.ref in r.stdout, (r.stdout, r.stderr)
    # and back: this keeper opens the store again, every plan shown with its status
    shown = {p["plan"]: p for p in old.keeper("--json", "history", "--limit", "100")}
    assert stored_revision(make_engine(old.env["KEEPER_DB_URL"])) == HEAD_REVISION
    assert set(after) <= set(shown)
    assert (
        shown[mine.ref]["status"] == "aborted" and shown[mine.ref]["ended"]["stage"] == "downgrade"
    )


def test_upgrade__0_1_0_half_plan_resumed_after_deposits__verified_others_cash_said_as_theirs(
    old,
):
    """0.1.0's half-executed plan resumed by this keeper after holders deposited: its legs all
    landed, L1 holds the deposits. It ended "executed not improved, divergence 4616 bps" with a
    verify_divergence warning; the 0.1.0 keeper says exactly that on the same store and chain
    (measured), so the upgrade is not the cause: the verification counted others' cash since
    the plan's first send as the plan's. It now says it is others' cash, and the plan improved."""
    from keepers.abis import load
    from tests.support.fundbotlib import UNIT

    dep = json.loads((FIXTURE / "deployment.json").read_text())
    holder = old.w3.eth.accounts[1]
    vault = old.w3.eth.contract(address=dep["vault"], abi=load("TieredVault"))
    tx = vault.functions.deposit(2_000_000 * UNIT, holder).transact({"from": holder})
    assert old.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1
    half = INFO["plans"]["half"]
    r = CliRunner(mix_stderr=False).invoke(
        main, ["--json", "--now", str(NOW), "run", "--once", "--bots", "fund"], env=old.env
    )
    assert r.exit_code == 0, (r.stdout, r.stderr)
    out = json.loads(r.stdout)
    (mine,) = [x for c in out["cycle"] for x in c["result"] or [] if x["plan_id"] == half]
    assert mine["status"] == "executed" and mine["detail"].startswith("improved;"), mine
    assert "moved by others since the plan's first send" in mine["detail"], mine
    assert "verify_divergence" not in r.stderr
    with contextlib.closing(sqlite3.connect(old.db)) as c:
        (payload,) = c.execute("SELECT payload FROM plans WHERE ref = ?", (half,)).fetchone()
    v = json.loads(payload)["verification"]
    assert v["ok"] and int(v["outside_cash"]) >= 2_000_000 * UNIT, v
    assert max(v["diffs_bps"][1:]) <= 100, v
