"""Issue 15 "approvals that mean something" and issue 13 "double execution with one key", through
the running keeper: with a PlanExecutor in the deployment record, the fund bot freezes each plan
that passed its risk check (calldata, order, deadline), counts only EIP-712 signatures of that
frozen plan by current Safe owners, and sends exactly the frozen calldata through the executor.

Actors: the keeper key (accounts[2], KEEPER_ROLE on the executor only; it also plays a stolen
key), alice, bob and carol (owners of a real Safe 1.4.1, 2 of 3), the attacker (no role). The
fixture is tests/offchain/fundbot/executor_fund.py (executor threshold 50,000: a 400,000 deposit
makes a multi-admin plan)."""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any

import ape
import pytest
from eth_utils import keccak
from sqlalchemy import select

from keepers.fund.planning.plan_approval import SignedPlan, plan_hash, sign_plan
from keepers.store import models as m
from tests.offchain.fundbot.executor_fund import *  # noqa: F403 - the fixtures (one module)
from tests.offchain.fundbot.executor_fund import THRESHOLD, _via_timelock
from tests.support.fundbotlib import DEX, UNIT, KillBeforeSecondAction, push_pool, restarted

SENTINEL = "0x0000000000000000000000000000000000000001"


def pending(bot: Any, fresh: Any, accounts: Any, chain: Any) -> tuple[str, dict, SignedPlan, int]:
    """A 400,000 deposit and the liquidity check: a plan above the executor's threshold waits
    for 2 of 3 owners. Returns (ref, frozen document, the plan as signed, now)."""
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    now = int(chain.pending_timestamp)
    out = bot.check("liquidity", now)
    assert out.status == "pending_approval", out
    row = bot.plans.get(out.plan_id)
    frozen = row.payload["frozen"]
    return out.plan_id, frozen, SignedPlan.from_frozen(frozen), now


def sign(bot: Any, ref: str, frozen: dict, who: Any, at: int) -> None:
    """What `keeper approve REF --account <alias>` records: the signer's address, the signature
    and the plan hash it signed."""
    sig = sign_plan(SignedPlan.from_frozen(frozen), who.private_key)
    bot.plans.record_decision(
        ref, who.address.lower(), at, signature="0x" + sig.hex(), plan_hash=frozen["plan_hash"]
    )


@pytest.fixture
def signed_plan(make_bot, fresh, accounts, chain):
    """`signed_plan(*signers)`: a fresh bot, the pending plan of `pending`, and the signatures of
    `signers` recorded in that order at now + 20, now + 30, ... Returns
    (bot, ref, frozen, the plan as signed, now)."""

    def make(*signers: Any) -> tuple[Any, str, dict, SignedPlan, int]:
        bot = make_bot()
        ref, frozen, sp, now = pending(bot, fresh, accounts, chain)
        for k, who in enumerate(signers):
            sign(bot, ref, frozen, who, now + 20 + 10 * k)
        return bot, ref, frozen, sp, now

    return make


def remove_owner(safe: Any, who: Any, signers: list[Any]) -> None:
    """The Safe removes `who` (threshold stays 2), signed by `signers`."""
    from ballast_dev.deployment.safe import exec_safe_tx

    current = list(safe.getOwners())
    i = current.index(who.address)
    prev = SENTINEL if i == 0 else current[i - 1]
    data = safe.removeOwner.encode_input(prev, who.address, 2)
    exec_safe_tx(safe, safe.address, data, signers=signers, sender=signers[0])
    assert not safe.isOwner(who.address)


def assert_min_outs_from_fills(bot: Any, ref: str, sp: SignedPlan) -> set[int]:
    """Issue 62: every pool leg went out with its minOut at its simulated fill less the
    tolerance (REBALANCE_FILL_TOLERANCE_BPS, 10 by default), within the band signed, in the
    calldata the pipeline sent. Returns the planner indexes of the pool legs checked."""
    from eth_abi import decode

    from keepers.fund.planning.plan_approval import leg_min_out

    tol = bot.cfg.rebalance_fill_tolerance_bps
    by_key = {i.idempotency_key: i for i in intents(bot)}
    checked = set()
    for row in bot.plans.get(ref).actions:
        call = row.payload.get("call") or {}
        if "fill" not in call:
            continue
        fill, min_out = int(call["fill"]), int(call["min_out"])
        assert fill * (10_000 - tol) // 10_000 <= min_out <= fill, (row.seq, call)
        data = bytes.fromhex(by_key[f"fund:{ref}:{row.seq}"].calldata.removeprefix("0x"))
        args = decode(
            ["(bytes32,address,uint64,uint16[])", "uint256", "bytes", "bytes32[]", "bytes[]"],
            data[4:],
        )
        assert leg_min_out(args[2]) == min_out and list(args[0][3]) == list(sp.max_slippage_bps)
        checked.add(row.seq)
    return checked


