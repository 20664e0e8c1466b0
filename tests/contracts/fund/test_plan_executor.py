"""Issue 15 "approvals that mean something" and issue 13 "double execution with one key", on
chain: the keeper's moves go through the PlanExecutor, which holds the controller's KEEPER_ROLE.

Actors: the keeper (plays a stolen keeper key: it holds KEEPER_ROLE on the executor and nothing
on the controller), alice, bob and carol (owners of a real Safe 1.4.1, threshold 2, which is the
executor's ADMIN_ROLE and proposes/executes on its timelock), dave (swapped in for bob), and the
attacker (no role). Fund fixtures from conftest.py, 6- and 18-decimal base; the Safe and its
owners from tests/support/fixtures_safe.py.
"""

import ape
import pytest
from eth_utils import keccak

from ballast_dev.deployment.plan_executor import deploy_plan_executor
from ballast_dev.deployment.safe import (
    deploy_safe,
    exec_safe_tx,
)
from ballast_dev.deployment.safe import safe_message_signature as _safe_message_signature
from keepers.fund.planning.plan_approval import (
    SignedPlan,
    encode_execute_action,
    is_pool_leg,
    plan_hash,
    sign_plan_with,
    with_min_out,
)
from tests.support.fixtures_safe import safe_per_base_coin
from tests.support.gaslib import check_snapshot

# the session's attacker and dave set up with the module's first test, not first by a later
# one: ape would warn InvalidIsolation and rebase the module (deploying its fund again)
pytestmark = pytest.mark.usefixtures("attacker", "dave")

THRESHOLD = 100_000  # whole base tokens: plans that move more need 2 of 3 owners
SENTINEL = "0x0000000000000000000000000000000000000001"
ZERO32 = b"\x00" * 32


safe = safe_per_base_coin()


@pytest.fixture(scope="module")
def timelock(project, deployer, safe):
    return deployer.deploy(
        project.FundTimelock, 0, [safe.address], [safe.address], "0x" + "00" * 20, []
    )


@pytest.fixture(scope="module")
def executor(project, deployer, fund, controller, keeper, safe, timelock, unit, fund_usdt):
    ex = deploy_plan_executor(
        project,
        fund,
        deployer,
        safe=safe,
        timelock=timelock,
        keeper=keeper,
        approval_threshold=THRESHOLD * unit,
    )
    assert not controller.hasRole(controller.KEEPER_ROLE(), keeper)
    assert not ex.hasRole(ex.DEFAULT_ADMIN_ROLE(), deployer)
    return ex


@pytest.fixture
def funded(deposited, executor):
    return deposited


@pytest.fixture
def make_plan(chain, executor, controller):
    def make(*calls, ref="plan-1", deadline=None, bands=None):
        actions = tuple(
            bytes.fromhex(c.hex().removeprefix("0x")) if not isinstance(c, bytes) else c
            for c in calls
        )
        return SignedPlan(
            plan_id=SignedPlan.plan_id_for(ref),
            chain_id=chain.chain_id,
            executor=executor.address,
            controller=controller.address,
            deadline=deadline if deadline is not None else chain.pending_timestamp + 3600,
            actions=actions,
            # by default a pool leg may be sent with any minOut (the band tests set their own)
            max_slippage_bps=bands or tuple(10_000 if is_pool_leg(a) else 0 for a in actions),
        )

    return make


def alloc(controller, tier, amount):
    return bytes.fromhex(
        controller.allocateToLayer.encode_input(tier, amount).hex().removeprefix("0x")
    )


def run(executor, plan, index, signatures=(), sender=None, action=None):
    return executor.executeAction(
        plan.header(),
        index,
        plan.actions[index] if action is None else action,
        plan.action_hashes(),
        list(signatures),
        sender=sender,
    )


def sigs(plan, *accounts):
    return [sign_plan_with(plan, a) for a in accounts]


# ---------------------------------------------------------------- the hash


def test_hashPlan__matches_the_python_typed_data__to_the_byte(
    executor, controller, make_plan, unit
):
    plans = [
        make_plan(alloc(controller, 1, 5 * unit)),
        make_plan(alloc(controller, 1, 5 * unit), alloc(controller, 2, 7 * unit), ref="two"),
        make_plan(controller.rebalanceBuffer.encode_input(), ref="x", deadline=2**64 - 1),
    ]
    for p in plans:
        assert bytes(executor.hashPlan(p.header(), p.action_hashes())) == plan_hash(p)
    assert len({plan_hash(p) for p in plans}) == 3


