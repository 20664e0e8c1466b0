"""No secret in any message, whatever variable it lands in (the second review: with the signer
key in KEEPER_POLICY_FILE or KEEPER_DEPLOYMENT, two variables swapped, `keeper status` and
`keeper run` printed it verbatim). The key, a mnemonic and a database password are placed in
every setting of every section in turn; `keeper status` and `keeper run` run on it and the
secret appears nowhere in their output, their logs or on the process's file descriptors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from keepers.cli import main
from keepers.core.redact import ScrubbingStream
from keepers.core.settings import SECTIONS, env_names, env_secrets, scrub, section_class

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
MNEMONIC = "test test test test test test test test test test test junk"
PASSWORD = "s3cr3t-Pa55word"

EVERY_VARIABLE = sorted(
    {env_names(section_class(s), f)[0] for s in SECTIONS for f in section_class(s).model_fields}
)


def _leaks(text: str) -> list[str]:
    return [s for s in (KEY, KEY.removeprefix("0x"), MNEMONIC, PASSWORD) if s and s in (text or "")]


def test_every_variable_of_every_section_is_swept():
    assert len(EVERY_VARIABLE) > 70
    assert {"KEEPER_POLICY_FILE", "KEEPER_DEPLOYMENT", "KEEPER_DB_URL"} <= set(EVERY_VARIABLE)


@pytest.mark.parametrize("var", EVERY_VARIABLE)
@pytest.mark.parametrize("command", [["status"], ["run", "--once"]])
def test_key_in_any_variable__never_printed(var, command, capfd, tmp_path):
    runner = CliRunner()
    for secret in (KEY, MNEMONIC):
        env = {var: secret, "KEEPER_DB_URL": f"sqlite:///{tmp_path}/k.db"}
        if var == "KEEPER_DB_URL":
            env[var] = secret
        r = runner.invoke(main, command, env=env)
        out = r.output  # stdout and stderr together
        assert not _leaks(out), (var, out)
        assert not _leaks(str(r.exception or "")), (var, r.exception)
    fds = capfd.readouterr()
    assert not _leaks(fds.out + fds.err), var


def test_database_password_in_a_url__never_printed(capfd):
    url = f"postgresql://keeper:{PASSWORD}@127.0.0.1:1/ballast"
    r = CliRunner().invoke(main, ["status"], env={"KEEPER_POLICY_FILE": url, "KEEPER_DB_URL": url})
    out = r.output
    assert r.exit_code != 0 and not _leaks(out), out
    assert not _leaks("".join(capfd.readouterr()))


@pytest.mark.parametrize("var", ["KEEPER_POLICY_FILE", "KEEPER_DEPLOYMENT"])
def test_the_reviewed_poc__real_process__key_redacted_named_as_redacted(var, tmp_path):
    env = {**os.environ, var: KEY, "KEEPER_DB_URL": f"sqlite:///{tmp_path}/k.db"}
    r = subprocess.run(
        [sys.executable, "-m", "keepers.cli", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 2, r.stderr
    assert not _leaks(r.stdout + r.stderr), r.stderr
    assert var in r.stderr and "<redacted>" in r.stderr


def test_secret_shapes__keys_mnemonics_url_passwords_found_in_any_variable():
    found = env_secrets({"A_PATH": KEY, "B": MNEMONIC, "C": f"postgresql://u:{PASSWORD}@h/d"})
    assert {KEY, KEY.removeprefix("0x"), MNEMONIC, PASSWORD} <= found
    # ordinary values are not secrets: addresses, URLs without a password, numbers, paths
    plain = env_secrets({"X": "0x" + "11" * 20, "Y": "http://127.0.0.1:8545", "Z": "/etc/p.json"})
    assert plain == set() or plain <= env_secrets({})


def test_scrubbing_stream__every_write_scrubbed(monkeypatch):
    import io

    monkeypatch.setenv("KEEPER_POLICY_FILE", KEY)
    inner = io.StringIO()
    ScrubbingStream(inner).write(f"cannot read {KEY} or {KEY[2:]}")
    assert inner.getvalue() == "cannot read <redacted> or <redacted>"
    assert scrub(f"x {KEY}", env_secrets()) == "x <redacted>"