def intents(bot: Any) -> list[Any]:
    with bot.store.sessions() as s:
        return list(s.scalars(select(m.TxIntent)).all())


def assert_in_band(bot: Any, controller: Any) -> None:
    st = bot.read().state
    for t in range(3):
        _, lo, hi = (int(x) for x in controller.tier(t))
        share = st.position(t) * 10_000 // st.total_assets
        assert lo <= share <= hi, (t, share, lo, hi)


def test_tick__two_owner_signatures__frozen_plan_runs_through_the_executor(
    make_bot, fresh, accounts, chain, executor_fund, owners, alerts
):
    fund, ex, safe = executor_fund
    alice, bob, _ = owners
    bot = make_bot()
    ref, frozen, sp, now = pending(bot, fresh, accounts, chain)
    # frozen: this chain, this executor and controller, send order, plan id keccak(ref)
    p = bot.plans.plan(ref)
    assert frozen["plan_id"] == "0x" + keccak(text=ref).hex()
    assert (frozen["chain_id"], frozen["executor"], frozen["controller"]) == (
        chain.chain_id,
        ex.address,
        fund.controller.address,
    )
    assert frozen["order"] == sorted(range(len(p.actions)), key=lambda i: p.actions[i].priority)
    assert bytes(ex.hashPlan(sp.header(), sp.action_hashes())).hex() == frozen["plan_hash"][2:]
    approval = bot.plans.get(ref).payload["approval"]
    assert approval["requirement"] == "multi_admin" and approval["required"] == 2
    assert approval["admins"] == [o.lower() for o in safe.getOwners()]
    # on-chain deadline: the approval deadline plus the execution window (6 h by default)
    assert frozen["deadline"] == approval["deadline"] + 6 * 3_600
    # the alert: once per plan, with what it needs and how to sign
    (alert,) = [a for a in alerts if a.code == "approval_needed"]
    for part in (ref, "multi_admin", "2 approval(s)", "UTC", frozen["plan_hash"]):
        assert part in alert.message, (part, alert.message)
    assert f"keeper approve {ref} --account <alias>" in alert.message
    assert bot.tick(now + 10)[0].status == "pending_approval"
    assert len([a for a in alerts if a.code == "approval_needed"]) == 1

    sign(bot, ref, frozen, alice, now + 20)
    sign(bot, ref, frozen, bob, now + 30)
    (out,) = bot.tick(now + 60)
    assert out.status == "executed", (out, alerts)
    assert out.results and all(r.success for r in out.results)
    for k in range(len(sp.actions)):
        assert ex.executed(sp.plan_id, k)
    sent = intents(bot)
    assert {i.target.lower() for i in sent} == {ex.address.lower()}  # nothing to the controller
    assert sorted(i.idempotency_key for i in sent) == sorted(
        f"fund:{ref}:{i}" for i in range(len(p.actions))
    )
    bound, notional = ex.planState(sp.plan_id)
    assert bytes(bound) == plan_hash(sp) and notional > THRESHOLD * UNIT
    assert_in_band(bot, fund.controller)
    assert assert_min_outs_from_fills(bot, ref, sp)


def test_tick__one_signature_and_by_name_rows__not_executed(signed_plan, executor_fund, owners):
    _, ex, _ = executor_fund
    alice, bob, carol = owners
    bot, ref, frozen, sp, now = signed_plan(alice)
    # a `--by` row (no signature) under an owner's address, and under a configured admin name
    bot.plans.record_decision(ref, bob.address.lower(), now + 30)
    bot.plans.add_approval(ref, "carol", True, now + 40, "multi_admin")
    (out,) = bot.tick(now + 60)
    assert out.status == "pending_approval" and "1 of 2" in out.detail, out
    assert bot.plans.get(ref).payload["approval"]["approvals"] == [alice.address.lower()]
    assert intents(bot) == [] and not ex.executed(sp.plan_id, 0)


