"""Rehearsals on an ape-foundry fork of the upstream deployment (tests/fork/run.sh): the real
keepers (fund keeper, scheduler executor, supervisor keeper, and the transaction pipeline for an
admin's timelock calls) talk to the fork's RPC over web3, each with its SQLite store in a tmp
dir; ape only sets the scene (deposits, drain, refill, clock). Every test checks that nothing
reached the upstream.

The upstream's default profile (scripts/profiles/local-safe.yaml) makes the Safe of alice, bob
and carol (2 of 3) the admin and puts the PlanExecutor in front of the controller: the fund
keeper sends every action through it, large plans with two owners' EIP-712 signatures (alice's
through `keeper approve --account alice`); the owners only sign, other keys send."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from web3 import Web3

from ballast_dev.local import actors
from ballast_dev.local.keystores import approver_env, write_test_keystores
from keepers.automation.executor import ExecutorBot
from keepers.automation.settings import ExecutorConfig, SupervisorBotConfig
from keepers.automation.supervisor import SupervisorBot
from keepers.core.settings import load_settings
from keepers.fund.bot import FundBot
from keepers.fund.planning.plan_approval import (
    SignedPlan,
    is_pool_leg,
    plan_hash,
    sign_plan,
    with_min_out,
)
from keepers.fund.settings import load_fund_config
from keepers.runtime.alerts import Alerter
from keepers.store.db import Store
from keepers.tx.contracts import FundAddresses
from keepers.tx.node import Node
from keepers.tx.pipeline import IntentSpec, Pipeline
from keepers.tx.signers import RawKeySigner
from tests.support.forklib import (
    ARTIFACTS,
    DEPLOYMENT,
    ROOT,
    allow,
    attack,
    intents,
    mined_tx,
    settings,
)

pytestmark = pytest.mark.fork

SCHEDULED, EXECUTED = 1, 2
NEEDS = "PlanNeedsApproval(bytes32,uint256,uint256)"
NOT_ENOUGH = "NotEnoughApprovals(bytes32,uint256,uint256)"
NO_ROLE = "AccessControlUnauthorizedAccount(address,bytes32)"
EXEC_TRANSACTION = (
    "execTransaction(address,uint256,bytes,uint8,uint256,uint256,uint256,address,address,bytes)"
)


@pytest.fixture(scope="module")
def fund(project, addresses):
    a = addresses
    return {
        "vault": project.TieredVault.at(a["vault"]),
        "controller": project.AssetController.at(a["controller"]),
        "lens": project.FundLens.at(a["lens"]),
        "cash": project.TestStablecoin.at(a["cash"]),
        "timelock": project.FundTimelock.at(a["timelock"]),
        "feeds": {k: project.TestPriceFeed.at(v) for k, v in a["feeds"].items()},
        "scheduler": project.RebalanceScheduler.at(a["automation"]["scheduler"]),
        "funder": project.TxFunder.at(a["automation"]["tx_funder"]),
        "registry": project.PaidRebalancerRegistry.at(a["automation"]["paid_registry"]),
        "supervisor": project.Supervisor.at(a["automation"]["supervisor"]),
        "rebalancer": project.Rebalancer.at(a["automation"]["fund_rebalancer"]),
        # what holds KEEPER_ROLE on the controller (local-safe.yaml, run.sh's default)
        "keeper_role": a["automation"]["plan_executor"],
    }


@pytest.fixture(scope="module")
def executor(project, addresses):
    """The PlanExecutor in front of the controller (profile local-safe.yaml, run.sh's default)."""
    a = addresses["automation"].get("plan_executor")
    if not a:
        pytest.skip("the upstream's profile has no plan_executor (FORK_PROFILE)")
    return project.PlanExecutor.at(a)


@pytest.fixture
def rpc(chain) -> str:
    """The fork's RPC, the one URL every keeper here is given."""
    uri = str(chain.provider.http_uri)
    assert not uri.rstrip("/").endswith(":8645"), f"keepers would talk to the upstream: {uri}"
    return uri


def _refresh(fund, deployer):
    """The deploy script's prices, re-stamped now (the fund refuses NAV older than an hour)."""
    for f in fund["feeds"].values():
        f.updateAnswer(f.latestAnswer(), sender=deployer)


def _advance(chain, seconds: int) -> int:
    chain.mine(1, timestamp=chain.pending_timestamp + seconds)
    return int(chain.blocks.head.timestamp)


def _drive(pipeline: Pipeline) -> None:
    pipeline.run(until_idle=True, max_seconds=30)


def test_deployment_file__upstream_json__loads_in_the_keepers_format(
    addresses, upstream_fingerprint, rpc
):
    """The deploy script's JSON is what the keepers read (KEEPER_DEPLOYMENT): no second file."""
    before = upstream_fingerprint()
    a = FundAddresses.load(DEPLOYMENT)
    assert a.controller == Web3.to_checksum_address(addresses["controller"])
    assert set(a.assets) == set(addresses["assets"]) and a.quoter
    assert a.symbols[a.assets["MMF-A"].lower()] == "MMF-A"
    assert Web3(Web3.HTTPProvider(rpc)).eth.get_code(a.controller)  # forked code is there
    assert upstream_fingerprint() == before


def test_fork__config_change_through_timelock__sent_by_the_admins_pipeline(
    fund, admin, upstream_fingerprint, chain, rpc, tmp_path
):
    """The admin's own keeper pipeline (audit policy: the timelock's schedule and execute only,
    or the Safe's execTransaction when the admin is a Safe, signed by alice and bob and sent by
    the relaying key) schedules and executes a risk-parameter change; a direct call is refused
    by the audit (by the contract for the Safe's relaying key, which holds no role)."""
    before = upstream_fingerprint()
    actor, admin = admin, admin.account  # admin: the key its pipeline signs with
    c, tl = fund["controller"], fund["timelock"]
    old = c.riskParams()
    new_risk = (600, 300, 6000, 3600, 10_000 * 10**6)  # raising max slippage: risk-increasing
    data = c.setRiskParams.encode_input(new_risk)
    salt, pred = b"\x01" * 32, b"\x00" * 32
    delay = int(tl.getMinDelay())
    roles = {
        "admin": allow(
            tl.address,
            "schedule(address,uint256,bytes,bytes32,bytes32,uint256)",
            "execute(address,uint256,bytes,bytes32,bytes32)",
        )
        if actor.safe is None
        else allow(actor.safe.address, EXEC_TRANSACTION)
    }
    cfg = settings(tmp_path / "admin.db", rpc, admin.private_key, roles)
    store = Store(cfg.db_url)
    try:
        node = Node(cfg.rpc_url)
        pipeline = Pipeline(store, node, [RawKeySigner(admin.private_key)], cfg)
        pipeline.reconcile_nonces()

        def spec(key: str, target: str, calldata: bytes) -> IntentSpec:
            return IntentSpec(
                key, "admin", node.chain_id, admin.address, target, Web3.to_hex(calldata)
            )

        def as_admin(key: str, target: str, calldata: bytes) -> IntentSpec:
            return spec(key, *actor.route(target, calldata))

        # straight to the controller: the contract refuses a risk increase (the build step's
        # estimate reverts), and the audit policy refuses even a decrease the contract allows
        pipeline.submit(spec("risk:direct", c.address, data))
        safer = c.setRiskParams.encode_input((400, 300, 6000, 3600, 10_000 * 10**6))
        pipeline.submit(spec("risk:direct-safer", c.address, safer))
        _drive(pipeline)
        up, down = intents(store)
        assert up.status == "failed" and "RiskIncreaseRequiresTimelock" in (up.error or ""), (
            up.error
        )
        if actor.safe is None:
            assert down.status == "rejected" and "audit denied" in (down.error or ""), down.error
        else:  # the key that relays the Safe's transactions holds no role: the contract refuses it
            assert down.status == "failed" and "AccessControlUnauthorizedAccount" in (
                down.error or ""
            ), down.error
        assert c.riskParams().maxSlippageBps == old.maxSlippageBps

        pipeline.submit(
            as_admin(
                "risk:schedule", tl.address, tl.schedule.encode_input(c, 0, data, pred, salt, delay)
            )
        )
        _drive(pipeline)
        op = tl.hashOperation(c, 0, data, pred, salt)
        assert tl.isOperationPending(op) and c.riskParams().maxSlippageBps == old.maxSlippageBps
        if delay:
            _advance(chain, delay)
        pipeline.submit(
            as_admin("risk:execute", tl.address, tl.execute.encode_input(c, 0, data, pred, salt))
        )
        _drive(pipeline)
        assert [i.status for i in intents(store)] == [
            "failed",
            "rejected" if actor.safe is None else "failed",
            "confirmed",
            "confirmed",
        ]
        assert tl.isOperationDone(op)
        assert c.riskParams().maxSlippageBps == 600
    finally:
        store.close()
    assert actor.owners_sent_nothing(chain)
    assert upstream_fingerprint() == before


def _in_operation(fund, accounts, investor, deployer) -> int:
    """A fund in operation: invested and in band by the controller's own rebalance, sent as
    the keeper's side sends it (KEEPER_ROLE, held by whatever the record put in front of the
    controller: the PlanExecutor here; impersonated on the fork, where only ape sets the
    scene). The paid rebalancer's scheduled run no longer trades pools (the fourth review), so
    on a fund of pool assets it would leave the tiers where they are. Returns the base token's
    unit."""
    v, c, cash, lens = fund["vault"], fund["controller"], fund["cash"], fund["lens"]
    unit = 10 ** int(cash.decimals())
    cash.mint(investor, 5_000_000 * unit, sender=deployer)
    cash.approve(v, 2**256 - 1, sender=investor)
    _refresh(fund, deployer)
    v.deposit(2_000_000 * unit, investor, sender=investor)
    # the scheduled run first: it must never revert for the pool legs it leaves (pouring
    # their share into the ERC-4626 members once breached the top-3 bound), then the
    # keeper's side's own run, which trades the pools
    rebalancer = accounts[fund["rebalancer"].address]
    rebalancer.balance = 10**20
    c.rebalance(True, sender=rebalancer)
    mover = accounts[fund["keeper_role"]]
    assert c.hasRole(c.KEEPER_ROLE(), mover)
    mover.balance = 10**20
    c.rebalance(True, sender=mover)
    st = lens.fundState(c)
    assert all(st.tiers[t].minBps <= st.tierRatioBps[t] <= st.tiers[t].maxBps for t in range(3))
    return unit


def _approve_cli(env: dict[str, str], ref: str, alias: str, now: int) -> str:
    """`keeper approve REF --account ALIAS` as an approver runs it: its own process, the ape
    keystore of ALIAS, the passphrase from ape's variable; it records only."""
    out = subprocess.run(
        [sys.executable, "-m", "keepers.cli", "--now", str(now), "approve", ref, "--account", alias],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, (out.stdout, out.stderr)
    return out.stdout


def test_fork__fund_keeper__full_rebalance_cycle_through_the_executor(
    fund, executor, accounts, upstream_fingerprint, chain, rpc, tmp_path
):
    """Deposits put the fund out of band; FundBot plans, checks risk and freezes the plan for
    the PlanExecutor (above its 200,000 threshold: 2 of the Safe's 3 owners must sign); alice
    signs with `keeper approve --account alice` from her ape keystore, bob in-process with his
    key (what the CLI records); the keeper simulates on its own fork of the fork, sends every
    action to the executor with the two signatures, verifies and records."""
    before = upstream_fingerprint()
    deployer, keeper, investor = accounts[0], accounts[2], accounts[4]
    v, c, lens = fund["vault"], fund["controller"], fund["lens"]
    owners = actors.safe_owners(accounts)
    unit = _in_operation(fund, accounts, investor, deployer)
    # ... then a drift: a large deposit sits in L1, and a T-bill's price moves
    v.deposit(1_000_000 * unit, investor, sender=investor)
    feed = fund["feeds"]["TBILL-B"]
    feed.updateAnswer(feed.latestAnswer() * 102 // 100, sender=deployer)
    st = lens.fundState(c)
    assert st.tierRatioBps[0] > st.tiers[0].maxBps, st  # out of band

    env = {
        "KEEPER_RPC_URL": rpc,
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/fund-keeper.db",
        "KEEPER_DEPLOYMENT": str(DEPLOYMENT),
        "KEEPER_ARTIFACTS_PATH": str(ARTIFACTS),
        "KEEPER_CHAIN_ID": str(chain.chain_id),
        "KEEPER_LOG_LEVEL": "WARNING",
        "KEEPER_RETRY_BACKOFF_S": "0.05",
    }
    cfg = load_fund_config(env)
    store = Store(cfg.keeper.db_url)
    alerts: list = []
    try:
        bot = FundBot(
            cfg, store, signer=RawKeySigner(keeper.private_key), alerter=Alerter([alerts.append])
        )
        bot.check_chain()
        assert bot.contracts.executor is not None  # read from automation.plan_executor
        now = int(chain.blocks.head.timestamp)
        out = bot.check("liquidity", now)
        assert out.status == "pending_approval", (out.detail, alerts)
        row = bot.plans.get(out.plan_id)
        approval, frozen = row.payload["approval"], row.payload["frozen"]
        assert approval["requirement"] == "multi_admin" and approval["required"] == 2
        assert sorted(approval["admins"]) == sorted(str(o.address).lower() for o in owners.values())
        threshold = int(executor.approvalThreshold())
        assert threshold == 200_000 * unit and int(executor.requiredApprovals()) == 2
        assert frozen["executor"] == executor.address
        signed = bot.plans.signed_plan(out.plan_id)
        assert intents(store) == []  # nothing sent before the owners sign
        # the keeper key alone cannot run it: the executor wants the owners' signatures. A pool
        # leg is signed by its aim (minOut 0): it goes out with the minOut the keeper would set
        # (its quote less the tolerance, inside the signed band), so the refusal is the approvals'
        first = signed.actions[0]
        if is_pool_leg(first):
            leg = bot.plans.plan(out.plan_id).actions[frozen["order"][0]]
            reading = bot.read()
            quote = bot.encoder.quote(reading, leg, reading.block)
            fill = quote.quote_out if quote is not None else None
            first = with_min_out(first, bot.encoder.encode(reading, leg, quote, fill).min_out)
        data = executor.executeAction.encode_input(
            signed.header(), 0, first, signed.action_hashes(), []
        )
        w3 = chain.provider.web3
        plan_id, notional, limit = attack(w3, keeper.private_key, executor.address, data, NEEDS)
        assert (plan_id, limit) == (bytes(signed.plan_id), threshold) and notional > threshold

        # alice: the CLI, from her ape keystore (scrypt lowered: this is a test keystore)
        keys = tmp_path / "approver-keystores"
        write_test_keystores(keys, "fork", ("alice",), scrypt_n=2**10)
        cli_env = {
            **os.environ,
            **env,
            **approver_env(keys, "fork", ("alice",)),
            "PYTHONPATH": str(ROOT),
        }
        said = _approve_cli(cli_env, out.plan_id, "alice", now + 60)
        assert "(1 of 2)" in said, said
        assert bot.advance(out.plan_id, now + 60).status == "pending_approval"
        assert intents(store) == []
        # bob: in-process, what `keeper approve --account bob` records
        sig = sign_plan(signed, owners["bob"].private_key)
        bot.plans.record_signature(out.plan_id, sig, now + 120, note="account bob")
        done = bot.advance(out.plan_id, now + 120)
        assert done.status == "executed", (done.detail, alerts)
        assert done.results and all(r.success and r.tx_hash for r in done.results)

        row = bot.plans.get(out.plan_id)
        assert row.payload["simulation"]["ok"], row.payload["simulation"]
        assert row.payload["verification"]["ok"], row.payload["verification"]
        assert "LIQUIDITY" in row.trigger
        signers = {a.approver.lower() for a in row.approvals if a.decision == "approve"}
        assert signers == {str(owners[n].address).lower() for n in ("alice", "bob")}
        sent = intents(store)
        assert len(sent) == len(done.results) == len(signed.actions)
        assert {i.status for i in sent} == {"confirmed"}
        assert {i.sender.lower() for i in sent} == {keeper.address.lower()}
        assert {i.target.lower() for i in sent} == {executor.address.lower()}  # never c
        for k in range(len(signed.actions)):
            assert executor.executed(signed.plan_id, k), k
        bound, notional = executor.planState(signed.plan_id)
        assert bytes(bound) == plan_hash(signed) and notional > threshold
    finally:
        store.close()
    st = lens.fundState(c)
    for t in range(3):
        assert st.tiers[t].minBps <= st.tierRatioBps[t] <= st.tiers[t].maxBps, (t, st)
    # the owners only signed: none of them sent a transaction on the fork
    assert all(chain.provider.get_nonce(o.address) == 0 for o in owners.values())
    assert upstream_fingerprint() == before


def test_fork__keeper_key_alone__controller_and_large_executor_action_revert(
    fund, executor, accounts, upstream_fingerprint, chain
):
    """A stolen keeper key on the fork: the controller refuses it outright (its KEEPER_ROLE
    went to the executor), and a large action sent to the executor without the owners'
    signatures reverts with PlanNeedsApproval; a small one runs alone, as the threshold says."""
    before = upstream_fingerprint()
    deployer, keeper, investor = accounts[0], accounts[2], accounts[4]
    c = fund["controller"]
    unit = _in_operation(fund, accounts, investor, deployer)
    fund["vault"].deposit(1_000_000 * unit, investor, sender=investor)
    _refresh(fund, deployer)
    w3, key = chain.provider.web3, keeper.private_key
    big_move = c.allocateToLayer.encode_input(1, 300_000 * unit)
    assert attack(w3, key, c.address, big_move, NO_ROLE) == (keeper.address, bytes(c.KEEPER_ROLE()))
    (who,) = attack(w3, key, c.address, c.rebalance.encode_input(True), "NotRebalancer(address)")
    assert who == keeper.address
    threshold = int(executor.approvalThreshold())

    def plan(ref: str, amount: int) -> SignedPlan:
        return SignedPlan(
            plan_id=SignedPlan.plan_id_for(ref),
            chain_id=chain.chain_id,
            executor=executor.address,
            controller=c.address,
            deadline=int(chain.pending_timestamp) + 3_600,
            actions=(bytes(c.allocateToLayer.encode_input(1, amount)),),
        )

    big = plan("stolen-key", 300_000 * unit)
    run_big = executor.executeAction.encode_input(
        big.header(), 0, big.actions[0], big.action_hashes(), []
    )
    plan_id, notional, limit = attack(w3, key, executor.address, run_big, NEEDS)
    assert (plan_id, limit) == (bytes(big.plan_id), threshold) and notional >= 300_000 * unit
    # its own signature is not an owner's
    own = sign_plan(big, key)
    run_signed = executor.executeAction.encode_input(
        big.header(), 0, big.actions[0], big.action_hashes(), [own]
    )
    plan_id, approvals, required = attack(w3, key, executor.address, run_signed, NOT_ENOUGH)
    assert (plan_id, approvals, required) == (bytes(big.plan_id), 0, 2)
    assert not executor.executed(big.plan_id, 0)
    small = plan("small", 50_000 * unit)
    executor.executeAction(
        small.header(), 0, small.actions[0], small.action_hashes(), [], sender=keeper
    )
    assert executor.executed(small.plan_id, 0)
    assert upstream_fingerprint() == before


def test_fork__stuck_rebalancer__executor_fails_it_supervisor_keeper_recovers(
    fund, accounts, admin, upstream_fingerprint, chain, rpc, tmp_path
):
    """The funder drained by its owner; a day later the executor keeper executes the due runs,
    the fund rebalancer cannot book its next one (FailedRecurringSchedule); after a refill the
    supervisor keeper books it again at once, and the executor keeper runs it when due."""
    before = upstream_fingerprint()
    deployer, keeper, watcher = accounts[0], accounts[2], accounts[5]
    sched, funder, reb = fund["scheduler"], fund["funder"], fund["rebalancer"]
    sup, registry = fund["supervisor"], fund["registry"]
    ex_cfg = settings(
        tmp_path / "executor.db",
        rpc,
        keeper.private_key,
        {
            "executor": allow(
                sched.address,
                "executeBatch(uint256[])",
                "execute(uint256)",
                "withdrawCredit(address)",
            )
        },
    )
    sup_cfg = settings(
        tmp_path / "supervisor.db",
        rpc,
        watcher.private_key,
        {
            "supervisor": allow(registry.address, "fixReschedule(uint256)")
            + allow(sup.address, "fixReschedule()", "tick(uint256)")
        },
    )
    # the default fee margin: the profile's prepaid fees must pay this executor's gas
    executor = ExecutorBot.from_settings(
        ex_cfg, load_settings(ExecutorConfig, scheduler=sched.address, due_scan_every_s=0)
    )
    supervisor = SupervisorBot.from_settings(
        sup_cfg,
        load_settings(
            SupervisorBotConfig,
            scheduler=sched.address,
            supervisor=sup.address,
            registry=registry.address,
        ),
        sinks=[],
    )
    executor.start()
    supervisor.start()
    try:
        booked = int(reb.bookedRun()[0])
        assert booked != 0 and sched.status(booked) == SCHEDULED
        assert reb.address in supervisor.tasks
        assert supervisor.tick(_advance(chain, 1)).stuck == []

        admin.call(
            funder.withdraw, admin.account.address, chain.provider.get_balance(funder.address)
        )
        assert chain.provider.get_balance(funder.address) == 0
        now = _advance(chain, 86_400 + 60)
        _refresh(fund, deployer)
        # paid by credit (pull payment): what the keeper holds plus what the scheduler owes it
        paid_before = keeper.balance + int(sched.credits(keeper.address))
        t = executor.tick(now)
        executor.drive()
        assert any(booked in ids for ids in t.submitted), t
        assert sched.status(booked) == EXECUTED
        # the runs' prepaid fees paid more than the gas
        assert keeper.balance + int(sched.credits(keeper.address)) > paid_before
        (intent,) = intents(executor.store)
        assert intent.status == "confirmed" and intent.role == "executor"
        receipt = chain.get_receipt(mined_tx(executor.store, intent))
        failed = [e for e in receipt.events if e.event_name == "FailedRecurringSchedule"]
        assert failed and any(e.contract_address == reb.address for e in failed)
        assert int(reb.bookedRun()[0]) == 0  # stuck: nothing booked

        now = _advance(chain, 1)
        t = supervisor.tick(now)
        assert reb.address in t.failed_events
        assert reb.address in {a for a, _ in t.stuck} and reb.address in t.blocked
        # a fix bound to fail is not sent (the on-chain Supervisor's own run failed to book as
        # well, so the keeper ticks it instead: that is its only intent)
        assert t.fixes == [] and t.supervisor_ticked
        assert [i.target.lower() for i in intents(supervisor.store)] == [sup.address.lower()]
        assert "funder_empty" in [a.code for a in t.alerts]

        funder.refund(value=10**17, sender=admin.account)
        t = supervisor.tick(now + 1)
        supervisor.drive()
        assert reb.address in t.fixes
        rebooked = int(reb.bookedRun()[0])
        assert rebooked not in (0, booked) and sched.status(rebooked) == SCHEDULED
        fixes = [
            i for i in intents(supervisor.store) if i.target.lower() == registry.address.lower()
        ]
        assert [i.status for i in fixes] == ["confirmed"]

        # the recovered rebalancer runs again when due, through the executor keeper
        now = _advance(chain, 86_400 + 60)
        _refresh(fund, deployer)
        t = executor.tick(now)
        executor.drive()
        assert any(rebooked in ids for ids in t.submitted), t
        assert sched.status(rebooked) == EXECUTED and int(reb.bookedRun()[0]) not in (0, rebooked)
    finally:
        executor.stop()
        supervisor.stop()
    assert admin.owners_sent_nothing(chain)
    assert upstream_fingerprint() == before
