"""`keeper run --once` runs one full cycle of every bot (issue 13's operator path needs it):
the fund's waiting plans are moved on, so a plan that the admins approved with `keeper
approve` is executed by the keeper's own process and key, under its own rules; a plan still
short of approvals is left waiting; and a second cycle sends nothing again. Before this,
`--once` started, checked and exited, leaving approved plans to the next 5-minute check.

Its `keeper run --once` process is forked from the tests' preloaded server
(tests/support/keeper_fork.py); the console script runs `keeper run --once` end to end in
tests/offchain/cli/test_docs_examples.py (docs/operator/running.md).
"""

from __future__ import annotations

import json
import os
from typing import Any

from click.testing import CliRunner

from keepers.cli import main
from tests.support.fundbotlib import plan_from_terminal
from tests.support.keeper_fork import keeper_run
from tests.support.keeper_proc import keeper_exe
from tests.support.keeper_store import intents_per_key, plan_rows

MISSING_ANVIL = "/nonexistent/foundry/bin/anvil"


def keeper(env: dict[str, str], *args: str) -> Any:
    return CliRunner(mix_stderr=False).invoke(main, list(args), env=env)


def fund_cycle(r: Any) -> list[dict[str, Any]]:
    """The fund bot's plan outcomes in `keeper --json run --once`'s cycle."""
    assert r.exit_code == 0, r.output + r.stderr
    data = json.loads(r.stdout)
    assert [c["bot"] for c in data["cycle"]] == data["bots"]  # every bot ran its cycle
    assert all(c["ok"] for c in data["cycle"]), data["cycle"]
    (fund,) = [c for c in data["cycle"] if c["bot"] == "fund"]
    *tick, events = fund["result"]  # fund.tick: the waiting plans, then the event triggers
    assert isinstance(events, dict) and "status" in events
    return [o for o in tick if o["plan_id"]]


def test_keeper_run_once__approved_plan__executed_by_the_cycle_once(
    chain: Any, env: dict[str, str], fresh: Any, accounts: Any
) -> None:
    # as on an operator's host: no anvil to be found (issue 48: every tick failed with
    # FileNotFoundError 'anvil'); the default simulator is the node's eth_simulateV1
    env = {**env, "KEEPER_ANVIL_BIN": MISSING_ANVIL}
    w3 = chain.provider.web3
    keeper_addr = accounts[2].address
    # a plan over the 2-of-3 threshold (the default 200K), built in a terminal: it waits
    ref = plan_from_terminal(env, fresh, accounts[1])
    nonce0 = w3.eth.get_transaction_count(keeper_addr)

    # 1. one cycle with one approval of two: the plan is moved on, still waiting, nothing sent
    assert keeper(env, "approve", ref, "--by", "alice").exit_code == 0
    r = keeper(env, "--json", "run", "--once")
    assert [(o["plan_id"], o["status"]) for o in fund_cycle(r)] == [(ref, "pending_approval")]
    assert json.loads(r.stdout)["jobs"][-1]["id"] == "fund.tick"
    assert w3.eth.get_transaction_count(keeper_addr) == nonce0

    # 2. the second approval: the next cycle executes the plan with the keeper's key
    assert keeper(env, "approve", ref, "--by", "bob").exit_code == 0
    r = keeper(env, "run", "--once")  # the text output names the plan and how it ended
    assert r.exit_code == 0, r.output + r.stderr
    assert "cycle fund" in r.stdout and f"plan {ref}: executed" in r.stdout
    ((_, status, acts),) = plan_rows(env["KEEPER_DB_URL"])
    assert status == "executed" and len(acts) >= 1
    sent = w3.eth.get_transaction_count(keeper_addr) - nonce0
    assert sent == len(acts)
    fund_keys = {k: n for k, n in intents_per_key(env["KEEPER_DB_URL"]).items() if "fund:" in k}
    assert fund_keys == {f"fund:{ref}:{i}": 1 for i in range(len(acts))}

    # 3. another cycle: nothing waits, nothing is sent again
    r = keeper(env, "--json", "run", "--once")
    assert fund_cycle(r) == []
    assert w3.eth.get_transaction_count(keeper_addr) - nonce0 == sent


