"""A keeper that knows what it drives: the contracts' release against its ABIs' at start-up
(another release refused with exit 2, both named; an older one it drives said once with the
features off there), both shown by `keeper status`; plans record their deployment, and a plan
of another deployment (the 0.1.0 keeper's store kept across a contract release) is marked by
`keeper history` and `keeper review` and ended by `keeper run` before any simulation."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from keepers.cli import main
from keepers.tx import release as rel
from keepers.version import CONTRACTS_RELEASE, LEGACY_RELEASE, UPGRADE_PAGE
from tests.support.fundbotlib import UNIT, local_fund_env

# a release no keeper drives: the next major after this one
OTHER = f"{int(CONTRACTS_RELEASE.split('.')[0]) + 1}.0.0"
FIXTURE = Path(__file__).resolve().parents[1] / "upgrade" / "fixtures" / "0.1.0"
OLD = json.loads((FIXTURE / "fixture.json").read_text())
NOW = OLD["now"] + 4_000


@pytest.fixture
def env(fresh: Any, chain: Any, accounts: Any, deployment_file: Path, tmp_path: Path) -> dict:
    e = local_fund_env(chain, deployment_file, f"sqlite:///{tmp_path}/keeper.db")
    return e | {"KEEPER_SIGNER_KEY": accounts[2].private_key}


def keeper(env: dict, *args: str, code: int = 0) -> Any:
    r = CliRunner(mix_stderr=False).invoke(main, list(args), env=env)
    assert r.exit_code == code, (args, r.stdout, r.stderr, r.exception)
    if code:
        return r.stderr
    return json.loads(r.stdout) if "--json" in args else r.stdout


def test_deployment__every_deployed_contract__answers_the_release_the_record_stores(fresh, chain):
    record = fresh.addresses()
    assert record["release"] == CONTRACTS_RELEASE
    w3 = chain.provider.web3
    ours = {
        "controller": record["controller"],
        "vault": record["vault"],
        "lens": record["lens"],
        **{f"adapters.{k}": v for k, v in record["adapters"].items() if not k.startswith("uni")},
        "adapters.uniswap": record["adapters"]["uniswap"],
        **{f"automation.{k}": v for k, v in record["automation"].items() if isinstance(v, str)},
    }
    assert {k: rel.read_release(w3, a) for k, a in ours.items()} == dict.fromkeys(
        ours, CONTRACTS_RELEASE
    )
    # the stablecoin is not ours: no RELEASE() view, read as the oldest release
    assert rel.read_release(w3, record["cash"]) == LEGACY_RELEASE


def test_keeper_status__contracts_of_its_release__shows_both_and_the_deployment(env, fresh, chain):
    st = keeper(env, "--json", "status")
    assert st["release"] == {
        "keeper_version": rel.__version__,
        "abis_release": CONTRACTS_RELEASE,
        "contracts_release": CONTRACTS_RELEASE,
        "features_off": [],
        "not_in_these_contracts": [],
        "deployment": f"{chain.chain_id}:{fresh.vault.address}@{CONTRACTS_RELEASE}",
    }
    text = keeper(env, "status")
    assert f"contracts {CONTRACTS_RELEASE}" in text and "deployment 31337:" in text


def test_keeper__contracts_of_another_release__exit_2_naming_both_and_the_page(env, monkeypatch):
    # a keeper of a later release (its ABIs' release) pointed at these contracts
    monkeypatch.setattr(rel, "CONTRACTS_RELEASE", OTHER)
    for args in (["status"], ["--now", str(NOW), "run", "--once", "--bots", "fund"]):
        err = keeper(env, *args, code=2)
        assert f"release {CONTRACTS_RELEASE}" in err and f"release {OTHER}" in err, err
        assert UPGRADE_PAGE in err and "Traceback" not in err


def test_check_release__executor_and_supervisor_contracts__checked_the_same_way(
    fresh, chain, monkeypatch
):
    w3 = chain.provider.web3
    auto = fresh.addresses()["automation"]
    named = {k: auto[k] for k in ("scheduler", "supervisor", "paid_registry")}
    assert rel.check_release(w3, named, who="supervisor").same
    monkeypatch.setattr(rel, "CONTRACTS_RELEASE", OTHER)
    with pytest.raises(
        rel.ReleaseMismatchError,
        match=rf"release {re.escape(CONTRACTS_RELEASE)} .*release {re.escape(OTHER)}",
    ):
        rel.check_release(w3, {"scheduler": auto["scheduler"]}, who="executor")


def test_check_release__contracts_of_two_releases__refused_naming_each(fresh, chain):
    w3 = chain.provider.web3
    with pytest.raises(rel.ReleaseMismatchError, match="different releases") as err:
        rel.check_release(w3, {"controller": fresh.controller.address, "cash": fresh.cash.address},
                          who="fund")  # fmt: skip
    assert f"controller {CONTRACTS_RELEASE}" in str(err.value)
    assert f"cash {LEGACY_RELEASE}" in str(err.value)


def test_check_release__contracts_without_release_view__driven_features_off_said_once(fresh, chain):
    w3 = chain.provider.web3
    who = f"test-{fresh.cash.address}"
    legacy = {"vault": fresh.cash.address, "scheduler": fresh.cash.address}  # no RELEASE()
    with capture_logs() as logs:
        first = rel.check_release(w3, legacy, who=who)
        again = rel.check_release(w3, legacy, who=who)
    assert first.contracts == again.contracts == LEGACY_RELEASE
    # what a vault and a scheduler of 0.1.0 lack, nothing else: not the held-feed safeguard
    # (0.1.0's rebalancers have trustedTarget()), nor the controller's or the lens's
    assert first.absent == ("fees", "in_kind", "protocol_share", "credit"), first.absent
    assert not any("held-feed" in f for f in first.off)
    said = [x for x in logs if x["event"] == "keeper.older_contracts"]
    assert len(said) == 1 and said[0]["features_off"] == list(first.off)


def test_deployment_record__names_another_release_than_the_contracts__exit_2(env, deployment_file):
    record = json.loads(deployment_file.read_text())
    deployment_file.write_text(json.dumps({**record, "release": "0.1.9"}))
    err = keeper(env, "status", code=2)
    assert f"records contract release 0.1.9, the contracts answer {CONTRACTS_RELEASE}" in err


def test_plan__made_by_this_keeper__records_its_deployment(env, fresh, accounts, chain, tmp_path):
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    out = keeper(env, "--json", "--now", str(NOW), "plan")
    with contextlib.closing(sqlite3.connect(tmp_path / "keeper.db")) as c:
        (dep,) = c.execute("SELECT deployment FROM plans WHERE ref = ?", (out["plan"],)).fetchone()
    assert dep == f"{chain.chain_id}:{fresh.vault.address}@{CONTRACTS_RELEASE}"
    (row,) = [p for p in keeper(env, "--json", "history") if p["plan"] == out["plan"]]
    assert row["deployment"] == dep and row["other_deployment"] is None


def _plans(db: Path) -> dict[str, tuple[str, dict]]:
    with contextlib.closing(sqlite3.connect(db)) as c:
        return {
            r: (s, json.loads(p)) for r, s, p in c.execute("SELECT ref, status, payload FROM plans")
        }


def _intents(db: Path) -> int:
    with contextlib.closing(sqlite3.connect(db)) as c:
        return int(c.execute("SELECT COUNT(*) FROM tx_intents").fetchone()[0])


def _console_plan_page(env: dict, ref: str, monkeypatch: Any) -> str:
    """The console's page of a plan (keepers.console.views), rendered as the server does."""
    from keepers.cli_base import Ctx
    from keepers.console import views

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ctx = Ctx(False, NOW)
    try:
        status, html = views.plan_page(ctx, ref, NOW, "nonce", "csrf")
    finally:
        ctx.close()
    assert status == 200
    return html