def test_approval_decision__executor_and_safe_read_in_two_batches__one_call_each_before(
    signed_plan, executor_fund, owners, monkeypatch
):
    """The decision on a pending signed plan reads the executor's four views in one JSON-RPC
    batch and its Safe's owners and threshold in a second (keepers.fund.approval_stage's
    ``read_admin_view``): two round trips to the node a plan a tick, seven ``eth_call`` s
    before (counted as the keeper's node client posts them). What it decides is what the
    views say: 1 of 2 signed, and the Safe's current owners as admins."""
    from keepers.tx import node

    _, ex, safe = executor_fund
    alice, _, _ = owners
    bot, ref, _, _, now = signed_plan(alice)
    posts: list[Any] = []
    post = node._Sessions.get_response_from_post_request

    def counted(self: Any, endpoint_uri: Any, *args: Any, **kwargs: Any) -> Any:
        body = json.loads(kwargs["data"])
        posts.append([r["method"] for r in body] if isinstance(body, list) else body["method"])
        return post(self, endpoint_uri, *args, **kwargs)

    monkeypatch.setattr(node._Sessions, "get_response_from_post_request", counted)
    decision, approval = bot.approvals.decision(ref, now + 60)
    monkeypatch.undo()
    assert posts == [["eth_call"] * 4, ["eth_call"] * 2], posts
    assert decision.status.value == "pending" and "1 of 2" in decision.detail, decision
    assert approval["admins"] == [o.lower() for o in safe.getOwners()]
    assert decision.required == max(2, ex.requiredApprovals())


def test_plan_edited_after_approval__signatures_stop_counting__replay_reverts(
    signed_plan, accounts, executor_fund, owners
):
    fund, ex, _ = executor_fund
    alice, bob, _ = owners
    keeper = accounts[2]
    bot, ref, frozen, sp, now = signed_plan(alice)
    old = [sign_plan(sp, a.private_key) for a in (alice, bob)]
    # someone with the database rewrites the frozen first action to move far more
    big = fund.controller.allocateToLayer.encode_input(2, 300_000 * UNIT)
    edited = dict(frozen, actions=["0x" + bytes(big).hex(), *frozen["actions"][1:]])
    bot.plans.update(ref, frozen=edited)
    sign(bot, ref, frozen, bob, now + 30)  # bob signed the plan he was shown (the original)
    (out,) = bot.tick(now + 60)
    assert out.status == "pending_approval" and "0 of 2" in out.detail, out
    assert intents(bot) == []
    # past the approval deadline it expires, never runs
    deadline = bot.plans.get(ref).payload["approval"]["deadline"]
    out = bot.tick(deadline + 1)[0]  # then a fresh plan, the trigger still holding
    assert out.status == "expired" and intents(bot) == []
    # the stolen keeper key replays the old signatures with the edited action: refused on chain
    e = SignedPlan.from_frozen(edited)
    with ape.reverts(ex.NotEnoughApprovals, approvals=0, required=2):
        ex.executeAction(e.header(), 0, e.actions[0], e.action_hashes(), old, sender=keeper)
    # the edited action under the original plan's hashes: not the declared action
    with ape.reverts(ex.ActionMismatch):
        ex.executeAction(sp.header(), 0, e.actions[0], sp.action_hashes(), old, sender=keeper)


def test_keeper_key_alone__large_action__reverts_on_executor_and_controller(
    fresh, accounts, chain, executor_fund, attacker
):
    fund, ex, _ = executor_fund
    keeper, c = accounts[2], fund.controller
    fund.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    big = bytes(c.allocateToLayer.encode_input(1, 200_000 * UNIT))
    p = SignedPlan(
        plan_id=SignedPlan.plan_id_for("stolen"),
        chain_id=chain.chain_id,
        executor=ex.address,
        controller=c.address,
        deadline=int(chain.pending_timestamp) + 3_600,
        actions=(big,),
    )
    with ape.reverts(ex.PlanNeedsApproval, planId=p.plan_id, threshold=THRESHOLD * UNIT):
        ex.executeAction(p.header(), 0, big, p.action_hashes(), [], sender=keeper)
    with ape.reverts(c.AccessControlUnauthorizedAccount, account=keeper.address):
        c.allocateToLayer(1, 200_000 * UNIT, sender=keeper)
    with ape.reverts(ex.AccessControlUnauthorizedAccount, account=attacker.address):
        ex.executeAction(p.header(), 0, big, p.action_hashes(), [], sender=attacker)
    # the attacker signs itself: not an owner, not counted
    own = sign_plan(p, attacker.private_key)
    with ape.reverts(ex.NotEnoughApprovals, approvals=0):
        ex.executeAction(p.header(), 0, big, p.action_hashes(), [own], sender=keeper)


def test_non_owner_and_late_signatures__do_not_count(signed_plan, executor_fund, owners, attacker):
    _, ex, _ = executor_fund
    alice, bob, _ = owners
    bot, ref, frozen, sp, now = signed_plan(alice)
    deadline = bot.plans.get(ref).payload["approval"]["deadline"]
    # the CLI refuses both; written straight into the database, the keeper ignores them
    for who, at in ((attacker, now + 30), (bob, deadline + 1)):
        sig = sign_plan(sp, who.private_key)
        bot.plans.add_approval(
            ref, who.address.lower(), True, at, "multi_admin", "", "0x" + sig.hex(), "0x"
        )
    (out,) = bot.tick(now + 60)
    assert out.status == "pending_approval" and "1 of 2" in out.detail, out
    assert "is not a current owner" in out.detail
    out = bot.tick(deadline + 60)[0]  # then a fresh plan, the trigger still holding
    assert out.status == "expired" and intents(bot) == []
    assert not ex.executed(sp.plan_id, 0)


