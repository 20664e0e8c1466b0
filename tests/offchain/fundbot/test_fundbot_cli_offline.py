"""The read-only commands while the node is down (issue 13): ``history`` and ``review`` read the
store only (exit 0); ``status`` shows the store's part, names the chain fields it could not read
and exits 3 (EXIT_UNAVAILABLE). And ``--json`` is accepted after the subcommand too."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from click.testing import CliRunner

from keepers.cli import main
from keepers.core.errors import EXIT_UNAVAILABLE
from keepers.fund.cli import CHAIN_FIELDS
from tests.support.fundbotlib import UNIT

NOW = 1_800_000_000


def keeper(env: dict[str, str], *args: str) -> Any:
    """`keeper ARGS`; `.output` is stdout alone: the log lines (the approval_needed alert) go to
    stderr, which structlog binds once per process, so mixing it in made JSON parsing depend on
    which test first configured logging."""
    return CliRunner(mix_stderr=False).invoke(main, list(args), env=env, catch_exceptions=False)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed when the block ends: nothing listens there


@pytest.fixture
def pending(env: dict[str, str], fresh: Any, accounts: Any) -> tuple[dict[str, str], str]:
    """A plan waiting for approval, made while the node was up."""
    env = {**env, "KEEPER_SIGNER_KEY": accounts[2].private_key}
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    r = keeper(env, "--json", "--now", str(NOW), "plan", "--job", "liquidity")
    out = json.loads(r.output)
    assert out["status"] == "pending_approval", out
    return env, out["plan"]


def test_json_after_subcommand__same_output_as_before(env):
    before = keeper(env, "--json", "status")
    after = keeper(env, "status", "--json")
    assert before.exit_code == after.exit_code == 0, after.output
    assert json.loads(after.output)["tiers"] == json.loads(before.output)["tiers"]
    assert keeper(env, "history", "--json").output.strip() == "[]"
    assert keeper(env, "history").output.strip() == "no plans yet"


def test_now_after_subcommand__used_as_the_plan_time(env, fresh, accounts):
    env = {**env, "KEEPER_SIGNER_KEY": accounts[2].private_key}
    fresh.vault.deposit(400_000 * UNIT, accounts[1], sender=accounts[1])
    r = keeper(env, "plan", "--job", "liquidity", "--json", "--now", str(NOW))
    ref = json.loads(r.output)["plan"]
    rows = json.loads(keeper(env, "history", "--json").output)
    assert [x["plan"] for x in rows] == [ref]
    assert rows[0]["created_at"].startswith("2027-01-15")  # NOW, not the wall clock


def test_history_and_review__node_down__answer_from_the_store(pending):
    env, ref = pending
    down = {**env, "KEEPER_RPC_URL": f"http://127.0.0.1:{closed_port()}"}
    r = keeper(down, "history")
    assert r.exit_code == 0 and ref in r.output
    r = keeper(down, "review", ref[:8], "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "pending_approval"
    r = keeper(down, "--json", "history")
    assert r.exit_code == 0 and json.loads(r.output)[0]["plan"] == ref


def test_status__node_down__store_part_and_missing_fields__exit_3(pending):
    env, ref = pending
    port = closed_port()
    down = {**env, "KEEPER_RPC_URL": f"http://127.0.0.1:{port}"}
    r = CliRunner().invoke(main, ["status"], env=down)
    assert r.exit_code == EXIT_UNAVAILABLE, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output
    assert f"KEEPER_RPC_URL=http://127.0.0.1:{port}: node unreachable" in r.output
    assert "chain data unavailable" in r.output
    assert f"missing: {', '.join(CHAIN_FIELDS)}" in r.output
    assert f"last plan: {ref} pending_approval" in r.output
    r = CliRunner(mix_stderr=False).invoke(main, ["status", "--json"], env=down)
    assert r.exit_code == EXIT_UNAVAILABLE
    data = json.loads(r.stdout)
    assert data["chain"] == "unavailable" and data["unavailable"] == list(CHAIN_FIELDS)
    assert data["last_plan"]["plan"] == ref and "tiers" not in data
    assert "node unreachable" in r.stderr


def test_status__node_up__exit_0_not_the_offline_view(pending):
    env, _ = pending
    r = keeper(env, "status", "--json")
    assert r.exit_code == 0 and "chain" not in json.loads(r.output)
