"""A fund whose every asset is a plain ERC-4626 venue (TestMoneyMarketFund: one share per base
unit spent), for the contract tests that need their own asset set (the gas snapshots, the buy
guards, the budgets, top-3). One builder, so that each test states only what differs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ballast_dev.deployment.fund import (
    FEED_DECIMALS,
    FundDeployment,
    MoveLimitsSpec,
    RiskSpec,
    add_asset,
    deploy_core,
    grant_roles,
)

# no minimum move, no top-3 limit: each test sets the guard it is about
OPEN_RISK = RiskSpec(min_move_value=0, max_top3_bps=10_000)
DEFAULT_LIMITS = MoveLimitsSpec()


@dataclass(frozen=True)
class Venue:
    """One asset: its tier (1 = L2, 2 = L3), its feed's price (feed decimals), cap and
    concentration limit."""

    tier: int
    price_e8: int = 10**FEED_DECIMALS
    cap: int = 2**128 - 1
    max_concentration_bps: int = 10_000


def erc4626_fund(
    project: Any,
    deployer: Any,
    keeper: Any,
    usdt: Any,
    adapter: Any,
    create_feed: Any,
    venues: list[Venue],
    *,
    prefix: str = "a",
    risk: RiskSpec = OPEN_RISK,
    limits: MoveLimitsSpec = DEFAULT_LIMITS,
    deposit: int = 0,
) -> FundDeployment:
    """Deploys the fund (deployer the admin, `keeper` its keeper) over `venues`, listed as
    `{prefix}{i}`; with `deposit`, the deployer deposits that many base units into it."""
    f = deploy_core(project, deployer, usdt, risk=risk, limits=limits)
    grant_roles(f, deployer, keepers=[keeper], guardians=[], sender=deployer)
    for i, v in enumerate(venues):
        token = deployer.deploy(
            project.TestMoneyMarketFund, usdt.address, f"{prefix}{i}", f"{prefix.upper()}{i}"
        )
        add_asset(
            f,
            deployer,
            symbol=f"{prefix}{i}",
            token=token,
            tier=v.tier,
            adapter=adapter,
            feed=create_feed(v.price_e8),
            cap=v.cap,
            max_concentration_bps=v.max_concentration_bps,
        )
    if deposit:
        usdt.mint(deployer, deposit, sender=deployer)
        usdt.approve(f.vault, 2**256 - 1, sender=deployer)
        f.vault.deposit(deposit, deployer, sender=deployer)
    return f