def test_new_deployment__0_1_0_store_kept__open_plans_marked_and_ended_before_simulation(
    env, fresh, chain, tmp_path, monkeypatch
):
    """A contract release: the 0.1.0 keeper's store kept, the keeper pointed at a new
    deployment whose vault landed at the old vault's address (the same deployer's first
    nonces on a fresh chain): the release tells them apart."""
    db = tmp_path / "keeper.db"
    shutil.copyfile(FIXTURE / "keeper.db", db)
    # On a chain where the deployer's first nonces are unused (this file alone) the new vault
    # lands at the old vault's address, the case the issue met (UnknownAsset at simulation);
    # in the whole suite an earlier module may have used them. The 0.1.0 plans record no
    # deployment, so the release alone tells them apart either way, which is what this tests.
    here = f"{chain.chain_id}:{fresh.vault.address}@{CONTRACTS_RELEASE}"
    plans = OLD["plans"]
    open_ = {plans[k] for k in ("proposed", "pending", "approved", "half")}
    shown = {p["plan"]: p for p in keeper(env, "--json", "history")}
    assert set(shown) == set(plans.values())
    for p in shown.values():
        assert p["other_deployment"] and here in p["other_deployment"], p
        assert LEGACY_RELEASE in p["other_deployment"] and UPGRADE_PAGE in p["other_deployment"]
    assert "OTHER DEPLOYMENT" in keeper(env, "history")
    review = keeper(env, "review", plans["pending"])
    assert "OTHER DEPLOYMENT: made by a keeper of 0.1.0 or older" in review
    assert "OTHER DEPLOYMENT" in keeper(env, "review")  # the waiting list too
    assert keeper(env, "--json", "review", plans["half"])["other_deployment"]
    html = _console_plan_page(env, plans["pending"], monkeypatch)
    assert 'id="other-deployment"' in html and "made by a keeper of 0.1.0 or older" in html
    before, intents = _plans(db), _intents(db)
    out = keeper(env, "--json", "--now", str(NOW), "run", "--once", "--bots", "fund")
    assert out["resumes"] == []  # ended at start-up: nothing of theirs resumed
    after = _plans(db)
    for ref in open_:
        status, payload = after[ref]
        assert status == "aborted", (ref, status)
        ended = payload["ended"]  # the one shape every end has (keepers.fund.lifecycle)
        assert ended["status"] == "aborted" and ended["stage"] == "deployment", ended
        assert ended["reason"].startswith("another deployment: made by a keeper of 0.1.0")
        # before any simulation: no simulation or result written, no intent created
        assert payload.get("simulation") == before[ref][1].get("simulation")
    assert _intents(db) == intents
    for ref in set(plans.values()) - open_:  # the finished ones are left as they were
        assert after[ref][0] == before[ref][0]