def test_keeper_run_once__fork_simulator_without_anvil__exit_2_naming_the_setting(
    env: dict[str, str],
) -> None:
    """A fork fallback whose binary is missing refuses to start, never a per-tick
    FileNotFoundError."""
    r = keeper(
        {**env, "KEEPER_SIMULATOR": "fork", "KEEPER_ANVIL_BIN": MISSING_ANVIL}, "run", "--once"
    )
    assert r.exit_code == 2, r.output + r.stderr
    assert "KEEPER_SIMULATOR=fork" in r.stderr, r.stderr
    assert f"KEEPER_ANVIL_BIN={MISSING_ANVIL!r} is not found" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "FileNotFoundError" not in r.stderr
    assert r.stdout == ""  # refused before any cycle


def test_keeper_run_once__bad_simulator_value__exit_2(env: dict[str, str]) -> None:
    r = keeper({**env, "KEEPER_SIMULATOR": "fast"}, "run", "--once")
    assert r.exit_code == 2 and "KEEPER_SIMULATOR" in r.stderr, r.output + r.stderr


def test_keeper_run_once__cycle_fails_on_configuration__exit_2_naming_it(
    env: dict[str, str], monkeypatch: Any
) -> None:
    """A bot whose cycle fails for a configuration cause exits with the configuration code, not
    1 ("cycle failed: fund"); any other cause still exits 1."""
    from keepers.core.errors import ConfigError
    from keepers.fund.bot import FundBot

    def events(self: Any, now: int) -> Any:  # the fund.tick job's second part
        raise ConfigError("KEEPER_NATIVE_PRICE='0': stand-in for a setting found wrong in a tick")

    monkeypatch.setattr(FundBot, "events", events)
    r = keeper(env, "run", "--once")
    assert r.exit_code == 2, r.output + r.stderr
    assert "cycle failed: fund (configuration: fund:" in r.stderr, r.stderr
    assert "KEEPER_NATIVE_PRICE='0'" in r.stderr

    def broken(self: Any, now: int) -> Any:
        raise RuntimeError("not a configuration problem")

    monkeypatch.setattr(FundBot, "events", broken)
    r = keeper(env, "run", "--once")
    assert r.exit_code == 1, r.output + r.stderr
    assert "keeper: cycle failed: fund\n" in r.stderr and "(configuration:" not in r.stderr


def test_keeper_run_once__confirmations_said_with_the_setting_that_chose_them(
    env: dict[str, str], chain: Any
) -> None:
    # issue 48: the keeper's confirmations are the operator's setting, honoured and printed
    # (its own process, as an operator runs it: the log goes to that process's stderr)
    cid = chain.chain_id

    def said(by_chain: dict[int, int]) -> dict[str, Any]:
        run_env = {
            **os.environ,
            **env,
            "KEEPER_LOG_JSON": "1",
            "KEEPER_LOG_LEVEL": "INFO",
            "KEEPER_CONFIRMATIONS_BY_CHAIN": json.dumps(by_chain),
        }
        r = keeper_run([keeper_exe(), "run", "--once"], env=run_env, timeout=120)
        assert r.returncode == 0, r.stderr
        lines = [x for x in r.stderr.splitlines() if '"runtime.confirmations"' in x]
        assert lines, r.stderr
        return json.loads(lines[0])

    got = said({cid: 2})
    assert (got["chain_id"], got["confirmations"]) == (cid, 2), got
    assert got["source"] == "KEEPER_CONFIRMATIONS_BY_CHAIN"
    assert said({})["source"] == "KEEPER_CONFIRMATIONS_DEFAULT"