def test_encode_execute_action__same_bytes_as_the_abi(executor, controller, make_plan, unit, alice):
    p = make_plan(alloc(controller, 1, 5 * unit), alloc(controller, 2, 7 * unit))
    s = sigs(p, alice)
    for i in (0, 1):
        ours = encode_execute_action(p, i, s)
        theirs = executor.executeAction.encode_input(
            p.header(), i, p.actions[i], p.action_hashes(), s
        )
        assert ours == bytes(theirs)


def test_countApprovals__distinct_current_owners_only(
    alice, bob, carol, attacker, executor, controller, make_plan, unit
):
    p = make_plan(alloc(controller, 1, 5 * unit))
    h = plan_hash(p)
    assert executor.countApprovals(h, sigs(p, alice, bob, carol)) == 3
    assert executor.countApprovals(h, sigs(p, alice, alice, alice)) == 1
    assert executor.countApprovals(h, sigs(p, attacker, alice)) == 1
    assert executor.countApprovals(h, [b"\x01" * 65, b"short"]) == 0
    other = make_plan(alloc(controller, 1, 5 * unit + 1))
    assert executor.countApprovals(h, sigs(other, alice, bob)) == 0
    with ape.reverts(executor.TooManySignatures):
        executor.countApprovals(h, sigs(p, alice) * 17)


# ---------------------------------------------------------------- the keeper alone


def test_executeAction__small_plan__keeper_alone_runs_and_the_notional_is_measured(
    executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 30_000 * unit), alloc(controller, 2, 40_000 * unit))
    total = 0
    for index in (1, 0):  # any order: the keeper runs by priority
        tx = run(executor, p, index, sender=keeper)
        ev = tx.decode_logs(executor.ActionExecuted)[0]
        invested = tx.decode_logs(controller.Allocated)[0].amount
        # the notional is what the controller booked, not what the keeper declared
        assert ev.notional == invested > 0
        total += ev.notional
        assert (ev.planId, ev.index, ev.planNotional, ev.approvals) == (p.plan_id, index, total, 0)
    assert executor.planState(p.plan_id) == (plan_hash(p), total)
    assert executor.executed(p.plan_id, 0) and executor.executed(p.plan_id, 1)


def test_executeAction__large_plan_keeper_alone__reverts_PlanNeedsApproval(
    executor, controller, make_plan, keeper, funded, unit
):
    # two small-looking actions: the second passes the threshold on the measured sum
    p = make_plan(alloc(controller, 1, 60_000 * unit), alloc(controller, 2, 60_000 * unit))
    run(executor, p, 0, sender=keeper)
    first = executor.planState(p.plan_id)[1]
    with ape.reverts(executor.PlanNeedsApproval, planId=p.plan_id, threshold=THRESHOLD * unit):
        run(executor, p, 1, sender=keeper)
    assert not executor.executed(p.plan_id, 1)
    assert executor.planState(p.plan_id)[1] == first
    big = make_plan(alloc(controller, 1, 300_000 * unit), ref="big")
    with ape.reverts(executor.PlanNeedsApproval):
        run(executor, big, 0, sender=keeper)


def test_executeAction__redeem_and_waterfall__notional_measured_on_every_move(
    executor, controller, fund, make_plan, keeper, funded, unit, alice, bob
):
    invest = make_plan(alloc(controller, 1, 400_000 * unit), ref="invest")
    run(executor, invest, 0, sigs(invest, alice, bob), sender=keeper)
    mmf = fund.assets["mmfA"]
    tokens = mmf.balanceOf(controller) // 20
    value = controller.valueOf(mmf, tokens)
    assert 0 < value < THRESHOLD * unit
    redeem = controller.redeemAsset.encode_input(mmf.address, tokens, 0)
    small = make_plan(redeem, ref="redeem")
    ev = run(executor, small, 0, sender=keeper).decode_logs(executor.ActionExecuted)[0]
    assert ev.notional == value  # the feed is flat: the controller booked the oracle value
    # a waterfall is a move too: raising 200,000 is large whatever the keeper calls it
    water = controller.executeWaterfallLiquidation.encode_input(200_000 * unit, 1)
    big = make_plan(water, ref="water")
    with ape.reverts(executor.PlanNeedsApproval, planId=big.plan_id):
        run(executor, big, 0, sender=keeper)
    ev = run(executor, big, 0, sigs(big, bob, alice), sender=keeper).decode_logs(
        executor.ActionExecuted
    )[0]
    assert ev.notional > THRESHOLD * unit and ev.approvals == 2


