"""The cross-chain keeper as an operator runs it: a config checked before anything moves, the
words an operator reads (the seed's insufficient-surplus error in the asset's own units, JSON
errors, labelled amounts, no empty tick lines), ``keeper crosschain history`` with each move's
steps and transactions, read-only commands without a signer, and a signer conflict that stops
one chain's sends (critical alert, exit 4 for ``run --once``) while the other chains go on."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from prometheus_client import REGISTRY

from ballast_dev.local.crosschain_scene_local import KEEPER
from keepers.cli import main
from keepers.core.errors import EXIT_CONFIG, EXIT_HALTED
from keepers.runtime import readiness
from tests.support.movelib import E6, E18, holder, holders_map, keeper_env, ticks

# --------------------------------------------------------------------------- config


def test_start__route_named_without_contracts__exit_2_names_route_and_chain(cc_doc, tmp_path):
    """The page's example names ``routes: [CCTP, USDT0]`` with no route files: the move was
    created and then failed at run time ("no route"); now nothing starts."""
    path = tmp_path / "crosschain.json"
    path.write_text(json.dumps(cc_doc))
    env = {
        "BALLAST_CROSSCHAIN_CONFIG": str(path),
        "BALLAST_CROSSCHAIN_ROUTES": "",
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/k.db",
    }
    runner = CliRunner(mix_stderr=False)
    for cmd in (["status"], ["plan"], ["run", "--once"]):
        r = runner.invoke(main, ["crosschain", *cmd], env=env)
        assert r.exit_code == EXIT_CONFIG, (cmd, r.stdout, r.stderr)
        assert "route CCTP is named but cctp_token_messenger" in r.stderr, r.stderr
        assert "chains.0 (ethereum, chain_id 1)" in r.stderr
        assert "chains.1 (bsc, chain_id 56): route USDT0" in r.stderr
        assert "BALLAST_CROSSCHAIN_ROUTES" in r.stderr


def _env(xscene, tmp_path: Path, who: str, **doc_update) -> dict[str, str]:
    env = keeper_env(xscene, tmp_path, who, KEEPER_DB_URL=f"sqlite:///{tmp_path}/own.db")
    doc = json.loads(Path(env["BALLAST_CROSSCHAIN_CONFIG"]).read_text())
    for chain in doc["chains"]:
        chain.update(doc_update)
    Path(env["BALLAST_CROSSCHAIN_CONFIG"]).write_text(json.dumps(doc))
    return env


# --------------------------------------------------------------------------- words, history


def test_cli__surplus_short_then_enough__seed_error_in_asset_units_then_move_and_history(
    xscene, tmp_path
):
    who = holder(xscene, 29, {("ethereum", "USDC"): "1600", ("base", "USDC"): "300"})
    env = _env(xscene, tmp_path, who, confirmations=1)
    no_key = {k: v for k, v in env.items() if k != "KEEPER_SIGNER_KEY"}
    runner = CliRunner(mix_stderr=False)

    # short by 100 USDC (a 6-decimal token): the seed's words, in USDC, not 18-decimal units
    r = runner.invoke(main, ["--json", "crosschain", "plan"], env=no_key)  # no signer needed
    assert r.exit_code == 1, r.stdout + r.stderr
    err = json.loads(r.stdout)
    assert err["kind"] == "InsufficientSurplusError"
    assert err["error"].startswith(
        "Insufficient surplus to bring chain base asset USDC back to base: deficit 700 USDC"
    )
    assert "total surplus 600 USDC, short by 100 USDC" in err["error"]
    assert "000000000000" not in err["error"]  # no 18-decimal integers
    # a read-only command prints what was asked: no start-up info logs (six chain.up lines
    # came before the plan), unless --verbose; what went wrong still goes to stderr
    # (at the operator's KEEPER_LOG_LEVEL=INFO: this test's environment says WARNING)
    at_info = {**no_key, "KEEPER_LOG_LEVEL": "INFO"}
    r = runner.invoke(main, ["crosschain", "plan"], env=at_info)
    assert r.exit_code == 1 and "Insufficient surplus" in r.stderr, r.stderr
    assert "chain.up" not in r.stderr and '"info"' not in r.stderr, r.stderr
    r = runner.invoke(main, ["crosschain", "plan", "--verbose"], env=at_info)
    assert r.exit_code == 1 and "chain.up" in r.stderr, r.stderr
    r = runner.invoke(main, ["crosschain", "run", "--once"], env=env)
    assert r.exit_code == 1, r.stdout + r.stderr  # it was 0: nothing said the plan failed
    assert "plan error: Insufficient surplus" in r.stdout
    # the start-up lines: confirmations per chain and where they come from
    assert "chain ethereum (chain id 1): 1 confirmations (config)" in r.stderr
    assert "calls end within 5s, up" in r.stderr

    xscene.fund("ethereum", "USDC", who, "100")  # now 1700: 700 to spare
    r = runner.invoke(main, ["crosschain", "run", "--once"], env=env)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "1 created" in r.stdout and "done" in r.stdout
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    r = runner.invoke(main, ["crosschain", "run", "--once"], env=env)
    assert r.exit_code == 0 and "tick:" not in r.stdout, r.stdout  # nothing happened: silent

    # status without a signer: every amount labelled, the chains' health
    r = runner.invoke(main, ["crosschain", "status"], env=no_key)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "amounts in each asset's own units" in r.stdout
    assert "ethereum    up" in r.stdout and "no move in flight" in r.stdout
    r = runner.invoke(main, ["crosschain", "status"], env={**no_key, "KEEPER_LOG_LEVEL": "INFO"})
    assert r.exit_code == 0 and "ethereum    up" in r.stdout, r.stdout + r.stderr
    assert "chain.up" not in r.stderr and '"info"' not in r.stderr, r.stderr

    # history: the finished move, its steps and transactions, from the store alone
    r = runner.invoke(main, ["crosschain", "history"], env=no_key)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "USDC ethereum->base 700 USDC via CCTP: done, received 700 USDC" in r.stdout
    for call in ("transferFrom", "approve", "depositForBurn", "receiveMessage", "transfer"):
        assert call in r.stdout, call
    r = runner.invoke(main, ["--json", "crosschain", "history"], env=no_key)
    assert r.exit_code == 0
    (move,) = json.loads(r.stdout)
    assert (move["state"], move["amount"], move["received"]) == ("done", "700", "700")
    steps = [(s["step"], s["call"], s["status"]) for s in move["steps"]]
    assert steps == [
        ("transfer_out", "transferFrom", "confirmed"),
        ("transfer_out", "approve", "confirmed"),
        ("transfer_out", "depositForBurn", "confirmed"),
        ("transfer_in", "receiveMessage", "confirmed"),
        ("invest", "transfer", "confirmed"),
    ]
    assert all(s["tx"] and s["tx"].startswith("0x") for s in move["steps"])
    assert move["transactions"]["initiate"] == move["steps"][2]["tx"]


# --------------------------------------------------------------------------- signer conflict


def test_signer_conflict__on_one_chain__its_sends_stop_with_a_critical_alert_others_go_on(
    xscene,
):
    who = holder(
        xscene,
        22,
        {
            ("ethereum", "USDC"): "1700",
            ("base", "USDC"): "300",
            ("ethereum", "USDT"): "1700",
            ("bsc", "USDT"): "300",
        },
    )
    bot = xscene.bot(holders=holders_map(xscene, who))
    alerts = []
    bot.alert = alerts.append
    base = xscene.sides["base"]
    try:
        # another process sends with the keeper's key on base, after the keeper started
        base.w3.eth.wait_for_transaction_receipt(
            base.w3.eth.send_transaction({"from": KEEPER, "to": KEEPER, "value": 0})
        )
        nonce_base = xscene.nonce("base")
        report = bot.tick()
        by_asset = {v.asset: v for v in report.created}
        assert set(by_asset) == {"USDC", "USDT"}
        usdc = bot.engine.move(by_asset["USDC"].id)
        assert usdc.state == "transfer_in" and "halted" in str(usdc.error), usdc
        assert set(report.halted) == {"base"}
        conflict = [a for a in alerts if a.code == "crosschain_signer_conflict"]
        assert len(conflict) == 1 and conflict[0].level.value == "critical"
        assert "stop the other process" in conflict[0].message
        assert REGISTRY.get_sample_value("crosschain_chain_halted", {"chain": "base"}) == 1
        # the other chains go on: the USDT move ethereum -> bsc completes
        xscene.dvn("bsc")
        ticks(bot, lambda r: bot.engine.move(by_asset["USDT"].id).state == "done")
        assert xscene.balance("bsc", "USDT", who) == 1000 * E18
        # nothing more was sent on base; the USDC move waits, saying why
        assert xscene.nonce("base") == nonce_base
        usdc = bot.engine.move(by_asset["USDC"].id)
        assert usdc.state == "transfer_in"
        assert str(usdc.error).startswith("waiting: chain base halted: signer"), usdc.error
        assert [p["chain"] for p in readiness.TRACKER.problems("crosschain")] == ["base"]
    finally:
        bot.stop()
        readiness.TRACKER.reset()
    # the operator stopped the other sender and restarts the keeper: the move finishes, once
    again = xscene.bot(holders=holders_map(xscene, who))
    try:
        ticks(again, lambda r: again.engine.move(by_asset["USDC"].id).state == "done")
    finally:
        again.stop()
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.nonce("base") == nonce_base + 2  # the mint and the invest


def test_cli_run_once__signer_conflict__exit_4_naming_the_chain(xscene, tmp_path, monkeypatch):
    from keepers.crosschain import cli

    who = holder(xscene, 21, {("ethereum", "USDC"): "1700", ("base", "USDC"): "300"})
    env = _env(xscene, tmp_path, who)
    base = xscene.sides["base"]
    real = cli.build_bot

    def build_then_someone_sends(*args, **kw):
        bot = real(*args, **kw)
        started = bot.start

        def start():
            started()
            base.w3.eth.wait_for_transaction_receipt(
                base.w3.eth.send_transaction({"from": KEEPER, "to": KEEPER, "value": 0})
            )

        bot.start = start
        return bot

    monkeypatch.setattr(cli, "build_bot", build_then_someone_sends)
    r = CliRunner(mix_stderr=False).invoke(main, ["crosschain", "run", "--once"], env=env)
    readiness.TRACKER.reset()
    assert r.exit_code == EXIT_HALTED, r.stdout + r.stderr
    assert "crosschain: halted on base: signer" in r.stderr
    assert "crosschain_signer_conflict" in r.stderr  # the critical alert's log line
