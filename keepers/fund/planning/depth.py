"""Venue depth: how much the fund can buy or sell of an asset right now inside the slippage
limit, pure (no I/O).

- Uniswap V3 assets: the pool's own state (sqrtPrice, in-range liquidity, initialised ticks,
  read by keepers.fund.depth_reader) run through the exact V3 math of keepers.core.univ3 and
  compared with the oracle. ``max_buy`` is the largest cash amount whose exactInputSingle pays
  out at least the oracle's tokens less ``limit_bps``; ``max_sell`` the largest value (at the
  oracle) of tokens whose sale returns at least the oracle value less ``limit_bps``. Slippage
  against the oracle grows with the size (fee, then impact, then ticks without liquidity), so
  a bisection finds the edge; a pool whose first liquidity lies beyond the limit has depth 0.
  ``cheap_buy`` and ``cheap_sell`` (the cost target) are sized on the marginal cost instead:
  the largest leg whose next unit (1/PROBE of the size considered) still fills inside it.
- ERC-4626 and asynchronous assets fill at the oracle: purchases are not depth-limited; sales
  are limited by the redeemable liquidity and windows FundLens reports (``AssetState.
  sellable_value``), which the planner already honours.

Amounts are integer base units; the price is the feed's, as a fraction (base units per token
unit = ``price_num / price_den``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from keepers.core import univ3
from keepers.fund.planning.state import BPS


@dataclass(frozen=True)
class PoolVenue:
    """A V3 pool of (asset, base cash) and the oracle price of the asset."""

    pool: univ3.PoolState
    token_is_0: bool  # the asset is the pool's token0
    price_num: int  # base units per token unit = price_num / price_den
    price_den: int

    def oracle_tokens(self, cash: int) -> int:
        return cash * self.price_den // self.price_num

    def oracle_value(self, tokens: int) -> int:
        return tokens * self.price_num // self.price_den

    def buy_out(self, cash: int) -> int | None:
        """Tokens exactInputSingle pays for ``cash`` (None: the pool cannot fill it)."""
        try:
            out, _ = univ3.quote_exact_input(self.pool, not self.token_is_0, cash)
        except univ3.V3MathError:
            return None
        return out

    def sell_out(self, tokens: int) -> int | None:
        """Cash exactInputSingle pays for ``tokens`` (None: the pool cannot fill it)."""
        try:
            out, _ = univ3.quote_exact_input(self.pool, self.token_is_0, tokens)
        except univ3.V3MathError:
            return None
        return out

    def buy_slippage_bps(self, cash: int) -> int:
        out, oracle = self.buy_out(cash), self.oracle_tokens(cash)
        return _short_bps(out, oracle)

    def sell_slippage_bps(self, tokens: int) -> int:
        out, oracle = self.sell_out(tokens), self.oracle_value(tokens)
        return _short_bps(out, oracle)

    def buy_marginal_bps(self, cash: int, step: int) -> int:
        """What ``step`` more cash after ``cash`` costs against the oracle: a leg's last unit."""
        return _marginal_bps(self.buy_out, self.oracle_tokens, cash, step)

    def sell_marginal_bps(self, tokens: int, step: int) -> int:
        """What ``step`` more tokens after ``tokens`` cost against the oracle."""
        return _marginal_bps(self.sell_out, self.oracle_value, tokens, step)

    def mid_offset_bps(self) -> int:
        """The pool's mid price against the oracle, signed bps (positive: the pool is dearer)."""
        p = self.pool.sqrt_price_x96**2  # token1 per token0 x 2^192
        # base units per token unit at the pool's mid
        num, den = (p, univ3.Q192) if self.token_is_0 else (univ3.Q192, p)
        return (num * self.price_den - self.price_num * den) * BPS // (self.price_num * den)


def _marginal_bps(
    out: Callable[[int], int | None], oracle: Callable[[int], int], size: int, step: int
) -> int:
    """What the ``step`` past ``size`` fills short of the oracle, in bps: ``out`` is the pool's
    fill for an input (None: it cannot fill it), ``oracle`` the oracle's for the same input. A
    step the pool cannot fill costs everything (BPS)."""
    before = 0 if size <= 0 else out(size)
    after = out(size + step)
    if before is None or after is None:
        return BPS
    return _short_bps(after - before, oracle(step))


