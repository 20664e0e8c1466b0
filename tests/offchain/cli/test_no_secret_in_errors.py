"""No message, exception or ``--json`` output carries a secret (issue 13, "must never happen").

Before the fix a policy file that is not JSON, or an incomplete signer configuration, printed
the whole settings object with ``signer_key`` and ``signer_passphrase`` to stderr. These tests
run every translator of configuration errors with secrets in the environment and assert that
no secret value appears anywhere in what the operator sees.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import BaseModel, SecretStr, ValidationError

from keepers.cli import main
from keepers.core.settings import ConfigError, describe_validation_error, load_settings, scrub

KEY = "0x" + "ab" * 32
PASSPHRASE = "hunter2-correct-horse"
SECRETS = (KEY, KEY[2:], PASSPHRASE)


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"secret leaked: ...{text[:300]}"


def _bad_envs(tmp_path: Path) -> dict[str, dict[str, str]]:
    not_json = tmp_path / "policy.json"
    not_json.write_text("not json {")
    base = {"KEEPER_SIGNER_KEY": KEY, "KEEPER_SIGNER_PASSPHRASE": PASSPHRASE}
    return {
        "policy file not JSON": {**base, "KEEPER_POLICY_FILE": str(not_json)},
        "policy file missing": {**base, "KEEPER_POLICY_FILE": str(tmp_path / "nope.json")},
        "remote signer incomplete": {**base, "KEEPER_SIGNER_KIND": "remote"},
        "ape signer incomplete": {**base, "KEEPER_SIGNER_KIND": "ape"},
        "bad rpc url": {**base, "KEEPER_RPC_URL": "ftp://x"},
        "bad signer kind": {**base, "KEEPER_SIGNER_KIND": "hsm"},
        "bad db url": {**base, "KEEPER_DB_URL": "mysql://x"},
    }


@pytest.mark.parametrize(
    "case",
    [
        "policy file not JSON",
        "policy file missing",
        "remote signer incomplete",
        "ape signer incomplete",
        "bad rpc url",
        "bad signer kind",
        "bad db url",
    ],
)
@pytest.mark.parametrize(
    "args",
    [["status"], ["--json", "status"], ["run", "--once"], ["history"], ["review", "00000000"]],
)
def test_cli__bad_config_with_secrets_in_env__refused_without_printing_a_secret(
    tmp_path, case, args
):
    env = _bad_envs(tmp_path)[case]
    result = CliRunner().invoke(main, args, env=env)
    out = result.output + (result.stderr if result.stderr_bytes is not None else "")
    _assert_clean(out)
    _assert_clean(repr(result.exception))
    assert result.exit_code != 0, out
    assert "KEEPER_" in out, out  # the message still names what is wrong


@pytest.mark.parametrize("case", ["policy file not JSON", "remote signer incomplete"])
def test_load_settings__bad_config__exception_names_problem_not_secret(tmp_path, monkeypatch, case):
    for k, v in _bad_envs(tmp_path)[case].items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ConfigError) as info:
        load_settings()
    _assert_clean(str(info.value))
    _assert_clean(repr(info.value))


class _Profile(BaseModel):
    private_key: SecretStr
    api_secret: str
    port: int


def test_describe_validation_error__secret_fields__redacted_and_scrubbed():
    with pytest.raises(ValidationError) as info:
        _Profile.model_validate({"private_key": KEY, "api_secret": PASSPHRASE, "port": "x"})
    text = describe_validation_error(info.value)
    _assert_clean(text)
    assert "port='x'" in text


def test_describe_validation_error__model_check_on_whole_document__document_not_dumped():
    class _Doc(BaseModel):
        signer_key: str
        n: int

        def model_post_init(self, _: object) -> None:
            raise ValueError("n and signer_key disagree")

    with pytest.raises(ValidationError) as info:
        _Doc.model_validate({"signer_key": KEY, "n": 1})
    text = describe_validation_error(info.value)
    _assert_clean(text)
    assert "disagree" in text


def test_scrub__secret_inside_message__replaced():
    assert scrub(f"bad value {KEY} here", [KEY]) == "bad value <redacted> here"
    assert scrub("short", ["ab"]) == "short"  # values under 4 characters are not hunted


def test_logging__secret_in_event_or_exception__redacted(monkeypatch, capsys):
    import structlog

    from keepers.core.logging import configure_logging, get_logger

    monkeypatch.setenv("KEEPER_SIGNER_KEY", KEY)
    for as_json in (True, False):
        structlog.reset_defaults()
        configure_logging(json=as_json, level="INFO")
        log = get_logger("t")
        log.info("signer", signer_key=KEY, note=f"key is {KEY}")
        try:
            raise RuntimeError(f"node said {KEY}")
        except RuntimeError:
            log.exception("failed")
    structlog.reset_defaults()
    err = capsys.readouterr().err
    assert "signer" in err and "failed" in err
    _assert_clean(err)
