"""A fund over a real Uniswap V3 pool, made by role-named factories (in the manner of Yearn V3's
``create_vault``): the set-up the due-run sandwich and move-limit tests shared as copies.

- :func:`list_pool_token` lists a freshly minted 18-decimal token (TBILL) in a fund's tier
  through the UniswapV3Adapter, its full-range pool created at the feed's price.
- :func:`create_pool_fund` deploys the base stablecoin, Uniswap V3 (real bytecode from npm) and
  the fund's core with the given move limits and risk, grants the roles (``accounts[7]`` as the
  rebalancer: REBALANCER_ROLE, as the fund's Rebalancer contract holds it), lists TBILL on the
  pool in L3 and an ERC-4626 money-market fund (MMF) in L2, and approves the vault for the
  deployer. It returns the pieces by name.
"""

from __future__ import annotations

from typing import Any

from ballast_dev.deployment.fund import (
    MoveLimitsSpec,
    RiskSpec,
    add_asset,
    deploy_core,
    grant_roles,
)
from ballast_dev.deployment.uniswap import create_pool, deploy_uniswap

REBALANCER_INDEX = 7  # the account playing the fund's Rebalancer (REBALANCER_ROLE)
DAY = 86_400


def day_limits(unit: int, loss: int, notional: int, bound_bps: int = 100) -> MoveLimitsSpec:
    """Per-day budgets of ``loss`` and ``notional`` whole base tokens, the controller's own
    swaps bound at ``bound_bps`` from the oracle (internalSlippageBps)."""
    return MoveLimitsSpec(loss_budget=loss * unit, notional_budget=notional * unit, window=DAY,
                          internal_slippage_bps=bound_bps)  # fmt: skip


def list_pool_token(
    project: Any,
    fund: Any,
    deployer: Any,
    usdt: Any,
    uni: Any,
    *,
    fee: int,
    price: int,
    pool_tokens: int,
    tier: int = 2,
    minted: int = 10**10,
    adapter: Any = None,
    **asset: Any,
) -> dict[str, Any]:
    """TBILL (18 decimals, ``minted`` whole tokens to the deployer) listed in ``tier`` through a
    UniswapV3Adapter (a new one unless given) on a full-range pool at ``fee`` holding
    ``pool_tokens`` TBILL and their value in ``usdt`` at ``price``; its feed answers ``price``.
    The deployer must hold the pool's ``usdt`` side. ``asset`` goes to ``add_asset``."""
    unit = 10 ** int(usdt.decimals())
    if adapter is None:
        adapter = deployer.deploy(project.UniswapV3Adapter, uni.router, usdt, deployer)
    token = deployer.deploy(project.TestStablecoin, "Tokenized T-Bill (test)", "TBILL", 18)
    token.mint(deployer, minted * 10**18, sender=deployer)
    create_pool(uni, token, usdt, fee, (price * unit, 10**18),
                (pool_tokens * 10**18, pool_tokens * price * unit), deployer)  # fmt: skip
    adapter.setPoolFee(token, fee, sender=deployer)
    feed = deployer.deploy(project.TestPriceFeed, 8, price * 10**8)
    add_asset(fund, deployer, symbol="TBILL", token=token, tier=tier, adapter=adapter, feed=feed,
              **asset)  # fmt: skip
    return dict(rwa=token, adapter=adapter, tfeed=feed)


def create_pool_fund(
    project: Any,
    accounts: Any,
    deployer: Any,
    gov: Any,
    keeper: Any,
    guardian: Any,
    base_decimals: int,
    *,
    limits: MoveLimitsSpec,
    risk: RiskSpec,
    fee: int,
    price: int,
    pool_usdt: int,
    minted_usdt: int = 10**11,
    minted_tbill: int = 10**10,
) -> dict[str, Any]:
    """A fund over ``base_decimals`` USDT with TBILL on a real pool (``pool_usdt`` a side at
    ``price``, ``fee``) in L3 and an ERC-4626 MMF in L2, both allowed the whole fund
    (concentration 100%). Keys: fund, usdt, rwa, uni, unit, mmf, tfeed, fee, rebalancer,
    adapter (the pool's), erc4626, pool."""
    unit = 10**base_decimals
    usdt = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", base_decimals)
    uni = deploy_uniswap(deployer, with_quoter=False)
    f = deploy_core(project, deployer, usdt, risk=risk, limits=limits)
    grant_roles(f, gov, keepers=[keeper], guardians=[guardian], sender=deployer)
    rebalancer = accounts[REBALANCER_INDEX]
    f.controller.grantRole(f.controller.REBALANCER_ROLE(), rebalancer, sender=deployer)
    usdt.mint(deployer, minted_usdt * unit, sender=deployer)
    tbill = list_pool_token(project, f, deployer, usdt, uni, fee=fee, price=price,
                            pool_tokens=pool_usdt // price, minted=minted_tbill,
                            max_concentration_bps=10_000)  # fmt: skip
    erc4626 = deployer.deploy(project.ERC4626Adapter)
    mmf = deployer.deploy(project.TestMoneyMarketFund, usdt, "MMF", "MMF")
    add_asset(f, deployer, symbol="MMF", token=mmf, tier=1, adapter=erc4626,
              feed=deployer.deploy(project.TestPriceFeed, 8, 10**8), max_concentration_bps=10_000)  # fmt: skip
    usdt.approve(f.vault, 2**256 - 1, sender=deployer)
    pool = uni.pool_at(uni.factory.getPool(tbill["rwa"], usdt, fee))
    return dict(fund=f, usdt=usdt, uni=uni, unit=unit, mmf=mmf, fee=fee, rebalancer=rebalancer,
                erc4626=erc4626, pool=pool, **tbill)  # fmt: skip