def test_owner_removed_from_the_safe__stops_counting(signed_plan, executor_fund, owners):
    _, ex, safe = executor_fund
    alice, bob, carol = owners
    bot, ref, frozen, sp, now = signed_plan(alice, bob)
    remove_owner(safe, bob, [alice, carol])  # before the keeper ticks
    (out,) = bot.tick(now + 60)
    assert out.status == "pending_approval" and "1 of 2" in out.detail, out
    assert bot.plans.get(ref).payload["approval"]["admins"] == [o.lower() for o in safe.getOwners()]
    assert intents(bot) == [] and not ex.executed(sp.plan_id, 0)
    # the removed owner's signature does not count on chain either
    h = plan_hash(sp)
    assert ex.countApprovals(h, [sign_plan(sp, a.private_key) for a in (alice, bob)]) == 1


def test_kill_mid_plan_and_resume__every_action_once__report_keeps_all(
    signed_plan, accounts, executor_fund, owners
):
    _, ex, _ = executor_fund
    alice, _, carol = owners
    keeper = accounts[2]
    bot, ref, frozen, sp, now = signed_plan(alice, carol)
    n = len(sp.actions)
    assert n >= 2
    bot.before_action = KillBeforeSecondAction()
    with contextlib.suppress(KeyboardInterrupt):
        bot.tick(now + 60)
    assert ex.executed(sp.plan_id, 0) and not ex.executed(sp.plan_id, 1)
    again = restarted(bot)
    (r,) = again.start()
    assert (r["ref"], r["done"], r["total"]) == (ref, 1, n)
    (out,) = again.tick(now + 120)
    assert out.status == "executed", out
    assert all(ex.executed(sp.plan_id, k) for k in range(n))
    keys = [i.idempotency_key for i in intents(bot)]
    assert sorted(keys) == sorted(set(keys)) and len(keys) == n  # one intent per action
    report = again.plans.get(ref).payload["report"]
    assert len(report["actions"]) == n and len(report["results"]) == n
    assert all(x["success"] for x in report["results"])
    # the legs sent by the restarted keeper too: minOut from the fill it simulated then
    first = int(frozen["order"][0])  # the only action sent before the kill
    assert assert_min_outs_from_fills(again, ref, sp) - {first}
    # a replay of the first action by the keeper key: refused, it ran once
    with ape.reverts(ex.ActionAlreadyExecuted, index=0):
        ex.executeAction(sp.header(), 0, sp.actions[0], sp.action_hashes(), [], sender=keeper)


@pytest.mark.parametrize("window", ["59", str(7 * 86_400 + 1), "six hours"])
def test_execution_window__out_of_range__refused_naming_the_variable(window):
    from keepers.core.settings import ConfigError
    from keepers.fund.settings import load_fund_config

    with pytest.raises(ConfigError, match="KEEPER_PLAN_EXECUTION_WINDOW_S"):
        load_fund_config({"KEEPER_PLAN_EXECUTION_WINDOW_S": window})


def test_check_chain__executor_in_the_record__checked_at_start_up(
    make_bot, fresh, executor_fund, deployment_file
):
    import json

    from keepers.tx.contracts import DeploymentError

    fund, ex, _ = executor_fund
    make_bot().check_chain()  # code at the executor, executor.controller() is the controller
    record = json.loads(deployment_file.read_text())
    record["automation"]["plan_executor"] = fund.cash.address  # code, but not an executor
    deployment_file.write_text(json.dumps(record))
    with pytest.raises(DeploymentError, match="plan_executor.controller\\(\\) does not answer"):
        make_bot().check_chain()


def test_approved_plan_past_its_deadline__expired_with_alert__fresh_plan_needs_fresh_signatures(
    signed_plan, executor_fund, owners, alerts
):
    _, ex, _ = executor_fund
    alice, bob, _ = owners
    bot, ref, frozen, sp, now = signed_plan(alice, bob)
    # the keeper was down until after the frozen plan's deadline: signed in time, too late to run
    outs = bot.tick(frozen["deadline"] + 1)
    out = outs[0]
    assert out.plan_id == ref and out.status == "expired" and "deadline" in out.detail, outs
    ended = bot.plans.get(ref).payload["ended"]
    assert ended["stage"] == "execution" and "executor deadline" in ended["reason"], ended
    assert [a.code for a in alerts if a.level == "critical"] == ["plan_expired"]
    assert intents(bot) == [] and not ex.executed(sp.plan_id, 0)
    # the trigger still holds: a fresh plan in the same tick, which needs fresh signatures
    out = next(o for o in outs[1:] if o.plan_id not in (None, ref))
    assert out.status == "pending_approval" and out.plan_id != ref, outs
    fresh_doc = bot.plans.get(out.plan_id).payload["frozen"]
    assert fresh_doc["plan_hash"] != frozen["plan_hash"]
    assert bot.plans.get(out.plan_id).payload["approval"]["approvals"] == []


