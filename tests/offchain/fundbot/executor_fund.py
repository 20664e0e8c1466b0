"""The deployed local fund with a PlanExecutor in front of its controller and a real Safe 1.4.1
(owners alice, bob, carol; 2 of 3) as the executor's admin: the keeper key holds KEEPER_ROLE on
the executor only. The one place that builds this fixture: when the local profile deploys the
executor itself (branch safedeploy, a profile section), switch `executor_fund` to read it from
the deployment and keep the rest.

Until then it is built from the existing functions: `deploy_safe`, the executor deployed as
`ballast_dev.deployment.plan_executor.deploy_plan_executor` does, and the controller's role
changes (executor in, keeper key out) through the fund's timelock, proposed and executed by the
admin account (the deployer handed over and holds no role any more).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ballast_dev.deployment.safe import deploy_safe
from tests.support.fundbotlib import UNIT

__all__ = ["attacker", "deployment_file", "executor_fund", "owners"]

THRESHOLD = 50_000  # whole base units: a plan whose measured notional passes it needs 2 of 3
ZERO32 = b"\x00" * 32


@pytest.fixture(scope="module")
def owners(accounts: Any) -> tuple[Any, Any, Any]:
    """alice, bob, carol: test accounts 5, 6, 7 (the profile uses 0-3)."""
    return accounts[5], accounts[6], accounts[7]


@pytest.fixture(scope="module")
def attacker(accounts: Any) -> Any:
    return accounts[8]


def _via_timelock(timelock: Any, target: Any, data: Any, proposer: Any, salt: int) -> None:
    s = salt.to_bytes(32, "big")
    timelock.schedule(target, 0, data, ZERO32, s, 0, sender=proposer)
    timelock.execute(target, 0, data, ZERO32, s, sender=proposer)


@pytest.fixture(scope="module")
def executor_fund(fund: Any, accounts: Any, project: Any, owners: Any) -> Any:
    """(fund, executor, safe): the module's fund, now behind the executor."""
    deployer, admin, keeper = accounts[0], accounts[1], accounts[2]
    safe = deploy_safe(deployer, list(owners), 2)
    c, timelock = fund.controller, fund.timelock
    ex = deployer.deploy(project.PlanExecutor, c, safe, deployer, THRESHOLD * UNIT, 2)
    ex.grantRole(ex.KEEPER_ROLE(), keeper, sender=deployer)
    ex.grantRole(ex.ADMIN_ROLE(), safe, sender=deployer)
    ex.grantRole(ex.DEFAULT_ADMIN_ROLE(), timelock, sender=deployer)
    ex.renounceRole(ex.DEFAULT_ADMIN_ROLE(), deployer, sender=deployer)
    role = c.KEEPER_ROLE()
    _via_timelock(timelock, c, c.grantRole.encode_input(role, ex), admin, 1)
    _via_timelock(timelock, c, c.revokeRole.encode_input(role, keeper), admin, 2)
    assert c.hasRole(role, ex) and not c.hasRole(role, keeper)
    fund.automation["plan_executor"] = ex
    fund.safe = safe
    return fund, ex, safe


@pytest.fixture
def deployment_file(executor_fund: Any, tmp_path: Path) -> Path:
    """The deployment record, naming the executor (``automation.plan_executor``) as
    FundDeployment.addresses() writes it."""
    fund = executor_fund[0]
    p = tmp_path / "local.json"
    p.write_text(json.dumps(fund.addresses(), default=str))
    return p
