"""scripts/profiles/local-safe.yaml deployed end to end (issue 15, first bullets; issue 13's
hand-over): the admin is a real Safe 1.4.1 (alice, bob, carol = test accounts 10, 11, 12; 2 of 3)
behind the timelock, and the keeper key moves the fund only through the PlanExecutor.

Actors: alice, bob, carol (the Safe's owners, ballast_dev/local/actors.py), the deployer (after
the deploy), the keeper (a stolen keeper key), the attacker (no role) and an investor.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ape
import pytest
import yaml

from ballast_dev.deployment.handover import handover_status, render
from ballast_dev.deployment.profile import ProfileError, deploy_profile, load_profile
from ballast_dev.deployment.record import DeployInterrupted, RecordedSteps, profile_hash
from ballast_dev.deployment.safe import deploy_safe, safe_admin_call, timelock_via_safe
from ballast_dev.local import actors
from keepers.fund.planning.plan_approval import SignedPlan, sign_plan_with

ROOT = Path(__file__).resolve().parents[3]
LOCAL_SAFE = ROOT / "scripts" / "profiles" / "local-safe.yaml"
LOCAL = ROOT / "scripts" / "profiles" / "local.yaml"
UNIT = 10**6  # the local profiles' USDT
TWO_STEP = ("scheduler", "tx_funder", "paid_registry", "supervisor")


def quiet(*_: Any) -> None:
    pass


@pytest.fixture(scope="module")
def owners(accounts):
    return actors.safe_owners(accounts)


@pytest.fixture(scope="module")
def deployed(accounts, deployer, keeper, attacker):
    # (keeper and attacker: the session accounts later tests take, set up before this first
    # module fixture so that ape does not rebase the module, InvalidIsolationWarning)
    return deploy_profile(load_profile(LOCAL_SAFE), deployer, accounts, log=quiet)


@pytest.fixture(scope="module")
def invested(deployed, deployer, accounts):
    """2,000,000 deposited by an investor, all in L1 cash."""
    investor = accounts[actors.INVESTORS[0]]
    deployed.cash.mint(investor, 2_000_000 * UNIT, sender=deployer)
    deployed.cash.approve(deployed.vault, 2**256 - 1, sender=investor)
    deployed.vault.deposit(2_000_000 * UNIT, investor, sender=investor)
    return deployed


def plan_for(chain, fund, *actions, ref):
    ex = fund.automation["plan_executor"]
    return SignedPlan(
        plan_id=SignedPlan.plan_id_for(ref),
        chain_id=chain.chain_id,
        executor=ex.address,
        controller=fund.controller.address,
        deadline=chain.pending_timestamp + 3600,
        actions=tuple(actions),
    )


def run_action(fund, plan, index, signatures, sender):
    ex = fund.automation["plan_executor"]
    return ex.executeAction(
        plan.header(), index, plan.actions[index], plan.action_hashes(), signatures, sender=sender
    )


def alloc(fund, tier, amount):
    return bytes(fund.controller.allocateToLayer.encode_input(tier, amount))


# ---------------------------------------------------------------- the deploy's result


def test_deploy__the_safe_holds_the_admin_powers_and_the_timelock_the_rest(deployed, owners):
    safe, c, v, t = deployed.safe, deployed.controller, deployed.vault, deployed.timelock
    assert safe.VERSION() == "1.4.1" and int(safe.getThreshold()) == 2
    assert sorted(str(o) for o in safe.getOwners()) == sorted(
        str(a.address) for a in owners.values()
    )
    for contract in (c, v):
        assert contract.hasRole(contract.ADMIN_ROLE(), safe)
        assert contract.hasRole(contract.DEFAULT_ADMIN_ROLE(), t)
    assert t.hasRole(t.PROPOSER_ROLE(), safe) and t.hasRole(t.EXECUTOR_ROLE(), safe)
    for key in TWO_STEP:  # the deploy accepted each ownership through the Safe itself
        a = deployed.automation[key]
        assert (a.owner(), a.pendingOwner()) == (safe.address, "0x" + "00" * 20)
    record = deployed.addresses()
    assert record["safe"] == safe.address
    assert record["automation"]["plan_executor"] == deployed.automation["plan_executor"].address


def test_handover__complete_with_the_safe__the_deployer_and_owners_hold_nothing(
    project, deployed, deployer, owners
):
    record = deployed.addresses()
    h = handover_status(project, record, deployer.address, deployed.safe.address)
    assert h.complete, render(h)
    ex = deployed.automation["plan_executor"]
    for who in (deployer, *owners.values()):
        for contract in (deployed.controller, deployed.vault, ex):
            for r in ("DEFAULT_ADMIN_ROLE", "ADMIN_ROLE", "KEEPER_ROLE"):
                assert not contract.hasRole(getattr(contract, r)(), who), (contract, r, who)


def test_executor__holds_the_controllers_keeper_role_the_safe_and_timelock_administer_it(
    deployed, keeper, deployer
):
    ex, c = deployed.automation["plan_executor"], deployed.controller
    assert c.hasRole(c.KEEPER_ROLE(), ex) and ex.hasRole(ex.KEEPER_ROLE(), keeper)
    assert ex.hasRole(ex.ADMIN_ROLE(), deployed.safe)
    assert ex.hasRole(ex.DEFAULT_ADMIN_ROLE(), deployed.timelock)
    assert ex.safe() == deployed.safe.address
    assert (ex.approvalThreshold(), ex.requiredApprovals()) == (200_000 * UNIT, 2)


# ---------------------------------------------------------------- attackers


@pytest.mark.parametrize("who", ["keeper", "deployer", "attacker", "alice_owner"])
def test_controller_moves__direct_calls__revert_with_the_access_control_error(
    request, invested, accounts, who
):
    actor = accounts[actors.ALICE] if who == "alice_owner" else request.getfixturevalue(who)
    c = invested.controller
    mmf = invested.assets["MMF-A"]
    for call in (
        lambda: c.allocateToLayer(1, 1_000 * UNIT, sender=actor),
        lambda: c.rebalanceBuffer(sender=actor),
        lambda: c.redeemAsset(mmf.address, 1, 0, sender=actor),
        lambda: c.executeWaterfallLiquidation(1_000 * UNIT, 2, sender=actor),
    ):
        with ape.reverts(
            c.AccessControlUnauthorizedAccount, account=actor.address, neededRole=c.KEEPER_ROLE()
        ):
            call()
    with ape.reverts(c.NotRebalancer, caller=actor.address):  # KEEPER_ROLE or REBALANCER_ROLE
        c.rebalance(True, sender=actor)


def test_safe_tx__signed_by_one_owner__refused_two_owners_run_it(deployed, owners):
    c = deployed.controller
    before = tuple(c.moveLimits())
    tighter = (before[0] // 2, before[1] // 2, before[2], before[3])
    data = c.setMoveLimits.encode_input(tighter)
    for one in owners.values():
        with ape.reverts("GS020"):
            safe_admin_call(deployed.safe, c, data, [one])
    assert tuple(c.moveLimits()) == before
    safe_admin_call(deployed.safe, c, data, [owners["carol"], owners["bob"]])
    assert tuple(c.moveLimits())[:4] == tighter


def test_timelock__proposals_go_through_the_safe_only(deployed, owners, deployer, attacker):
    c, t = deployed.controller, deployed.timelock
    looser = tuple(c.moveLimits())[:4]
    looser = (looser[0] * 2, looser[1] * 2, looser[2], looser[3])
    data = c.setMoveLimits.encode_input(looser)
    for actor in (deployer, attacker, owners["alice"]):  # an owner alone is no proposer
        with ape.reverts():
            t.schedule(c.address, 0, data, b"\x00" * 32, b"\x00" * 32, 0, sender=actor)
    timelock_via_safe(deployed.safe, t, c, data, [owners["alice"], owners["bob"]])
    assert tuple(c.moveLimits())[:4] == looser


def test_keeper__through_the_executor__runs_a_small_action_alone(chain, invested, keeper):
    c = invested.controller
    p = plan_for(chain, invested, alloc(invested, 1, 50_000 * UNIT), ref="small")
    tx = run_action(invested, p, 0, [], keeper)
    ex = invested.automation["plan_executor"]
    ev = tx.decode_logs(ex.ActionExecuted)[0]
    invested_amount = tx.decode_logs(c.Allocated)[0].amount
    assert ev.notional == invested_amount > 0 and ev.approvals == 0
    assert ex.executed(p.plan_id, 0)


def test_keeper__large_action_alone_reverts_on_chain__two_owners_signatures_run_it(
    chain, invested, keeper, owners
):
    ex = invested.automation["plan_executor"]
    p = plan_for(chain, invested, alloc(invested, 1, 300_000 * UNIT), ref="large")
    with ape.reverts(ex.PlanNeedsApproval):
        run_action(invested, p, 0, [], keeper)
    with ape.reverts(ex.NotEnoughApprovals):  # one owner is not enough
        run_action(invested, p, 0, [sign_plan_with(p, owners["alice"])], keeper)
    sigs = [sign_plan_with(p, owners["alice"]), sign_plan_with(p, owners["carol"])]
    ev = run_action(invested, p, 0, sigs, keeper).decode_logs(ex.ActionExecuted)[0]
    assert ev.approvals == 2 and ev.notional > 200_000 * UNIT


def test_executor__foreign_callers_refused(chain, invested, attacker, deployer, owners):
    ex = invested.automation["plan_executor"]
    p = plan_for(chain, invested, alloc(invested, 1, 1_000 * UNIT), ref="foreign")
    for actor in (attacker, deployer, owners["bob"]):
        with ape.reverts(ex.AccessControlUnauthorizedAccount):
            run_action(invested, p, 0, [], actor)


def test_proxy_address__computed_as_the_factory_creates_it(deployer, owners):
    from ballast_dev.deployment.safe import ZERO, canonical_singletons, proxy_address

    s = canonical_singletons(deployer)
    addresses = [a.address for a in owners.values()]
    safe = deploy_safe(deployer, addresses, 2, singletons=s, salt_nonce=7)
    setup = s.singleton.setup.encode_input(
        addresses, 2, ZERO, b"", s.fallback_handler.address, ZERO, 0, ZERO
    )
    assert proxy_address(s.factory, s.singleton.address, setup, 7) == safe.address
    assert proxy_address(s.factory, s.singleton.address, setup, 8) != safe.address


# ---------------------------------------------------------------- an existing Safe


def _with_admin(tmp_path, admin) -> Path:
    doc = yaml.safe_load(LOCAL_SAFE.read_text())
    doc["roles"]["admin"] = admin
    p = tmp_path / "existing-safe.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _refused_before_sending(tmp_path, accounts, deployer, safe: dict, needle: str) -> None:
    """The local-safe profile with `safe` as its admin's Safe section stops with a ProfileError
    matching `needle`, before the deploy sends anything."""
    profile = load_profile(_with_admin(tmp_path, {"safe": safe}))
    nonce = deployer.nonce
    with pytest.raises(ProfileError, match=needle):
        deploy_profile(profile, deployer, accounts, log=quiet)
    assert deployer.nonce == nonce


def test_existing_safe__owners_unknown_to_the_deploy__checklist_of_safe_transactions_then_complete(
    tmp_path, accounts, project, deployer, owners
):
    """A real network: the deploy holds no owner's key, so the four Ownable2Step transfers wait
    for Safe transactions, and the checklist names the target, the call and its data."""
    safe = deploy_safe(deployer, list(owners.values()), 2)
    profile = load_profile(_with_admin(tmp_path, {"safe": {"address": str(safe.address)}}))
    fund = deploy_profile(profile, deployer, accounts, log=quiet)
    assert fund.safe.address == safe.address
    record = fund.addresses()
    h = handover_status(project, record, deployer.address, safe.address)
    assert h.held == []
    assert sorted(t["contract"] for t in h.todo) == sorted(
        ["RebalanceScheduler", "TxFunder", "PaidRebalancerRegistry", "Supervisor"]
    )
    text = render(h)
    assert "4 call(s) the admin must make" in text
    assert f"the Safe {safe.address}" in text and "signed by 2 of its 3 owners" in text
    for t in h.todo:
        assert f"to {t['address']}  acceptOwnership()" in text and t["data"] == "0x79ba5097"
    for t in h.todo:  # what the owners do, as the checklist says
        safe_admin_call(safe, t["address"], t["data"], [owners["bob"], owners["alice"]])
    done = handover_status(project, record, deployer.address, safe.address)
    assert done.complete, render(done)


def test_handover_check__checklist_and_batch_at_the_safes_nonce__then_complete(
    tmp_path, accounts, chain, project, deployer, owners
):
    """`ape run handover` (check_record): on a complete record whose admin Safe still has calls
    to make, the checklist and the batch file beside the record, at the Safe's nonce now, with
    the SafeTx hash the Safe itself computes; kept while it holds, rewritten when the Safe's
    nonce moves; executed by two owners, the check reads "hand-over complete"."""
    from ballast_dev.deployment import txbuilder as tb
    from ballast_dev.deployment.handover import check_record
    from ballast_dev.deployment.safe import ZERO, owner_signature, pack_signatures

    safe = deploy_safe(deployer, list(owners.values()), 2)
    profile = load_profile(_with_admin(tmp_path, {"safe": {"address": str(safe.address)}}))
    header = {
        "network": "ethereum:local",
        "chain_id": chain.chain_id,
        "deployer": str(deployer.address),
        "profile": "existing-safe.yaml",
        "profile_hash": profile_hash(profile),
    }
    path = tmp_path / "record.json"
    steps = RecordedSteps.open(path, header, provider=chain.provider, log=quiet)
    fund = deploy_profile(profile, deployer, accounts, log=quiet, steps=steps)
    lines: list[str] = []
    with pytest.raises(Exception, match="the deploy is not complete"):
        check_record(path, echo=lines.append)
    h = handover_status(project, fund.addresses(), deployer.address, safe.address)
    handover = {"admin": str(safe.address), "todo": h.todo, "deployer_holds": h.held}
    steps.finish(fund.addresses(), handover, chain.blocks.head.number)

    def check() -> tuple[bool, str]:
        lines.clear()
        done = check_record(path, echo=lines.append)
        return done, "\n".join(lines)

    def safe_hash(batch: dict, nonce: int) -> tuple[tb.SafeTransaction, bytes]:
        tx = tb.safe_transaction(tb.calls_of(batch), fund.safe_multisend)
        args = (tx.to, 0, tx.data, tx.operation, 0, 0, 0, ZERO, ZERO, nonce)
        return tx, bytes(safe.getTransactionHash(*args))

    batch_file = tmp_path / "record.safe-batch.json"
    done, text = check()
    assert not done and "4 call(s) the admin must make" in text
    batch = json.loads(batch_file.read_text())
    _tx, h0 = safe_hash(batch, 0)
    assert f"written to {batch_file}: 4 call(s)" in text
    assert f"Safe nonce 0, SafeTx hash 0x{h0.hex()}" in text
    assert check()[1].count(f"up to date in {batch_file}") == 1  # kept as it is
    # the owners execute something else first: the Safe's nonce moves, the file follows
    same_threshold = safe.changeThreshold.encode_input(2)
    safe_admin_call(safe, safe, same_threshold, [owners["alice"], owners["bob"]])
    done, text = check()
    batch = json.loads(batch_file.read_text())
    tx, h1 = safe_hash(batch, 1)
    assert not done and f"rewritten in {batch_file}" in text
    assert f"Safe nonce 1, SafeTx hash 0x{h1.hex()}" in text
    # two owners sign what the file says and anyone sends it: the hand-over is complete
    signers = [owners["bob"], owners["carol"]]
    sigs = pack_signatures({str(s.address): owner_signature(s, h1) for s in signers})
    safe.execTransaction(
        tx.to, 0, tx.data, tx.operation, 0, 0, 0, ZERO, ZERO, sigs, sender=deployer
    )
    done, text = check()
    assert done and "hand-over complete" in text and "batch" not in text


@pytest.mark.parametrize(
    "spec,needle",
    [
        ({"threshold": 3}, "threshold=3: the Safe at .* has threshold 2"),
        ({"owners": [10, 11, 4], "threshold": 2}, "owners=.*: the Safe at .* has owners"),
    ],
)
def test_existing_safe__mismatch__refused_before_the_first_transaction(
    tmp_path, accounts, deployer, owners, spec, needle
):
    safe = deploy_safe(deployer, list(owners.values()), 2)
    _refused_before_sending(
        tmp_path, accounts, deployer, {"address": str(safe.address), **spec}, needle
    )


def test_existing_safe__proxy_of_a_non_canonical_copy__refused_before_the_first_transaction(
    tmp_path, accounts, deployer, owners
):
    """A Safe 1.4.1 whose master copy is a copy of the bytecode at another address (what the
    deploy used to make): Safe{Wallet} does not support it, the deploy refuses it."""
    from ballast_dev.deployment.safe import ZERO, canonical_singletons, container

    s = canonical_singletons(deployer)
    copy = deployer.deploy(container("SafeL2"))
    addresses = [str(o.address) for o in owners.values()]
    setup = copy.setup.encode_input(addresses, 2, ZERO, b"", s.fallback_handler, ZERO, 0, ZERO)
    receipt = s.factory.createProxyWithNonce(copy.address, setup, 99, sender=deployer)
    proxy = receipt.decode_logs(s.factory.ProxyCreation)[0].proxy
    _refused_before_sending(
        tmp_path, accounts, deployer, {"address": str(proxy)}, f"a proxy of {copy.address}"
    )


def test_existing_safe__not_a_safe__refused_before_the_first_transaction(
    tmp_path, accounts, deployer, project, attacker
):
    token = deployer.deploy(project.TestStablecoin, "x", "X", 6)
    for address, needle in (
        (str(token.address), "does not answer as a Safe"),
        (str(attacker.address), "no contract code"),
    ):
        _refused_before_sending(tmp_path, accounts, deployer, {"address": address}, needle)


# ---------------------------------------------------------------- resuming


def test_deploy__interrupted_in_the_safe_and_executor_steps__resumes_to_the_same_fund(
    tmp_path, accounts, chain, project, deployer
):
    chain.contracts.clear_local_caches()  # a resumed deploy is a new process (see test_deploy_record)
    profile = load_profile(LOCAL_SAFE)
    header = {
        "network": "ethereum:local",
        "chain_id": chain.chain_id,
        "deployer": str(deployer.address),
        "profile": str(LOCAL_SAFE),
        "profile_hash": profile_hash(profile),
    }
    clean = RecordedSteps.open(tmp_path / "clean.json", header, provider=chain.provider, log=quiet)
    clean_fund = deploy_profile(profile, deployer, accounts, log=quiet, steps=clean)
    # the canonical Safe contracts, deployed by the clean run, are there for the resumed one
    keys = [s["step"] for s in clean.data["steps"] if not s["step"].startswith("safe.canonical")]
    keys = [k for k in keys if not k.startswith("safe.singleton_factory")]
    # right after the Safe's creation, between two Safe transactions, inside the executor's wiring
    stops = [
        keys.index("safe.createProxyWithNonce") + 1,
        keys.index("TxFunder.acceptOwnership:safe") + 1,
        keys.index("plan_executor.grant:KEEPER_ROLE:keeper") + 1,
    ]
    path = tmp_path / "resumed.json"
    nonce0 = deployer.nonce
    for stop in stops:
        steps = RecordedSteps.open(
            path, header, provider=chain.provider, log=quiet, stop_after=stop
        )
        with pytest.raises(DeployInterrupted):
            deploy_profile(profile, deployer, accounts, log=quiet, steps=steps)
        assert len(json.loads(path.read_text())["steps"]) == stop
    steps = RecordedSteps.open(path, header, provider=chain.provider, log=quiet)
    fund = deploy_profile(profile, deployer, accounts, log=quiet, steps=steps)

    assert [s["step"] for s in steps.data["steps"]] == keys
    assert len(steps.sent) == len(keys) - stops[-1]
    assert deployer.nonce - nonce0 == len(keys)  # nothing sent twice, the Safe created once
    deployed = [s["address"] for s in steps.data["steps"] if s.get("address")]
    assert len(deployed) == len(set(deployed))
    for f in (fund, clean_fund):
        safe = f.safe
        assert int(safe.call_view_method("nonce")) == 4  # four acceptOwnership, each signed once
        assert handover_status(project, f.addresses(), deployer.address, safe.address).complete
        ex = f.automation["plan_executor"]
        assert ex.safe() == safe.address and f.controller.hasRole(f.controller.KEEPER_ROLE(), ex)
    assert sorted(fund.addresses()) == sorted(clean_fund.addresses())
    assert sorted(fund.addresses()["automation"]) == sorted(clean_fund.addresses()["automation"])
