"""The move state machine end to end on three anvil chains, driven by the bot's tick():
USDC over CCTP (ethereum -> base) and USDT over USDT0 (ethereum 6 decimals -> bsc 18), every
on-chain step through the transaction pipeline, pulled from and invested into a holder; then
its conservation under injected faults: attestation delay, duplicate relay by a third party, a
keeper crash mid-move (new bot instances on the same DB finish it, nothing is sent twice), and
USDT0 down -> fallback to the CEX."""

import pytest

from ballast_dev.local.crosschain_scene_local import KEEPER, transact
from keepers.crosschain.routes import MESSAGE_SENT_TOPIC
from keepers.store import models as m
from tests.support.movelib import (
    E6,
    E18,
    MESSAGE_RECEIVED,
    OFT_RECEIVED_TOPIC,
    burnt_and_minted,
    holder,
    holder_bot,
    holders_map,
    logs,
    ticks,
    usdc_supplies,
)


def test_bot__usdc_deficit_on_base__cctp_move_pulled_burnt_minted_invested_once(xscene):
    who, bot = holder_bot(xscene, 3, {("ethereum", "USDC"): "3000", ("base", "USDC"): "200"})
    base = xscene.sides["base"]
    supplies0 = usdc_supplies(xscene)
    n_e0, n_b0 = xscene.nonce("ethereum"), xscene.nonce("base")
    block_b0 = base.w3.eth.block_number

    report = bot.tick()
    assert [
        (p["asset"], p["source"], p["dest"], p["amount"], p["route"]) for p in report.planned
    ] == [("USDC", "ethereum", "base", "800", "CCTP")]
    (move,) = [v for v in report.moves if v.id == report.created[0].id]
    assert move.state == "done" and move.route == "CCTP"
    assert move.amount_source == move.amount_received == 800 * E6
    # conservation: burnt on ethereum == minted on base == what the holder got
    burnt, minted = burnt_and_minted(xscene, supplies0)
    assert burnt == minted == 800 * E6
    assert xscene.balance("ethereum", "USDC", who) == 2200 * E6
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.balance("base", "USDC", KEEPER) == 0  # invested, nothing left behind
    # pull + approve + depositForBurn on ethereum; receiveMessage + invest on base
    assert xscene.nonce("ethereum") - n_e0 == 3 and xscene.nonce("base") - n_b0 == 2
    assert len(logs(base.w3, base.transmitter.address, MESSAGE_RECEIVED, block_b0)) == 1
    with bot.engine.store.sessions() as s:
        keys = sorted(
            k
            for (k,) in s.query(m.TxIntent.idempotency_key).filter(
                m.TxIntent.idempotency_key.like(f"xmove:{move.id}:%")
            )
        )
    assert [k.split(":")[2] for k in keys] == [
        "invest",
        "transfer_in",
        "transfer_out",
        "transfer_out",
        "transfer_out",
    ]
    # balanced now: nothing planned, nothing in flight
    again = bot.tick()
    assert again.planned == [] and again.created == [] and bot.engine.in_flight() == []
    bot.stop()


def test_bot__usdt_deficit_on_bsc__usdt0_move_6_to_18_decimals_delivered_once(xscene):
    who, bot = holder_bot(xscene, 4, {("ethereum", "USDT"): "2500.5", ("bsc", "USDT"): "100"})
    eth, bsc = xscene.sides["ethereum"], xscene.sides["bsc"]
    locked0 = eth.usdt.functions.balanceOf(eth.oft.address).call()
    supply0 = bsc.usdt.functions.totalSupply().call()
    block_b0 = bsc.w3.eth.block_number

    first = bot.tick()  # Transfer_Out done; Cross waits for the DVNs
    (move,) = first.created
    assert move.amount_source == 900 * E6 and move.amount_dest == 900 * E18
    assert bot.engine.move(move.id).state == "cross"
    locked = eth.usdt.functions.balanceOf(eth.oft.address).call() - locked0
    minted = (bsc.usdt.functions.totalSupply().call() - supply0) // 10**12
    assert locked == minted + 900 * E6  # locked == minted + in flight
    # in flight is seen by the planner: a second tick plans nothing more
    assert bot.tick().created == []

    assert xscene.dvn("bsc") >= 1  # LayerZero verification (DVN account, not the keeper)
    done = ticks(bot, lambda r: bot.engine.move(move.id).state == "done")
    assert done is not None
    view = bot.engine.move(move.id)
    assert view.route == "USDT0" and view.amount_received == 900 * E18
    minted = (bsc.usdt.functions.totalSupply().call() - supply0) // 10**12
    assert locked == minted == 900 * E6
    assert xscene.balance("bsc", "USDT", who) == 1000 * E18
    assert xscene.balance("ethereum", "USDT", who) == 1600 * E6 + 500_000
    received = [
        lg
        for lg in logs(bsc.w3, bsc.oft.address, OFT_RECEIVED_TOPIC, block_b0)
        if "0x" + bytes(lg["topics"][1]).hex() == view.handle_ref
    ]
    assert len(received) == 1
    bot.stop()


