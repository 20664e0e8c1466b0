"""Deploys the PlanExecutor in front of a fund's controller and moves the keeper behind it.

After `deploy_plan_executor` the keeper key holds KEEPER_ROLE on the executor only (its direct
role on the controller is revoked), the executor holds the controller's KEEPER_ROLE, the admin
Safe holds the executor's ADMIN_ROLE (risk-reducing changes) and the timelock its
DEFAULT_ADMIN_ROLE (risk-increasing ones); the deployer keeps nothing on the executor.

`deployer` must still hold DEFAULT_ADMIN_ROLE on the controller (before `hand_over`), or the
controller's role changes must be proposed through the timelock instead.
"""

from __future__ import annotations

from typing import Any

from ballast_dev.deployment.fund import FundDeployment


def deploy_plan_executor(
    project: Any,
    fund: FundDeployment,
    deployer: Any,
    *,
    safe: Any,
    timelock: Any,
    keeper: Any,
    approval_threshold: int,
    required_approvals: int = 2,
) -> Any:
    """`approval_threshold` in base units of the fund's cash token."""
    c = fund.controller
    ex = deployer.deploy(
        project.PlanExecutor, c, safe, deployer, approval_threshold, required_approvals
    )
    ex.grantRole(ex.KEEPER_ROLE(), keeper, sender=deployer)
    ex.grantRole(ex.ADMIN_ROLE(), safe, sender=deployer)
    ex.grantRole(ex.DEFAULT_ADMIN_ROLE(), timelock, sender=deployer)
    ex.renounceRole(ex.DEFAULT_ADMIN_ROLE(), deployer, sender=deployer)
    c.grantRole(c.KEEPER_ROLE(), ex, sender=deployer)
    if c.hasRole(c.KEEPER_ROLE(), keeper):
        c.revokeRole(c.KEEPER_ROLE(), keeper, sender=deployer)
    fund.automation["plan_executor"] = ex
    return ex
