"""Deploy a real Uniswap V3 (factory, SwapRouter, NonfungiblePositionManager, QuoterV2) with ape.

The bytecode is the audited build shipped in npm `@uniswap/v3-core` 1.0.1 and
`@uniswap/v3-periphery` 1.4.4 (node_modules/, installed by `make setup`). The periphery computes
pool addresses from POOL_INIT_CODE_HASH baked into its bytecode; `pool_init_code_hash()` hashes
the v3-core pool creation code so `deploy_uniswap` can check they agree (they do for these two
versions: 0xe34f199b...8b54), which is what lets the position manager and router find pools.

Usage (tests, demo, fund adapter tests)::

    from ballast_dev.deployment.uniswap import deploy_uniswap, create_pool
    uni = deploy_uniswap(deployer)
    pool = create_pool(uni, usdt, wbtc, 3000, (50_000 * 10**6, 10**8), (amount_usdt, amount_wbtc),
                       deployer)
    pool.state()  # keepers.core.univ3.PoolState, for exact off-chain quotes

Tokens passed to `create_pool` must already be held by `deployer` (it approves and mints the
position). Everything here does I/O through ape; the math lives in keepers/core/univ3.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from ballast_dev.deployment import npm_artifacts
from keepers.core import univ3

ARTIFACTS = {
    "UniswapV3Factory": "@uniswap/v3-core/artifacts/contracts/UniswapV3Factory.sol/UniswapV3Factory.json",
    "UniswapV3Pool": "@uniswap/v3-core/artifacts/contracts/UniswapV3Pool.sol/UniswapV3Pool.json",
    "SwapRouter": "@uniswap/v3-periphery/artifacts/contracts/SwapRouter.sol/SwapRouter.json",
    "NonfungiblePositionManager": (
        "@uniswap/v3-periphery/artifacts/contracts/NonfungiblePositionManager.sol/"
        "NonfungiblePositionManager.json"
    ),
    "QuoterV2": "@uniswap/v3-periphery/artifacts/contracts/lens/QuoterV2.sol/QuoterV2.json",
}
#: The constant in v3-periphery 1.4.4's PoolAddress library.
PERIPHERY_POOL_INIT_CODE_HASH = "0xe34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
MAX_DEADLINE = 2**64


class UniswapDeploymentError(RuntimeError):
    pass


NPM = npm_artifacts.Package(ARTIFACTS, UniswapDeploymentError)
container = NPM.container  # an ape ContractContainer for one of ARTIFACTS


def pool_init_code_hash() -> str:
    """keccak256 of the v3-core pool creation code (what CREATE2 addresses are derived from)."""
    return "0x" + keccak(hexstr=NPM.artifact("UniswapV3Pool")["bytecode"]).hex()


@dataclass
class UniswapV3:
    factory: Any
    router: Any
    position_manager: Any
    quoter: Any
    weth: Any

    def pool_at(self, address: str) -> Any:
        return container("UniswapV3Pool").at(address)


@dataclass
class Pool:
    """A pool this module created, with the ticks of the positions it minted."""

    contract: Any
    token0: str
    token1: str
    fee: int
    tick_spacing: int
    ticks: list[int] = field(default_factory=list)

    @property
    def address(self) -> str:
        return str(self.contract.address)

    def state(self) -> univ3.PoolState:
        return read_pool_state(self.contract, self.ticks)


def deploy_uniswap(
    deployer: Any, weth: Any = None, with_quoter: bool = True, steps: Any = None
) -> UniswapV3:
    """Deploys factory, SwapRouter, NonfungiblePositionManager (and QuoterV2).

    `weth` defaults to a fresh TestWETH9 from this project; the position manager's token
    descriptor is only used by tokenURI, so the zero address is passed.
    """
    from ape import project

    if pool_init_code_hash() != PERIPHERY_POOL_INIT_CODE_HASH:
        raise UniswapDeploymentError(
            f"v3-core pool init code hash {pool_init_code_hash()} != periphery's "
            f"{PERIPHERY_POOL_INIT_CODE_HASH}: the router could not find pools"
        )
    from ballast_dev.deployment.record import DirectSteps

    steps = steps or DirectSteps()
    d = deployer
    if weth is None:
        weth = steps.deploy("deploy:uniswap.weth", project.TestWETH9, sender=d)
    factory = steps.deploy("deploy:uniswap.factory", container("UniswapV3Factory"), sender=d)
    router = steps.deploy("deploy:uniswap.router", container("SwapRouter"), factory, weth, sender=d)
    npm = steps.deploy(
        "deploy:uniswap.position_manager",
        container("NonfungiblePositionManager"),
        factory,
        weth,
        "0x" + "00" * 20,
        sender=d,
    )
    quoter = (
        steps.deploy("deploy:uniswap.quoter", container("QuoterV2"), factory, weth, sender=d)
        if with_quoter
        else None
    )
    return UniswapV3(factory, router, npm, quoter, weth)


def sqrt_price_for(token_a: Any, token_b: Any, price: tuple[int, int]) -> tuple[int, bool]:
    """sqrtPriceX96 for `price` = (raw amount of B, raw amount of A), i.e. B per A.

    Returns (sqrtPriceX96 of the token1/token0 pool, whether A is token0).
    """
    amount_b, amount_a = price
    a_is_token0 = int(str(token_a.address), 16) < int(str(token_b.address), 16)
    if a_is_token0:
        return univ3.encode_price_sqrt(amount_b, amount_a), True
    return univ3.encode_price_sqrt(amount_a, amount_b), False


def create_pool(
    uni: UniswapV3,
    token_a: Any,
    token_b: Any,
    fee: int,
    price: tuple[int, int],
    liquidity_amounts: tuple[int, int],
    deployer: Any,
    ranges: list[tuple[int, int]] | None = None,
    steps: Any = None,
) -> Pool:
    """Creates and initialises the A/B pool at `price` (B per A, raw units) and adds liquidity.

    `liquidity_amounts` = (amount of A, amount of B) offered, split evenly over `ranges`; each
    range is (lower, upper) in ticks relative to the initial tick, rounded outwards to the
    spacing (default: one full-range position). The position manager takes what each range
    needs at the current price; the rest stays with `deployer`.
    """
    from ballast_dev.deployment.record import DirectSteps

    steps = steps or DirectSteps()
    sqrt_price, a_is_token0 = sqrt_price_for(token_a, token_b, price)
    t0, t1 = (token_a, token_b) if a_is_token0 else (token_b, token_a)
    amount0, amount1 = liquidity_amounts if a_is_token0 else liquidity_amounts[::-1]
    npm = uni.position_manager
    # the step names of a resumable deploy: the same on every run (addresses are not)
    key = "pool:" + "/".join(sorted([str(t0.symbol()), str(t1.symbol())])) + f"/{fee}"
    steps.send(
        f"{key}.create",
        npm.createAndInitializePoolIfNecessary,
        t0,
        t1,
        fee,
        sqrt_price,
        sender=deployer,
    )
    contract = uni.pool_at(uni.factory.getPool(t0, t1, fee))
    spacing = int(contract.tickSpacing())
    tick = int(contract.slot0()[1])  # as created: nothing trades the pool while it is seeded
    steps.send(f"{key}.approve0", t0.approve, npm, amount0, sender=deployer)
    steps.send(f"{key}.approve1", t1.approve, npm, amount1, sender=deployer)
    boundaries: set[int] = set()
    use: list[tuple[int, int] | None] = list(ranges) if ranges else [None]
    for i, rng in enumerate(use):
        lower, upper = univ3.position_ticks(tick, spacing, rng)
        params = (
            t0, t1, fee, lower, upper,
            amount0 // len(use), amount1 // len(use), 0, 0, deployer, MAX_DEADLINE,
        )  # fmt: skip
        steps.send(f"{key}.mint:{i}", npm.mint, params, sender=deployer)
        boundaries.update((lower, upper))
    return Pool(contract, str(t0.address), str(t1.address), fee, spacing, sorted(boundaries))


def read_pool_state(pool: Any, ticks: list[int]) -> univ3.PoolState:
    """The pool's swap-relevant state; `ticks` lists every tick that may be initialised."""
    slot0 = pool.slot0()
    net: dict[int, int] = {}
    for t in ticks:
        info = pool.ticks(t)
        if info[-1]:  # initialized
            net[t] = int(info[1])
    return univ3.PoolState(
        sqrt_price_x96=int(slot0[0]),
        tick=int(slot0[1]),
        liquidity=int(pool.liquidity()),
        fee=int(pool.fee()),
        tick_spacing=int(pool.tickSpacing()),
        ticks=net,
    )