def _short_bps(out: int | None, oracle: int) -> int:
    if oracle <= 0:
        return 0
    if out is None:
        return BPS
    return max(0, -(-(oracle - out) * BPS // oracle))


def largest_within(slippage: Callable[[int], int], hi: int, limit_bps: int) -> int:
    """The largest x in [0, hi] with slippage(x) <= limit_bps, by bisection (slippage is
    non-decreasing in the size above rounding noise, which only matters for dust)."""
    if hi <= 0:
        return 0
    if slippage(hi) <= limit_bps:
        return hi
    lo, top = 0, hi  # slippage(lo) ok (or lo == 0), slippage(top) too much
    while top - lo > max(1, hi >> 40):
        mid = (lo + top) // 2
        if slippage(mid) <= limit_bps:
            lo = mid
        else:
            top = mid
    return lo


@dataclass(frozen=True)
class AssetDepth:
    """What the fund can trade of one asset now. ``None``: not depth-limited (fills at the
    oracle). ``max_buy`` (cash) and ``max_sell`` (the oracle value of the tokens) stay inside
    ``limit_bps`` of the oracle (the hard stop); ``cheap_buy`` and ``cheap_sell`` inside
    ``target_bps`` (the cost target, per unit: where the next unit would cost more; None: as the
    max). ``buy_cost_bps`` and
    ``sell_cost_bps`` are a small first leg's cost (fee plus the pool's offset from the oracle):
    the venue's marginal cost, by which the planner orders venues."""

    token: str
    max_buy: int | None = None
    max_sell: int | None = None
    limit_bps: int = 0
    detail: str = ""
    cheap_buy: int | None = None
    cheap_sell: int | None = None
    target_bps: int | None = None
    buy_cost_bps: int = 0
    sell_cost_bps: int = 0

    def room(self, side: str, cheap: bool) -> int | None:
        """The size of one side ("buy" or "sell") inside the target (``cheap``) or the limit."""
        hard = self.max_buy if side == "buy" else self.max_sell
        soft = self.cheap_buy if side == "buy" else self.cheap_sell
        if not cheap or soft is None:
            return hard
        return soft if hard is None else min(soft, hard)

    def cost_bps(self, side: str) -> int:
        return self.buy_cost_bps if side == "buy" else self.sell_cost_bps


PROBE = 1_000  # a venue's marginal cost is measured on 1/PROBE of the sizes considered


def pool_depth(
    token: str,
    venue: PoolVenue,
    limit_bps: int,
    buy_cap: int,
    sell_cap_value: int,
    target_bps: int | None = None,
    kept: DepthMemo | None = None,
) -> AssetDepth:
    """Depth of a V3 asset for purchases up to ``buy_cap`` cash and sales up to
    ``sell_cap_value`` (oracle value), inside ``limit_bps`` against the oracle, and inside
    ``target_bps`` (the cost target: no unit past it, the leg's marginal cost) when given;
    with ``kept``, the answer ``kept`` holds for these same inputs (``DepthMemo``)."""
    if kept is not None:
        key = _depth_key(venue, limit_bps, buy_cap, sell_cap_value, target_bps)
        hit = kept.kept.get(token)
        if hit is not None and hit[0] == key:
            return hit[1]
        got = pool_depth(token, venue, limit_bps, buy_cap, sell_cap_value, target_bps)
        kept.kept[token] = (key, got)
        return got
    # 1 bps of the size back from the edge: value <-> token conversions round on the way to
    # the calldata, and the edge itself is where a rounding unit tips over the limit. A sale
    # of the whole position that fills a full bps inside the bound has no edge to back off
    # from: it is the whole position (the planner sells the balance), never 1 bps left of it.
    # That dust kept a tier the planner emptied for a large redemption over its maximum once
    # the fills' costs lowered the total (the movers property's request of 1,568,963).
    sell_tokens_cap = venue.oracle_tokens(sell_cap_value)
    buy_step, sell_step = max(1, buy_cap // PROBE), max(1, sell_tokens_cap // PROBE)

    def sizes(
        bps: int, buy_bps: Callable[[int], int], sell_bps: Callable[[int], int]
    ) -> tuple[int, int]:
        buy = largest_within(buy_bps, buy_cap, bps) * (BPS - 1) // BPS
        if sell_tokens_cap > 0 and sell_bps(sell_tokens_cap) < bps:
            return buy, sell_cap_value
        sell_tokens = largest_within(sell_bps, sell_tokens_cap, bps)
        return buy, venue.oracle_value(sell_tokens) * (BPS - 1) // BPS

    # the limit is a stop on the whole leg's fill (its minOut): the leg's average cost
    max_buy, max_sell = sizes(limit_bps, venue.buy_slippage_bps, venue.sell_slippage_bps)
    # the cost target is per unit: a leg stops where its next unit would cost more than the
    # target (its marginal cost), the rest waits for the pool to refill. Sized on the leg's
    # average instead, its last units cost about twice the target less the fee (a 592,034
    # TBILL-B buy at 50 bps average on the 8x shallower month's pool: ~95 bps at the margin),
    # where two half legs with arbitrage between them cost about half as much.
    cheap_buy, cheap_sell = None, None
    if target_bps is not None:
        cheap_buy, cheap_sell = sizes(
            min(target_bps, limit_bps),
            lambda cash: venue.buy_marginal_bps(cash, buy_step),
            lambda tokens: venue.sell_marginal_bps(tokens, sell_step),
        )
        cheap_buy, cheap_sell = min(cheap_buy, max_buy), min(cheap_sell, max_sell)
    buy_cost = venue.buy_slippage_bps(max(1, buy_cap // PROBE)) if buy_cap > 0 else 0
    sell_cost = (
        venue.sell_slippage_bps(max(1, sell_tokens_cap // PROBE)) if sell_tokens_cap > 0 else 0
    )
    offset = venue.mid_offset_bps()
    detail = f"pool mid {offset:+d} bps vs oracle, fee {venue.pool.fee // 100} bps"
    if max_buy == 0 or max_sell == 0:
        side = "buy" if max_buy == 0 else "sell"
        detail += f"; no {side} fits {limit_bps} bps (pool liquidity out of range or too thin)"
    return AssetDepth(
        token,
        max_buy,
        max_sell,
        limit_bps,
        detail,
        cheap_buy,
        cheap_sell,
        target_bps,
        buy_cost,
        sell_cost,
    )


def _depth_key(
    venue: PoolVenue, limit_bps: int, buy_cap: int, sell_cap_value: int, target_bps: int | None
) -> tuple[object, ...]:
    """Every input of ``pool_depth`` but the token, as values: the pool's whole state (its
    ticks as sorted pairs), the side and the price, the limits and the caps."""
    p = venue.pool
    pool = (p.sqrt_price_x96, p.tick, p.liquidity, p.fee, p.tick_spacing)
    return (
        pool,
        tuple(sorted(p.ticks.items())),
        venue.token_is_0,
        venue.price_num,
        venue.price_den,
        limit_bps,
        buy_cap,
        sell_cap_value,
        target_bps,
    )


class DepthMemo:
    """Each token's last ``pool_depth`` answer with every input it was given (the pool's state,
    the oracle price, the limits, the fund's total and the asset's value): ``pool_depth(...,
    kept=memo)`` answers the kept result when all of them are the same and searches (and keeps
    the new one) when any differs. ``pool_depth`` is pure (no I/O, no clock), so the answer is
    the same by construction; tests/offchain/fund/test_fund_depth.py checks it against the
    plain call on random sequences. At idle (a quiet pool, no flow) a keeper's tick then skips
    the depth search (about 170 quotes through the V3 maths a pool); a pool that moved pays it
    in full."""

    def __init__(self) -> None:
        self.kept: dict[str, tuple[tuple[object, ...], AssetDepth]] = {}


def unlimited(token: str) -> AssetDepth:
    return AssetDepth(token)
