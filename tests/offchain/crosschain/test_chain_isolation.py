"""Chains isolated from each other: one chain's node accepts connections and never answers
(tests/support/silent_node.py) while a move between two other real anvil chains completes in
the same tick. The tick stays within the hung chain's budget of a healthy tick; the hung chain
is marked down (status, reason, metric, readiness) within its rpc_timeout_s; ``keeper
crosschain status`` answers within its bound, names the chain and exits 3.

On the code before this change the keeper's web3 clients had a 30 s deadline retried five
times: a silent node held start-up, ``status`` and every tick for minutes ("no answer in
90 s", "no tick for 2.5 min, then tick_failed ReadTimeout"), and the moves on the healthy
chains waited with it."""

from __future__ import annotations

import json
import time
from pathlib import Path

from click.testing import CliRunner
from eth_utils import to_checksum_address
from prometheus_client import REGISTRY

from keepers.cli import main
from keepers.core.errors import EXIT_UNAVAILABLE
from keepers.runtime import readiness
from tests.support.movelib import fresh_holder, holder, holders_map, keeper_env, ticks
from tests.support.silent_node import SilentNode

E6 = 10**6
TIMEOUT_S = 2.0  # the hung chain's rpc_timeout_s
BUDGET_S = 4.0  # chain_budget_s


def _env(xscene, tmp_path: Path, who: str, hung_url: str | None, db: str) -> dict[str, str]:
    env = keeper_env(xscene, tmp_path, who, KEEPER_DB_URL=f"sqlite:///{tmp_path}/{db}.db")
    doc = json.loads(Path(env["BALLAST_CROSSCHAIN_CONFIG"]).read_text())
    doc["chain_budget_s"] = BUDGET_S
    for chain in doc["chains"]:
        chain["rpc_timeout_s"] = TIMEOUT_S
        if chain["name"] == "bsc" and hung_url is not None:
            chain["rpc_url"] = hung_url
    path = tmp_path / f"{db}.json"
    path.write_text(json.dumps(doc))
    return {**env, "BALLAST_CROSSCHAIN_CONFIG": str(path)}


def _bot(env: dict[str, str], monkeypatch):
    from keepers.crosschain.cli import build_bot

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return build_bot(None, exclusive=True)


def test_tick__one_chain_hung__moves_between_the_others_complete_in_a_bounded_tick(
    xscene, tmp_path, monkeypatch
):
    imbalance = {("ethereum", "USDC"): "1700", ("base", "USDC"): "300"}  # 700 over CCTP
    healthy_who = holder(xscene, 26, imbalance)
    hung_who = holder(xscene, 27, imbalance)

    # the baseline, measured in the same run: the same move with every chain answering
    bot = _bot(_env(xscene, tmp_path, healthy_who, None, "healthy"), monkeypatch)
    try:
        bot.start()
        t0 = time.monotonic()
        report = bot.tick()
        healthy_s = time.monotonic() - t0
    finally:
        bot.stop()
    assert [v.state for v in report.moves] == ["done"], report
    assert xscene.balance("base", "USDC", healthy_who) == 1000 * E6

    with SilentNode(lifetime_s=120) as node:
        t0 = time.monotonic()
        bot = _bot(_env(xscene, tmp_path, hung_who, node.url, "hung"), monkeypatch)
        built_s = time.monotonic() - t0
        try:
            bot.start()
            t0 = time.monotonic()
            report = bot.tick()
            hung_s = time.monotonic() - t0
            bsc = bot.health.states["bsc"]
            # the move between the two answering chains went on in the same tick
            assert [(v.source, v.dest, v.state) for v in report.moves] == [
                ("ethereum", "base", "done")
            ], report
            assert xscene.balance("base", "USDC", hung_who) == 1000 * E6
            assert xscene.balance("ethereum", "USDC", hung_who) == 1000 * E6
            # the hung chain: down, why, when, in the report, the metric and readiness
            assert bsc.status == "down" and "unreachable (ReadTimeout)" in str(bsc.error)
            assert f"rpc_url {node.url}" in str(bsc.error)
            marked_s = bsc.seconds
            assert marked_s is not None and TIMEOUT_S <= marked_s <= BUDGET_S
            assert {c["chain"]: c["status"] for c in report.chains} == {
                "ethereum": "up",
                "bsc": "down",
                "base": "up",
            }
            assert REGISTRY.get_sample_value("crosschain_chain_up", {"chain": "bsc"}) == 0
            assert REGISTRY.get_sample_value("crosschain_chain_up", {"chain": "base"}) == 1
            problems = readiness.TRACKER.problems("crosschain")
            assert [(p["reason"], p["chain"]) for p in problems] == [("chain_down", "bsc")]
        finally:
            bot.stop()
            readiness.TRACKER.reset()
        assert node.accepted >= 1  # the keeper did reach the silent node
    assert built_s <= BUDGET_S + 5.0, f"start-up held by the hung chain: {built_s:.1f}s"
    assert hung_s <= healthy_s + BUDGET_S + 2.0, (hung_s, healthy_s)
    print(
        f"tick with every chain up {healthy_s:.2f}s; with bsc hung {hung_s:.2f}s "
        f"(bsc marked down after {marked_s:.2f}s; rpc_timeout_s {TIMEOUT_S}, chain_budget_s "
        f"{BUDGET_S}); start-up with bsc hung {built_s:.2f}s"
    )