def swap_exact_input(
    uni: UniswapV3, token_in: Any, token_out: Any, fee: int, amount_in: int, sender: Any
) -> int:
    """exactInputSingle through the router (approves first); returns the amount received."""
    token_in.approve(uni.router, amount_in, sender=sender)
    before = int(token_out.balanceOf(sender))
    uni.router.exactInputSingle(
        (token_in, token_out, fee, sender, MAX_DEADLINE, amount_in, 0, 0), sender=sender
    )
    return int(token_out.balanceOf(sender)) - before


def arbitrage_to_price(
    uni: UniswapV3, token: Any, quote: Any, fee: int, price: tuple[int, int], trader: Any
) -> int:
    """Trades the token/quote pool to `price` (raw quote per raw token, as in create_pool), as
    an arbitrageur would after the oracle moves: one exactInputSingle with a price limit, so the
    pool takes only what reaching the limit needs. `trader` must hold enough of both tokens.
    Returns the amount paid in (0 when the pool is already there)."""
    target, token_is_0 = sqrt_price_for(token, quote, price)
    pool = uni.pool_at(uni.factory.getPool(token, quote, fee))
    current = int(pool.slot0()[0])
    if current == target:
        return 0
    # sqrtPrice is token1 per token0: selling token0 lowers it, selling token1 raises it
    sell_token0 = target < current
    t_in, t_out = (
        ((token, quote) if token_is_0 else (quote, token))
        if sell_token0
        else ((quote, token) if token_is_0 else (token, quote))
    )
    budget = int(t_in.balanceOf(trader))
    # the router may spend the whole balance: an allowance already equal to it (what the last
    # arbitrage in this direction left: its budget less what it paid) is not approved again,
    # the same allowance before and after the swap as with the approval (issue 68: a
    # transaction less per arbitrage, the demo months make hundreds)
    if int(t_in.allowance(trader, uni.router)) != budget:
        t_in.approve(uni.router, budget, sender=trader)
    uni.router.exactInputSingle(
        (t_in, t_out, fee, trader, MAX_DEADLINE, budget, 0, target), sender=trader
    )
    return budget - int(t_in.balanceOf(trader))


def arbitrage_to_oracle(fund: Any, uni: UniswapV3, symbols: list[str], trader: Any) -> None:
    """Trades each of the fund's DEX assets' pools to its feed's price (8-decimal answers),
    as arbitrageurs keep a real pool at the market price."""
    unit = 10 ** int(fund.cash.decimals())
    for sym in symbols:
        answer = int(fund.feeds[sym].latestAnswer())
        fee = int(fund.adapters["uniswap"].poolFee(fund.assets[sym]))
        price = (answer * unit // 10**8, 10**18)
        arbitrage_to_price(uni, fund.assets[sym], fund.cash, fee, price, trader)