def test_executeAction__two_of_three_owners__large_plan_runs(
    executor, controller, make_plan, keeper, funded, unit, alice, carol
):
    p = make_plan(alloc(controller, 1, 300_000 * unit), alloc(controller, 2, 200_000 * unit))
    s = sigs(p, carol, alice)  # any order
    run(executor, p, 0, s, sender=keeper)
    tx = run(executor, p, 1, s, sender=keeper)
    ev = tx.decode_logs(executor.ActionExecuted)[0]
    assert ev.approvals == 2
    assert ev.planNotional > THRESHOLD * unit


def test_executeAction__one_owner_signing_twice__counts_once(
    executor, controller, make_plan, keeper, funded, unit, alice, attacker
):
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    with ape.reverts(executor.NotEnoughApprovals, planId=p.plan_id, approvals=1, required=2):
        run(executor, p, 0, sigs(p, alice, alice), sender=keeper)
    # a non-owner's signature (the attacker's, or a key the keeper made up) does not count
    with ape.reverts(executor.NotEnoughApprovals, approvals=1):
        run(executor, p, 0, sigs(p, alice, attacker), sender=keeper)


def test_executeAction__removed_safe_owner__signature_no_longer_counts(
    alice, bob, carol, dave, safe, executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    s = sigs(p, alice, bob)
    assert executor.countApprovals(plan_hash(p), s) == 2
    # alice and carol swap bob out for dave through the Safe itself (2 of 3)
    owners = list(safe.getOwners())
    prev = SENTINEL if owners.index(bob.address) == 0 else owners[owners.index(bob.address) - 1]
    data = safe.swapOwner.encode_input(prev, bob.address, dave.address)
    exec_safe_tx(safe, safe.address, data, signers=[alice, carol], sender=alice)
    assert not safe.isOwner(bob) and safe.isOwner(dave)
    with ape.reverts(executor.NotEnoughApprovals, approvals=1):
        run(executor, p, 0, s, sender=keeper)
    run(executor, p, 0, s + sigs(p, dave), sender=keeper)


def test_executeAction__plan_edited_after_approval__refused(
    executor, controller, make_plan, keeper, funded, unit, alice, bob
):
    approved = make_plan(alloc(controller, 1, 150_000 * unit), alloc(controller, 2, 150_000 * unit))
    s = sigs(approved, alice, bob)
    edits = [
        make_plan(alloc(controller, 1, 150_000 * unit), alloc(controller, 2, 250_000 * unit)),
        make_plan(alloc(controller, 2, 150_000 * unit), alloc(controller, 1, 150_000 * unit)),
        make_plan(*approved.actions, deadline=approved.deadline + 1),
        make_plan(*approved.actions, ref="another id"),
    ]
    for edited in edits:  # the same signatures recover to strangers on an edited plan
        with ape.reverts(executor.NotEnoughApprovals, approvals=0):
            run(executor, edited, 0, s, sender=keeper)
    run(executor, approved, 0, s, sender=keeper)
    # the plan id is bound to the approved plan: a changed tail cannot ride on it
    with ape.reverts(executor.PlanChanged, planId=approved.plan_id):
        run(executor, edits[0], 1, s, sender=keeper)
    # calldata that is not the declared action at that index
    with ape.reverts(executor.ActionMismatch, planId=approved.plan_id, index=1):
        run(executor, approved, 1, s, action=alloc(controller, 2, 250_000 * unit), sender=keeper)
    run(executor, approved, 1, s, sender=keeper)


def test_executeAction__replayed_action__refused(
    executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 10_000 * unit))
    run(executor, p, 0, sender=keeper)
    with ape.reverts(executor.ActionAlreadyExecuted, planId=p.plan_id, index=0):
        run(executor, p, 0, sender=keeper)


