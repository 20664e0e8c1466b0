"""Many movers, one fund: the keeper survives whatever moves the fund between two of its steps.

On anvil with the deployed local fund: a plan the fund moved under (another keeper-role
process, a second replica or an operator, invested the cash it was to deploy with the
controller's forced ``rebalance(true)``; a holder's request; a position sold) ends ``stale`` with
the reason in words, stops counting as in flight, and the keeper plans again from the fund as it
is; a plan nobody signs or runs in time expires. The scheduled due run is not the mover that
invests the cash any more (tests.support.fundbotlib.other_keeper_invests says why).
"""

from __future__ import annotations

from typing import Any

import pytest

from keepers.fund.records import APPROVED, PENDING_APPROVAL, PROPOSED
from tests.support.fee_isolation import restore_washed, tip_after_service
from tests.support.fundbotlib import (
    NO_APPROVAL,
    UNIT,
    other_keeper_invests,
    restarted,
    timelock_sender,
)


def _ratios(bot: Any) -> list[int]:
    s = bot.read().state
    return [p * 10_000 // s.total_assets for p in s.positions()]


def _deposit(fund: Any, accounts: Any, amount: int) -> None:
    holder = accounts[1]
    fund.cash.mint(holder, amount * UNIT, sender=accounts[0])
    fund.vault.deposit(amount * UNIT, holder, sender=holder)


def _killed_after_proposed(
    bot: Any, fund: Any, accounts: Any, chain: Any, amount: int
) -> tuple[str, int]:
    """A deposit of ``amount`` whole units, then the liquidity check records its plan
    (proposed) and the process dies before the risk check: the kill lands right after the
    decision's write. The plan's ref and the check's time."""
    _deposit(fund, accounts, amount)
    now = int(chain.pending_timestamp)

    def killed(*_: Any, **__: Any) -> Any:
        raise KeyboardInterrupt("SIGKILL after the plan was recorded, before its risk check")

    bot.advance = killed
    with pytest.raises(KeyboardInterrupt):
        bot.check("liquidity", now)
    (row,) = bot.plans.with_status(PROPOSED)
    return str(row.ref), now


def test_tick__proposed_plan_killed_then_another_mover_invested_the_cash__stale_not_a_crash(
    make_bot, fresh, chain, accounts, alerts
):
    bot = make_bot()
    ref, now = _killed_after_proposed(bot, fresh, accounts, chain, 10_000_000)
    planned = bot.plans.plan(ref)
    assert sum(a.amount for a in planned.actions) > 9_000_000 * UNIT  # deploy most of the cash
    other_keeper_invests(fresh, accounts)  # another keeper-role process invests the cash meanwhile
    ratios = _ratios(bot)
    assert 900 <= ratios[0] <= 1_100, ratios  # L1 back near 10%
    later = int(chain.pending_timestamp)
    restarted_bot = restarted(bot)  # a fresh keeper process on the same store
    outs = restarted_bot.tick(later)  # used to raise: cash and pending_redemptions must be >= 0
    row = restarted_bot.plans.get(ref)
    assert row.status == "stale", (row.status, outs)
    ended = row.payload["ended"]
    assert "cash short" in ended["reason"] and ended["stage"] == "risk check", ended
    assert any(o.plan_id == ref and o.status == "stale" for o in outs), outs
    assert ref not in [f.ref for f in restarted_bot.plans.in_flight()]  # no longer in flight
    assert any(a.code == "plan_stale" and ref in a.message for a in alerts)
    # the fund is in band: nothing else to plan, and the next ticks are quiet
    assert restarted_bot.plans.with_status(PROPOSED, PENDING_APPROVAL, APPROVED) == []
    assert restarted_bot.tick(later + 60) == []


def test_tick__stale_plan_while_a_trigger_still_holds__fresh_plan_in_the_same_tick(
    make_bot, fresh, chain, accounts
):
    bot = make_bot(NO_APPROVAL)
    ref, now = _killed_after_proposed(bot, fresh, accounts, chain, 10_000_000)
    other_keeper_invests(fresh, accounts)
    _deposit(fresh, accounts, 3_000_000)  # L1 high again: the liquidity trigger holds
    later = int(chain.pending_timestamp)
    outs = restarted(bot).tick(later)
    assert restarted(bot).plans.get(ref).status == "stale"
    fresh_plans = [o for o in outs if o.plan_id not in (None, ref)]
    assert fresh_plans and fresh_plans[0].status == "executed", outs
    ratios = _ratios(bot)
    assert 900 <= ratios[0] <= 1_100, ratios


def test_approval__pending_plan_another_mover_overtook__stale_at_its_next_tick(
    make_bot, fresh, chain, accounts
):
    bot = make_bot()  # approvals needed: the plan waits for the owners
    _deposit(fresh, accounts, 10_000_000)
    now = int(chain.pending_timestamp)
    out = bot.check("liquidity", now)
    assert out.status == "pending_approval", out
    other_keeper_invests(fresh, accounts)
    outs = bot.tick(int(chain.pending_timestamp))
    row = bot.plans.get(out.plan_id)
    assert row.status == "stale" and row.payload["ended"]["stage"] == "approval", outs


def test_tick__proposed_plan_left_by_a_kill_that_still_fits__risk_checked_and_run_next_tick(
    make_bot, fresh, chain, accounts
):
    bot = make_bot(NO_APPROVAL)
    ref, now = _killed_after_proposed(bot, fresh, accounts, chain, 1_000_000)
    outs = restarted(bot).tick(now + 30)
    assert [(o.plan_id, o.status) for o in outs] == [(ref, "executed")], outs
    assert 900 <= _ratios(bot)[0] <= 1_100


def test_tick__pending_past_its_approval_deadline__expired_alerted_in_history_not_in_flight(
    make_bot, fresh, chain, accounts, alerts, env
):
    import json

    from click.testing import CliRunner

    from keepers.cli import main

    bot = make_bot({"KEEPER_DB_URL": env["KEEPER_DB_URL"]})  # the CLI's store
    _deposit(fresh, accounts, 10_000_000)
    now = int(chain.pending_timestamp)
    out = bot.check("liquidity", now)
    assert out.status == "pending_approval", out
    deadline = int(bot.plans.get(out.plan_id).payload["approval"]["deadline"])
    outs = bot.tick(deadline + 1)  # nobody signed
    row = bot.plans.get(out.plan_id)
    assert row.status == "expired", outs
    reason = row.payload["ended"]["reason"]
    assert f"approval deadline {deadline} passed" in reason, reason
    assert out.plan_id not in [f.ref for f in bot.plans.in_flight()]
    assert [a.level.value for a in alerts if a.code == "plan_expired"] == ["critical"]
    # the trigger still holds: a fresh plan in the same tick, waiting for fresh signatures
    fresh_plan = [o for o in outs if o.plan_id not in (None, out.plan_id)]
    assert fresh_plan and fresh_plan[0].status == "pending_approval", outs
    r = CliRunner(mix_stderr=False).invoke(main, ["--json", "history"], env=env)
    assert r.exit_code == 0, r.output
    (shown,) = [d for d in json.loads(r.stdout) if d["plan"] == out.plan_id]
    assert shown["status"] == "expired" and shown["ended"]["reason"] == reason
    text = CliRunner(mix_stderr=False).invoke(main, ["history"], env=env).stdout
    assert f"expired: {reason}" in text


def test_execute__another_mover_between_two_sends__rest_not_sent_plan_stale_first_kept(
    make_bot, fresh, chain, accounts, alerts
):
    bot = make_bot(NO_APPROVAL)
    _deposit(fresh, accounts, 10_000_000)
    moved: list[int] = []

    def other_mover_before_the_second_send(i: int) -> None:
        moved.append(i)
        if len(moved) == 2:  # the first action landed: another keeper-role process moves the fund
            other_keeper_invests(fresh, accounts)

    bot.before_action = other_mover_before_the_second_send
    out = bot.check("liquidity", int(chain.pending_timestamp))
    row = bot.plans.get(out.plan_id)
    assert out.status == "stale" and row.status == "stale", out
    actions = sorted(row.actions, key=lambda a: a.payload.get("order", a.seq))
    done = [a for a in actions if a.status == "done"]
    aborted = [a for a in actions if a.status == "aborted"]
    assert len(done) == 1 and aborted, [(a.seq, a.status) for a in actions]
    assert all(a.intent_id is None for a in aborted)  # never sent
    assert all(a.payload["error"].startswith("stale: ") for a in aborted)
    assert row.payload["ended"]["stage"] == "send"
    assert any(a.code == "plan_stale" for a in alerts)
    assert 900 <= _ratios(bot)[0] <= 1_100  # the other mover and the first action: L1 near 10%


def test_check__pending_plan_past_its_deadline__expired_first_never_covers_the_new_plan(
    make_bot, fresh, chain, accounts, alerts
):
    bot = make_bot()
    _deposit(fresh, accounts, 10_000_000)
    now = int(chain.pending_timestamp)
    old = bot.check("liquidity", now)
    assert old.status == "pending_approval", old
    deadline = int(bot.plans.get(old.plan_id).payload["approval"]["deadline"])
    out = bot.check("liquidity", deadline + 1)  # no tick in between
    assert out.status == "pending_approval" and out.plan_id != old.plan_id, out
    assert bot.plans.get(old.plan_id).status == "expired"
    assert [a.code for a in alerts if a.code == "plan_expired"] == ["plan_expired"]


def _capped_venue(fund: Any, accounts: Any, project: Any, cap: int) -> Any:
    """A money-market fund with its own deposit cap (``maxDeposit``: what is left under it,
    which anyone can fill), registered as an L2 venue through the timelock (the controller's
    admin on the local fund). The fund's own maps are left alone: the chain snapshot is
    restored after the test, the module's fund object is not."""
    deployer = accounts[0]
    venue = deployer.deploy(project.TestCappedFund, fund.cash, cap * UNIT)
    feed = deployer.deploy(project.TestPriceFeed, 8, 10**8)
    params = (venue, 1, fund.adapters["erc4626"], feed, 86_400, 1, 10**30, 2**128 - 1, 2_500)
    fund.controller.addAsset(params, sender=timelock_sender(fund, accounts))
    return venue


def test_depth__capped_venue__max_buy_is_what_is_left_under_its_cap_read_with_the_fund(
    make_bot, fresh, accounts, project
):
    """A venue's own deposit limit is the most a purchase there can take (the controller cuts
    a leg at it: fourth review): the depth reader takes it from the fund's reading
    (``investable_now``: the adapter's ``investableNow``, the venue's ``maxDeposit`` at the
    reading's block), not from a second read; eve filling most of the headroom shows in the
    next reading; an ERC-4626 venue without a cap has no entry."""
    venue = _capped_venue(fresh, accounts, project, 1_000_000)
    bot = make_bot(NO_APPROVAL)
    reading = bot.read()
    assert reading.state.asset(venue.address).investable_now == 1_000_000 * UNIT
    depth = bot.sizing.read_depth(reading)
    assert depth[venue.address].max_buy == 1_000_000 * UNIT
    eve = accounts[8]
    fresh.cash.mint(eve, 850_000 * UNIT, sender=accounts[0])
    fresh.cash.approve(venue, 2**256 - 1, sender=eve)
    venue.deposit(850_000 * UNIT, eve, sender=eve)
    reading = bot.read()
    assert bot.sizing.read_depth(reading)[venue.address].max_buy == 150_000 * UNIT
    uncapped = [
        a.token
        for a in reading.state.assets
        if a.instant and a.token != venue.address and bot.depth.pool_address(a.token) is None
    ]
    assert uncapped and not set(uncapped) & set(depth), (uncapped, depth)


def test_execute__outsider_fills_the_venue_to_its_cap_before_the_send__stale_in_words_fresh_plan(
    make_bot, fresh, chain, accounts, alerts, project
):
    """A plan buys into an ERC-4626 venue with room for it; between its risk check and its
    first send an outsider deposits into the venue until only 120,000 is left under its cap.
    The plan ends stale with the reason in words before anything is sent (it used to be sent
    and revert ERC4626ExceededMaxDeposit), and a fresh plan in the same tick buys no more than
    the venue can take; nothing reverts, nothing is sent twice."""
    from sqlalchemy import select

    from keepers.store import models as m

    venue = _capped_venue(fresh, accounts, project, 5_000_000)
    bot = make_bot(NO_APPROVAL)
    ref, _ = _killed_after_proposed(bot, fresh, accounts, chain, 3_000_000)
    buys = [a for a in bot.plans.plan(ref).actions if a.asset == venue.address]
    assert buys and buys[0].amount > 120_000 * UNIT, bot.plans.plan(ref).actions
    outsider = accounts[8]

    def outsider_fills_the_venue(i: int) -> None:
        left = int(venue.maxDeposit(fresh.controller)) - 120_000 * UNIT
        if left > 0:
            fresh.cash.mint(outsider, left, sender=accounts[0])
            fresh.cash.approve(venue, left, sender=outsider)
            venue.deposit(left, outsider, sender=outsider)

    keeper = restarted(bot)
    keeper.before_action = outsider_fills_the_venue
    outs = keeper.tick(int(chain.pending_timestamp))
    row = keeper.plans.get(ref)
    assert row.status == "stale", (row.status, outs)
    ended = row.payload["ended"]
    assert ended["stage"] == "send", ended
    symbol = keeper.read().state.asset(venue.address).symbol  # unnamed: its address
    assert f"venue {symbol} can take 120,000 now, the plan buys " in ended["reason"], ended
    assert all(a.intent_id is None for a in row.actions)  # nothing of it was sent
    assert any(a.code == "plan_stale" and ref in a.message for a in alerts)
    fresh_plans = [o for o in outs if o.plan_id not in (None, ref)]
    assert fresh_plans and fresh_plans[0].status == "executed", outs
    assert int(venue.maxDeposit(fresh.controller)) >= 0
    bought = [
        a for a in keeper.plans.plan(fresh_plans[0].plan_id).actions if a.asset == venue.address
    ]
    assert sum(a.amount for a in bought) <= 120_000 * UNIT, bought
    with keeper.store.sessions() as s:
        rows = s.execute(select(m.TxIntent.idempotency_key, m.TxIntent.status)).all()
    assert rows and all(st in ("mined", "confirmed") for _, st in rows), rows
    assert len({k for k, _ in rows}) == len(rows)  # nothing sent twice
    assert 900 <= _ratios(keeper)[0] <= 1_100


def test_checks__outsider_sends_a_fifth_of_the_fund_in_held_assets__keeper_sees_the_fund_moves_nothing(
    make_bot, fresh, chain, accounts, alerts
):
    """An outsider transfers units of held assets to the controller (an L3 pool asset worth
    about a fifth of the fund, and an L2 venue's shares): the controller counts none of it (not
    in value, not in what a move sells), and the keeper now reads the units the controller
    counts (IAssetController.accountedUnits, through FundLens). Before, the keeper valued the
    raw balances: it saw the fund 20% larger with L3 at 66.6%, sold 238,000 of the fund's own
    L3 into cash (moving the real fund off its targets, for the due run to buy back: the two
    movers churning at the outsider's word) and its weekly check flagged TBILL-B's concentration."""
    bot = make_bot(NO_APPROVAL)
    _deposit(fresh, accounts, 10_000_000)
    now = int(chain.pending_timestamp)
    assert bot.check("liquidity", now).status == "executed"  # the cash deployed: in band
    before = bot.read().state
    assert before.total_assets == fresh.vault.totalAssets()
    c = fresh.controller
    tbill, mmf = fresh.assets["TBILL-B"], fresh.assets["MMF-A"]
    held = {"TBILL-B": int(tbill.balanceOf(c)), "MMF-A": int(mmf.balanceOf(c))}
    assert int(c.accountedUnits(tbill)) == held["TBILL-B"] > 0
    outsider = accounts[8]
    # (the pool asset minted straight to the controller: to it, an outsider's transfer)
    tbill.mint(c, held["TBILL-B"] // 2, sender=accounts[0])  # about 1.2M of value, a tenth
    cash = int(mmf.convertToAssets(held["MMF-A"]))  # the venue's shares doubled: another 1.8M
    fresh.cash.mint(outsider, cash, sender=accounts[0])
    fresh.cash.approve(mmf, cash, sender=outsider)
    mmf.deposit(cash, c, sender=outsider)  # an outsider deposits for the controller
    assert int(c.accountedUnits(tbill)) == held["TBILL-B"]
    assert int(c.accountedUnits(mmf)) == held["MMF-A"] < int(mmf.balanceOf(c))
    after = bot.read().state
    assert after.total_assets == before.total_assets == fresh.vault.totalAssets()
    by = {a.token: a for a in after.assets}
    assert by[tbill.address].balance == held["TBILL-B"] and by[mmf.address].balance == held["MMF-A"]
    assert [a.value for a in after.assets] == [a.value for a in before.assets]
    later = int(chain.pending_timestamp)
    for job in ("liquidity", "threshold", "daily", "weekly"):
        out = bot.check(job, later)
        assert not out.results, (job, out)
        assert "concentration" not in (out.detail or ""), (job, out.detail)
    assert bot.tick(later + 60) == []
    assert [a for a in alerts if a.level.value == "critical"] == []


def test_execute__outsider_fills_a_venue_cap__plan_sized_under_the_top3_bound_executes_as_planned(
    make_bot, fresh, chain, accounts, alerts, project
):
    """Issue 65 (SEC5-03, the keeper's side): an outsider fills an L2 venue's whole deposit cap,
    then a 15M deposit needs deploying under the project's default limits (top-3 60%, 25% an
    asset). The planner sizes every purchase leg with the controller's own top-3 room
    (keepers/fund/planning/top3.py) and the venue's limit: the full venue gets no leg, the
    tier's other members get none past the bound, and the plan executes as planned: every
    transaction mined, no ``verify_divergence``, every concentration bound held on chain.
    Shown failing with the top-3 room taken out of the planner's ``_headroom`` (the plan's
    seventh purchase then fails its simulation: Top3ConcentrationExceeded(6282, 6000))."""
    venue = _capped_venue(fresh, accounts, project, 1_000_000)
    eve = accounts[8]
    fresh.cash.mint(eve, 1_000_000 * UNIT, sender=accounts[0])
    fresh.cash.approve(venue, 2**256 - 1, sender=eve)
    venue.deposit(1_000_000 * UNIT, eve, sender=eve)
    assert int(venue.maxDeposit(fresh.controller)) == 0
    bot = make_bot(NO_APPROVAL)
    _deposit(fresh, accounts, 15_000_000)
    out = bot.check("liquidity", int(chain.pending_timestamp))
    assert out.status == "executed", (out.detail, alerts)
    actions = bot.plans.plan(out.plan_id).actions
    assert actions and not any(a.asset == venue.address for a in actions), actions
    assert not [a for a in alerts if a.code in ("verify_divergence", "plan_stale")], alerts
    top3_bps = int(fresh.controller.riskParams()[2])
    state = bot.read().state
    top3 = sum(sorted(a.value for a in state.assets)[-3:])
    assert top3 * 10_000 <= top3_bps * state.total_assets, (top3, state.total_assets)
    assert 500 <= _ratios(bot)[0] <= 2_000  # what the bound leaves stays in L1, in its band


def test_timelock_sender__node_suggests_a_100_gwei_tip__the_admin_still_sends(
    fresh, accounts, chain
):
    """The impersonated timelock can pay for a transaction whatever tip the node suggests: after
    blocks whose transactions tipped 100 gwei (as a worker's earlier modules left it in a
    3-worker run), ape prices the admin's call at 30M gas times that tip, 3 ETH, more than the
    1 ETH the tests used to give it."""
    snap = chain.snapshot()
    try:
        for _ in range(5):
            accounts[0].transfer(accounts[1], 1, max_priority_fee=100 * 10**9, max_fee=300 * 10**9)
        # what ape will price the call at, once anvil's fee-history service has seen those
        # blocks (it lags the mining: asked at once on a loaded machine, it can be the floor)
        assert tip_after_service(accounts[0].provider, 100 * 10**9) >= 100 * 10**9
        c, other = fresh.controller, accounts[7]
        c.grantRole(c.KEEPER_ROLE(), other.address, sender=timelock_sender(fresh, accounts))
        assert c.hasRole(c.KEEPER_ROLE(), other.address)
    finally:
        restore_washed(chain, snap)  # anvil's fee-history cache of those tips replaced