def test_owner_removed_mid_plan__next_action_refused_on_chain(
    signed_plan, executor_fund, owners, alerts
):
    _, ex, safe = executor_fund
    alice, bob, carol = owners
    bot, ref, frozen, sp, now = signed_plan(alice, bob)
    assert len(sp.actions) >= 2

    def remove_bob(i: int) -> None:  # after the first action ran with alice's and bob's
        if ex.executed(sp.plan_id, 0) and safe.isOwner(bob.address):
            remove_owner(safe, bob, [alice, carol])

    bot.before_action = remove_bob
    (out,) = bot.tick(now + 60)
    assert ex.executed(sp.plan_id, 0) and not safe.isOwner(bob.address)
    assert not any(ex.executed(sp.plan_id, k) for k in range(1, len(sp.actions)))
    assert out.status == "partial", out
    failed = [r.error for r in out.results if not r.success]
    assert failed and all("NotEnoughApprovals" in (e or "") for e in failed), failed


def _pool_buys(bot: Any, fund: Any, ref: str, frozen: dict) -> list[tuple[int, int, str]]:
    """The signed plan's purchases on a pool-traded asset, in its signed order: (the place in
    that order, the plan's action index, the asset's symbol)."""
    p = bot.plans.plan(ref)
    dex = {fund.assets[s].address.lower(): s for s in DEX}
    return [
        (k, i, dex[(p.actions[i].asset or "").lower()])
        for k, i in enumerate(frozen["order"])
        if frozen["functions"][k] == "purchaseAsset" and (p.actions[i].asset or "").lower() in dex
    ]


def _mover(fund: Any, accounts: Any, sym: str) -> tuple[Any, Any]:
    """A trader who moves ``sym``'s pool (accounts[9]: no role here, 5-7 are the owners) with
    plenty of both sides, and the pools' helper: the ``market`` push_pool trades with."""
    from ballast_dev.deployment.uniswap import UniswapV3

    mover = accounts[9]
    fund.cash.mint(mover, 10**12 * UNIT, sender=accounts[0])
    fund.assets[sym].mint(mover, 10**9 * 10**18, sender=accounts[0])
    a = fund.adapters
    return mover, UniswapV3(a["uniswap_factory"], a["uniswap_router"], None, None, None)


def test_signed_leg_outside_its_band__simulation__stale_never_sent_looser(
    signed_plan, fresh, accounts, executor_fund, owners, alerts
):
    # issue 62: a signed pool leg carries a band under the oracle at execution, not a frozen
    # minOut; a pool moved away from its oracle past the band ends the plan stale (a new plan
    # is made, signed again), and nothing is ever sent looser than signed
    _, ex, _ = executor_fund
    alice, bob, _ = owners
    bot, ref, frozen, sp, now = signed_plan(alice, bob)
    buys = _pool_buys(bot, fresh, ref, frozen)
    assert buys, frozen["functions"]
    k, _, sym = buys[0]
    band = frozen["max_slippage_bps"][k]
    assert 0 < band < 400, band  # the fill's shortfall + tolerance + margin, never the stop
    # the pool moves 4% above the oracle after the approval: the leg fills past its band
    push_pool(fresh, _mover(fresh, accounts, sym), sym, 4)
    out = bot.tick(now + 60)[0]
    assert out.plan_id == ref and out.status == "stale", out
    assert f"action {frozen['order'][k]} (purchaseAsset)" in out.detail, out
    assert f"signed band of {band} bps" in out.detail and "never sent looser" in out.detail
    assert "simulation_failed" not in [x.code for x in alerts]
    ended = bot.plans.get(ref).payload["ended"]
    assert ended["status"] == "stale" and "signed band" in ended["reason"]
    assert not any(ex.executed(sp.plan_id, j) for j in range(len(sp.actions)))


