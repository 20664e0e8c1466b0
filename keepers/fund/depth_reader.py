"""Reads each venue's depth for the planner (I/O; the maths is keepers.fund.planning.depth).

For every Uniswap V3 asset: the pool (QuoterV2.factory().getPool(asset, cash, adapter fee)),
its slot0, in-range liquidity and the initialised ticks of the bitmap words around the price
(``WORDS`` each side: a word spans 256 x tickSpacing ticks, far beyond any slippage limit), as
a ``univ3.PoolState``; the exact V3 maths then sizes purchases and sales inside the limit.
Each size is checked against QuoterV2 (an eth_call on the real pool): where the quoter says
more slippage than the model (a pool state the model misread), the quoter wins and the size is
bisected on the quoter, with a warning. ERC-4626 venues fill at their share price; their
redeemable liquidity (``maxRedeem``) and asynchronous windows come from FundLens already, and
their own deposit limit (``maxDeposit(controller)``: a capped fund's headroom, which anyone can
fill) is read here as the most a purchase can take, the limit the controller itself cuts a leg
at: that limit is the reading's ``investable_now`` (the adapter's ``investableNow``, which is
the venue's ``maxDeposit`` for an ERC-4626 fund, read with the fund at the same block), not a
second read. A venue with no limit has no entry.

Every read goes through keepers.tx.reads (calldata and decoding from the ABI, one JSON-RPC
batch a step, every pool together): the pools in one round trip when their prices stayed in
the bitmap words their last read used (three at most), the quoter checks of every pool in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from keepers.core import univ3
from keepers.core.logging import get_logger
from keepers.fund.planning.depth import (
    AssetDepth,
    DepthMemo,
    PoolVenue,
    largest_within,
    pool_depth,
)
from keepers.fund.planning.risk import slippage_bps
from keepers.fund.reader import FundReading
from keepers.tx.contracts import FundContracts
from keepers.tx.reads import Read, ReadFailed, call_all, call_many, checksum, fn

log = get_logger("keepers.depth")

WORDS = 2  # bitmap words read on each side of the current one
_STATIC = ("tickSpacing", "fee", "token0")  # set when a V3 pool is created, never changed


def _first_failure(got: dict[Any, Any], keys: Sequence[tuple[str, str, Any]]) -> Exception | None:
    """The first of the reads ``keys`` that failed in ``got``, as web3 raises it."""
    for k in keys:
        if isinstance(got[k], ReadFailed):
            return got[k].error()
    return None


def _not_read(
    symbol: str, token: str, err: Exception, limit_bps: int, target_bps: int | None
) -> AssetDepth:
    """A venue whose pool (or the quoter on it) reverted: its depth is not read at this block,
    so it is not traded on this plan (0 both ways, never "no limit"); the other venues keep
    theirs and the next plan reads it again."""
    log.warning("depth.not_read", asset=symbol, error=str(err)[:160])
    return AssetDepth(
        token,
        max_buy=0,
        max_sell=0,
        cheap_buy=0,
        cheap_sell=0,
        limit_bps=limit_bps,
        target_bps=target_bps,
        detail=f"{symbol}: depth not read (its pool or quote reverted)",
    )


def _key(r: Read) -> tuple[str, str, Any]:
    """A pool read's key, as ``DepthReader._ask`` names it: (pool, function, argument)."""
    return (r.to, r.fn.name, r.args[0] if r.args else None)


