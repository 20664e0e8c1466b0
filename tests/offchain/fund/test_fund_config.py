"""PlanningConfig: seed 001 section 8.1 names, unit conversion, errors naming env and value."""

from __future__ import annotations

import pytest

from keepers.fund.planning.config import ConfigError, PlanningConfig, load_planning_config


def test_config__defaults__match_seed_section_8() -> None:
    cfg = load_planning_config({})
    assert cfg.rebalance_min_amount == 10_000
    assert cfg.rebalance_approval_threshold == 50_000
    assert cfg.rebalance_max_slippage == 200
    assert cfg.rebalance_gas_limit == 500_000
    assert cfg.bands() == ((1_000, 500, 2_000), (3_000, 2_000, 4_000), (6_000, 5_000, 7_000))
    assert (cfg.l1_low_ratio, cfg.l1_high_ratio) == (800, 1_500)
    assert (cfg.asset_concentration_limit, cfg.top3_concentration_limit) == (2_500, 6_000)
    assert (cfg.large_deposit_amount, cfg.price_move_threshold) == (100_000, 500)
    assert (cfg.approval_single_sla_hours, cfg.approval_multisig_sla_hours) == (2, 4)


@pytest.mark.parametrize("decimals", [6, 18])
def test_config__min_amount__scaled_by_base_decimals(decimals: int) -> None:
    cfg = load_planning_config({"REBALANCE_MIN_AMOUNT": "25000"})
    assert cfg.min_amount_units(decimals) == 25_000 * 10**decimals


def test_config__process_env__read_by_upper_case_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEVIATION_THRESHOLD", "700")
    monkeypatch.setenv("REBALANCE_ADMINS", "alice, bob ,carol")
    monkeypatch.setenv("BLACKOUT_WINDOWS", "13:25-13:35,23:50-00:10")
    cfg = PlanningConfig()
    assert cfg.deviation_threshold == 700
    assert cfg.rebalance_admins == ("alice", "bob", "carol")
    assert cfg.blackout_windows == ((805, 815), (1430, 10))


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"L1_TARGET_RATIO": "1500"}, "L1_TARGET_RATIO + L2_TARGET_RATIO + L3_TARGET_RATIO"),
        ({"REBALANCE_MIN_AMOUNT": "ten"}, "REBALANCE_MIN_AMOUNT='ten'"),
        ({"REBALANCE_MIN_AMOUNT": "0"}, "REBALANCE_MIN_AMOUNT=0"),
        ({"REBALANCE_MAX_SLIPPAGE": "20000"}, "REBALANCE_MAX_SLIPPAGE='20000'"),
        ({"DEVIATION_THRESHOLD": "-1"}, "DEVIATION_THRESHOLD='-1'"),
        ({"L2_MIN_RATIO": "3500"}, "L2_MIN_RATIO=3500"),
        ({"L1_MAX_RATIO": "900"}, "L1_MAX_RATIO=900"),
        ({"L1_LOW_RATIO": "1200"}, "L1_LOW_RATIO=1200"),
        ({"REBALANCE_MAX_SLIPPAGE": "600"}, "REBALANCE_MAX_SLIPPAGE=600"),
        ({"APPROVAL_MULTISIG_AMOUNT": "40000"}, "APPROVAL_MULTISIG_AMOUNT=40000"),
        (
            {"REBALANCE_ADMINS": "alice", "APPROVAL_MULTISIG_REQUIRED": "2"},
            "APPROVAL_MULTISIG_REQUIRED=2",
        ),
        # not an address: named with its setting, not reported as too few admins
        (
            {"REBALANCE_ADMINS": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0x3C44CdDdB6a900fa2b"},
            "REBALANCE_ADMINS='0x70997970C51812dc3A010C7d01b50e0d17dc79C8 0x3C44CdDdB6a900fa2b': "
            "admin 1 of 1 is not an address",
        ),
        ({"REBALANCE_ADMINS": "alice,0xabc,carol"}, "REBALANCE_ADMINS='0xabc': admin 2 of 3"),
        (
            {"REBALANCE_ADMINS": "0x70997970C51812dc3A010C7d01b50e0d17dc79C9,bob"},
            "REBALANCE_ADMINS='0x70997970C51812dc3A010C7d01b50e0d17dc79C9': admin 1 of 2 is not "
            "an address: its mixed case fails the EIP-55 checksum",
        ),
        ({"REBALANCE_ADMINS": "alice;bob"}, "REBALANCE_ADMINS='alice;bob': admin 1 of 1 is "),
        ({"BLACKOUT_WINDOWS": "25:00-01:00"}, "BLACKOUT_WINDOWS='25:00-01:00'"),
        ({"BLACKOUT_WINDOWS": "noon"}, "BLACKOUT_WINDOWS='noon'"),
    ],
)
def test_config__bad_value__error_names_env_variable_and_value(
    env: dict[str, str], needle: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load_planning_config(env)
    assert needle in str(err.value)


def test_load_fund_config__nested_policy_variable__honoured_like_keeper_run():
    """KEEPER_POLICY__ROLES used to be dropped by `keeper plan/approve/...` (every key with
    `__` was skipped) while `keeper run` honoured it."""
    import json as _json

    from keepers.fund.settings import load_fund_config

    roles = {"ops": {"allowed": [{"contract": "0x" + "11" * 20, "selector": "0x12345678"}]}}
    cfg = load_fund_config({"KEEPER_POLICY__ROLES": _json.dumps(roles)})
    assert set(cfg.keeper.policy.roles) == {"ops"}
    assert cfg.keeper.policy.roles["ops"].allowed[0].selector == "0x12345678"