def test_signed_leg_pushed_out_of_its_band_mid_plan__send__stale_never_sent_looser(
    signed_plan, fresh, accounts, executor_fund, owners, alerts
):
    # the same at send time: the pool moves 4% after the plan started; the leg's probe (its
    # band's loosest minOut, simulated just before sending) fails and nothing more is sent
    _, ex, _ = executor_fund
    alice, bob, _ = owners
    bot, ref, frozen, sp, now = signed_plan(alice, bob)
    k, idx, sym = _pool_buys(bot, fresh, ref, frozen)[0]
    assert k > 0, frozen["functions"]  # something runs before it
    mover = _mover(fresh, accounts, sym)

    def push(i: int) -> None:
        if i == idx:
            push_pool(fresh, mover, sym, 4)

    bot.before_action = push
    out = bot.tick(now + 60)[0]
    assert out.plan_id == ref and out.status == "stale", out
    ended = bot.plans.get(ref).payload["ended"]
    assert f"action {idx} (purchaseAsset) cannot fill within" in ended["reason"], ended
    assert "never sent looser than signed" in ended["reason"]
    assert "plan_stale" in [x.code for x in alerts]
    assert ex.executed(sp.plan_id, 0) and not ex.executed(sp.plan_id, k)
    assert f"fund:{ref}:{idx}" not in {i.idempotency_key for i in intents(bot)}


def test_cli_signed_approvals__counted_by_the_running_keeper__plan_runs(
    make_bot, fresh, accounts, chain, executor_fund, owners, attacker, tmp_path
):
    """The two halves together: `keeper approve REF --account <alias>` (store only, the
    approver's own keystore) records signatures that the running keeper counts and executes;
    mallory's keystore is refused by the CLI and nothing of hers is recorded."""
    from click.testing import CliRunner

    from ballast_dev.local.keystores import approver_env, write_keystore
    from keepers.cli import main

    fund, ex, _ = executor_fund
    alice, bob, _ = owners
    bot = make_bot()
    ref, frozen, _sp, now = pending(bot, fresh, accounts, chain)
    pw = "correct horse"
    data = tmp_path / "ape"
    for alias, who in (("alice", alice), ("bob", bob), ("mallory", attacker)):
        write_keystore(data, alias, who.private_key, pw, scrypt_n=2**4)
    env = {"KEEPER_DB_URL": bot.k.db_url, **approver_env(data, pw, ("alice", "bob", "mallory"))}

    def approve(alias: str) -> Any:
        return CliRunner(mix_stderr=False).invoke(
            main, ["--now", str(now + 60), "approve", ref, "--account", alias], env=env
        )

    r = approve("mallory")
    assert r.exit_code == 1 and "not an admin" in (r.stderr + r.stdout), r.stderr
    for alias in ("alice", "bob"):
        r = approve(alias)
        assert r.exit_code == 0, r.stderr
        assert pw not in r.stdout + r.stderr
    assert not intents(bot)  # approving sent nothing
    outs = bot.tick(now + 120)
    assert [o.status for o in outs if o.plan_id == ref] == ["executed"], outs
    sp = SignedPlan.from_frozen(frozen)
    assert all(ex.executed(sp.plan_id, k) for k in range(len(sp.actions)))
    assert {i.target.lower() for i in intents(bot)} == {ex.address.lower()}
    assert_in_band(bot, fund.controller)


def test_cli_safe_message__the_admin_safe_approves_as_itself__plan_runs(
    make_bot, fresh, accounts, chain, executor_fund, owners, attacker, deployment_file
):
    """Safe{Wallet}'s way: alice and carol sign the plan hash as a Safe message; `keeper approve
    REF --signature <safe address><the Safe's signature>` checks it on chain (ERC-1271) and
    records it; the running keeper counts it as the Safe's threshold (2) and the executor runs
    the plan with it alone. A Safe message with one owner, or signed by someone else's Safe,
    is refused by the CLI and recorded nowhere."""
    from click.testing import CliRunner

    from ballast_dev.deployment.safe import deploy_safe, safe_message_signature
    from keepers.cli import main
    from tests.support.fundbotlib import local_fund_env

    fund, ex, safe = executor_fund
    alice, bob, carol = owners
    bot = make_bot()
    ref, frozen, sp, now = pending(bot, fresh, accounts, chain)
    digest = plan_hash(sp)
    env = local_fund_env(chain, deployment_file, bot.k.db_url)

    def approve(sig: bytes) -> Any:
        return CliRunner(mix_stderr=False).invoke(
            main, ["--now", str(now + 60), "approve", ref, "--signature", "0x" + sig.hex()],
            env=env,
        )  # fmt: skip

    r = approve(safe_message_signature(safe, digest, [alice]))  # below the Safe's threshold
    assert r.exit_code == 1 and "isValidSignature does not accept it" in r.stderr, r.stderr
    rogue = deploy_safe(accounts[0], [attacker], 1, salt_nonce=11)
    r = approve(safe_message_signature(rogue, digest, [attacker]))
    assert r.exit_code == 1 and "neither the admin Safe" in r.stderr, r.stderr
    assert bot.plans.approvals(ref) == []
    by_safe = safe_message_signature(safe, digest, [alice, carol])
    r = approve(by_safe)
    assert r.exit_code == 0, r.stderr
    assert f"approval signed by {safe.address}" in r.stdout
    (rec,) = bot.plans.approvals(ref)
    assert rec.admin.lower() == safe.address.lower() and rec.signature == "0x" + by_safe.hex()
    review = CliRunner(mix_stderr=False).invoke(
        main, ["--json", "--now", str(now + 61), "review", ref], env=env
    )
    assert review.exit_code == 0, review.stderr
    view = json.loads(review.stdout)
    (entry,) = view["approvals"]
    assert entry["counts"] and entry["signer"].lower() == safe.address.lower(), entry
    assert view["signatures"]["counted"] == 2  # the Safe's threshold
    outs = bot.tick(now + 120)
    assert [o.status for o in outs if o.plan_id == ref] == ["executed"], outs
    assert all(ex.executed(sp.plan_id, k) for k in range(len(sp.actions)))
    assert {i.target.lower() for i in intents(bot)} == {ex.address.lower()}
    assert_in_band(bot, fund.controller)


