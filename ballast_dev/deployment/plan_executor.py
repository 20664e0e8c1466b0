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
from ballast_dev.deployment.record import DirectSteps


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
    unapproved_per_day: int | None = None,
    steps: Any = None,
) -> Any:
    """`approval_threshold` and `unapproved_per_day` (the per-day total that may run without
    signatures; None keeps the executor's default, twice the threshold) in base units of the
    fund's cash token. ``steps`` records each transaction (ballast_dev.deployment.record); None
    sends them unrecorded."""
    steps = steps or DirectSteps()
    c = fund.controller
    safe_address = str(getattr(safe, "address", safe))
    timelock_address = str(getattr(timelock, "address", timelock))
    ex = steps.deploy(
        "deploy:plan_executor",
        project.PlanExecutor,
        c.address,
        safe_address,
        deployer.address,
        approval_threshold,
        required_approvals,
        sender=deployer,
    )
    if unapproved_per_day is not None:  # while the deployer still holds DEFAULT_ADMIN_ROLE
        steps.send(
            "plan_executor.setUnapprovedBudget",
            ex.setUnapprovedBudget,
            unapproved_per_day,
            86_400,
            sender=deployer,
        )
    for key, role, who in (
        ("KEEPER_ROLE:keeper", ex.KEEPER_ROLE(), keeper),
        ("ADMIN_ROLE:safe", ex.ADMIN_ROLE(), safe_address),
        ("DEFAULT_ADMIN_ROLE:timelock", ex.DEFAULT_ADMIN_ROLE(), timelock_address),
    ):
        steps.send(f"plan_executor.grant:{key}", ex.grantRole, role, who, sender=deployer)
    steps.send(
        "plan_executor.renounce:DEFAULT_ADMIN_ROLE",
        ex.renounceRole,
        ex.DEFAULT_ADMIN_ROLE(),
        deployer.address,
        sender=deployer,
    )
    steps.send(
        "controller.grant:KEEPER_ROLE:plan_executor",
        c.grantRole,
        c.KEEPER_ROLE(),
        ex.address,
        sender=deployer,
    )
    key = "controller.revoke:KEEPER_ROLE:keeper"
    if steps.done(key) or c.hasRole(c.KEEPER_ROLE(), keeper):
        steps.send(key, c.revokeRole, c.KEEPER_ROLE(), keeper, sender=deployer)
    fund.automation["plan_executor"] = ex
    return ex
