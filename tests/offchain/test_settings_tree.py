"""The settings tree (issue 12): every variable of every section, given a bad value, is refused
by the one loader with the one ConfigError naming the variable and the value; secrets never
appear; the seed's variable names keep working."""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any, Literal

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from keepers.cli import main
from keepers.core.errors import EXIT_CONFIG, ConfigError
from keepers.core.settings import SECTIONS, Settings, env_names, load_settings, section_class

ADDR = "0x" + "11" * 20
# the least each section needs to validate at all (required variables)
BASE: dict[str, dict[str, str]] = {
    "executor": {"KEEPER_EXECUTOR_SCHEDULER": ADDR},
    "supervisor": {"KEEPER_SUPERVISOR_SCHEDULER": ADDR, "KEEPER_SUPERVISOR_REGISTRY": ADDR},
}
# variables whose type does not tell a bad value: the value that each refuses
BAD_BY_NAME = {
    "KEEPER_DB_URL": "mysql://x",
    "KEEPER_RPC_URL": "ftp://x",
    "KEEPER_SIGNER_URL": "ftp://x",
    "KEEPER_SIGNER_KMS_KEY_ID": "",
    "KEEPER_SIGNER_KMS_REGION": "",
    "KEEPER_SIGNER_KMS_ENDPOINT_URL": "ftp://x",
    "KEEPER_PUBLIC_MEMPOOL_FALLBACK": "sometimes",
    "KEEPER_PRIVATE_RPC_URLS": "ws://relay",
    "KEEPER_PRIVATE_STATUS_URLS": "ftp://x",
    "KEEPER_PRIVATE_SELECTORS": "0xbad",
    "KEEPER_PRIVATE_ROLES": "fund keeper",
    "KEEPER_METRICS_HOST": "",
    "KEEPER_EXECUTOR_SCHEDULER": "0xbad",
    "KEEPER_SUPERVISOR_SCHEDULER": "0xbad",
    "KEEPER_SUPERVISOR_SUPERVISOR": "0xbad",
    "KEEPER_SUPERVISOR_REGISTRY": "0xbad",
    "KEEPER_SUPERVISOR_REBALANCERS": '["0xbad"]',
    "KEEPER_SUPERVISOR_FUNDERS": '["0xbad"]',
    "BLACKOUT_WINDOWS": "25:00-26:00",
    "KEEPER_REPLICA_ID": "two words",
    "KEEPER_CONSOLE_HOST": "0.0.0.0",  # not loopback, and no KEEPER_CONSOLE_TOKEN
    "KEEPER_CONSOLE_ALLOWED_HOSTS": "*.example",  # a wildcard: names only
}
# free text (any string is a valid value): nothing to refuse
FREE_TEXT = {
    "KEEPER_SIGNER_KEY",
    "KEEPER_SIGNER_ALIAS",
    "KEEPER_SIGNER_PASSPHRASE",
    "KEEPER_SIGNER_ADDRESS",
    "KEEPER_POLICY_FILE",
    "KEEPER_ARTIFACTS_PATH",
    "KEEPER_DEPLOYMENT",
    "KEEPER_ANVIL_BIN",
    "KEEPER_EXECUTOR_ROLE",
    "KEEPER_SUPERVISOR_ROLE",
    "REBALANCE_ADMINS",
    "BALLAST_CROSSCHAIN_CONFIG",
    "BALLAST_CROSSCHAIN_CONFIG_JSON",
    "BALLAST_CROSSCHAIN_ROUTES",
    "BALLAST_CEX_API_KEY",
    "BALLAST_CEX_SECRET",
    "BALLAST_CCTP_LOCAL_ATTESTER_KEY",
    # the console's token (its length is checked: tests/offchain/console), URLs
    "KEEPER_CONSOLE_SESSION_SECRET",  # a secret: its length is checked (tests/offchain/console)
    "KEEPER_CONSOLE_TOKEN",
    "KEEPER_CONSOLE_PUBLIC_URL",
    "KEEPER_CONSOLE_RUNBOOK_URL",
    "KEEPER_CONSOLE_WEBHOOK_URL",
}