# -- a plan survives a kill at any write: its status and its frozen document are one write ----


def _strip_frozen(bot: Any, ref: str) -> None:
    """What an older keeper killed between its two writes left: waiting, nothing frozen."""
    with bot.store.transaction() as s:
        row = s.scalars(select(m.Plan).where(m.Plan.ref == ref)).one()
        row.payload = {k: v for k, v in row.payload.items() if k != "frozen"}


class Killed(BaseException):
    """The process dies inside a write: that write's transaction never commits."""


@pytest.mark.parametrize("kill_at", range(1, 11))
def test_kill_at_every_write_of_the_lifecycle__plan_ends_executed_once_through_the_executor(
    kill_at, make_bot, fresh, accounts, chain, executor_fund, owners, monkeypatch
):
    """Kill the keeper at its k-th write of a plan's lifecycle (status changes, the frozen
    plan, each action's record), restart it on the same store, sign when it waits: the plan
    ends executed, every action once, all through the executor; none is left unsignable."""
    _kill_trial(kill_at, 400_000, False, make_bot, fresh, accounts, chain, executor_fund, owners,
                monkeypatch)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("trial", range(10))
@pytest.mark.parametrize("kill_at", range(1, 11))
def test_kill_at_every_write__ten_trials_each__random_plans_and_kill_moments(
    kill_at, trial, make_bot, fresh, accounts, chain, executor_fund, owners, monkeypatch
):
    """Ten trials per write (make test-slow): a seeded random deposit between 250,000 and
    2,000,000 (plans of one to several actions, one or two signatures) and a seeded choice of
    the kill's moment: inside the write (its transaction never commits) or right after it
    committed (the process dies before its next step). The same outcome is required."""
    rng = random.Random(kill_at * 1_000 + trial)
    deposit = rng.randrange(250_000, 2_000_001, 1_000)
    after = rng.random() < 0.5
    _kill_trial(kill_at, deposit, after, make_bot, fresh, accounts, chain, executor_fund, owners,
                monkeypatch)  # fmt: skip