def test_executor_hold__rebalancer_without_trusted_target__safeguard_off_said_once(
    fresh, chain, accounts, project
):
    """The held-feed safeguard needs a rebalancer's trustedTarget(): one built before 0.1.0
    has none, so its runs can never be held. The executor used to class it as "not the
    fund's" and say nothing; it now names it once."""
    from keepers.automation.chain import ChainIO
    from keepers.automation.held import CLASSIFY_EVERY_S, FundHold
    from keepers.tx.node import Node
    from keepers.tx.revert import RevertDecoder

    legacy = accounts[0].deploy(project.TestLegacyRebalancer, fresh.controller.address)
    ours = fresh.addresses()["automation"]["fund_rebalancer"]
    hold = FundHold(ChainIO(Node(chain.provider.uri, 10)), RevertDecoder.default(), 0, 60)
    with capture_logs() as logs:
        hold._classify([legacy.address, ours], 1_000)
        hold._classify([legacy.address, ours], 1_000 + CLASSIFY_EVERY_S)  # read again
    said = [x for x in logs if x["event"] == "executor.held_safeguard_off"]
    assert [x["rebalancer"] for x in said] == [legacy.address]
    assert "trustedTarget()" in said[0]["why"] and "0.1.0" in said[0]["why"]
    assert hold.controller_of(legacy.address) is None
    assert hold.controller_of(ours) == fresh.controller.address


def test_plan__0_1_0_store_on_a_new_deployment__old_open_plans_neither_cover_nor_count(
    env, fresh, accounts, chain, tmp_path
):
    """`keeper plan` on the new deployment with the old store: the old deployment's waiting
    plans are ended first, each with its reason, so they neither cover the new plan (a plan
    with the same legs is refused as "already covers these actions") nor count as in flight
    when it is sized."""
    db = tmp_path / "keeper.db"
    shutil.copyfile(FIXTURE / "keeper.db", db)
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    out = keeper(env, "--json", "--now", str(NOW), "plan")
    assert out["plan"] not in OLD["plans"].values()
    assert out["status"] in ("pending_approval", "executed"), out
    after = _plans(db)
    for name in ("proposed", "pending", "approved", "half"):
        status, payload = after[OLD["plans"][name]]
        assert status == "aborted", name
        assert payload["ended"]["reason"].startswith("another deployment"), name
        assert payload["ended"]["at"] == NOW, name


def _console_pages(env: dict, refs: list[str], monkeypatch: Any) -> dict[str, str]:
    """The console's plans list, approvals page and every plan's page, rendered as served."""
    from keepers.cli_base import Ctx
    from keepers.console import views

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    ctx = Ctx(False, NOW)
    try:
        pages = {"plans": views.plans_page(ctx, "nonce"), "approvals": views.approvals_page(
            ctx, NOW, "nonce")}  # fmt: skip
        for ref in refs:
            status, pages[ref] = views.plan_page(ctx, ref, NOW, "nonce", "csrf")
            assert status == 200, (ref, pages[ref])
    finally:
        ctx.close()
    return pages