def test_executeAction__foreign_callers__refused(
    executor, controller, make_plan, keeper, funded, unit, attacker, alice, bob, safe
):
    p = make_plan(alloc(controller, 1, 10_000 * unit))
    for who in (attacker, alice):
        with ape.reverts(executor.AccessControlUnauthorizedAccount, account=who.address):
            run(executor, p, 0, sigs(p, alice, bob), sender=who)
    # nobody reaches the controller's moves around the executor, the keeper key included
    for who in (attacker, keeper):
        with ape.reverts(controller.AccessControlUnauthorizedAccount):
            controller.allocateToLayer(1, 10_000 * unit, sender=who)
    # the keeper cannot make the executor call anything but the controller's moves
    for data in (
        controller.pause.encode_input(),
        controller.grantRole.encode_input(controller.KEEPER_ROLE(), keeper.address),
        controller.mark.encode_input(),
        b"\x01\x02",
    ):
        bad = make_plan(data, ref="bad")
        with ape.reverts(executor.SelectorNotAllowed):
            run(executor, bad, 0, sender=keeper)
    other = SignedPlan(p.plan_id, p.chain_id, p.executor, safe.address, p.deadline, p.actions)
    with ape.reverts(executor.WrongController, expected=controller.address):
        run(executor, other, 0, sender=keeper)
    many = make_plan(*([p.actions[0]] * 129), ref="many")
    with ape.reverts(executor.TooManyActions, count=129, max=128):
        run(executor, many, 0, sender=keeper)
    with ape.reverts(executor.ActionIndexOutOfRange, index=1, count=1):
        executor.executeAction(p.header(), 1, p.actions[0], p.action_hashes(), [], sender=keeper)


def test_executeAction__expired_plan__refused(
    executor, controller, make_plan, keeper, funded, unit, chain
):
    p = make_plan(alloc(controller, 1, 10_000 * unit), deadline=chain.pending_timestamp + 100)
    chain.pending_timestamp += 101
    with ape.reverts(executor.PlanExpired, planId=p.plan_id, deadline=p.deadline):
        run(executor, p, 0, sender=keeper)


# ---------------------------------------------------------------- configuration through the Safe


def test_config__safe_lowers_at_once_raises_only_through_its_timelock(
    executor, timelock, safe, alice, bob, carol, attacker, unit
):
    def via_safe(target, data, signers=(alice, bob)):
        return exec_safe_tx(safe, target, data, signers=list(signers), sender=alice)

    # lowering the threshold (more plans need approval) is the admin's, at once
    via_safe(executor.address, executor.setApprovalThreshold.encode_input(50_000 * unit))
    assert executor.approvalThreshold() == 50_000 * unit
    # raising it straight from the Safe: refused inside the Safe's call (GS013)
    raise_data = executor.setApprovalThreshold.encode_input(500_000 * unit)
    with ape.reverts():
        via_safe(executor.address, raise_data)
    assert executor.approvalThreshold() == 50_000 * unit
    # through the timelock: the Safe proposes, then executes (0 s delay locally)
    args = (executor.address, 0, raise_data, ZERO32, keccak(text="raise"))
    via_safe(timelock.address, timelock.schedule.encode_input(*args, 0), (bob, carol))
    via_safe(timelock.address, timelock.execute.encode_input(*args), (alice, carol))
    assert executor.approvalThreshold() == 500_000 * unit
    # one owner alone cannot run a Safe transaction
    with ape.reverts():
        via_safe(executor.address, executor.setApprovalThreshold.encode_input(1), (alice,))
    # requiredApprovals: raising is immediate, lowering is the timelock's; the keeper and the
    # attacker change nothing
    via_safe(executor.address, executor.setRequiredApprovals.encode_input(3))
    assert executor.requiredApprovals() == 3
    with ape.reverts():
        via_safe(executor.address, executor.setRequiredApprovals.encode_input(1))
    with ape.reverts(executor.RiskIncreaseRequiresTimelock):
        executor.setApprovalThreshold(10**30, sender=attacker)
    with ape.reverts(executor.AccessControlUnauthorizedAccount):
        executor.setApprovalThreshold(1, sender=attacker)
    with ape.reverts(executor.AccessControlUnauthorizedAccount):
        executor.setSafe(attacker, sender=attacker)
    with ape.reverts(executor.InvalidParameter):
        executor.setRequiredApprovals(0, sender=attacker)