def _kill_trial(
    kill_at: int,
    deposit: int,
    after: bool,
    make_bot: Any,
    fresh: Any,
    accounts: Any,
    chain: Any,
    executor_fund: Any,
    owners: Any,
    monkeypatch: Any,
) -> None:
    _, ex, _ = executor_fund
    alice, bob, _ = owners
    bot = make_bot()
    fresh.vault.deposit(deposit * UNIT, accounts[1], sender=accounts[1])
    now = int(chain.pending_timestamp)
    cls = type(bot.plans)
    real = {name: getattr(cls, name) for name in ("update", "record_action")}
    writes = [0]

    def killing(name: str) -> Any:
        def write(self: Any, *args: Any, **kwargs: Any) -> Any:
            writes[0] += 1
            if writes[0] == kill_at and not after:
                raise Killed(f"{name} #{kill_at}")
            out = real[name](self, *args, **kwargs)
            if writes[0] == kill_at:
                raise Killed(f"after {name} #{kill_at}")
            return out

        return write

    for name in real:
        monkeypatch.setattr(cls, name, killing(name))
    killed = False
    try:
        out = bot.check("liquidity", now)
        if out.status == "pending_approval":
            frozen = bot.plans.get(out.plan_id).payload["frozen"]
            sign(bot, out.plan_id, frozen, alice, now + 20)
            sign(bot, out.plan_id, frozen, bob, now + 30)
            bot.tick(now + 60)
    except Killed:
        killed = True
    for name, fn in real.items():
        monkeypatch.setattr(cls, name, fn)
    if not killed:
        pytest.skip(f"the lifecycle has fewer than {kill_at} writes ({writes[0]})")
    again = restarted(bot)
    signed: set[str] = set()
    for step in range(6):  # restart, then tick until it is done (signing when it waits)
        t = now + 100 + 60 * step
        for row in again.plans.with_status("pending_approval"):
            frozen = row.payload.get("frozen")
            assert frozen is not None, f"plan {row.ref} waits with nothing to sign"
            if row.ref not in signed:
                done = {a.admin.lower() for a in again.plans.approvals(row.ref)}
                for k, who in enumerate((alice, bob)):
                    if who.address.lower() not in done:  # signed before the kill: recorded
                        sign(again, row.ref, frozen, who, t + k)
                signed.add(row.ref)
        again.tick(t + 5)
        if not again.plans.with_status("proposed", "pending_approval", "approved", "executing"):
            break
    rows = again.plans.history(10)
    executed = [r for r in rows if r.status == "executed"]
    assert len(executed) == 1, [(r.ref, r.status) for r in rows]
    assert {r.status for r in rows} <= {"executed", "aborted"}
    sent = intents(again)
    keys = [i.idempotency_key for i in sent]
    assert len(keys) == len(set(keys)), "an action sent twice"
    assert {i.target.lower() for i in sent} == {ex.address.lower()}  # never around it
    ref = executed[0].ref
    sp = SignedPlan.from_frozen(executed[0].payload["frozen"])
    assert all(ex.executed(sp.plan_id, k) for k in range(len(sp.actions))), ref


def test_waiting_plan_without_a_frozen_document__refrozen_and_signable(
    make_bot, fresh, accounts, chain, executor_fund, owners
):
    alice, bob, _ = owners
    bot = make_bot()
    ref, _, _, now = pending(bot, fresh, accounts, chain)
    _strip_frozen(bot, ref)
    (out,) = bot.tick(now + 5)
    assert out.status == "pending_approval"
    frozen = bot.plans.get(ref).payload["frozen"]
    sign(bot, ref, frozen, alice, now + 20)
    sign(bot, ref, frozen, bob, now + 30)
    (out,) = bot.tick(now + 60)
    assert out.status == "executed", out
    assert {i.target.lower() for i in intents(bot)} == {executor_fund[1].address.lower()}


def test_approved_plan_without_a_frozen_document__aborted__nothing_sent_around_the_executor(
    make_bot, fresh, accounts, chain, executor_fund, alerts
):
    bot = make_bot()
    ref, _, _, now = pending(bot, fresh, accounts, chain)
    _strip_frozen(bot, ref)
    bot.plans.update(ref, "approved")
    out = bot.advance(ref, now + 5)
    assert out.status == "aborted"
    assert intents(bot) == []
    assert [a.code for a in alerts if a.code == "plan_not_frozen"] == ["plan_not_frozen"]


def test_small_plan__executor_window_spent__keeper_asks_for_signatures_instead_of_failing(
    make_bot, fresh, accounts, chain, executor_fund, owners
):
    """Below the per-plan threshold but past what the executor's per-window unapproved total
    has left, a plan needs the owners: the keeper asks for their signatures (the executor
    would refuse it unsigned, UnapprovedBudgetExceeded), and runs it once they sign."""
    _, ex, safe = executor_fund
    alice, bob, _ = owners
    from ballast_dev.deployment.safe import exec_safe_tx

    fund = executor_fund[0]
    # the per-plan threshold raised out of the way (the timelock's), the window lowered to 1
    # base unit (the Safe's, at once): every plan is "small", and none fits the window
    big = 10**30
    _via_timelock(fund.timelock, ex, ex.setApprovalThreshold.encode_input(big), accounts[1], 7)
    data = ex.setUnapprovedBudget.encode_input(1, 86_400)
    exec_safe_tx(safe, ex.address, data, signers=[alice, bob], sender=alice)
    bot = make_bot()
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    now = int(chain.pending_timestamp)
    out = bot.check("liquidity", now)
    assert out.status == "pending_approval", out
    assert 0 < bot.plans.plan(out.plan_id).total_amount < big
    frozen = bot.plans.get(out.plan_id).payload["frozen"]
    sign(bot, out.plan_id, frozen, alice, now + 20)
    sign(bot, out.plan_id, frozen, bob, now + 30)
    (done,) = bot.tick(now + 60)
    assert done.status == "executed", done
    assert ex.unapprovedBudget()[2] == 0  # signed: nothing booked on the unapproved window