def test_bot__two_independent_deficits__moves_advance_in_parallel(xscene):
    who, bot = holder_bot(
        xscene,
        5,
        {
            ("ethereum", "USDC"): "2000",
            ("base", "USDC"): "300",
            ("ethereum", "USDT"): "2000",
            ("bsc", "USDT"): "400",
        },
    )
    xscene.attestations.open = True
    report = bot.tick()
    assert sorted((v.asset, v.route) for v in report.created) == [("USDC", None), ("USDT", None)]
    by_asset = {v.asset: v for v in report.moves if v.id in {c.id for c in report.created}}
    assert by_asset["USDC"].state == "done" and by_asset["USDT"].state == "cross"
    xscene.dvn("bsc")
    ticks(bot, lambda r: all(bot.engine.move(c.id).state == "done" for c in report.created))
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.balance("bsc", "USDT", who) == 1000 * E18
    bot.stop()


def test_bot__usdt_deficit_on_ethereum__usdt0_move_18_to_6_decimals_unlocked_once(xscene):
    who = holder(xscene, 17, {("bsc", "USDT"): "1800", ("ethereum", "USDT"): "300"})
    eth, bsc = xscene.sides["ethereum"], xscene.sides["bsc"]
    xscene.fund("ethereum", "USDT", eth.oft.address, "700")  # locked by earlier sends
    locked0 = eth.usdt.functions.balanceOf(eth.oft.address).call()
    supply0 = bsc.usdt.functions.totalSupply().call()
    bot = xscene.bot(holders=holders_map(xscene, who))
    (move,) = bot.tick().created
    assert (move.source, move.dest, move.amount_source, move.amount_dest) == (
        "bsc",
        "ethereum",
        700 * E18,
        700 * E6,
    )
    assert supply0 - bsc.usdt.functions.totalSupply().call() == 700 * E18  # burnt on bsc
    xscene.dvn("ethereum")
    ticks(bot, lambda r: bot.engine.move(move.id).state == "done")
    view = bot.engine.move(move.id)
    assert view.amount_sent == 700 * E18 and view.amount_received == 700 * E6
    assert locked0 - eth.usdt.functions.balanceOf(eth.oft.address).call() == 700 * E6
    assert xscene.balance("ethereum", "USDT", who) == 1000 * E6
    assert xscene.balance("bsc", "USDT", who) == 1100 * E18
    bot.stop()


class Crash(BaseException):
    """The keeper process dying at a chosen point (nothing after it runs)."""


def crash_at(step, point):
    def hook(move_id, s, p):
        if (s, p) == (step, point):
            raise Crash(f"{step}:{point}")

    return hook


def test_move__attestation_delayed__waits_in_cross_in_flight_then_minted_once(xscene):
    who, bot = holder_bot(xscene, 6, {("ethereum", "USDC"): "1800", ("base", "USDC"): "400"})
    supplies0 = usdc_supplies(xscene)
    xscene.attestations.open = False
    try:
        (move,) = bot.tick().created
        for _ in range(3):  # the attestation is late: the move waits, nothing is re-planned
            report = bot.tick()
            assert report.created == [] and bot.engine.move(move.id).state == "cross"
        burnt, minted = burnt_and_minted(xscene, supplies0)
        in_flight = sum(f.amount for f in bot.engine.in_flight() if f.asset == "USDC") // 10**12
        assert burnt == minted + in_flight == 600 * E6 and minted == 0
        row = {(r["chain"], r["asset"]): r for r in bot.status_rows()}[("base", "USDC")]
        assert row["in_flight_in"] == "600" and row["triggered"] is False
        xscene.attestations.released.add(
            bytes.fromhex(bot.engine._row(move.id).handle_tx.removeprefix("0x"))
        )
        bot.tick()
    finally:
        xscene.attestations.open = True
        xscene.attestations.released.clear()
    assert bot.engine.move(move.id).state == "done"
    burnt, minted = burnt_and_minted(xscene, supplies0)
    assert burnt == minted == 600 * E6 and bot.engine.in_flight() == []
    bot.stop()


