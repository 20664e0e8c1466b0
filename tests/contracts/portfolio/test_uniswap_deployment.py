"""ballast_dev.deployment.uniswap against real Uniswap V3 bytecode: swaps match the exact math."""

import pytest

from ballast_dev.deployment.uniswap import (
    PERIPHERY_POOL_INIT_CODE_HASH,
    create_pool,
    pool_init_code_hash,
    swap_exact_input,
)
from keepers.core import univ3


def test_pool_init_code_hash__npm_core_artifact__matches_periphery_constant():
    assert pool_init_code_hash() == PERIPHERY_POOL_INIT_CODE_HASH


def test_deploy_uniswap__router_and_manager__point_at_factory(uni):
    assert uni.router.factory() == uni.factory.address
    assert uni.position_manager.factory() == uni.factory.address
    assert uni.router.WETH9() == uni.weth.address


@pytest.mark.parametrize(
    "fee,ranges",
    [
        (3000, None),  # one full-range position
        (500, [(-600, 600), (-3000, 3000), (-20000, 200)]),  # overlapping concentrated ranges
    ],
)
def test_create_pool__router_swaps__match_exact_v3_math(
    uni, create_token, deployer, alice, fee, ranges
):
    usdt = create_token("USDT", 6, deployer, 10**16)
    wbtc = create_token("WBTC", 8, deployer, 10**14)
    # 50,000 USDT per WBTC, ~2M USDT of depth
    pool = create_pool(
        uni, wbtc, usdt, fee, (50_000 * 10**6, 10**8), (20 * 10**8, 10**12), deployer, ranges
    )
    assert pool.contract.liquidity() > 0
    usdt.mint(alice, 10**13, sender=deployer)
    wbtc.mint(alice, 10**10, sender=deployer)
    wbtc_is_0 = pool.token0 == wbtc.address
    liquidities = {pool.contract.liquidity()}
    # sizes from tiny to large enough to cross the concentrated ranges' edges
    for token_in, token_out, amount in [
        (usdt, wbtc, 1_000 * 10**6),
        (wbtc, usdt, 3 * 10**8),
        (usdt, wbtc, 600_000 * 10**6),
        (wbtc, usdt, 12 * 10**8),
    ]:
        state = pool.state()
        zero_for_one = (token_in == wbtc) == wbtc_is_0
        expected, after = univ3.quote_exact_input(state, zero_for_one, amount)
        got = swap_exact_input(uni, token_in, token_out, fee, amount, alice)
        assert got == expected
        chain_after = pool.state()
        assert (after.sqrt_price_x96, after.tick, after.liquidity) == (
            chain_after.sqrt_price_x96,
            chain_after.tick,
            chain_after.liquidity,
        )
        liquidities.add(chain_after.liquidity)
    if ranges:  # the large swaps crossed initialised ticks
        assert len(liquidities) > 1


def test_quoter__exact_output__matches_exact_v3_math(uni, create_token, deployer):
    usdt = create_token("USDT18", 18, deployer, 10**30)
    weth = create_token("WETHX", 18, deployer, 10**24)
    pool = create_pool(
        uni,
        weth,
        usdt,
        3000,
        (3_000 * 10**18, 10**18),
        (10**21, 3 * 10**24),
        deployer,
        [(-1200, 1200), (-6000, 6000)],
    )
    state = pool.state()
    weth_is_0 = pool.token0 == weth.address
    want = 50 * 10**18  # crosses the inner range
    need, _ = univ3.quote_exact_output(state, not weth_is_0, want)
    quoted = uni.quoter.quoteExactOutputSingle.call((usdt, weth, want, 3000, 0))
    assert quoted[0] == need
