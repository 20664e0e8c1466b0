"""Planner actions -> AssetController calls, with minOut from the oracle and, for DEX assets,
the slippage of a real pool quote (Uniswap QuoterV2, eth_call).

- purchaseAsset(token, cash, minOut): oracle tokens for ``cash`` at the feed price, less
  REBALANCE_MAX_SLIPPAGE (``risk.min_out``). The contract also enforces its own oracle minimum.
- redeemAsset(token, tokens, minOut): ``controller.valueOf(token, tokens)`` less the same.
- DEX assets with a pool quote (pool legs): at send time minOut is the leg's fill as simulated
  on the node less REBALANCE_FILL_TOLERANCE_BPS (keepers.fund.planning.fills, issue 62), never
  the oracle less the stop; :meth:`ActionEncoder.dex_min_out` with the ``fill``. Without a fill
  (a plan's first encoding, before its simulation) the old rule below gives a placeholder the
  send replaces: a quote between REBALANCE_MAX_SLIPPAGE (2%, warn) and
  SLIPPAGE_BLOCK_BPS (5%, block) under the oracle is allowed to run by the seed, but the
  oracle minOut would revert it; there minOut is the quote itself (the fill may not get worse
  than what the keeper saw just before sending), never below the oracle less
  SLIPPAGE_BLOCK_BPS.
- allocateToLayer / executeWaterfallLiquidation / rebalanceBuffer: no minOut (the contract
  applies its oracle minimum per leg).

``quote`` returns a :class:`keepers.fund.planning.risk.Quote` (quote out vs oracle out, same unit)
for DEX assets; ERC-4626 and async assets fill at the oracle and have none.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keepers.fund.planning.actions import Action, ActionType
from keepers.fund.planning.config import PlanningConfig
from keepers.fund.planning.fills import min_out_from_fill
from keepers.fund.planning.risk import Quote, min_out
from keepers.fund.reader import FundReading
from keepers.tx.contracts import FundContracts
from keepers.tx.reads import Read, ReadFailed, call_all, call_many, checksum, fn


@dataclass(frozen=True)
class EncodedCall:
    target: str
    calldata: str
    function: str
    args: tuple[object, ...]
    min_out: int | None = None
    oracle_out: int | None = None  # tokens (purchase) or base units (redeem)
    quote: Quote | None = None  # the pool's quote when encoded (pool legs only)


class ActionEncoder:
    """Encodes planner actions for one fund, caching token decimals and pool fees."""

    def __init__(self, contracts: FundContracts, config: PlanningConfig) -> None:
        self.c = contracts
        self.config = config
        self._decimals: dict[str, int] = {}
        self._pool_fee: dict[str, int] = {}
        # answers at one block number (quotes, valueOf): the same eth_call at the same block
        # answers the same, so the plan's quotes serve its risk check and encoding; only the
        # latest block's are kept, and a failed read is never kept
        self._at: dict[Read, Any] = {}
        self._at_block: int | None = None

    # ------------------------------------------------------------------ oracle maths

    def token_decimals(self, token: str) -> int:
        if token not in self._decimals:  # an ERC-20's decimals never change: read once
            (dec,) = call_all(self.c.w3, [Read(token, fn("IERC20Min", "decimals"))], "latest")
            self._decimals[token] = int(dec)
        return self._decimals[token]

    def oracle_tokens_for(self, reading: FundReading, token: str, cash: int) -> int:
        """Tokens ``cash`` buys at the feed price (floor). An unpriced asset (its feed down:
        the lens answers 0) has no such amount: the planner never buys one, and this refuses
        to size a leg against it rather than divide by zero."""
        price = reading.prices[token]
        if price <= 0:
            raise ValueError(f"asset {token}: its feed is down (price {price}): no amount to size")
        fdec = reading.feed_decimals[token]
        base = reading.state.base_decimals
        return cash * 10 ** (fdec + self.token_decimals(token)) // (price * 10**base)

    def oracle_value_of(self, token: str, tokens: int, block: Any = "latest") -> int:
        (value,) = self.call_at([self._value_of(token, tokens)], block)
        return int(value)

    def call_at(self, reads: list[Read], block: Any) -> list[Any]:
        """``call_all`` of ``reads`` at ``block``, each read at a block number asked once (kept
        until another block number is asked); "latest" is always asked."""
        if not isinstance(block, int):
            return call_all(self.c.w3, reads, block)
        if block != self._at_block:
            self._at, self._at_block = {}, block
        todo = [r for r in dict.fromkeys(reads) if r not in self._at]
        if todo:
            self._at.update(zip(todo, call_all(self.c.w3, todo, block), strict=True))
        return [self._at[r] for r in reads]

    def _value_of(self, token: str, tokens: int) -> Read:
        return Read(self.c.addresses.controller, fn("AssetController", "valueOf"), (token, tokens))

    def pool_fee(self, token: str) -> int | None:
        at = self.c.addresses.adapters.get("uniswap")  # (its address: no web3 handle needed)
        if at is None:
            return None
        if token not in self._pool_fee:  # set when the asset is listed: read once
            (fee,) = call_all(self.c.w3, [Read(at, fn("UniswapV3Adapter", "poolFee"), (token,))],
                              "latest")  # fmt: skip
            self._pool_fee[token] = int(fee)
        return self._pool_fee[token] or None

    # ------------------------------------------------------------------ encoding

    def token_amount(self, reading: FundReading, action: Action) -> int:
        if action.token_amount is not None:
            return action.token_amount
        return reading.state.asset(action.asset or "").tokens_for_value(action.amount)

    def dex_min_out(self, oracle: int, quote: Quote | None, fill: int | None = None) -> int:
        """minOut of a purchase / redemption worth ``oracle`` at the oracle: with a simulated
        ``fill``, the fill less the tolerance (floored at the oracle less SLIPPAGE_BLOCK_BPS);
        without one, the oracle less REBALANCE_MAX_SLIPPAGE, or the quote where that is worse."""
        if fill is not None:
            floor = oracle * (10_000 - self.config.slippage_block_bps) // 10_000
            return min_out_from_fill(fill, floor, self.config)
        mo = min_out(oracle, self.config)
        if quote is None or quote.quote_out >= mo:
            return mo
        floor = oracle * (10_000 - self.config.slippage_block_bps) // 10_000
        return max(floor, quote.quote_out)

    def encode(
        self,
        reading: FundReading,
        action: Action,
        quote: Quote | None = None,
        fill: int | None = None,
    ) -> EncodedCall:
        """The controller call of ``action``; a pool leg's minOut from its simulated ``fill``
        when given (see `dex_min_out`)."""
        t = action.type
        if t is ActionType.PURCHASE:
            token = checksum(action.asset or "")
            oracle = self.oracle_tokens_for(reading, token, action.amount)
            mo = self.dex_min_out(oracle, quote, fill)
            args: tuple[object, ...] = (token, action.amount, mo)
            return self._call("purchaseAsset", args, mo, oracle, quote)
        if t is ActionType.REDEEM:
            token = checksum(action.asset or "")
            tokens = self.token_amount(reading, action)
            oracle = self.oracle_value_of(token, tokens, reading.block)
            mo = self.dex_min_out(oracle, quote, fill)
            return self._call("redeemAsset", (token, tokens, mo), mo, oracle, quote)
        if t is ActionType.ALLOCATE:
            return self._call("allocateToLayer", (int(action.to_tier or 0), action.amount))
        if t is ActionType.WATERFALL:
            max_tier = int(action.max_tier if action.max_tier is not None else 2)
            return self._call("executeWaterfallLiquidation", (action.amount, max_tier))
        if t is ActionType.REBALANCE_BUFFER:
            return self._call("rebalanceBuffer", ())
        raise ValueError(f"unknown action type {t}")

    def _call(
        self,
        name: str,
        args: tuple[object, ...],
        mo: int | None = None,
        oracle: int | None = None,
        quote: Quote | None = None,
    ) -> EncodedCall:
        data = fn(_CONTROLLER, name).calldata(*args)
        return EncodedCall(self.c.addresses.controller, data, name, args, mo, oracle, quote)

    def tokens_worth(self, reading: FundReading, token: str, cash: int, block: Any) -> int:
        """The fewest tokens the controller values (``valueOf``, at ``block``) at ``cash`` or
        more: the executor's rule for a purchase's band, so a minOut of this many passes it."""
        tokens = self.oracle_tokens_for(reading, token, cash) if cash > 0 else 0
        step = 1
        for _ in range(64):
            if self.oracle_value_of(token, tokens, block) >= cash:
                return tokens
            tokens += step
            step *= 2
        raise ValueError(f"asset {token}: no token amount found worth {cash} at the oracle")

    # ------------------------------------------------------------------ quotes

    def quote(self, reading: FundReading, action: Action, block: Any = "latest") -> Quote | None:
        """A pool quote for a purchase or redeem of a DEX asset; None for other assets."""
        asked = self._quote_reads(reading, action)
        if asked is None:
            return None
        reads, oracle = asked
        if oracle is None:  # a sale: the oracle's value and the pool's quote in one batch
            value, out = self.call_at(reads, block)
            oracle = int(value)
        else:
            (out,) = self.call_at(reads, block)
        return Quote(quote_out=int(out[0]), oracle_out=oracle)

    def prefetch_quotes(self, reading: FundReading, actions: list[Action], block: Any) -> None:
        """Every quote of ``actions`` at the block number ``block`` asked in ONE batch and kept
        as ``call_at`` keeps answers (``quote`` then asks nothing for them): the same eth_calls
        at the same block as asked one by one, so the same quotes
        (tests/offchain/fundbot/test_fundbot_read_rounds.py). A read that fails is not kept:
        ``quote`` asks it again and raises as it did."""
        if not isinstance(block, int):
            return
        if block != self._at_block:
            self._at, self._at_block = {}, block
        todo: list[Read] = []
        for a in actions:
            try:
                asked = self._quote_reads(reading, a)
            except Exception:  # noqa: BLE001 - not askable (no price): ``quote`` raises it
                continue
            todo += [] if asked is None else [r for r in asked[0] if r not in self._at]
        todo = list(dict.fromkeys(todo))
        if todo:
            got = call_many(self.c.w3, todo, block)
            self._at.update((r, v) for r, v in zip(todo, got, strict=True)
                            if not isinstance(v, ReadFailed))  # fmt: skip

    def _quote_reads(
        self, reading: FundReading, action: Action
    ) -> tuple[list[Read], int | None] | None:
        """The reads of ``action``'s quote and, for a purchase, its oracle tokens (a sale's
        oracle value is the first read); None for a leg without a pool quote."""
        if action.type not in (ActionType.PURCHASE, ActionType.REDEEM) or not action.asset:
            return None
        token: str = checksum(action.asset)
        fee = self.pool_fee(token)
        if fee is None or self.c.quoter is None:
            return None
        cash: str = self.c.addresses.cash
        quoter = fn("IQuoterV2", "quoteExactInputSingle")
        if action.type is ActionType.PURCHASE:
            oracle = self.oracle_tokens_for(reading, token, action.amount)
            params = (cash, token, action.amount, fee, 0)
            return [Read(self.c.quoter.address, quoter, (params,))], oracle
        amount_in = self.token_amount(reading, action)
        params = (token, cash, amount_in, fee, 0)
        return [
            self._value_of(token, amount_in),
            Read(self.c.quoter.address, quoter, (params,)),
        ], None


_CONTROLLER = "AssetController"


def fill_ratio(quote: Quote | None) -> Decimal:
    """Quoted value out / oracle value out (1 when there is no quote)."""
    if quote is None or quote.oracle_out == 0:
        return Decimal(1)
    return Decimal(quote.quote_out) / Decimal(quote.oracle_out)
