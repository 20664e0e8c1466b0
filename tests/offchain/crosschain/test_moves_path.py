"""The move state machine end to end on three anvil chains, driven by the bot's tick():
USDC over CCTP (ethereum -> base) and USDT over USDT0 (ethereum 6 decimals -> bsc 18), every
on-chain step through the transaction pipeline, pulled from and invested into a holder."""

from ballast_dev.local.crosschain_scene_local import KEEPER
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
