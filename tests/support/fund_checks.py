"""Checks, steps and factories the deployed-fund contract tests share (tests/contracts/fund): what
the fund holds, every rebalance refused while a held feed is down, every key gone, a fund handed
over to a timelock."""

from __future__ import annotations

from typing import Any

import ape

from ballast_dev.deployment.fund import MoveLimitsSpec, deploy_core, grant_roles, hand_over


def holdings(fund: Any, controller: Any, usdt: Any, vault: Any) -> dict[str, int]:
    """Units of each listed asset the controller holds, and the vault's base-coin cash."""
    return {sym: int(tok.balanceOf(controller)) for sym, tok in fund.assets.items()} | {
        "cash": int(usdt.balanceOf(vault))
    }


def assert_every_rebalance_refused_while_feed_down(
    fund: Any, controller: Any, usdt: Any, vault: Any, callers: tuple[Any, ...]
) -> dict[str, int]:
    """Each caller's rebalance, forced or not, is refused MarkWhileFeedDown and moves nothing
    (the holdings after each try are those before the first); answers those holdings."""
    before = holdings(fund, controller, usdt, vault)
    for who in callers:
        for force in (False, True):
            with ape.reverts(controller.MarkWhileFeedDown):
                controller.rebalance(force, sender=who)
            assert holdings(fund, controller, usdt, vault) == before
    return before


def revoke_every_key(
    vault: Any, controller: Any, keeper: Any, gov: Any, guardian: Any, deployer: Any
) -> None:
    """Every key gone: the keeper's, the admin's and the guardian's roles revoked, the deployer's
    (the timelock's seat in these tests) renounced, on both contracts."""
    for c in (vault, controller):
        for name, who in (
            ("KEEPER_ROLE", keeper),
            ("ADMIN_ROLE", gov),
            ("GUARDIAN_ROLE", guardian),
        ):
            c.revokeRole(getattr(c, name)(), who, sender=deployer)
        for name in ("ADMIN_ROLE", "DEFAULT_ADMIN_ROLE"):
            c.renounceRole(getattr(c, name)(), deployer, sender=deployer)


# Move budgets of the timelocked-admin tests: the fund starts at START; raising them to LOOSER
# is a risk-increasing change only the timelock may make.
START_LIMITS = MoveLimitsSpec(loss_budget=10**24, notional_budget=10**27)
LOOSER_LIMITS = MoveLimitsSpec(loss_budget=10**25, notional_budget=10**28)


def timelocked_fund(
    project: Any,
    deployer: Any,
    admin: Any,
    keeper: Any,
    guardian: Any,
    delay: int,
    **hand_over_kw: Any,
) -> Any:
    """A 6-decimal fund deployed as the deploy does it: deploy_core (START_LIMITS) with the
    deployer as admin, roles granted (ADMIN_ROLE to `admin`, the keeper's and the guardian's),
    then handed over to a FundTimelock of `delay` proposed and executed by `admin`."""
    cash = deployer.deploy(project.TestStablecoin, "Tether USD (test)", "USDT", 6)
    f = deploy_core(project, deployer, cash, limits=START_LIMITS)
    grant_roles(f, admin, keepers=[keeper], guardians=[guardian], sender=deployer)
    hand_over(project, f, deployer, admin, delay, **hand_over_kw)
    return f