# ---------------------------------------------------------------- the unapproved total per window


def test_unapproved_total__splitting_a_large_plan_gains_nothing(
    executor, controller, make_plan, keeper, funded, unit, chain, safe, alice, bob
):
    """The keeper key alone (or a thief of it) splits a move into plans under the threshold:
    the window's unapproved total stops the plan that would pass it, whatever the split; the
    next window takes more. Default: 2 x threshold a day; here the Safe lowers it to 100,000
    (so the fund's tiers have room for the plans the test makes)."""
    assert executor.unapprovedBudget() == (2 * THRESHOLD * unit, 86_400, 0)
    data = executor.setUnapprovedBudget.encode_input(100_000 * unit, 86_400)
    exec_safe_tx(safe, executor.address, data, signers=[alice, bob], sender=alice)
    ran = 0
    for k, tier in enumerate((1, 2, 1)):
        p = make_plan(alloc(controller, tier, 40_000 * unit), ref=f"split-{k}")
        if k < 2:
            tx = run(executor, p, 0, sender=keeper)
            ran += tx.decode_logs(executor.ActionExecuted)[0].notional
        else:
            with ape.reverts(executor.UnapprovedBudgetExceeded, planId=p.plan_id, used=ran):
                run(executor, p, 0, sender=keeper)
            assert not executor.executed(p.plan_id, 0)
    assert executor.unapprovedBudget()[2] == ran <= 100_000 * unit
    chain.pending_timestamp += 86_400
    chain.mine()
    assert executor.unapprovedBudget()[2] == 0  # a new window: the full budget again


def test_unapproved_total__approved_plans_do_not_count(
    executor, controller, make_plan, keeper, funded, unit, alice, bob
):
    big = make_plan(alloc(controller, 2, 250_000 * unit), ref="approved")
    run(executor, big, 0, sigs(big, alice, bob), sender=keeper)
    assert executor.unapprovedBudget()[2] == 0
    small = make_plan(alloc(controller, 2, 50_000 * unit), ref="small-after")
    run(executor, small, 0, sender=keeper)
    assert executor.unapprovedBudget()[2] == executor.planState(small.plan_id)[1]


def test_unapproved_total__config_lowers_at_once_raises_through_the_timelock(
    executor, safe, alice, bob, attacker, unit
):
    def via_safe(data):
        return exec_safe_tx(safe, executor.address, data, signers=[alice, bob], sender=alice)

    tx = via_safe(executor.setUnapprovedBudget.encode_input(50_000 * unit, 2 * 86_400))
    assert executor.unapprovedBudget()[:2] == (50_000 * unit, 2 * 86_400)
    assert tx.decode_logs(executor.UnapprovedBudgetSet)[0].budget == 50_000 * unit
    for budget, period in ((60_000 * unit, 2 * 86_400), (50_000 * unit, 86_400)):  # riskier
        with ape.reverts():
            via_safe(executor.setUnapprovedBudget.encode_input(budget, period))
    with ape.reverts(executor.RiskIncreaseRequiresTimelock):
        executor.setUnapprovedBudget(10**30, 86_400, sender=attacker)
    with ape.reverts(executor.AccessControlUnauthorizedAccount):
        executor.setUnapprovedBudget(0, 2 * 86_400, sender=attacker)  # even lowering
    for period in (3_599, 30 * 86_400 + 1):
        with ape.reverts(executor.InvalidParameter, name="unapprovedPeriod", value=period):
            executor.setUnapprovedBudget(0, period, sender=attacker)


# ---------------------------------------------------------------- gas