class DepthReader:
    """``read(reading, limit_bps, target_bps)`` -> {token: AssetDepth} for the fund's V3
    assets: sizes inside the slippage limit and inside the per-leg cost target."""

    def __init__(self, contracts: FundContracts, encoder: Any) -> None:
        self.c = contracts
        self.w3: Web3 = contracts.w3
        self.encoder = encoder  # ActionEncoder: token decimals and pool fees, cached
        self._pools: dict[str, str | None] = {}
        self._static: dict[str, tuple[Any, Any, Any]] = {}  # pool -> (spacing, fee, token0)
        # pool -> (bitmap words, initialised ticks) its last read used: asked first next time
        self._last: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {}
        # the first step's answers asked in the fund read's batch (a rider of
        # keepers.fund.reader: ``reads`` / ``answered``), for that block only, the failed
        # ones left out (asked again by ``pool_states``); replaced at every fund read
        self._seeded: tuple[int, dict[Any, Any]] | None = None
        self._depths = DepthMemo()  # the search redone only when one of its inputs changed

    # ------------------------------------------------------------- rider of the fund read

    def reads(self) -> list[Read]:
        """The first step of ``pool_states`` for every pool known (found for an asset
        before), asked in the fund read's batch: the horizon and the plan then read their
        pools at that block with no round trip of their own while the prices stayed in
        their words."""
        pools = [checksum(p) for p in dict.fromkeys(self._pools.values()) if p]
        return self._reads(self._first_keys(pools))

    def answered(self, block: int, reads: list[Read], values: list[Any]) -> None:
        got = zip(reads, values, strict=True)
        self._seeded = (
            block,
            {_key(r): v for r, v in got if not isinstance(v, ReadFailed)},
        )

    def pool_address(self, token: str) -> str | None:
        if token not in self._pools:
            fee = self.encoder.pool_fee(token)
            q = self.c.addresses.quoter
            if fee is None or q is None:
                self._pools[token] = None
            else:
                (factory,) = call_all(self.w3, [Read(q, fn("IQuoterV2", "factory"))], "latest")
                get_pool = fn("IUniswapV3Factory", "getPool")
                (addr,) = call_all(
                    self.w3,
                    [Read(factory, get_pool, (token, self.c.addresses.cash, fee))],
                    "latest",
                )
                self._pools[token] = None if int(addr, 16) == 0 else addr
        return self._pools[token]

    def pool_state(self, address: str, block: int) -> tuple[univ3.PoolState, str]:
        """One pool at ``block`` (see ``pool_states``); a failed read raises as web3 does."""
        got = self.pool_states([address], block)[checksum(address)]
        if isinstance(got, Exception):
            raise got
        return got

    def pool_states(
        self, addresses: list[str], block: int
    ) -> dict[str, tuple[univ3.PoolState, str] | Exception]:
        """Every pool at ``block`` (by checksummed address): its slot0, in-range liquidity and
        the liquidity net of each initialised tick in the bitmap words around the price, with
        its fee, spacing and token0 (immutable in a V3 pool: read once). All pools together,
        one JSON-RPC batch a step, and the first step also asks the bitmap words and ticks the
        pool's last read used: when the price stayed in its word and no tick was initialised
        meanwhile (most reads), one round trip in all; otherwise the missing words, then the
        missing ticks. Every value is read at ``block``, whatever was asked before: what the
        last read used only chooses what is asked first (tests/offchain/fundbot/
        test_fundbot_depth.py compares it with a reader that remembers nothing). A pool one of
        whose reads fails has that failure (as web3 raises it) in place of its state."""
        pools: list[str] = list(dict.fromkeys(checksum(a) for a in addresses))
        out: dict[str, Any] = {}
        seeded = self._seeded[1] if self._seeded and self._seeded[0] == block else {}
        got = {k: v for k, v in seeded.items() if k[0] in pools}  # the fund read's batch
        got.update(self._ask([k for k in self._first_keys(pools) if k not in got], block))
        for at in pools:
            needed = [(at, "slot0", None), (at, "liquidity", None)]
            failed = _first_failure(
                got, needed + [(at, n, None) for n in _STATIC if at not in self._static]
            )
            if failed is not None:
                out[at] = failed
                continue
            if at not in self._static:
                self._static[at] = tuple(got[(at, n, None)] for n in _STATIC)  # type: ignore[assignment]
        live = [at for at in pools if at not in out]
        words = {}
        for at in live:
            spacing = int(self._static[at][0])
            word = (int(got[(at, "slot0", None)][1]) // spacing) >> 8
            words[at] = [w for w in range(word - WORDS, word + WORDS + 1) if -(2**15) <= w < 2**15]
        got.update(self._ask([(at, "tickBitmap", w) for at in live for w in words[at]
                              if (at, "tickBitmap", w) not in got], block))  # fmt: skip
        initialised: dict[str, list[int]] = {}
        for at in live:
            failed = _first_failure(got, [(at, "tickBitmap", w) for w in words[at]])
            if failed is not None:
                out[at] = failed
                continue
            spacing = int(self._static[at][0])
            initialised[at] = []
            for w in words[at]:
                bits = int(got[(at, "tickBitmap", w)])
                while bits:
                    low = bits & -bits
                    initialised[at].append(((w << 8) + low.bit_length() - 1) * spacing)
                    bits ^= low
        got.update(self._ask([(at, "ticks", t) for at, ts in initialised.items() for t in ts
                              if (at, "ticks", t) not in got], block))  # fmt: skip
        for at, ts in initialised.items():
            failed = _first_failure(got, [(at, "ticks", t) for t in ts])
            if failed is not None:
                out[at] = failed
                continue
            spacing, fee, token0 = self._static[at]
            slot0 = got[(at, "slot0", None)]
            state = univ3.PoolState(
                sqrt_price_x96=int(slot0[0]),
                tick=int(slot0[1]),
                liquidity=int(got[(at, "liquidity", None)]),
                fee=int(fee),
                tick_spacing=int(spacing),
                ticks={t: int(got[(at, "ticks", t)][1]) for t in ts},
            )
            self._last[at] = (tuple(words[at]), tuple(ts))
            out[at] = (state, str(token0))
        return out

    def _first_keys(self, pools: Sequence[str]) -> list[tuple[str, str, Any]]:
        """The first step's reads: slot0, liquidity, the immutables not known yet and the
        bitmap words and ticks the pool's last read used."""
        return (
            [(at, "slot0", None) for at in pools]
            + [(at, "liquidity", None) for at in pools]
            + [(at, n, None) for at in pools if at not in self._static for n in _STATIC]
            + [(at, "tickBitmap", w) for at in pools for w in self._last.get(at, ((), ()))[0]]
            + [(at, "ticks", t) for at in pools for t in self._last.get(at, ((), ()))[1]]
        )

    @staticmethod
    def _reads(keys: Sequence[tuple[str, str, Any]]) -> list[Read]:
        return [
            Read(at, fn("IUniswapV3Pool", name), () if arg is None else (arg,))
            for at, name, arg in keys
        ]

    def _ask(self, keys: Sequence[tuple[str, str, Any]], block: int) -> dict[Any, Any]:
        """The pool reads ``keys`` ((pool, function, argument)) in one batch: each its value
        or its ``ReadFailed``."""
        return dict(zip(keys, call_many(self.w3, self._reads(keys), block), strict=True))

    def read(
        self, reading: FundReading, limit_bps: int, target_bps: int | None = None
    ) -> dict[str, AssetDepth]:
        out: dict[str, AssetDepth] = {}
        st = reading.state
        pools: dict[str, str | None] = {}
        for a in st.assets:
            if a.instant:
                try:
                    pools[a.token] = self.pool_address(a.token)
                except (ContractLogicError, BadFunctionCallOutput) as err:
                    out[a.token] = _not_read(a.symbol, a.token, err, limit_bps, target_bps)
        states = self.pool_states([p for p in pools.values() if p], reading.block)
        venues: dict[str, tuple[PoolVenue, AssetDepth]] = {}
        for a in st.assets:
            if a.token not in pools:
                continue
            address = pools[a.token]
            if address is None:
                # the venue's maxDeposit, read with the fund (0 when it was not read)
                room = a.investable_now if a.room_read else 0
                if room is not None:
                    said = f"maxDeposit {room}" if a.room_read else "room not read"
                    out[a.token] = AssetDepth(a.token, max_buy=room, detail=f"{a.symbol}: {said}")
                continue
            try:
                got = states[checksum(address)]
                if isinstance(got, Exception):
                    raise got
                pool, token0 = got
                fdec = reading.feed_decimals[a.token]
                tdec = self.encoder.token_decimals(a.token)
                venue = PoolVenue(
                    pool,
                    token0.lower() == a.token.lower(),
                    reading.prices[a.token] * 10**st.base_decimals,
                    10 ** (fdec + tdec),
                )
                depth = pool_depth(
                    a.token, venue, limit_bps, st.total_assets, a.value, target_bps, self._depths
                )
                venues[a.token] = (venue, depth)
            except (ContractLogicError, BadFunctionCallOutput) as err:
                out[a.token] = _not_read(a.symbol, a.token, err, limit_bps, target_bps)
        # every venue's first quoter checks in one batch (a failed one is asked again alone)
        known = self._quotes(
            [(t, *pair) for t, (v, d) in venues.items() for pair in self._checks(t, v, d)],
            reading.block,
        )
        for a in st.assets:
            if a.token not in venues:
                continue
            venue, depth = venues[a.token]
            try:
                out[a.token] = self._checked(reading, a.token, venue, depth, known[a.token])
            except (ContractLogicError, BadFunctionCallOutput) as err:
                out[a.token] = _not_read(a.symbol, a.token, err, limit_bps, target_bps)
        return out

    def _checks(
        self, token: str, venue: PoolVenue, depth: AssetDepth
    ) -> list[tuple[str, str, int]]:
        """The sizes the quoter checks first: (token in, token out, amount in)."""
        cash = self.c.addresses.cash
        return [(cash, token, x or 0) for x in (depth.max_buy, depth.cheap_buy)] + [
            (token, cash, venue.oracle_tokens(x) if x else 0)
            for x in (depth.max_sell, depth.cheap_sell)
        ]

    def _quotes(
        self, asks: list[tuple[str, str, str, int]], block: int
    ) -> dict[str, dict[tuple[str, int], int]]:
        """QuoterV2's answers to (venue, token in, token out, amount) at ``block``, in one batch:
        per venue, (token in, amount) -> out; a failed one is left out (asked again alone)."""
        known: dict[str, dict[tuple[str, int], int]] = {t: {} for t, *_ in asks}
        todo = list(dict.fromkeys(q for q in asks if q[3]))
        quoter = self.c.addresses.quoter
        if not todo or quoter is None:
            return known
        quote = fn("IQuoterV2", "quoteExactInputSingle")
        reads = [
            Read(quoter, quote, ((i, o, x, self.encoder.pool_fee(t), 0),)) for t, i, o, x in todo
        ]
        for (t, i, _, x), answer in zip(todo, call_many(self.w3, reads, block), strict=True):
            if not isinstance(answer, ReadFailed):
                known[t][(i, x)] = int(answer[0])
        return known

    def _checked(
        self,
        reading: FundReading,
        token: str,
        venue: PoolVenue,
        depth: AssetDepth,
        known: dict[tuple[str, int], int] | None = None,
    ) -> AssetDepth:
        """The model's sizes (at the limit and at the cost target) against QuoterV2 on the
        real pool; the quoter wins."""
        fee = self.encoder.pool_fee(token)
        cash = self.c.addresses.cash

        quoter = self.c.addresses.quoter
        assert quoter is not None
        quote = fn("IQuoterV2", "quoteExactInputSingle")
        known = {} if known is None else known  # (token in, amount) -> out, at this block

        def ask(pairs: list[tuple[str, str, int]]) -> None:
            todo = [p for p in dict.fromkeys(pairs) if p[2] and (p[0], p[2]) not in known]
            reads = [Read(quoter, quote, ((i, o, x, fee, 0),)) for i, o, x in todo]
            for (i, _, x), answer in zip(
                todo, call_all(self.w3, reads, reading.block), strict=True
            ):
                known[(i, x)] = int(answer[0])

        def quoted(token_in: str, token_out: str, amount: int) -> int:
            if (token_in, amount) not in known:
                ask([(token_in, token_out, amount)])
            return known[(token_in, amount)]

        # the sizes checked first, in one batch (a bisection, when the quoter disagrees,
        # asks one at a time); each answer is the same eth_call at the same block
        ask(self._checks(token, venue, depth))

        def buy_bps(x: int) -> int:
            return slippage_bps(quoted(cash, token, x), max(1, venue.oracle_tokens(x)))

        def sell_bps(tokens: int) -> int:
            return slippage_bps(quoted(token, cash, tokens), max(1, venue.oracle_value(tokens)))

        notes: list[str] = []

        def buy(size: int | None, bps: int) -> int | None:
            if not size or buy_bps(size) <= bps:
                return size
            log.warning("depth.quoter_disagrees", token=token, side="buy", model=size, bps=bps)
            notes.append(f"buy size at {bps} bps from QuoterV2 (model disagreed)")
            return largest_within(buy_bps, size, bps)

        def sell(size: int | None, bps: int) -> int | None:
            if not size:
                return size
            tokens = venue.oracle_tokens(size)
            if sell_bps(tokens) <= bps:
                return size
            log.warning("depth.quoter_disagrees", token=token, side="sell", model=size, bps=bps)
            notes.append(f"sell size at {bps} bps from QuoterV2 (model disagreed)")
            return venue.oracle_value(largest_within(sell_bps, tokens, bps))

        limit, target = depth.limit_bps, depth.target_bps
        return replace(
            depth,
            max_buy=buy(depth.max_buy, limit),
            max_sell=sell(depth.max_sell, limit),
            cheap_buy=depth.cheap_buy if target is None else buy(depth.cheap_buy, target),
            cheap_sell=depth.cheap_sell if target is None else sell(depth.cheap_sell, target),
            detail="; ".join([depth.detail, *notes]),
        )
