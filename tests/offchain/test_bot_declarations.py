"""Issue 12, one bot model: the four bots declare their name, settings section, triggers and
contract calls as data; the audit policy is built from those calls (pure, no chain)."""

from __future__ import annotations

import json

import pytest

from keepers.core.settings import ConfigError, KeeperSettings, PolicyConfig
from keepers.registry import declarations
from keepers.runtime.bots import (
    Call,
    Calls,
    Trigger,
    check_allowed,
    declared_policy,
    selector,
)
from keepers.runtime.policy import worker_policy
from keepers.runtime.runner import BOT_NAMES

SCHED = "0x" + "5c" * 20
REG = "0x" + "7e" * 20
SUP = "0x" + "50" * 20


def test_declarations__the_four_bots_in_keeper_run_order_each_with_triggers_and_settings():
    decls = declarations()
    assert tuple(decls) == BOT_NAMES == ("fund", "executor", "supervisor", "crosschain")
    for d in decls.values():
        assert d.triggers and d.settings and d.doc
    assert any(t.cron for t in decls["fund"].triggers)
    assert any(t.event == "RebalanceScheduler.RunScheduled" for t in decls["executor"].triggers)


def test_trigger__not_exactly_one_kind__refused():
    with pytest.raises(ValueError, match="one of"):
        Trigger()
    with pytest.raises(ValueError, match="one of"):
        Trigger(interval_s=1.0, cron="minute=0")


def test_selector__known_signature():
    assert selector("transfer(address,uint256)") == "0xa9059cbb"


def test_declared_policy__same_role_from_two_bots__union_of_calls_and_larger_cap():
    a = Calls("ops", (Call(SCHED, ("execute(uint256)",)),), max_value_wei=5)
    b = Calls("ops", (Call(REG, ("fixReschedule(uint256)",)), Call(SCHED, ("execute(uint256)",))))
    role = declared_policy([a, b]).roles["ops"]
    assert [(x.contract, x.selector) for x in role.allowed] == [
        (SCHED, selector("execute(uint256)")),
        (REG, selector("fixReschedule(uint256)")),
    ]
    assert role.max_value_wei == 5


def test_worker_policy__automation_bots_configured__their_declared_roles_built():
    env = {
        "KEEPER_EXECUTOR_SCHEDULER": SCHED,
        "KEEPER_SUPERVISOR_SCHEDULER": SCHED,
        "KEEPER_SUPERVISOR_REGISTRY": REG,
        "KEEPER_SUPERVISOR_SUPERVISOR": SUP,
        "KEEPER_SUPERVISOR_REBALANCERS": json.dumps(["0x" + "ab" * 20]),
    }
    roles = worker_policy(KeeperSettings(), declarations(), env).roles
    assert {(a.contract, a.selector) for a in roles["executor"].allowed} == {
        (SCHED, selector("executeBatch(uint256[])")),
        (SCHED, selector("withdrawCredit(address)")),  # its credit (issue 68: pull payment)
    }
    assert {(a.contract, a.selector) for a in roles["supervisor"].allowed} == {
        (REG, selector("fixReschedule(uint256)")),
        (SUP, selector("fixReschedule()")),
        (SUP, selector("tick(uint256)")),
        ("0x" + "ab" * 20, selector("fixReschedule()")),
    }
    # unbatched: execute(uint256), and the role name follows KEEPER_EXECUTOR_ROLE
    env |= {"KEEPER_EXECUTOR_UNBATCHED": "true", "KEEPER_EXECUTOR_ROLE": "exec2"}
    roles = worker_policy(KeeperSettings(), declarations(), env).roles
    assert [a.selector for a in roles["exec2"].allowed] == [
        selector("execute(uint256)"),
        selector("withdrawCredit(address)"),
    ]


def test_worker_policy__executor_address_invalid__refused_naming_the_field():
    with pytest.raises(ValueError, match="scheduler"):
        worker_policy(KeeperSettings(), declarations(), {"KEEPER_EXECUTOR_SCHEDULER": "0x1234"})


def test_check_allowed__configured_role_allows_less__names_role_function_and_contract():
    calls = Calls("executor", (Call(SCHED, ("executeBatch(uint256[])",)),))
    check_allowed(calls, declared_policy([calls]))
    narrower = PolicyConfig.model_validate(
        {"roles": {"executor": {"allowed": [{"contract": SCHED, "selector": "0x12345678"}]}}}
    )
    with pytest.raises(ConfigError, match=r"policy.roles.executor: must allow executeBatch"):
        check_allowed(calls, narrower)