def test_gas__executeAction_against_a_direct_controller_call(
    executor,
    controller,
    make_plan,
    keeper,
    funded,
    unit,
    deployer,
    chain,
    alice,
    bob,
    base_decimals,
):
    controller.grantRole(controller.KEEPER_ROLE(), deployer, sender=deployer)
    g: dict[str, int] = {}
    amount = 50_000 * unit
    small = make_plan(alloc(controller, 1, amount))
    big = make_plan(alloc(controller, 1, 3 * amount), ref="big")
    big_sigs = sigs(big, alice, bob)
    scenarios = {
        "direct.allocateToLayer": lambda: controller.allocateToLayer(1, amount, sender=deployer),
        "executor.allocateToLayer.unsigned": lambda: run(executor, small, 0, sender=keeper),
        "direct.allocateToLayer.large": lambda: controller.allocateToLayer(
            1, 3 * amount, sender=deployer
        ),
        "executor.allocateToLayer.two_signatures": lambda: run(
            executor, big, 0, big_sigs, sender=keeper
        ),
    }
    for name, send in scenarios.items():  # each from the same state, in a new second
        snap = chain.snapshot()
        chain.pending_timestamp += 1
        g[name] = send().gas_used
        chain.restore(snap)
    # a later action of a plan writes one slot, not two (the plan hash is bound already)
    two = make_plan(alloc(controller, 1, amount), alloc(controller, 1, amount), ref="two")
    run(executor, two, 0, sender=keeper)
    snap = chain.snapshot()
    chain.pending_timestamp += 1
    g["direct.allocateToLayer.again"] = controller.allocateToLayer(
        1, amount, sender=deployer
    ).gas_used
    chain.restore(snap)
    chain.pending_timestamp += 1
    g["executor.allocateToLayer.second_action"] = run(executor, two, 1, sender=keeper).gas_used
    later = g["executor.allocateToLayer.second_action"] - g["direct.allocateToLayer.again"]
    overhead = g["executor.allocateToLayer.unsigned"] - g["direct.allocateToLayer"]
    signed = g["executor.allocateToLayer.two_signatures"] - g["direct.allocateToLayer.large"]
    print(
        f"\nusdt{base_decimals}: {g}; overhead: first action {overhead}, later action {later}, "
        f"first action with 2 signatures {signed}"
    )
    # the first unapproved action of a window also opens the window's record (one slot, from
    # zero: about 22,000 of the overhead); the signed bands (issue 62) add a uint16[] to the
    # header (a word per action in calldata, and its hash): about 500 gas
    assert 0 < later < overhead < 101_000 and overhead < signed < 110_000
    check_snapshot("plan_executor", {f"usdt{base_decimals}/{k}": v for k, v in g.items()})


# ---------------------------------------------------------------- approvals the Safe way


def safe_message_signature(safe, digest, *owners):
    """The Safe's own ERC-1271 signature of ``digest``: what Safe{Wallet} collects when owners
    sign a message as the Safe (ballast_dev.deployment.safe.safe_message_signature)."""
    return _safe_message_signature(safe, digest, list(owners))


def safe_call(safe, data, *signers):
    exec_safe_tx(safe, safe.address, data, signers=list(signers), sender=signers[0])


