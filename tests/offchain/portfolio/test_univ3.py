"""keepers.core.univ3: TickMath/SwapMath invariants (the on-chain match is in
tests/contracts/portfolio/test_uniswap_deployment.py)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepers.core import univ3
from keepers.portfolio.planning import V3Market, V3Pool


def test_get_sqrt_ratio_at_tick__bounds_and_zero__match_tickmath_constants():
    assert univ3.get_sqrt_ratio_at_tick(univ3.MIN_TICK) == univ3.MIN_SQRT_RATIO
    assert univ3.get_sqrt_ratio_at_tick(univ3.MAX_TICK) == univ3.MAX_SQRT_RATIO
    assert univ3.get_sqrt_ratio_at_tick(0) == univ3.Q96
    with pytest.raises(univ3.V3MathError):
        univ3.get_sqrt_ratio_at_tick(univ3.MAX_TICK + 1)


@settings(max_examples=2000, deadline=None)
@given(st.integers(univ3.MIN_TICK - 5, univ3.MAX_TICK + 5), st.integers(-3, 3))
def test_get_sqrt_ratio_at_tick__kept_answer__the_computed_one(tick, near):
    """The answers kept per tick are TickMath's computed anew (the function unwrapped), asked
    once and again, with a neighbour asked between (the cache's order); a tick out of range
    raises every time (an error is never kept)."""
    plain = univ3.get_sqrt_ratio_at_tick.__wrapped__
    for t in (tick, tick + near, tick):
        if univ3.MIN_TICK <= t <= univ3.MAX_TICK:
            assert univ3.get_sqrt_ratio_at_tick(t) == plain(t)
        else:
            for _ in range(2):
                with pytest.raises(univ3.V3MathError):
                    univ3.get_sqrt_ratio_at_tick(t)


@pytest.mark.parametrize("tick", [-887272, -50000, -1, 0, 1, 60, 69081, 887271])
def test_get_tick_at_sqrt_ratio__inverse_of_get_sqrt_ratio(tick):
    s = univ3.get_sqrt_ratio_at_tick(tick)
    assert univ3.get_tick_at_sqrt_ratio(s) == tick
    if tick > univ3.MIN_TICK:
        assert univ3.get_tick_at_sqrt_ratio(s - 1) == tick - 1


def test_get_tick_at_sqrt_ratio__log_guess_checked__same_as_binary_search(monkeypatch):
    """The float-log guess checked exactly gives the binary search's tick (the plain form) at
    both ends of the range, at every tick's ratio and either side of it, and at seeded random
    prices; a guess far off (a broken log constant) falls back to the search, same answer."""
    import random

    rng = random.Random(68)
    prices = [univ3.MIN_SQRT_RATIO, univ3.MAX_SQRT_RATIO - 1]
    ticks = [univ3.MIN_TICK, univ3.MIN_TICK + 1, -1, 0, 1, univ3.MAX_TICK - 1]
    ticks += [rng.randint(univ3.MIN_TICK, univ3.MAX_TICK - 1) for _ in range(5_000)]
    for t in ticks:
        r, up = univ3.get_sqrt_ratio_at_tick(t), univ3.get_sqrt_ratio_at_tick(t + 1)
        prices += [r, r + 1, up - 1, rng.randint(r, up - 1)] + (
            [r - 1] if t > univ3.MIN_TICK else []
        )
    prices += [rng.randint(univ3.MIN_SQRT_RATIO, univ3.MAX_SQRT_RATIO - 1) for _ in range(5_000)]
    for p in prices:
        assert univ3.get_tick_at_sqrt_ratio(p) == univ3._tick_by_search(p), p
    monkeypatch.setattr(univ3, "_LOG_TICK", univ3._LOG_TICK * 1.01)  # guesses far off
    for p in prices[:: len(prices) // 200]:
        assert univ3.get_tick_at_sqrt_ratio(p) == univ3._tick_by_search(p), p


def _pool():
    price = univ3.encode_price_sqrt(3_000 * 10**6, 10**18)  # 3,000 USDT(6) per ETH(18)
    tick = univ3.get_tick_at_sqrt_ratio(price)
    positions = [
        (tick - tick % 60 - 600, tick - tick % 60 + 600, 10**16),
        (tick - tick % 60 - 6000, tick - tick % 60 + 6000, 3 * 10**16),
    ]
    return univ3.PoolState.from_positions(price, 3000, positions)


@pytest.mark.parametrize("zero_for_one", [True, False])
def test_swap__large_trade__crosses_ticks_and_conserves(zero_for_one):
    pool = _pool()
    amount = 80 * 10**18 if zero_for_one else 240_000 * 10**6
    res = univ3.swap(pool, zero_for_one, amount)
    assert res.state.liquidity != pool.liquidity  # left the inner range
    paid, got = (res.amount0, -res.amount1) if zero_for_one else (res.amount1, -res.amount0)
    assert paid == amount and got > 0
    # the price moved against the trader
    assert (res.state.sqrt_price_x96 < pool.sqrt_price_x96) == zero_for_one


def test_quote_exact_output__then_exact_input__buys_at_least_the_amount():
    pool = _pool()
    for want in (10**6, 10**18, 50 * 10**18):
        need, _ = univ3.quote_exact_output(pool, False, want)
        got, _ = univ3.quote_exact_input(pool, False, need)
        assert got >= want
        less, _ = univ3.quote_exact_input(pool, False, need - need // 10**4 - 1)
        assert less < want


def test_v3_market__quote_for__smallest_input():
    market = V3Market((V3Pool(_pool(), True),))
    want = 7 * 10**18
    need = market.quote_for(0, want)
    assert market.buy(0, need) >= want > market.buy(0, need - 1)


def test_quote_exact_input__beyond_all_liquidity__raises():
    pool = _pool()
    with pytest.raises(univ3.V3MathError):
        univ3.quote_exact_input(pool, False, 10**30)