def test_move__packet_relayed_by_a_third_party__not_executed_again(xscene):
    who, bot = holder_bot(xscene, 7, {("ethereum", "USDT"): "1700", ("bsc", "USDT"): "300"})
    bsc = xscene.sides["bsc"]
    block0 = bsc.w3.eth.block_number
    (move,) = bot.tick().created
    assert bot.engine.move(move.id).state == "cross"
    n_b0 = xscene.nonce("bsc")
    delivered = xscene.relay("bsc")  # an executor delivers before the keeper does
    guid = bytes.fromhex(bot.engine.move(move.id).handle_ref.removeprefix("0x"))
    assert not delivered[guid].already_received
    bot.tick()
    view = bot.engine.move(move.id)
    assert view.state == "done" and view.amount_received == 700 * E18
    assert xscene.relay("bsc")[guid].already_received  # duplicate relay: refused as delivered
    bot.tick()
    assert xscene.nonce("bsc") - n_b0 == 1  # the keeper only invested: no lzReceive of its own
    received = [
        lg
        for lg in logs(bsc.w3, bsc.oft.address, OFT_RECEIVED_TOPIC, block0)
        if bytes(lg["topics"][1]) == guid
    ]
    assert len(received) == 1
    assert xscene.balance("bsc", "USDT", who) == 1000 * E18
    bot.stop()


def test_move__keeper_crashes_after_burn_and_after_mint__new_bots_finish_nothing_twice(xscene):
    who = holder(xscene, 1, {("ethereum", "USDC"): "1600", ("base", "USDC"): "450"})
    holders = holders_map(xscene, who)
    eth, base = xscene.sides["ethereum"], xscene.sides["base"]
    n_e0, n_b0 = xscene.nonce("ethereum"), xscene.nonce("base")
    blk_e0, blk_b0 = eth.w3.eth.block_number, base.w3.eth.block_number

    first = xscene.bot(holders=holders, hook=crash_at("transfer_out", "sent"))
    with pytest.raises(Crash):
        first.tick()  # burnt on chain, handle never persisted
    (row,) = [v for v in first.engine.moves(active_only=True)]
    assert row.state == "transfer_out" and row.route == "CCTP"

    second = xscene.bot(holders=holders, hook=crash_at("transfer_in", "finalized"))
    with pytest.raises(Crash):
        second.tick()  # resumes: same intents, no new burn; mints, dies before recording it
    assert second.engine.move(row.id).state == "transfer_in"

    third = xscene.bot(holders=holders)
    report = third.tick()
    assert report.created == []  # the in-flight move is not planned again
    view = third.engine.move(row.id)
    assert view.state == "done" and view.amount_received == 550 * E6
    # nothing sent twice: pull + approve + burn on ethereum, receiveMessage + invest on base
    assert xscene.nonce("ethereum") - n_e0 == 3 and xscene.nonce("base") - n_b0 == 2
    assert len(logs(eth.w3, eth.transmitter.address, MESSAGE_SENT_TOPIC, blk_e0 + 1)) == 1
    assert len(logs(base.w3, base.transmitter.address, MESSAGE_RECEIVED, blk_b0 + 1)) == 1
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.balance("ethereum", "USDC", who) == 1050 * E6
    for b in (first, second, third):
        b.stop()


def test_move__usdt0_down__falls_back_to_cex_and_conserves(xscene):
    who, bot = holder_bot(xscene, 10, {("ethereum", "USDT"): "1900", ("bsc", "USDT"): "100"})
    eth, bsc = xscene.sides["ethereum"], xscene.sides["bsc"]
    ep = eth.lz.endpoint_contract()
    blocked = ep.functions.blockedLibrary().call()
    hot = bsc.w3.eth.accounts[9]
    hot0 = xscene.balance("bsc", "USDT", hot)
    n_b0 = xscene.nonce("bsc")
    transact(eth.w3, ep.functions.setSendLibrary(eth.oft.address, 30102, blocked), eth.owner)
    try:
        (move,) = bot.tick().created
    finally:
        transact(eth.w3, ep.functions.setSendLibrary(eth.oft.address, 30102, eth.lz.lib), eth.owner)
    row = bot.engine._row(move.id)
    assert row.route == "CEX" and row.routes_skipped[0][0] == "USDT0"
    ticks(bot, lambda r: bot.engine.move(move.id).state == "done", max_ticks=100)
    view = bot.engine.move(move.id)
    fee = 1 * E18  # the simulator's withdrawal fee
    assert view.amount_sent == 900 * E6 and view.amount_received == 900 * E18 - fee
    # sent == received + fee: the exchange paid exactly once from its hot wallet
    assert hot0 - xscene.balance("bsc", "USDT", hot) == view.amount_received
    assert xscene.balance("bsc", "USDT", who) == 100 * E18 + view.amount_received
    assert xscene.balance("ethereum", "USDT", who) == 1000 * E6
    assert xscene.nonce("bsc") - n_b0 == 1  # invest only; the withdrawal is the exchange's
    bot.stop()


