"""The deployment record names the PlanExecutor (issue 15), and the fund keeper's declared calls
and audit role follow it: pure, no chain."""

from __future__ import annotations

import pytest
from eth_utils import keccak

from keepers.fund.bot import fund_calls, fund_role
from keepers.fund.planning.plan_approval import EXECUTE_ACTION_SIGNATURE
from keepers.tx.contracts import DeploymentError, FundAddresses

BASE = {
    "controller": "0x" + "11" * 20,
    "lens": "0x" + "22" * 20,
    "vault": "0x" + "33" * 20,
    "cash": "0x" + "44" * 20,
}
EXECUTOR = "0x" + "ab" * 20
EXECUTE = "0x" + keccak(text=EXECUTE_ACTION_SIGNATURE)[:4].hex()


@pytest.mark.parametrize(
    "record",
    [
        {**BASE, "automation": {"plan_executor": EXECUTOR, "scheduler": "0x" + "55" * 20}},
        {**BASE, "plan_executor": EXECUTOR},
    ],
    ids=["automation.plan_executor", "top-level"],
)
def test_from_dict__plan_executor__read_checksummed(record):
    a = FundAddresses.from_dict(record)
    assert a.plan_executor == "0xABaBaBaBABabABabAbAbABAbABabababaBaBABaB"


def test_from_dict__no_executor__none_and_controller_calls_only():
    a = FundAddresses.from_dict(BASE)
    assert a.plan_executor is None
    role = fund_role(a.controller, a.plan_executor)
    assert {c.contract.lower() for c in role.allowed} == {BASE["controller"]}
    assert role == fund_role(a.controller)


def test_from_dict__executor_not_an_address__refused_naming_the_value():
    with pytest.raises(DeploymentError, match="not an address: 'nope'"):
        FundAddresses.from_dict({**BASE, "automation": {"plan_executor": "nope"}})


def test_fund_calls__executor__executeAction_declared_and_allowed():
    a = FundAddresses.from_dict({**BASE, "automation": {"plan_executor": EXECUTOR}})
    calls = fund_calls(a)
    on_executor = [c for c in calls.calls if c.contract == a.plan_executor]
    assert [c.signatures for c in on_executor] == [(EXECUTE_ACTION_SIGNATURE,)]
    allowed = {(x.contract.lower(), x.selector.lower()) for x in calls.role_policy().allowed}
    assert (EXECUTOR, EXECUTE) in allowed
    assert allowed == {
        (x.contract.lower(), x.selector.lower())
        for x in fund_role(a.controller, a.plan_executor).allowed
    }
