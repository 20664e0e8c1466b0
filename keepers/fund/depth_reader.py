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
batch a step): a pool in three round trips, the four quoter checks of a pool in one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, ContractLogicError

from keepers.core import univ3
from keepers.core.logging import get_logger
from keepers.fund.planning.depth import AssetDepth, PoolVenue, largest_within, pool_depth
from keepers.fund.planning.risk import slippage_bps
from keepers.fund.reader import FundReading
from keepers.tx.contracts import FundContracts
from keepers.tx.reads import Read, call_all, fn

log = get_logger("keepers.depth")

WORDS = 2  # bitmap words read on each side of the current one


class DepthReader:
    """``read(reading, limit_bps, target_bps)`` -> {token: AssetDepth} for the fund's V3
    assets: sizes inside the slippage limit and inside the per-leg cost target."""

    def __init__(self, contracts: FundContracts, encoder: Any) -> None:
        self.c = contracts
        self.w3: Web3 = contracts.w3
        self.encoder = encoder  # ActionEncoder: token decimals and pool fees, cached
        self._pools: dict[str, str | None] = {}

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
        """The pool at ``block`` in three JSON-RPC batches (one round trip each, not one per
        call): its slot0, spacing, liquidity, fee and token0; the bitmap words around the
        price; the liquidity net of each initialised tick in them."""
        at = Web3.to_checksum_address(address)
        slot0, spacing, liquidity, fee, token0 = call_all(
            self.w3,
            [
                Read(at, fn("IUniswapV3Pool", name))
                for name in ("slot0", "tickSpacing", "liquidity", "fee")
            ]
            + [Read(at, fn("IUniswapV3Pool", "token0"))],
            block,
        )
        spacing = int(spacing)
        word = (int(slot0[1]) // spacing) >> 8
        words = [w for w in range(word - WORDS, word + WORDS + 1) if -(2**15) <= w < 2**15]
        initialised: list[int] = []
        bitmaps = call_all(
            self.w3, [Read(at, fn("IUniswapV3Pool", "tickBitmap"), (w,)) for w in words], block
        )
        for w, bits in zip(words, bitmaps, strict=True):
            bits = int(bits)
            while bits:
                low = bits & -bits
                initialised.append(((w << 8) + low.bit_length() - 1) * spacing)
                bits ^= low
        infos = call_all(
            self.w3, [Read(at, fn("IUniswapV3Pool", "ticks"), (t,)) for t in initialised], block
        )
        ticks = {tick: int(info[1]) for tick, info in zip(initialised, infos, strict=True)}
        state = univ3.PoolState(
            sqrt_price_x96=int(slot0[0]),
            tick=int(slot0[1]),
            liquidity=int(liquidity),
            fee=int(fee),
            tick_spacing=spacing,
            ticks=ticks,
        )
        return state, str(token0)

    def read(
        self, reading: FundReading, limit_bps: int, target_bps: int | None = None
    ) -> dict[str, AssetDepth]:
        out: dict[str, AssetDepth] = {}
        st = reading.state
        for a in st.assets:
            if not a.instant:
                continue
            try:
                address = self.pool_address(a.token)
                if address is None:
                    # the venue's maxDeposit, read with the fund (0 when it was not read)
                    room = a.investable_now if a.room_read else 0
                    if room is not None:
                        said = f"maxDeposit {room}" if a.room_read else "room not read"
                        out[a.token] = AssetDepth(
                            a.token, max_buy=room, detail=f"{a.symbol}: {said}"
                        )
                    continue
                pool, token0 = self.pool_state(address, reading.block)
                fdec = reading.feed_decimals[a.token]
                tdec = self.encoder.token_decimals(a.token)
                venue = PoolVenue(
                    pool,
                    token0.lower() == a.token.lower(),
                    reading.prices[a.token] * 10**st.base_decimals,
                    10 ** (fdec + tdec),
                )
                depth = pool_depth(a.token, venue, limit_bps, st.total_assets, a.value, target_bps)
                out[a.token] = self._checked(reading, a.token, venue, depth)
            except (ContractLogicError, BadFunctionCallOutput) as err:
                # this venue's pool (or the quoter on it) reverted: its depth is not read at
                # this block, so it is not traded on this plan (0 both ways, never "no limit");
                # the other venues keep theirs and the next plan reads it again
                log.warning("depth.not_read", asset=a.symbol, error=str(err)[:160])
                out[a.token] = AssetDepth(
                    a.token,
                    max_buy=0,
                    max_sell=0,
                    cheap_buy=0,
                    cheap_sell=0,
                    limit_bps=limit_bps,
                    target_bps=target_bps,
                    detail=f"{a.symbol}: depth not read (its pool or quote reverted)",
                )
        return out

    def _checked(
        self, reading: FundReading, token: str, venue: PoolVenue, depth: AssetDepth
    ) -> AssetDepth:
        """The model's sizes (at the limit and at the cost target) against QuoterV2 on the
        real pool; the quoter wins."""
        fee = self.encoder.pool_fee(token)
        cash = self.c.addresses.cash

        quoter = self.c.addresses.quoter
        assert quoter is not None
        quote = fn("IQuoterV2", "quoteExactInputSingle")
        known: dict[tuple[str, int], int] = {}  # (token in, amount) -> out, at this block

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
        ask(
            [(cash, token, x or 0) for x in (depth.max_buy, depth.cheap_buy)]
            + [
                (token, cash, venue.oracle_tokens(x) if x else 0)
                for x in (depth.max_sell, depth.cheap_sell)
            ]
        )

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
