"""`keeper approve --account` signatures are what the real PlanExecutor counts (issue 15): the
approvers' ape keystores (alice, bob, carol: owners of a real Safe 1.4.1, 2 of 3; mallory: no
one) sign through the CLI, which records only; the signatures read back from the store run a
large plan on chain, the keeper key alone cannot, and after the plan is edited in the store the
same signatures count for nothing on chain either (and `keeper review` says so)."""

from __future__ import annotations

import json

import ape
import pytest
from click.testing import CliRunner

from ballast_dev.deployment.plan_executor import deploy_plan_executor
from ballast_dev.deployment.safe import deploy_safe
from ballast_dev.local.keystores import account_address, approver_env, write_test_keystores
from keepers.cli import main
from keepers.fund.planning.actions import Action, ActionType, Plan
from keepers.fund.planning.plan_approval import SignedPlan
from keepers.fund.records import PENDING_APPROVAL, PROPOSED, PlanStore
from keepers.store.db import Store

THRESHOLD = 100_000  # whole base tokens: plans that move more need 2 of 3 owners
PASS = "approver-passphrase-on-chain"
NAMES = ("alice", "bob", "carol", "mallory")
OWNERS = [account_address(n) for n in NAMES[:3]]
REF = "plan-onchain-1"


@pytest.fixture(scope="module")
def owners_safe(deployer, base_decimals):
    # (per base coin: tests/contracts/fund/conftest.py's base_decimals reverts the chain
    # between them, so a module fixture set up in the 6-decimal part would be gone after it)
    return deploy_safe(deployer, OWNERS, 2)


@pytest.fixture(scope="module")
def executor(project, deployer, fund, controller, keeper, owners_safe, unit, fund_usdt):
    timelock = deployer.deploy(
        project.FundTimelock, 0, [owners_safe.address], [owners_safe.address], "0x" + "00" * 20, []
    )
    return deploy_plan_executor(
        project,
        fund,
        deployer,
        safe=owners_safe,
        timelock=timelock,
        keeper=keeper,
        approval_threshold=THRESHOLD * unit,
    )


def alloc(controller, tier, amount):
    return bytes.fromhex(
        controller.allocateToLayer.encode_input(tier, amount).hex().removeprefix("0x")
    )


def run(executor, plan, index, signatures, keeper):
    return executor.executeAction(
        plan.header(),
        index,
        plan.actions[index],
        plan.action_hashes(),
        list(signatures),
        sender=keeper,
    )


def test_cli_signatures__run_a_large_plan_on_chain__not_after_an_edit(
    chain, executor, controller, keeper, deposited, unit, tmp_path
):
    now = chain.pending_timestamp
    plan = SignedPlan(
        plan_id=SignedPlan.plan_id_for(REF),
        chain_id=chain.chain_id,
        executor=executor.address,
        controller=controller.address,
        deadline=now + 3600,
        actions=(alloc(controller, 1, 300_000 * unit), alloc(controller, 2, 200_000 * unit)),
    )
    store = Store(f"sqlite:///{tmp_path}/keeper.db")
    plans = PlanStore(store)
    action = Action(ActionType.ALLOCATE, 300_000 * unit, 0, "invest", 0, 1)
    plans.save_new(
        Plan(REF, now, (), (action,)),
        PROPOSED,
        {
            "frozen": plan.to_frozen([0, 1], ["allocateToLayer", "allocateToLayer"]),
            "approval": {
                "requirement": "multi_admin",
                "required": 2,
                "deadline": now + 1800,
                "admins": [a.lower() for a in OWNERS],
            },
        },
    )
    plans.update(REF, PENDING_APPROVAL)
    write_test_keystores(tmp_path / "ape", PASS, NAMES, scrypt_n=2**10)
    env = {
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/keeper.db",
        "KEEPER_LOG_LEVEL": "WARNING",
        **approver_env(tmp_path / "ape", PASS, NAMES),
    }

    def keeper_cli(*args):
        return CliRunner().invoke(main, ["--now", str(now), *args], env=env)

    try:
        r = keeper_cli("approve", REF, "--account", "mallory")
        assert r.exit_code == 1 and "not an admin" in r.output, r.output
        for who in ("alice", "bob"):
            r = keeper_cli("approve", REF, "--account", who)
            assert r.exit_code == 0, r.output
        stored = [bytes.fromhex(a.signature[2:]) for a in plans.approvals(REF)]
        assert len(stored) == 2
        # the keeper key alone cannot run it
        with ape.reverts(executor.PlanNeedsApproval):
            run(executor, plan, 0, [], keeper)
        # someone edits the stored plan: the second action moves more
        frozen = dict(plans.get(REF).payload["frozen"])
        edited = SignedPlan.from_frozen(
            {**frozen, "actions": [frozen["actions"][0], alloc(controller, 2, 900_000 * unit)]}
        )
        with ape.reverts(executor.NotEnoughApprovals, approvals=0):
            run(executor, edited, 0, stored, keeper)
        plans.update(
            REF, frozen={**frozen, "actions": edited.to_frozen([0, 1], ["a", "a"])["actions"]}
        )
        view = json.loads(keeper_cli("--json", "review", REF).output)
        assert view["signatures"]["counted"] == 0
        assert all("changed after this signature" in a["reason"] for a in view["approvals"])
        # the plan as signed runs with the signatures the CLI recorded
        run(executor, plan, 0, stored, keeper)
        tx = run(executor, plan, 1, stored, keeper)
        ev = tx.decode_logs(executor.ActionExecuted)[0]
        assert ev.approvals == 2 and ev.planNotional > THRESHOLD * unit
    finally:
        store.close()