def test_move__burn_refused_by_audit__retried_later_without_pulling_twice(xscene):
    from keepers.core.settings import PolicyConfig
    from keepers.crosschain.bot import crosschain_policy

    who = holder(xscene, 14, {("ethereum", "USDC"): "1600", ("base", "USDC"): "400"})
    eth = xscene.sides["ethereum"]
    full = crosschain_policy(xscene.config)
    role = full.roles["crosschain"]
    no_burn = PolicyConfig(
        roles={
            "crosschain": role.model_copy(
                update={
                    "allowed": [
                        a for a in role.allowed if a.contract != eth.messenger.address.lower()
                    ]
                }
            )
        }
    )
    blk_e0 = eth.w3.eth.block_number
    first = xscene.bot(holders=holders_map(xscene, who), policy=no_burn)
    (move,) = first.tick().created
    row = first.engine._row(move.id)
    assert row.state == "transfer_out" and row.gen == 1 and "call-not-allowed" in row.error
    assert xscene.balance("ethereum", "USDC", who) == 1000 * E6  # pulled once already

    second = xscene.bot(holders=holders_map(xscene, who))  # policy fixed, new process
    ticks(second, lambda r: second.engine.move(move.id).state == "done")
    assert xscene.balance("ethereum", "USDC", who) == 1000 * E6  # not pulled again
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert len(logs(eth.w3, eth.transmitter.address, MESSAGE_SENT_TOPIC, blk_e0 + 1)) == 1
    for b in (first, second):
        b.stop()


def test_move__no_route_up__error_surfaced_and_move_failed_nothing_sent(xscene):
    alerts = []
    who, bot = holder_bot(
        xscene,
        15,
        {("ethereum", "USDT"): "1800", ("bsc", "USDT"): "200"},
        max_attempts=2,
        retry_backoff_s=0.0,
    )
    bot.alert = alerts.append
    eth = xscene.sides["ethereum"]
    ep = eth.lz.endpoint_contract()
    n_e0 = xscene.nonce("ethereum")
    transact(
        eth.w3,
        ep.functions.setSendLibrary(eth.oft.address, 30102, ep.functions.blockedLibrary().call()),
        eth.owner,
    )
    xscene.sim.down = True
    try:
        (move,) = bot.tick().created
        ticks(bot, lambda r: bot.engine.move(move.id).state == "failed", max_ticks=5)
    finally:
        xscene.sim.down = False
        transact(eth.w3, ep.functions.setSendLibrary(eth.oft.address, 30102, eth.lz.lib), eth.owner)
    view = bot.engine.move(move.id)
    assert "no route for USDT ethereum->bsc" in view.error and "USDT0" in view.error
    assert any(a.code == "crosschain_move_failed" for a in alerts)
    assert xscene.nonce("ethereum") == n_e0  # nothing pulled, nothing sent
    assert xscene.balance("ethereum", "USDT", who) == 1800 * E6
    bot.stop()


def test_move__simulated_clock__waits_poll_interval_on_the_clock_it_is_given(xscene):
    """Issue 12: the engine takes `now` and must keep to it. A move waiting for its attestation
    on a clock 30 days ahead of the wall waits poll_interval_s on that clock (it used to mix in
    time.time(), so every tick on a simulated clock polled again at once)."""
    import time

    who, bot = holder_bot(
        xscene, 18, {("ethereum", "USDC"): "1800", ("base", "USDC"): "400"}, poll_interval_s=60.0
    )
    t0 = int(time.time()) + 30 * 86_400
    xscene.attestations.open = False
    try:
        (move,) = bot.tick(now=t0).created
        row = bot.engine._row(move.id)
        assert row.state == "cross"
        assert row.next_try_at.replace(tzinfo=None) == _naive_utc(t0 + 60)
        bot.tick(now=t0 + 30)  # inside the poll interval: the move is not stepped again
        assert bot.engine._row(move.id).next_try_at == row.next_try_at
        xscene.attestations.released.add(bytes.fromhex(row.handle_tx.removeprefix("0x")))
        bot.tick(now=t0 + 30)  # released, but its next try is still 30 s away on this clock
        assert bot.engine.move(move.id).state == "cross"
        bot.tick(now=t0 + 61)
    finally:
        xscene.attestations.open = True
        xscene.attestations.released.clear()
    assert bot.engine.move(move.id).state == "done"
    bot.stop()


def _naive_utc(ts: int):
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).replace(tzinfo=None)
