"""The fund keeper's per-tick reads (issue 68): what one read remembers for the next only
chooses what is asked first, never what is answered. Each shortcut against its plain form on
a real anvil with the real Uniswap V3 pools: the depth reader that asks its pools' last bitmap
words and ticks in the first batch gives the same pool states as a reader that remembers
nothing, whatever the market did in between, in one round trip when the price stayed in its
words; the encoder's quotes at one block number are asked once and a failed one is asked
again. The reads folded into the fund's one batch (the lens's exitHorizon, every known pool's
first step) give what asking them alone gives, and each that fails there is not read for that
read only; seeded deposits and pool moves plan the same with the quotes batched and the
store's records read in one query as on the plain path."""

from __future__ import annotations

from typing import Any

import pytest
from web3.exceptions import ContractLogicError

from keepers.fund.depth_reader import DepthReader
from keepers.fund.planning.actions import Action, ActionType
from tests.support.fundbotlib import DEX, NO_APPROVAL, push_pool


class Batches:
    """Counts the JSON-RPC batches (round trips) the provider sends."""

    def __init__(self, w3: Any, monkeypatch: Any) -> None:
        self.n = 0
        real = w3.provider.make_batch_request

        def counted(requests: Any) -> Any:
            self.n += 1
            return real(requests)

        monkeypatch.setattr(w3.provider, "make_batch_request", counted)


def _pools(bot: Any) -> list[str]:
    reading = bot.read()
    return [p for t in (a.token for a in reading.state.assets) if (p := bot.depth.pool_address(t))]


def test_depth_reader__pools_remembered__same_states_as_plain_reader_one_round_trip(
    make_bot, fresh, market, chain, monkeypatch
):
    bot = make_bot(NO_APPROVAL)
    pools = _pools(bot)
    assert len(pools) == len(DEX) >= 2
    block = chain.blocks.head.number
    bot.depth.pool_states(pools, block)  # remembers the words and ticks it used
    # moves inside the pool's word, then across words (a bitmap word spans 256 spacings)
    for sym, pct in (("TBILL-A", 1), ("TBILL-A", -3), (DEX[-1], 25), (DEX[-1], -40)):
        push_pool(fresh, market, sym, pct)
        block = chain.blocks.head.number
        plain = DepthReader(bot.contracts, bot.encoder).pool_states(pools, block)
        batches = Batches(bot.w3, monkeypatch)
        remembered = bot.depth.pool_states(pools, block)
        monkeypatch.undo()
        assert remembered == plain, (sym, pct)
        assert all(not isinstance(v, Exception) for v in plain.values()), plain
        assert 1 <= batches.n <= 3, batches.n
    # nothing moved: every pool in one round trip (the plain reader takes three)
    batches = Batches(bot.w3, monkeypatch)
    again = bot.depth.pool_states(pools, block)
    assert batches.n == 1 and again == plain
    monkeypatch.undo()
    batches = Batches(bot.w3, monkeypatch)
    DepthReader(bot.contracts, bot.encoder).pool_states(pools, block)
    assert batches.n == 3


