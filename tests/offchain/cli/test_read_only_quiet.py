"""A read-only command prints what was asked (issue 64): the fund's ``keeper status``,
``keeper history`` and ``keeper review``, and ``keeper crosschain history`` (the store alone),
keep the start-up's info logs off the terminal at KEEPER_LOG_LEVEL=INFO unless ``--verbose``;
what they were asked goes to stdout, and a failure still says so on stderr. (``keeper
crosschain plan`` and ``crosschain status``, which read the chains: tests/offchain/crosschain/
test_crosschain_operator.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from keepers.cli import main


def _db(tmp_path: Path, name: str) -> str:
    return f"sqlite:///{tmp_path}/{name}.db"


def _levels(stderr: str) -> list[str]:
    """The level of every JSON log line on stderr (KEEPER_LOG_JSON=1)."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            out.append(json.loads(line)["level"])
    return out


@pytest.mark.usefixtures("real_store_migrations")  # the info lines are Alembic's, on a new store
@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["status"], "total"),
        (["history"], ""),
        (["review"], ""),
        (["crosschain", "history"], "no finished move"),
    ],
    ids=["status", "history", "review", "crosschain-history"],
)
def test_read_only_command__info_level__no_info_line_unless_verbose(
    env: dict[str, Any], command: list[str], says: str, tmp_path: Path
) -> None:
    """Each run on a new store: opening it logs the store's migrations at info (alembic's
    "Running upgrade" lines, which `history` and `review` printed before the fix)."""
    at_info = {**env, "KEEPER_LOG_LEVEL": "INFO", "KEEPER_LOG_JSON": "1"}
    runner = CliRunner(mix_stderr=False)
    quiet = runner.invoke(main, command, env=at_info | {"KEEPER_DB_URL": _db(tmp_path, "q")})
    assert quiet.exit_code == 0, quiet.stdout + quiet.stderr
    assert says in quiet.stdout
    assert "info" not in _levels(quiet.stderr), quiet.stderr
    # the same command asked to be verbose logs its start-up at info: the quiet run above
    # left those lines out, they were there to be shown
    loud = runner.invoke(
        main, [*command, "--verbose"], env=at_info | {"KEEPER_DB_URL": _db(tmp_path, "v")}
    )
    assert loud.exit_code == 0, loud.stdout + loud.stderr
    assert "info" in _levels(loud.stderr), loud.stderr
    assert loud.stdout == quiet.stdout


def test_read_only_fund_command__failure__said_on_stderr(env: dict[str, Any]) -> None:
    """A plan that does not exist: the error on stderr, exit code not 0, nothing on stdout."""
    r = CliRunner(mix_stderr=False).invoke(
        main, ["review", "no-such-plan"], env={**env, "KEEPER_LOG_LEVEL": "INFO"}
    )
    assert r.exit_code != 0
    assert "no-such-plan" in r.stderr and r.stdout == "", (r.stdout, r.stderr)
