"""The fund keeper's per-tick reads (issue 68): what one read remembers for the next only
chooses what is asked first, never what is answered. Each shortcut against its plain form on
a real anvil with the real Uniswap V3 pools: the depth reader that asks its pools' last bitmap
words and ticks in the first batch gives the same pool states as a reader that remembers
nothing, whatever the market did in between, in one round trip when the price stayed in its
words; the encoder's quotes at one block number are asked once and a failed one is asked
again."""

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
