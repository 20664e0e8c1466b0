"""The fund bot's declared calls and audit role: the controller's keeper functions and, where
the deployment record names a PlanExecutor, its executeAction (the keeper's only way to the
controller there). Used by the bot (its pipeline's policy) and its declaration."""

from __future__ import annotations

from keepers.core.settings import RolePolicy
from keepers.fund.outcome import ROLE
from keepers.fund.planning import plan_approval
from keepers.runtime.bots import Call as DeclaredCall
from keepers.runtime.bots import Calls
from keepers.tx.contracts import FundAddresses

_SIGNATURES = (
    "purchaseAsset(address,uint256,uint256)",
    "redeemAsset(address,uint256,uint256)",
    "allocateToLayer(uint8,uint256)",
    "executeWaterfallLiquidation(uint256,uint8)",
    "rebalanceBuffer()",
)


def fund_calls(addresses: FundAddresses) -> Calls:
    """The fund bot's declared calls: the controller's keeper functions and, where the record
    names a PlanExecutor, its executeAction (the keeper's only way to the controller there)."""
    calls = [DeclaredCall(addresses.controller, _SIGNATURES, "KEEPER_DEPLOYMENT")]
    if addresses.plan_executor:
        calls.append(
            DeclaredCall(
                addresses.plan_executor,
                (plan_approval.EXECUTE_ACTION_SIGNATURE,),
                "KEEPER_DEPLOYMENT automation.plan_executor",
            )
        )
    return Calls(ROLE, tuple(calls))


def fund_role(controller: str, plan_executor: str | None = None) -> RolePolicy:
    """The fund keeper's audit role (its declared calls on ``controller``, and executeAction
    on ``plan_executor`` when there is one)."""
    calls = [DeclaredCall(controller, _SIGNATURES)]
    if plan_executor:
        calls.append(DeclaredCall(plan_executor, (plan_approval.EXECUTE_ACTION_SIGNATURE,)))
    return Calls(ROLE, tuple(calls)).role_policy()