def _bad_value(var: str, annotation: Any) -> str | None:
    if var in BAD_BY_NAME:
        return BAD_BY_NAME[var]
    if var in FREE_TEXT:
        return None
    text = str(annotation)
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is Literal:
        return "nope"
    if "Literal" in text:
        return "nope"
    if annotation is bool or text == "bool":
        return "maybe"
    if any(t in text for t in ("dict", "list", "PolicyConfig")):
        return "7"  # JSON, but not a mapping / list
    if annotation in (int, float) or any(a in (int, float) for a in args) or "int" in text:
        return "x1"
    if "float" in text:
        return "x1"
    raise AssertionError(f"{var}: no bad value known for {annotation!r}; add it to the table")


def _cases() -> list[Any]:
    cases = []
    for section in SECTIONS:
        cls = section_class(section)
        for field, info in cls.model_fields.items():
            var = env_names(cls, field)[0]
            bad = _bad_value(var, info.annotation)
            if bad is not None:
                cases.append(pytest.param(section, var, bad, id=f"{section}-{var}"))
    return cases


CASES = _cases()
NO_REQUIRED = ("core", "fund", "planning", "crosschain")  # sections with no required variable


def test_table__covers_every_variable_that_can_be_wrong() -> None:
    named = {c.values[1] for c in CASES} | FREE_TEXT
    every = {
        env_names(section_class(s), f)[0] for s in SECTIONS for f in section_class(s).model_fields
    }
    assert every == named
    assert len(CASES) > 70  # core, fund, planning, executor, supervisor


@pytest.mark.parametrize(("section", "var", "bad"), CASES)
def test_load_settings__bad_value_of_each_variable__names_variable_and_value(
    section: str, var: str, bad: str
) -> None:
    env = {**BASE.get(section, {}), var: bad, "KEEPER_SIGNER_KEY": "0x" + "cd" * 32}
    with pytest.raises(ConfigError) as info:
        load_settings(env=env, sections=[section])
    message = str(info.value)
    shown = "7" if bad == "7" else repr(bad)
    if bad.startswith("["):
        # the list is validated whole: the variable, then the bad element in the reason
        assert message.startswith(f"{var}: ") and "'0xbad'" in message, message
    else:
        assert f"{var}={shown}" in message, message
    assert "cd" * 32 not in message


FUND_CASES = [c for c in CASES if c.values[0] in ("fund", "planning")]


@pytest.mark.parametrize(("section", "var", "bad"), FUND_CASES)
def test_cli__bad_value_of_each_fund_variable__exit_2_naming_it(
    section: str, var: str, bad: str
) -> None:
    result = CliRunner().invoke(main, ["status"], env={var: bad})
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == EXIT_CONFIG, out
    assert var in out, out


@pytest.mark.parametrize(
    ("env", "secret"),
    [
        ({"KEEPER_SIGNER_KEY": "s3cr3t-key-value", "KEEPER_SIGNER_KIND": "remote"}, "s3cr3t"),
        ({"KEEPER_SIGNER_PASSPHRASE": "pass-phrase-9", "KEEPER_SIGNER_KIND": "ape"}, "phrase-9"),
        ({"BALLAST_CEX_SECRET": "cex-secret-77", "BALLAST_CEX_API_KEY": "k"}, "cex-secret-77"),
    ],
)
def test_secret_fields__are_secretstr_and_never_shown(env: dict[str, str], secret: str) -> None:
    tree = load_settings(env=env | {"KEEPER_SIGNER_KIND": "raw"}, sections=NO_REQUIRED)
    for section in ("core", "fund", "crosschain"):
        assert secret not in repr(getattr(tree, section))
    core = tree.core
    assert isinstance(core.signer_key, SecretStr | None)
    assert isinstance(core.signer_passphrase, SecretStr | None)
    assert isinstance(tree.crosschain.cex_secret, SecretStr | None)
    bad = env | {"KEEPER_SIGNER_KIND": env.get("KEEPER_SIGNER_KIND", "hsm"), "KEEPER_RPC_URL": "x"}
    with pytest.raises(ConfigError) as info:
        load_settings(env=bad, sections=NO_REQUIRED)
    assert secret not in str(info.value) and secret not in repr(info.value)


