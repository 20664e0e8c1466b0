"""Exact Uniswap V3 swap math in Python integers (pure, no I/O).

A line-by-line port of v3-core 1.0.1 (TickMath, SqrtPriceMath, SwapMath, TickBitmap's
nextInitializedTickWithinOneWord and UniswapV3Pool.swap's loop), so that a quote computed here
equals, to the wei, what the deployed pool returns. Protocol fees are not modelled (they are
off on every pool this project creates and do not change the trader's amounts anyway).

A pool is a `PoolState` (sqrtPriceX96, tick, in-range liquidity, fee in pips, tick spacing and
the liquidityNet of every initialised tick), so single-range and multi-tick liquidity are the
same thing. `swap` returns the signed token deltas seen by the pool (positive: the pool
received) and the state after the swap, like `IUniswapV3Pool.swap`.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from functools import lru_cache
from math import floor, isqrt, log

from keepers.core.errors import DomainError

Q96 = 1 << 96
Q128 = 1 << 128
Q192 = 1 << 192
UINT256_MAX = (1 << 256) - 1
UINT160_MAX = (1 << 160) - 1
MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
FEE_DENOMINATOR = 1_000_000
TICK_SPACINGS = {100: 1, 500: 10, 3000: 60, 10000: 200}


class V3MathError(DomainError, ArithmeticError):
    """A condition under which the Solidity code reverts."""


# ---------------------------------------------------------------- full math


def mul_div(a: int, b: int, denominator: int) -> int:
    if denominator == 0:
        raise V3MathError("mulDiv by zero")
    result = a * b // denominator
    if result > UINT256_MAX:
        raise V3MathError("mulDiv overflow")
    return result


def mul_div_rounding_up(a: int, b: int, denominator: int) -> int:
    result = mul_div(a, b, denominator)
    if (a * b) % denominator:
        result += 1
        if result > UINT256_MAX:
            raise V3MathError("mulDivRoundingUp overflow")
    return result


def div_rounding_up(x: int, y: int) -> int:
    return x // y + (1 if x % y else 0)


# ---------------------------------------------------------------- tick math

_TICK_MULTIPLIERS = (
    (0x2, 0xFFF97272373D413259A46990580E213A),
    (0x4, 0xFFF2E50F5F656932EF12357CF3C7FDCC),
    (0x8, 0xFFE5CACA7E10E4E61C3624EAA0941CD0),
    (0x10, 0xFFCB9843D60F6159C9DB58835C926644),
    (0x20, 0xFF973B41FA98C081472E6896DFB254C0),
    (0x40, 0xFF2EA16466C96A3843EC78B326B52861),
    (0x80, 0xFE5DEE046A99A2A811C461F1969C3053),
    (0x100, 0xFCBE86C7900A88AEDCFFC83B479AA3A4),
    (0x200, 0xF987A7253AC413176F2B074CF7815E54),
    (0x400, 0xF3392B0822B70005940C7A398E4B70F3),
    (0x800, 0xE7159475A2C29B7443B29C7FA6E889D9),
    (0x1000, 0xD097F3BDFD2022B8845AD8F792AA5825),
    (0x2000, 0xA9F746462D870FDF8A65DC1F90E061E5),
    (0x4000, 0x70D869A156D2A1B890BB3DF62BAF32F7),
    (0x8000, 0x31BE135F97D08FD981231505542FCFA6),
    (0x10000, 0x9AA508B5B7A84E1C677DE54F3E99BC9),
    (0x20000, 0x5D6AF8DEDB81196699C329225EE604),
    (0x40000, 0x2216E584F5FA1EA926041BEDFE98),
    (0x80000, 0x48A170391F7DC42444E8FA2),
)


@lru_cache(maxsize=1 << 13)
def get_sqrt_ratio_at_tick(tick: int) -> int:
    """TickMath.getSqrtRatioAtTick: sqrt(1.0001^tick) * 2^96, rounded up.

    Kept per tick (a pure function of it; a swap, a depth search and the tick search ask the
    same ticks around the price again and again: 1.3% of the test suite's samples): a kept
    answer is the computed one, and an out-of-range tick still raises each time."""
    abs_tick = abs(tick)
    if abs_tick > MAX_TICK:
        raise V3MathError(f"tick {tick} out of range")
    ratio = 0xFFFCB933BD6FAD37AA2D162D1A594001 if abs_tick & 0x1 else Q128
    for bit, multiplier in _TICK_MULTIPLIERS:
        if abs_tick & bit:
            ratio = (ratio * multiplier) >> 128
    if tick > 0:
        ratio = UINT256_MAX // ratio
    return (ratio >> 32) + (1 if ratio % (1 << 32) else 0)


_LOG_TICK = 2 / log(1.0001)  # ticks per natural log of the sqrt price
_Q96_FLOAT = float(1 << 96)


def get_tick_at_sqrt_ratio(sqrt_price_x96: int) -> int:
    """TickMath.getTickAtSqrtRatio: the greatest tick whose sqrt ratio is <= the price.

    TickMath computes it with a log2 approximation and then picks exactly this tick; here a
    float log guesses it (within a tick of the answer over the whole range) and the guess is
    checked exactly against getSqrtRatioAtTick: the tick returned is the one with
    ``ratio(t) <= price < ratio(t + 1)``, which only the answer satisfies (the ratio rises
    with the tick). A guess more than a few ticks off (never seen) falls back to the binary
    search, the plain form (tests/offchain/portfolio/test_univ3.py compares the two).
    """
    if not MIN_SQRT_RATIO <= sqrt_price_x96 < MAX_SQRT_RATIO:
        raise V3MathError("sqrt price out of range")
    t = min(MAX_TICK - 1, max(MIN_TICK, floor(log(sqrt_price_x96 / _Q96_FLOAT) * _LOG_TICK)))
    for _ in range(4):
        if get_sqrt_ratio_at_tick(t) > sqrt_price_x96:
            t -= 1
        elif get_sqrt_ratio_at_tick(t + 1) <= sqrt_price_x96:
            t += 1
        else:
            return t
        if not MIN_TICK <= t < MAX_TICK:
            break
    return _tick_by_search(sqrt_price_x96)


def _tick_by_search(sqrt_price_x96: int) -> int:
    """The greatest tick whose sqrt ratio is <= the price, by binary search (the plain form)."""
    lo, hi = MIN_TICK, MAX_TICK
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if get_sqrt_ratio_at_tick(mid) <= sqrt_price_x96:
            lo = mid
        else:
            hi = mid - 1
    return lo


def position_ticks(tick: int, spacing: int, rel: tuple[int, int] | None) -> tuple[int, int]:
    """Tick bounds of a position: `rel` ticks around `tick` rounded outwards to the spacing,
    or the widest usable range when `rel` is None."""
    if rel is None:
        widest = MAX_TICK // spacing * spacing
        return -widest, widest
    return (tick + rel[0]) // spacing * spacing, -(-(tick + rel[1]) // spacing) * spacing


def encode_price_sqrt(amount1: int, amount0: int) -> int:
    """sqrt(amount1 / amount0) * 2^96 (the raw token1-per-token0 price), rounded down."""
    return isqrt(amount1 * Q192 // amount0)


# ---------------------------------------------------------------- sqrt price math


def _next_sqrt_price_from_amount0_rounding_up(
    sqrt_p: int, liquidity: int, amount: int, add: bool
) -> int:
    if amount == 0:
        return sqrt_p
    numerator1 = liquidity << 96
    product = amount * sqrt_p
    if add:
        if product <= UINT256_MAX:
            denominator = numerator1 + product
            if denominator <= UINT256_MAX:
                return mul_div_rounding_up(numerator1, sqrt_p, denominator)
        return div_rounding_up(numerator1, numerator1 // sqrt_p + amount)
    if product > UINT256_MAX or numerator1 <= product:
        raise V3MathError("not enough token0 liquidity")
    result = mul_div_rounding_up(numerator1, sqrt_p, numerator1 - product)
    if result > UINT160_MAX:
        raise V3MathError("sqrt price overflow")
    return result


def _next_sqrt_price_from_amount1_rounding_down(
    sqrt_p: int, liquidity: int, amount: int, add: bool
) -> int:
    if add:
        result = sqrt_p + (amount << 96) // liquidity
        if result > UINT160_MAX:
            raise V3MathError("sqrt price overflow")
        return result
    quotient = div_rounding_up(amount << 96, liquidity)
    if sqrt_p <= quotient:
        raise V3MathError("not enough token1 liquidity")
    return sqrt_p - quotient


def get_next_sqrt_price_from_input(
    sqrt_p: int, liquidity: int, amount_in: int, zero_for_one: bool
) -> int:
    if zero_for_one:
        return _next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_in, True)
    return _next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_in, True)


def get_next_sqrt_price_from_output(
    sqrt_p: int, liquidity: int, amount_out: int, zero_for_one: bool
) -> int:
    if zero_for_one:
        return _next_sqrt_price_from_amount1_rounding_down(sqrt_p, liquidity, amount_out, False)
    return _next_sqrt_price_from_amount0_rounding_up(sqrt_p, liquidity, amount_out, False)


def get_amount0_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    numerator1 = liquidity << 96
    numerator2 = sqrt_b - sqrt_a
    if round_up:
        return div_rounding_up(mul_div_rounding_up(numerator1, numerator2, sqrt_b), sqrt_a)
    return mul_div(numerator1, numerator2, sqrt_b) // sqrt_a


def get_amount1_delta(sqrt_a: int, sqrt_b: int, liquidity: int, round_up: bool) -> int:
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a
    if round_up:
        return mul_div_rounding_up(liquidity, sqrt_b - sqrt_a, Q96)
    return mul_div(liquidity, sqrt_b - sqrt_a, Q96)


# ---------------------------------------------------------------- swap math


def compute_swap_step(
    sqrt_current: int, sqrt_target: int, liquidity: int, amount_remaining: int, fee_pips: int
) -> tuple[int, int, int, int]:
    """SwapMath.computeSwapStep -> (sqrtPriceNext, amountIn, amountOut, feeAmount)."""
    zero_for_one = sqrt_current >= sqrt_target
    exact_in = amount_remaining >= 0
    amount_in = amount_out = 0
    if exact_in:
        remaining_less_fee = mul_div(amount_remaining, FEE_DENOMINATOR - fee_pips, FEE_DENOMINATOR)
        amount_in = (
            get_amount0_delta(sqrt_target, sqrt_current, liquidity, True)
            if zero_for_one
            else get_amount1_delta(sqrt_current, sqrt_target, liquidity, True)
        )
        if remaining_less_fee >= amount_in:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_input(
                sqrt_current, liquidity, remaining_less_fee, zero_for_one
            )
    else:
        amount_out = (
            get_amount1_delta(sqrt_target, sqrt_current, liquidity, False)
            if zero_for_one
            else get_amount0_delta(sqrt_current, sqrt_target, liquidity, False)
        )
        if -amount_remaining >= amount_out:
            sqrt_next = sqrt_target
        else:
            sqrt_next = get_next_sqrt_price_from_output(
                sqrt_current, liquidity, -amount_remaining, zero_for_one
            )
    reached = sqrt_target == sqrt_next
    if zero_for_one:
        if not (reached and exact_in):
            amount_in = get_amount0_delta(sqrt_next, sqrt_current, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount1_delta(sqrt_next, sqrt_current, liquidity, False)
    else:
        if not (reached and exact_in):
            amount_in = get_amount1_delta(sqrt_current, sqrt_next, liquidity, True)
        if not (reached and not exact_in):
            amount_out = get_amount0_delta(sqrt_current, sqrt_next, liquidity, False)
    if not exact_in and amount_out > -amount_remaining:
        amount_out = -amount_remaining
    if exact_in and sqrt_next != sqrt_target:
        fee_amount = amount_remaining - amount_in
    else:
        fee_amount = mul_div_rounding_up(amount_in, fee_pips, FEE_DENOMINATOR - fee_pips)
    return sqrt_next, amount_in, amount_out, fee_amount


# ---------------------------------------------------------------- pool


@dataclass(frozen=True)
class PoolState:
    """What a swap reads from a pool: slot0, liquidity, fee, spacing, initialised ticks.

    `ticks` maps each initialised tick to its liquidityNet (signed). `tick_list` is derived.
    """

    sqrt_price_x96: int
    tick: int
    liquidity: int
    fee: int
    tick_spacing: int
    ticks: dict[int, int] = field(default_factory=dict)
    tick_list: tuple[int, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "tick_list", tuple(sorted(self.ticks)))

    @classmethod
    def from_positions(
        cls,
        sqrt_price_x96: int,
        fee: int,
        positions: list[tuple[int, int, int]],
        tick_spacing: int | None = None,
    ) -> PoolState:
        """A pool holding `positions` as (tickLower, tickUpper, liquidity)."""
        tick = get_tick_at_sqrt_ratio(sqrt_price_x96)
        ticks: dict[int, int] = {}
        active = 0
        for lower, upper, liq in positions:
            ticks[lower] = ticks.get(lower, 0) + liq
            ticks[upper] = ticks.get(upper, 0) - liq
            if lower <= tick < upper:
                active += liq
        spacing = tick_spacing if tick_spacing is not None else TICK_SPACINGS[fee]
        return cls(sqrt_price_x96, tick, active, fee, spacing, ticks)


def _next_initialized_tick_within_one_word(
    tick_list: tuple[int, ...], tick: int, spacing: int, lte: bool
) -> tuple[int, bool]:
    """TickBitmap.nextInitializedTickWithinOneWord over a sorted list of initialised ticks."""
    compressed = tick // spacing  # Solidity rounds toward negative infinity here too
    if lte:
        word_start = (compressed >> 8) << 8
        i = bisect_right(tick_list, compressed * spacing) - 1
        if i >= 0 and tick_list[i] >= word_start * spacing:
            return tick_list[i], True
        return word_start * spacing, False
    compressed += 1
    word_end = ((compressed >> 8) << 8) + 255
    i = bisect_left(tick_list, compressed * spacing)
    if i < len(tick_list) and tick_list[i] <= word_end * spacing:
        return tick_list[i], True
    return word_end * spacing, False


@dataclass(frozen=True)
class SwapResult:
    amount0: int  # signed, as IUniswapV3Pool.swap: positive = paid into the pool
    amount1: int
    state: PoolState


def swap(
    pool: PoolState,
    zero_for_one: bool,
    amount_specified: int,
    sqrt_price_limit_x96: int | None = None,
) -> SwapResult:
    """UniswapV3Pool.swap: amount_specified > 0 exact input, < 0 exact output."""
    if amount_specified == 0:
        raise V3MathError("AS")
    if sqrt_price_limit_x96 is None:
        sqrt_price_limit_x96 = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
    if zero_for_one:
        if not (MIN_SQRT_RATIO < sqrt_price_limit_x96 < pool.sqrt_price_x96):
            raise V3MathError("SPL")
    elif not (pool.sqrt_price_x96 < sqrt_price_limit_x96 < MAX_SQRT_RATIO):
        raise V3MathError("SPL")
    exact_input = amount_specified > 0
    remaining = amount_specified
    calculated = 0
    sqrt_price, tick, liquidity = pool.sqrt_price_x96, pool.tick, pool.liquidity
    while remaining != 0 and sqrt_price != sqrt_price_limit_x96:
        start = sqrt_price
        tick_next, initialized = _next_initialized_tick_within_one_word(
            pool.tick_list, tick, pool.tick_spacing, zero_for_one
        )
        tick_next = max(MIN_TICK, min(MAX_TICK, tick_next))
        sqrt_next = get_sqrt_ratio_at_tick(tick_next)
        beyond = (
            sqrt_next < sqrt_price_limit_x96 if zero_for_one else sqrt_next > sqrt_price_limit_x96
        )
        target = sqrt_price_limit_x96 if beyond else sqrt_next
        sqrt_price, amount_in, amount_out, fee_amount = compute_swap_step(
            sqrt_price, target, liquidity, remaining, pool.fee
        )
        if exact_input:
            remaining -= amount_in + fee_amount
            calculated -= amount_out
        else:
            remaining += amount_out
            calculated += amount_in + fee_amount
        if sqrt_price == sqrt_next:
            if initialized:
                net = pool.ticks[tick_next]
                liquidity += -net if zero_for_one else net
                if liquidity < 0:
                    raise V3MathError("LS")
            tick = tick_next - 1 if zero_for_one else tick_next
        elif sqrt_price != start:
            tick = get_tick_at_sqrt_ratio(sqrt_price)
    if zero_for_one == exact_input:
        amount0, amount1 = amount_specified - remaining, calculated
    else:
        amount0, amount1 = calculated, amount_specified - remaining
    state = replace(pool, sqrt_price_x96=sqrt_price, tick=tick, liquidity=liquidity)
    return SwapResult(amount0, amount1, state)


def quote_exact_input(pool: PoolState, zero_for_one: bool, amount_in: int) -> tuple[int, PoolState]:
    """What SwapRouter.exactInputSingle (no price limit) pays out, and the pool after it.

    Raises V3MathError when the pool cannot absorb the whole input (the router would then
    return less than asked for a partial fill; we treat that as not executable).
    """
    result = swap(pool, zero_for_one, amount_in)
    paid = result.amount0 if zero_for_one else result.amount1
    if paid != amount_in:
        raise V3MathError("pool ran out of liquidity")
    out = -(result.amount1 if zero_for_one else result.amount0)
    return out, result.state


def quote_exact_output(
    pool: PoolState, zero_for_one: bool, amount_out: int
) -> tuple[int, PoolState]:
    """The input SwapRouter.exactOutputSingle charges for exactly `amount_out`."""
    result = swap(pool, zero_for_one, -amount_out)
    received = -(result.amount1 if zero_for_one else result.amount0)
    if received != amount_out:
        raise V3MathError("pool ran out of liquidity")
    return (result.amount0 if zero_for_one else result.amount1), result.state


def liquidity_for_amounts(
    sqrt_price_x96: int, sqrt_a: int, sqrt_b: int, amount0: int, amount1: int
) -> int:
    """LiquidityAmounts.getLiquidityForAmounts (periphery), what the position manager mints."""
    if sqrt_a > sqrt_b:
        sqrt_a, sqrt_b = sqrt_b, sqrt_a

    def for0(a: int, b: int, amount: int) -> int:
        return mul_div(amount, mul_div(a, b, Q96), b - a)

    def for1(a: int, b: int, amount: int) -> int:
        return mul_div(amount, Q96, b - a)

    if sqrt_price_x96 <= sqrt_a:
        return for0(sqrt_a, sqrt_b, amount0)
    if sqrt_price_x96 < sqrt_b:
        return min(for0(sqrt_price_x96, sqrt_b, amount0), for1(sqrt_a, sqrt_price_x96, amount1))
    return for1(sqrt_a, sqrt_b, amount1)