def test_status__one_chain_hung__answers_within_its_bound_names_the_chain_exit_3(xscene, tmp_path):
    who = to_checksum_address("0x000000000000000000000000000000000000ba1c")  # never funded
    runner = CliRunner(mix_stderr=False)
    with SilentNode(lifetime_s=120) as node:
        env = _env(xscene, tmp_path, who, node.url, "status")
        moved = runner.invoke(
            main, ["crosschain", "move", "USDC", "ethereum", "base", "5"], env=env
        )
        assert moved.exit_code == 0, moved.stdout + moved.stderr
        t0 = time.monotonic()
        r = runner.invoke(main, ["--json", "crosschain", "status"], env=env)
        took = time.monotonic() - t0
    bound_s = 2 * BUDGET_S + 5.0  # the start-up probe, the reads, the rest
    assert r.exit_code == EXIT_UNAVAILABLE, r.stdout + r.stderr
    assert took <= bound_s, f"status took {took:.1f}s"
    data = json.loads(r.stdout)
    assert list(data["unreachable"]) == ["bsc"]
    assert {r["chain"] for r in data["balances"]} == {"ethereum", "base"}
    assert [(m["asset"], m["amount"], m["state"]) for m in data["moves"]] == [
        ("USDC", "5", "awaiting_approval")
    ]
    assert "chain(s) not read: bsc" in r.stderr
    print(f"status with bsc hung: exit {r.exit_code} in {took:.2f}s (bound {bound_s:.0f}s)")


def test_tick__chain_goes_silent_mid_move__its_move_waits_saying_why_others_go_on(xscene):
    """A USDT move ethereum -> bsc waits in Cross when bsc's node goes silent: the next tick marks
    bsc down within its deadline, the move's error says it waits for bsc, a USDC move
    ethereum -> base planned in that tick completes in it; once bsc answers again it is marked
    up and the USDT move finishes, delivered once."""
    from keepers.crosschain.chains import connect

    who = fresh_holder(
        xscene,
        "isolation: silent mid-move",
        {("ethereum", "USDT"): "1700", ("bsc", "USDT"): "300", ("ethereum", "USDC"): "1700"},
    )
    bot = xscene.bot(holders=holders_map(xscene, who))
    try:
        (usdt,) = bot.tick().created
        assert bot.engine.move(usdt.id).state == "cross"  # waits for LayerZero's DVNs
        xscene.dvn("bsc")
        base = xscene.sides["base"]
        base.w3.eth.wait_for_transaction_receipt(  # base now short of USDC: a new deficit
            base.usdc.functions.transfer(base.owner, 700 * E6).transact({"from": who})
        )
        real = bot.w3s["bsc"]
        with SilentNode(lifetime_s=60) as node:
            silent = connect(node.url, 1.0)
            bot.w3s["bsc"] = bot.engine.w3s["bsc"] = silent
            t0 = time.monotonic()
            report = bot.tick()
            took = time.monotonic() - t0
        bot.w3s["bsc"] = bot.engine.w3s["bsc"] = real
        waiting = bot.engine.move(usdt.id)
        assert waiting.state == "cross"
        assert str(waiting.error).startswith("waiting: chain bsc down: ")
        assert "unreachable (ReadTimeout)" in str(waiting.error)
        (usdc,) = report.created
        assert (usdc.asset, bot.engine.move(usdc.id).state) == ("USDC", "done")
        assert xscene.balance("base", "USDC", who) == 1000 * E6
        assert took < 1.0 + 5.0, took  # the silent chain's deadline, and the USDC move
        ticks(bot, lambda r: bot.engine.move(usdt.id).state == "done")
        assert bot.health.status("bsc") == "up" and bot.engine.move(usdt.id).error is None
        assert xscene.balance("bsc", "USDT", who) == 1000 * 10**18
    finally:
        bot.stop()
        readiness.TRACKER.reset()
    print(f"tick with bsc silent mid-move: {took:.2f}s (bsc's rpc_timeout_s 1.0)")


def test_step__node_times_out_mid_step__not_a_failed_attempt_the_move_resumes(xscene):
    """A node that stops answering in the middle of a step (here: right before the mint) is
    the chain's trouble, not the move's: the tick goes on, the move keeps its state with the
    node's error and no attempt counted, and the next tick finishes it, minted once. The tick
    raised ReadTimeout before (``tick_failed ReadTimeout``, every move stalled)."""
    import requests

    who = fresh_holder(
        xscene,
        "isolation: timeout mid-step",
        {("ethereum", "USDC"): "1700", ("base", "USDC"): "300"},
    )
    fired: list[int] = []

    def hook(move_id: int, step: str, point: str) -> None:
        if (step, point) == ("transfer_in", "before_finalize") and not fired:
            fired.append(move_id)
            raise requests.exceptions.ReadTimeout("Read timed out. (read timeout=5)")

    bot = xscene.bot(holders=holders_map(xscene, who), hook=hook)
    try:
        nonce_base = xscene.nonce("base")
        (move,) = bot.tick().created
        view = bot.engine.move(move.id)
        assert fired == [move.id]
        assert (view.state, view.attempts) == ("transfer_in", 0)
        assert view.error == "transfer_in: node: node unreachable (ReadTimeout)"
        ticks(bot, lambda r: bot.engine.move(move.id).state == "done")
    finally:
        bot.stop()
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert xscene.nonce("base") == nonce_base + 2  # one mint, one invest