def test_upgrade_page__contract_release_steps_in_order__history_review_console_after_run(
    env, fresh, chain, tmp_path, monkeypatch
):
    """docs/operator/upgrades.md, "A contract release", as an operator follows it with the
    0.1.0 keeper's store kept: the new keeper checked, `keeper status` on the new deployment,
    `keeper run` ending the old deployment's open plans, then `keeper history` (text and
    JSON), `keeper review` (the waiting list and every plan) and the console's pages. Every
    one of them crashed after the run (`string indices must be integers`): the ended plans
    stored their reason as a bare string where every reader expects a mapping."""
    db = tmp_path / "keeper.db"
    shutil.copyfile(FIXTURE / "keeper.db", db)
    plans = OLD["plans"]
    open_ = {plans[k] for k in ("proposed", "pending", "approved", "half")}
    assert keeper({}, "--json", "--version")["contracts_release"] == CONTRACTS_RELEASE
    status = keeper(env, "--json", "status")
    assert status["release"]["contracts_release"] == CONTRACTS_RELEASE
    keeper(env, "--json", "--now", str(NOW), "run", "--once", "--bots", "fund")
    ended = {p["plan"]: p for p in keeper(env, "--json", "history")}
    for ref in open_:
        assert ended[ref]["status"] == "aborted"
        assert ended[ref]["ended"]["reason"].startswith("another deployment: made by a keeper")
    text = keeper(env, "history")
    for ref in open_:
        assert f"{ref}  aborted" in text
    assert text.count("aborted: another deployment: made by a keeper of 0.1.0") == len(open_)
    assert "no plan waits for approval" in keeper(env, "review")
    for ref in plans.values():
        assert ref in keeper(env, "review", ref)
        assert keeper(env, "--json", "review", ref)["other_deployment"]
    pages = _console_pages(env, list(plans.values()), monkeypatch)
    for ref in open_:
        assert 'id="ended-reason"' in pages[ref] and "another deployment" in pages[ref], ref
    assert all(ref in pages["plans"] for ref in plans.values())
    # a store a 0.2.0 development keeper wrote (the reason as a bare string) reads the same
    from keepers.fund.lifecycle import ended_of, ended_reason

    with contextlib.closing(sqlite3.connect(db)) as c:
        (payload,) = c.execute(
            "SELECT payload FROM plans WHERE ref = ?", (plans["half"],)
        ).fetchone()
        doc = json.loads(payload)
        doc["ended"] = doc["ended"]["reason"]
        c.execute("UPDATE plans SET payload = ? WHERE ref = ?", (json.dumps(doc), plans["half"]))
        c.commit()
    assert ended_of(doc) == {"reason": doc["ended"]} and ended_reason(doc) == doc["ended"]
    again = {p["plan"]: p for p in keeper(env, "--json", "history")}
    assert again[plans["half"]]["ended"] == {"reason": doc["ended"]}
    assert f"aborted: {doc['ended']}" in keeper(env, "history")
    page = _console_pages(env, [plans["half"]], monkeypatch)[plans["half"]]
    assert 'id="ended-reason"' in page


def test_keeper_run__executor_on_another_release__refusal_names_the_real_setting(
    env, fresh, monkeypatch
):
    """The executor's release refusal began "executor: ..." and the runner took that for a
    config field: it named KEEPER_EXECUTOR_EXECUTOR, a setting that does not exist. It names
    the setting of the contract it read: KEEPER_EXECUTOR_SCHEDULER."""
    monkeypatch.setattr(rel, "CONTRACTS_RELEASE", OTHER)
    scheduler = fresh.addresses()["automation"]["scheduler"]
    err = keeper(
        env | {"KEEPER_EXECUTOR_SCHEDULER": scheduler},
        *("--now", str(NOW), "run", "--once", "--bots", "executor"),
        code=2,
    )
    assert "KEEPER_EXECUTOR_EXECUTOR" not in err, err
    assert "executor: KEEPER_EXECUTOR_SCHEDULER: the contracts it is configured for" in err, err
    assert f"scheduler {CONTRACTS_RELEASE}" in err and f"release {OTHER}" in err, err


def test_env_hint__a_field_of_the_config__named_with_its_prefix():
    from keepers.automation.settings import ExecutorConfig
    from keepers.runtime.runner import _env_hint

    class Decl:
        name, env_prefix = "executor", "KEEPER_EXECUTOR_"

    cfg = ExecutorConfig(scheduler="0x" + "11" * 20)
    bad = "invalid keeper configuration: scheduler='0x1': no contract at that address"
    assert _env_hint(Decl, bad, cfg).startswith("KEEPER_EXECUTOR_SCHEDULER: scheduler=")
    assert _env_hint(Decl, "executor: something else", cfg) == "executor: something else"
