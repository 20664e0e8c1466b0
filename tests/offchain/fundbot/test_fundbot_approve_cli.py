"""`keeper approve`/`reject` only record a decision, checked against the admins and approvals
the running keeper stored with the plan (never the approver's environment); the running
keeper's tick executes (issue 13: "Approving from a terminal executes the plan with the hot
key")."""

from __future__ import annotations

import json
from typing import Any

from click.testing import CliRunner

from keepers.cli import main
from tests.support.fundbotlib import UNIT

NOW = 1_800_000_000
HOUR = 3_600


def keeper(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def nonces(fresh: Any, accounts: Any) -> list[int]:
    w3 = fresh.cash.provider.web3
    return [w3.eth.get_transaction_count(a.address) for a in list(accounts)[:6]]


def test_approve__records_only__keeper_rules__tick_executes(env, fresh, accounts, make_bot):
    # the running keeper: 2 of alice,bob,carol above 100K; the plan is 2-of-3 under its rules
    running = make_bot(
        {"KEEPER_DB_URL": env["KEEPER_DB_URL"], "APPROVAL_MULTISIG_AMOUNT": "100000"}
    )
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    out = running.check("liquidity", NOW)
    assert out.status == "pending_approval", out
    ref = out.plan_id
    stored = running.plans.get(ref).payload["approval"]
    assert stored["requirement"] == "multi_admin" and stored["required"] == 2
    assert stored["admins"] == ["alice", "bob", "carol"]
    # the approver's terminal: no signer key; its own settings say 1M single-admin
    before = nonces(fresh, accounts)

    def approve(by: str, at: int, extra: dict[str, str] | None = None, cmd: str = "approve"):
        return keeper({**env, **(extra or {})}, "--json", "--now", str(at), cmd, ref, "--by", by)

    def recorded() -> list[tuple[str, str]]:
        return [(a.approver, a.decision) for a in running.plans.get(ref).approvals]

    # the exploit: mallory declares herself the only admin and 1 approval enough
    r = approve(
        "mallory", NOW + 60, {"REBALANCE_ADMINS": "mallory", "APPROVAL_MULTISIG_REQUIRED": "1"}
    )
    assert r.exit_code == 1 and "mallory is not an admin" in r.output, r.output
    assert recorded() == [] and running.plans.get(ref).status == "pending_approval"
    # past the keeper's 4 h SLA: refused as expired, nothing recorded
    r = approve("alice", NOW + 5 * HOUR)
    assert r.exit_code == 1 and "expired" in r.output and recorded() == []
    r = approve("alice", NOW + 60)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["approvals"] == 1 and recorded() == [("alice", "approve")]
    r = approve("ALICE", NOW + 70)  # the same admin again: refused, not counted twice
    assert r.exit_code == 1 and "already decided" in r.output and len(recorded()) == 1
    r = approve("bob", NOW + 120)
    assert r.exit_code == 0 and recorded() == [("alice", "approve"), ("bob", "approve")]
    # enough approvals, yet nothing sent and nothing executed by the approvers' processes
    assert nonces(fresh, accounts) == before
    assert running.plans.get(ref).status == "pending_approval"
    # the running keeper's tick executes it
    done = [o for o in running.tick(NOW + 180) if o.plan_id == ref]
    assert [o.status for o in done] == ["executed"]
    assert nonces(fresh, accounts) != before
    r = approve("carol", NOW + 240)  # no longer waiting
    assert r.exit_code == 1 and "not waiting for approval" in r.output and len(recorded()) == 2
    r = approve("carol", NOW + 240, cmd="reject")
    assert r.exit_code == 1 and len(recorded()) == 2
    r = keeper(env, "approve", "nosuchplan", "--by", "alice")
    assert r.exit_code == 1 and "no plan" in r.output


def test_reject__recorded_only__keeper_tick_rejects(env, fresh, accounts, make_bot):
    running = make_bot({"KEEPER_DB_URL": env["KEEPER_DB_URL"]})
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    out = running.check("liquidity", NOW)
    assert out.status == "pending_approval", out
    before = nonces(fresh, accounts)
    r = keeper(env, "--now", str(NOW + 60), "reject", out.plan_id, "--by", "carol", "--note", "no")
    assert r.exit_code == 0, r.output
    assert running.plans.get(out.plan_id).status == "pending_approval"
    assert nonces(fresh, accounts) == before
    assert [o.status for o in running.tick(NOW + 90) if o.plan_id == out.plan_id] == ["rejected"]
    assert nonces(fresh, accounts) == before