def test_countApprovals__the_safe_itself__a_safe_message_counts_as_its_threshold(
    alice, bob, carol, safe, executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    h = plan_hash(p)
    by_safe = safe_message_signature(safe, h, alice, carol)
    assert executor.countApprovals(h, [by_safe]) == 2  # the Safe's threshold
    # never the sum: the same owners signing alone as well still make 2, and a third makes 3
    assert executor.countApprovals(h, [by_safe] + sigs(p, alice, carol)) == 2
    assert executor.countApprovals(h, [by_safe] + sigs(p, alice, bob, carol)) == 3
    # one owner's Safe message is below the Safe's threshold: the Safe does not sign it
    assert executor.countApprovals(h, [safe_message_signature(safe, h, alice)]) == 0
    # a Safe message of another plan
    other = make_plan(alloc(controller, 1, 300_000 * unit + 1))
    assert (
        executor.countApprovals(h, [safe_message_signature(safe, plan_hash(other), alice, bob)])
        == 0
    )
    tx = run(executor, p, 0, [by_safe], sender=keeper)
    assert tx.decode_logs(executor.ActionExecuted)[0].approvals == 2


def test_countApprovals__safe_message__threshold_raised_after_signing__no_longer_counts(
    alice, bob, carol, safe, executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    h = plan_hash(p)
    two = safe_message_signature(safe, h, alice, bob)
    assert executor.countApprovals(h, [two]) == 2
    safe_call(safe, safe.changeThreshold.encode_input(3), alice, bob)
    assert safe.getThreshold() == 3
    assert executor.countApprovals(h, [two]) == 0  # the Safe now needs three
    with ape.reverts(executor.NotEnoughApprovals, approvals=0):
        run(executor, p, 0, [two], sender=keeper)
    three = safe_message_signature(safe, h, alice, bob, carol)
    assert executor.countApprovals(h, [three]) == 3
    run(executor, p, 0, [three], sender=keeper)


def test_countApprovals__safe_message__an_owner_removed_after_signing__no_longer_counts(
    alice, bob, carol, dave, safe, executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    h = plan_hash(p)
    by_safe = safe_message_signature(safe, h, alice, bob)
    owners = list(safe.getOwners())
    prev = SENTINEL if owners.index(bob.address) == 0 else owners[owners.index(bob.address) - 1]
    safe_call(safe, safe.swapOwner.encode_input(prev, bob.address, dave.address), alice, carol)
    assert executor.countApprovals(h, [by_safe]) == 0  # bob's part no longer counts
    with ape.reverts(executor.NotEnoughApprovals, approvals=0):
        run(executor, p, 0, [by_safe], sender=keeper)
    run(executor, p, 0, [safe_message_signature(safe, h, alice, dave)], sender=keeper)


def test_countApprovals__nested_safe_owner__counts_as_one_owner_through_erc1271(
    deployer, alice, bob, carol, dave, attacker, safe, executor, controller, make_plan, keeper,
    funded, unit,
):  # fmt: skip
    """An ops team's Safe (dave and bob, 1 of 2) is an owner of the admin Safe: its signature
    of the plan (its own Safe message, ERC-1271) counts as one owner, beside alice's key."""
    team = deploy_safe(deployer, [dave, bob], 1, salt_nonce=7)
    safe_call(safe, safe.addOwnerWithThreshold.encode_input(team.address, 2), alice, carol)
    assert safe.isOwner(team.address)
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    h = plan_hash(p)
    by_team = safe_message_signature(team, h, dave)
    assert executor.countApprovals(h, [by_team]) == 1
    assert executor.countApprovals(h, [by_team, by_team]) == 1  # a repeat counts once
    assert executor.countApprovals(h, sigs(p, alice) + [by_team]) == 2
    run(executor, p, 0, sigs(p, alice) + [by_team], sender=keeper)
    # a Safe that is not an owner (the attacker's own, signing for itself) counts nothing
    rogue = deploy_safe(deployer, [attacker], 1, salt_nonce=8)
    q = make_plan(alloc(controller, 1, 300_000 * unit), ref="plan-2")
    assert (
        executor.countApprovals(
            plan_hash(q), [safe_message_signature(rogue, plan_hash(q), attacker)]
        )
        == 0
    )
    # nor does naming an owner Safe with signatures it never made (dave's over another hash)
    forged = bytes.fromhex(team.address[2:]) + bytes(safe_message_signature(team, h, dave))[20:]
    assert executor.countApprovals(plan_hash(q), [forged]) == 0


def test_countApprovals__contract_signers_that_misbehave__count_nothing_and_never_revert(
    alice, bob, executor, controller, make_plan, unit
):
    p = make_plan(alloc(controller, 1, 300_000 * unit))
    h = plan_hash(p)
    junk = b"\x01" * 65
    assert executor.countApprovals(h, [bytes.fromhex(alice.address[2:]) + junk]) == 0  # no code
    assert executor.countApprovals(h, [bytes.fromhex(controller.address[2:]) + junk]) == 0
    assert executor.countApprovals(h, [bytes.fromhex(bob.address[2:])]) == 0  # 20 bytes: nothing
    assert executor.countApprovals(h, [b"\x00" * 64, b"\x00" * 66]) == 0
    assert executor.countApprovals(h, sigs(p, alice, bob) + [junk]) == 2


# ---------------------------------------------------------------- pool legs: the signed band


def _invested(executor, controller, make_plan, keeper, unit, alice, bob):
    invest = make_plan(alloc(controller, 1, 400_000 * unit), ref="invest")
    run(executor, invest, 0, sigs(invest, alice, bob), sender=keeper)


def test_executeAction__pool_leg_min_out_looser_than_its_band__reverts_LegOutsideBand(
    executor, controller, fund, make_plan, keeper, funded, unit, alice, bob
):
    # the attacker is a stolen keeper key (or a keeper that offers slack to a searcher): the
    # owners signed each leg's band under the oracle at execution; a looser minOut never runs
    _invested(executor, controller, make_plan, keeper, unit, alice, bob)
    mmf = fund.assets["mmfA"]
    tokens = mmf.balanceOf(controller) // 20
    value = controller.valueOf(mmf, tokens)
    sell = controller.redeemAsset.encode_input(mmf.address, tokens, 0)
    cash = 10_000 * unit
    buy = controller.purchaseAsset.encode_input(mmf.address, cash, 0)
    p = make_plan(sell, buy, ref="legs", bands=(30, 30))
    s = sigs(p, alice, bob)
    floor = value * 9_970 // 10_000
    for loose in (0, floor - 1):
        with ape.reverts(
            executor.LegOutsideBand, planId=p.plan_id, index=0, got=loose, floor=floor, band=30
        ):
            run(executor, p, 0, s, sender=keeper, action=with_min_out(p.actions[0], loose))
    buy_floor = cash * 9_970 // 10_000
    short = controller.valueOf(mmf, buy_floor) - 1  # tokens worth just under the floor
    with ape.reverts(executor.LegOutsideBand, planId=p.plan_id, index=1, floor=buy_floor):
        run(executor, p, 1, s, sender=keeper, action=with_min_out(p.actions[1], 0))
    assert short < buy_floor and not executor.executed(p.plan_id, 0)
    # the keeper's minOut from the fill (here the oracle: the venue fills 1:1) runs, under the
    # same signatures: the owners signed the trade and its band, not a minOut
    run(executor, p, 0, s, sender=keeper, action=with_min_out(p.actions[0], value))
    run(executor, p, 1, s, sender=keeper, action=with_min_out(p.actions[1], cash))
    assert executor.executed(p.plan_id, 0) and executor.executed(p.plan_id, 1)


def test_executeAction__signed_leg_after_a_price_move__bounded_by_the_oracle_then(
    executor, controller, fund, make_plan, keeper, funded, unit, alice, bob, deployer, usdt
):
    # signed at one price, executed after the market (venue and feed) rose 1.5%: a minOut
    # frozen at signing is now 1.5% + band under the oracle, which the executor refuses; the
    # minOut from the fill at execution runs with the signatures given before the move
    _invested(executor, controller, make_plan, keeper, unit, alice, bob)
    mmf = fund.assets["mmfA"]
    tokens = mmf.balanceOf(controller) // 20
    p = make_plan(controller.redeemAsset.encode_input(mmf.address, tokens, 0), bands=(30,))
    s = sigs(p, alice, bob)
    frozen_min = controller.valueOf(mmf, tokens) * 9_970 // 10_000
    usdt.mint(mmf.address, usdt.balanceOf(mmf.address) * 150 // 10_000, sender=deployer)
    feed = fund.feeds["mmfA"]
    feed.updateAnswer(feed.latestAnswer() * 10_150 // 10_000, sender=deployer)
    value = controller.valueOf(mmf, tokens)
    assert value > frozen_min * 10_150 // 10_000
    with ape.reverts(executor.LegOutsideBand, got=frozen_min, floor=value * 9_970 // 10_000):
        run(executor, p, 0, s, sender=keeper, action=with_min_out(p.actions[0], frozen_min))
    fill = mmf.previewRedeem(tokens)
    assert fill >= value * 9_970 // 10_000
    run(executor, p, 0, s, sender=keeper, action=with_min_out(p.actions[0], fill))
    assert executor.executed(p.plan_id, 0)


def test_executeAction__bands_not_one_per_action__reverts_BandsMismatch(
    executor, controller, make_plan, keeper, funded, unit
):
    p = make_plan(alloc(controller, 1, 5 * unit), alloc(controller, 2, 5 * unit))
    header = (p.plan_id, p.controller, p.deadline, [0])
    with ape.reverts(executor.BandsMismatch, bands=1, actions=2):
        executor.executeAction(header, 0, p.actions[0], p.action_hashes(), [], sender=keeper)