def test_secret_override__invalid_alongside__never_shown() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(signer_kind="remote", signer_key="0x" + "ef" * 32)
    assert "ef" * 32 not in str(info.value)
    assert "signer_url and signer_address are required" in str(info.value)


def test_seed_names__set_the_planning_section() -> None:
    tree = load_settings(
        env={
            "REBALANCE_MAX_SLIPPAGE": "150",
            "REBALANCE_MIN_AMOUNT": "25000",
            "L1_TARGET_RATIO": "1500",
            "L2_TARGET_RATIO": "2500",
            "L1_HIGH_RATIO": "1800",
        },
        sections=["planning"],
    )
    assert isinstance(tree, Settings)
    cfg = tree.planning
    assert (cfg.rebalance_max_slippage, cfg.rebalance_min_amount) == (150, 25_000)
    assert (cfg.l1_target_ratio, cfg.l2_target_ratio) == (1_500, 2_500)
    assert isinstance(cfg.rebalance_max_slippage, int)  # bps as integers, never float
    assert not any(isinstance(getattr(cfg, f), float | Decimal) for f in type(cfg).model_fields)


def test_seed_names__rule_across_variables__names_them() -> None:
    with pytest.raises(ConfigError, match=r"L1_TARGET_RATIO \+ L2_TARGET_RATIO"):
        load_settings("planning", env={"L1_TARGET_RATIO": "2000"})


def test_old_error_names__are_the_one_config_error() -> None:
    from keepers.crosschain.config import ConfigError as CrosschainConfigError
    from keepers.fund.planning.config import ConfigError as PlanningConfigError
    from keepers.fund.settings import FundConfigError
    from keepers.runtime.runner import RunConfigError

    assert {
        CrosschainConfigError,
        PlanningConfigError,
        FundConfigError,
        RunConfigError,
    } == {ConfigError}


CROSSCHAIN_CASES = [c for c in CASES if c.values[0] == "crosschain"] + [
    pytest.param(
        "crosschain", "BALLAST_CROSSCHAIN_HOLDERS", '{"eth": "0xbad"}', id="holders-not-address"
    )
]


def test_crosschain_section__a_variable_can_be_wrong() -> None:
    # the table above reaches the section (BALLAST_CROSSCHAIN_HOLDERS); the rest is free text
    assert {c.values[1] for c in CROSSCHAIN_CASES} == {"BALLAST_CROSSCHAIN_HOLDERS"}


@pytest.mark.parametrize(("section", "var", "bad"), CROSSCHAIN_CASES)
@pytest.mark.parametrize(
    "args", [["crosschain", "status"], ["crosschain", "plan"], ["run", "--bots", "crosschain"]]
)
def test_cli__bad_crosschain_variable__the_one_translators_message(
    section: str, var: str, bad: str, args: list[str], tmp_path: Any
) -> None:
    """The cross-chain commands and `keeper run` read the crosschain section through the one
    loader: the message is the translator's (the same text as load_settings raises), exit 2,
    no secret."""
    env = {
        var: bad,
        "BALLAST_CROSSCHAIN_CONFIG": str(tmp_path / "never-read.yaml"),
        "BALLAST_CEX_API_KEY": "cex-key-31337",
        "BALLAST_CEX_SECRET": "cex-secret-31337",
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/k.db",
    }
    with pytest.raises(ConfigError) as info:
        load_settings(section, env=env)
    expected = str(info.value)
    assert expected.startswith(var), expected
    result = CliRunner().invoke(main, args, env=env)
    out = result.output
    assert result.exit_code == EXIT_CONFIG, out
    assert expected in out, out
    assert "Traceback" not in out and "31337" not in out
