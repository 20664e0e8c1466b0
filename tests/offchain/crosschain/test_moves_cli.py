"""Big moves (operator instruction, approval by an admin) and the `crosschain` CLI
(status, plan --json, run --once, move, approve) against the local scene."""

import json

from click.testing import CliRunner

from keepers.core.approval import ApprovalPolicy
from keepers.crosschain.cli import crosschain
from tests.support.movelib import (
    burns_since,
    holder,
    holder_bot,
    keeper_env,
    rerun_finishes_once,
    start_cctp_move,
)

E6 = 10**6
ADMINS = ("ops1", "ops2", "ops3")


def test_big_move__needs_an_admin__runs_after_approval_and_a_rejection_ends_it(xscene):
    who, bot = holder_bot(
        xscene, 12, {("ethereum", "USDC"): "1500"}, approval=ApprovalPolicy(rebalance_admins=ADMINS)
    )
    move = bot.instruct("USDC", "ethereum", "base", "300")
    assert move.kind == "big" and move.state == "awaiting_approval"
    assert bot.tick().created == []  # balanced: the planner adds nothing
    assert bot.engine.move(move.id).state == "awaiting_approval"
    bot.engine.approve(move.id, "mallory")  # not an admin: does not count
    bot.tick()
    assert bot.engine.move(move.id).state == "awaiting_approval"
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    bot.engine.approve(move.id, "ops2")
    bot.tick()
    assert bot.engine.move(move.id).state == "done"
    assert xscene.balance("base", "USDC", who) == 1300 * E6

    other = bot.instruct("USDC", "ethereum", "base", "100")
    bot.engine.approve(other.id, "ops1", approve=False, note="not now")
    bot.tick()
    assert bot.engine.move(other.id).state == "rejected"
    assert xscene.balance("ethereum", "USDC", who) == 1200 * E6
    bot.stop()


def _env(xscene, tmp_path, who):
    return keeper_env(xscene, tmp_path, who)


def test_cli__plan_status_run_once__usdc_deficit_planned_then_moved(xscene, tmp_path):
    who = holder(xscene, 13, {("ethereum", "USDC"): "2000", ("base", "USDC"): "250"})
    env = _env(xscene, tmp_path, who)
    runner = CliRunner()
    out = runner.invoke(crosschain, ["--json", "plan"], env=env)
    assert out.exit_code == 0, out.output
    (leg,) = json.loads(out.output[out.output.index("[") :])
    assert (leg["asset"], leg["source"], leg["dest"], leg["amount"], leg["route"]) == (
        "USDC",
        "ethereum",
        "base",
        "750",
        "CCTP",
    )
    assert leg["source_units"] == leg["destination_units"] == 750 * E6

    out = runner.invoke(crosschain, ["--json", "status"], env=env)
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output[out.output.index("{") :])["balances"]
    base = {(r["chain"], r["asset"]): r for r in rows}[("base", "USDC")]
    assert base["balance"] == "250" and base["trigger_at"] == "500" and base["triggered"]

    out = runner.invoke(crosschain, ["run", "--once"], env=env)
    assert out.exit_code == 0, out.output
    assert "1 created" in out.output and "done" in out.output
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    out = runner.invoke(crosschain, ["plan"], env=env)
    assert out.exit_code == 0 and "nothing to do" in out.output


def test_cli__bad_config__exit_2_names_the_field(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"trigger_percentage": "1.5", "chains": []}))
    out = CliRunner().invoke(
        crosschain,
        ["--config", str(bad), "status"],
        env={"KEEPER_DB_URL": f"sqlite:///{tmp_path}/k.db"},
    )
    assert out.exit_code == 2 and "trigger_percentage" in out.output


def test_cli_run__process_killed_right_after_broadcasting_the_burn__rerun_finishes_once(
    xscene, tmp_path
):
    import os
    import subprocess
    import sys

    from ballast_dev.local.anvil_local import ROOT

    start = start_cctp_move(xscene, 16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPER_")}
    env.update(_env(xscene, tmp_path, start.who))
    cmd = [sys.executable, "-m", "keepers.crosschain.cli", "run", "--once"]
    # the 3rd intent is depositForBurn (after the pull and the approve): SIGKILL-like exit
    # right after eth_sendRawTransaction returned, before the pipeline recorded it
    dead = subprocess.run(
        cmd,
        env={**env, "KEEPER_CRASH_AT": "sent:3", "KEEPER_FAULT_INJECTION": "1"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dead.returncode == 137, dead.stderr[-2000:]
    assert burns_since(xscene, start) == 1
    rerun_finishes_once(xscene, start, cmd, env, ROOT)