def test_encoder_quote__same_block__asked_once_failed_asked_again(
    make_bot, fresh, chain, monkeypatch
):
    bot = make_bot(NO_APPROVAL)
    reading = bot.read()
    token = fresh.assets[DEX[0]].address
    buy = Action(ActionType.PURCHASE, 10_000 * 10**6, 0, "test", asset=token)
    first = bot.encoder.quote(reading, buy, reading.block)
    batches = Batches(bot.w3, monkeypatch)
    assert bot.encoder.quote(reading, buy, reading.block) == first
    assert batches.n == 0  # the same eth_call at the same block: its answer
    bigger = Action(ActionType.PURCHASE, 20_000 * 10**6, 0, "test", asset=token)
    assert bot.encoder.quote(reading, bigger, reading.block) != first
    assert batches.n == 1
    monkeypatch.undo()
    # a failed read is not kept: the quoter reverting once, then answering
    real = bot.w3.provider.make_batch_request
    calls = {"n": 0}

    def revert_once(requests: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            return [{"jsonrpc": "2.0", "id": r.get("id", 0) if isinstance(r, dict) else 0,
                     "error": {"code": 3, "message": "execution reverted"}} for r in requests]  # fmt: skip
        return real(requests)

    monkeypatch.setattr(bot.w3.provider, "make_batch_request", revert_once)
    sell = Action(ActionType.REDEEM, 5_000 * 10**6, 0, "test", asset=token)
    with pytest.raises(ContractLogicError):
        bot.encoder.quote(reading, sell, reading.block)
    got = bot.encoder.quote(reading, sell, reading.block)
    assert got is not None and got.quote_out > 0 and calls["n"] == 2
    # "latest" is always asked
    n = calls["n"]
    bot.encoder.quote(reading, buy, "latest")
    assert calls["n"] == n + 1


# ---------------------------------------------------------------- the reads folded in the fund's


def _plain(bot: Any) -> Any:
    """``bot`` with every shortcut of issue 68's per-tick reads undone: no rider on the fund's
    batch (the horizon's lens read and the pools asked on their own), the quotes one by one,
    the failed legs' records and the cost windows one query each."""
    from keepers.fund import horizon

    bot.reader.riders.clear()
    bot.encoder.prefetch_quotes = lambda *_a: None
    plans = bot.plans
    plans.last_job_details = lambda jobs: {
        j: d for j in jobs if (d := plans.last_job_detail(j)) is not None
    }
    plans.costs_since = lambda *since: tuple(plans.cost_since(x) for x in since)
    real_read = horizon.read

    def alone(b: Any, reading: Any) -> Any:  # the lens's horizon asked on its own
        from dataclasses import replace

        return real_read(b, replace(reading, horizon=None))

    return alone


def test_fund_read__pools_and_horizon_in_its_batch__same_states_and_horizon_no_round_trip(
    make_bot, fresh, market, chain, monkeypatch
):
    """The fund read's one batch carries the lens's exitHorizon and every known pool's first
    step: the horizon and the depth then read at that block with no round trip of their own,
    and give what a reader that asks on its own gives."""
    from keepers.fund import horizon

    bot = make_bot(NO_APPROVAL)
    pools = _pools(bot)  # the first read finds the pools; the next ones carry them
    for sym, pct in ((None, 0), ("TBILL-A", 2), (DEX[-1], -30)):
        if sym is not None:
            push_pool(fresh, market, sym, pct)
        reading = bot.reader.read()
        assert reading.horizon is not None and not isinstance(reading.horizon, Exception)
        batches = Batches(bot.w3, monkeypatch)
        states = bot.depth.pool_states(pools, reading.block)
        view = horizon.exit_horizon_view(bot, reading)
        quiet = batches.n
        monkeypatch.undo()
        plain_states = DepthReader(bot.contracts, bot.encoder).pool_states(pools, reading.block)
        assert states == plain_states and all(not isinstance(v, Exception) for v in states.values())
        plain = make_bot(NO_APPROVAL)
        monkeypatch.setattr(horizon, "read", _plain(plain))
        assert view == horizon.exit_horizon_view(plain, reading) and "error" not in view
        monkeypatch.undo()
        if sym != DEX[-1]:  # the price stayed in its bitmap words: nothing asked
            assert quiet == 0, (sym, quiet)


def _fail_in_fund_batch(bot: Any, monkeypatch: Any, fails: Any) -> dict[str, int]:
    """The fund read's batch with each read ``fails(read)`` picks answered by a revert (once
    per fund read); every other request as the node answers it."""
    from keepers.tx import reads as reads_mod

    real = reads_mod.call_many
    seen = {"failed": 0}

    def some_fail(w3: Any, reads: Any, block: Any) -> Any:
        got = real(w3, reads, block)
        if not any(r.fn.name == "fundState" for r in reads):
            return got
        out = []
        for r, g in zip(reads, got, strict=True):
            if fails(r):
                seen["failed"] += 1
                g = reads_mod.ReadFailed(r.fn.name, "execution reverted", reverted=True)
            out.append(g)
        return out

    monkeypatch.setattr("keepers.fund.reader.call_many", some_fail)
    return seen


def test_fund_read__exit_horizon_failed_in_its_batch__not_read_that_read_only(
    make_bot, monkeypatch
):
    """The lens's exitHorizon reverting in the fund's batch: the fund, its holds, fees and
    rooms are read; the horizon alone is not read (never 0), and the next read asks again."""
    from keepers.fund import horizon

    bot = make_bot(NO_APPROVAL)
    bot.reader.read()
    seen = _fail_in_fund_batch(bot, monkeypatch, lambda r: r.fn.name == "exitHorizon")
    reading = bot.reader.read()
    assert seen["failed"] == 1
    assert reading.not_read == () and reading.holds is not None and reading.fees is not None
    view = horizon.exit_horizon_view(bot, reading)
    assert view is not None and view["error"].startswith("ContractLogicError")
    monkeypatch.undo()
    again = bot.reader.read()
    view = horizon.exit_horizon_view(bot, again)
    assert view is not None and "error" not in view and int(view["total"][0]) > 0


def test_fund_read__pool_read_failed_in_its_batch__asked_again_same_states(
    make_bot, fresh, monkeypatch
):
    """A pool's slot0 reverting in the fund's batch is the rider's, not the fund read's: the
    fund read stands, and the pool's reader asks it again at that block (the same states as a
    reader that remembers nothing); failing there too, the pool is not read (its error)."""
    bot = make_bot(NO_APPROVAL)
    pools = _pools(bot)
    seen = _fail_in_fund_batch(bot, monkeypatch, lambda r: r.fn.name == "slot0")
    reading = bot.reader.read()
    assert seen["failed"] == len(pools) and reading.not_read == ()
    monkeypatch.undo()
    batches = Batches(bot.w3, monkeypatch)
    states = bot.depth.pool_states(pools, reading.block)
    assert batches.n == 1  # the failed first step asked again
    monkeypatch.undo()
    assert states == DepthReader(bot.contracts, bot.encoder).pool_states(pools, reading.block)
    _fail_in_fund_batch(bot, monkeypatch, lambda r: r.fn.name == "slot0")
    reading = bot.reader.read()
    real = bot.w3.provider.make_batch_request

    def slot0_reverts(requests: Any) -> Any:  # the pool's own read reverts as well
        out = real(requests)
        sel = "0x3850c7bd"  # slot0()
        return [
            {"jsonrpc": "2.0", "id": o.get("id"), "error": {"code": 3, "message": "reverted"}}
            if q[1][0]["data"].startswith(sel)
            else o
            for q, o in zip(requests, out, strict=True)
        ]

    monkeypatch.setattr(bot.w3.provider, "make_batch_request", slot0_reverts)
    failed = bot.depth.pool_states(pools, reading.block)
    assert all(isinstance(v, ContractLogicError) for v in failed.values()), failed


def test_sized_plan__batched_reads__same_plans_risk_and_horizon_as_one_by_one(
    make_bot, fresh, market, accounts, monkeypatch
):
    """Seeded deposits and pool moves: at each, the plan sized with the quotes in one batch,
    the pools and the horizon in the fund's batch and the store's records in one query each
    is the plan, the risk report and the horizon of the plain path (everything asked on its
    own) at the same block, and it costs fewer round trips."""
    import random

    from keepers.fund import horizon
    from keepers.fund.planning import triggers as trig
    from tests.support.fundbotlib import UNIT

    now = 1_800_000_000
    bot, plain = make_bot(NO_APPROVAL), make_bot(NO_APPROVAL)
    alone = _plain(plain)
    dex_legs = 0
    rng = random.Random(68)
    for seed in range(4):
        amount = rng.randrange(50_000, 900_000) * UNIT
        fresh.vault.deposit(amount, accounts[1], sender=accounts[1])
        push_pool(fresh, market, rng.choice(DEX), rng.choice([-4, -1, 1, 3]))
        got = {}
        for who in (bot, plain):
            reading = who.read() if who is bot else who.reader.read()
            cfg = who.cfg
            triggers = trig.threshold_triggers(reading.state, cfg) + trig.liquidity_triggers(
                reading.state, cfg
            )
            batches = Batches(who.w3, monkeypatch)
            p = who.sizing.make_sized_plan(reading, triggers, now + seed)
            report = who.sizing.risk_check(reading, p, now + seed)
            n = batches.n
            monkeypatch.undo()
            if who is plain:
                monkeypatch.setattr(horizon, "read", alone)
            view = horizon.exit_horizon_view(who, reading)
            monkeypatch.undo()
            got[who is bot] = (reading.block, p.actions, p.unresolved, p.carry, report, view, n)
        new, old = got[True], got[False]
        assert new[:6] == old[:6], seed
        assert new[6] <= old[6], (new[6], old[6])
        dex_legs += sum(1 for a in new[1] if a.asset and bot.encoder.pool_fee(a.asset) is not None)
    assert dex_legs > 0  # the quotes were exercised


def test_fund_read__venue_previews_in_its_batch__same_prices_failed_asked_again(
    make_bot, monkeypatch
):
    """The ERC-4626 venues' previews the last plan asked ride in the fund's batch: the next
    plan's venue check at that block asks nothing and reads what a checker that remembers
    nothing reads; a preview reverting in the fund's batch is asked again on its own."""
    from keepers.fund.venues import VenueChecker

    bot = make_bot(NO_APPROVAL)
    first = bot.venues.prices(bot.reader.read())  # what the next reads carry
    assert first, "an ERC-4626 venue to check"
    reading = bot.reader.read()
    batches = Batches(bot.w3, monkeypatch)
    got = bot.venues.prices(reading)
    assert batches.n == 0
    monkeypatch.undo()
    assert got == VenueChecker(bot.w3, bot.encoder).prices(reading) and bot.venues.unread == {}
    seen = _fail_in_fund_batch(bot, monkeypatch, lambda r: r.fn.name == "previewRedeem")
    reading = bot.reader.read()
    assert seen["failed"] == len(first) and reading.not_read == ()
    monkeypatch.undo()
    batches = Batches(bot.w3, monkeypatch)
    again = bot.venues.prices(reading)
    assert batches.n == 1 and bot.venues.unread == {}
    monkeypatch.undo()
    assert again == VenueChecker(bot.w3, bot.encoder).prices(reading)


def test_fund_read__move_limits_in_its_batch__same_budget_no_call_of_its_own(make_bot, monkeypatch):
    """The floor's window budget (the controller's moveLimits) is asked in the fund's one
    batch: the sizing stage takes the same budget as its own eth_call gives, without asking
    again; reverting in the batch, it is not known for that read only (no floor sale sized to
    a guess: None, never the eth_call's old answer; the read says so), and the next read has
    it again."""
    bot = make_bot(NO_APPROVAL)
    reading = bot.reader.read()
    assert reading.move_limits is not None and not isinstance(reading.move_limits, Exception)
    plain = bot.contracts.controller.functions.moveLimits().call(block_identifier=reading.block)
    assert tuple(reading.move_limits) == tuple(plain)
    called = {"n": 0}
    real = bot.sizing.services.depth.c.controller.functions.moveLimits

    def counted() -> Any:
        called["n"] += 1
        return real()

    monkeypatch.setattr(bot.sizing.services.depth.c.controller.functions, "moveLimits", counted)
    budget = bot.sizing.notional_budget(reading)
    assert called["n"] == 0
    assert budget == (int(plain[1]) if int(plain[2]) else None)
    seen = _fail_in_fund_batch(bot, monkeypatch, lambda r: r.fn.name == "moveLimits")
    failed = bot.reader.read()
    assert seen["failed"] == 1 and failed.holds is not None
    assert failed.not_read == (
        "window budget (AssetController.moveLimits: reverted): no exit horizon floor sale on "
        "this read",
    )
    assert bot.sizing.notional_budget(failed) is None and called["n"] == 0
    monkeypatch.undo()
    assert bot.sizing.notional_budget(bot.reader.read()) == budget
