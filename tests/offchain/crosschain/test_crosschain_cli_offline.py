"""``keeper crosschain status`` while a chain's node is down: the chains that answered, the
moves from the store (amounts labelled), the unreachable chain named with its URL (no
credentials), exit 3; ``--json`` after the subcommand and on the root group too."""

from __future__ import annotations

import json
import socket

from click.testing import CliRunner

from keepers.cli import main
from keepers.core.errors import EXIT_UNAVAILABLE
from tests.support.movelib import keeper_env


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_crosschain_status__node_down__moves_from_store_missing_fields_exit_3(xscene, tmp_path):
    # a holder no other test funds (the scene's accounts are shared by every test); nothing is
    # moved here, the move only waits for approval
    who = "0x000000000000000000000000000000000000ba11"
    # its own store: the move made here must not reach the scene's store other tests read
    env = keeper_env(xscene, tmp_path, who, KEEPER_DB_URL=f"sqlite:///{tmp_path}/own.db")
    runner = CliRunner(mix_stderr=False)
    r = runner.invoke(main, ["crosschain", "move", "USDC", "ethereum", "base", "100"], env=env)
    assert r.exit_code == 0, r.output + r.stderr
    up = runner.invoke(main, ["crosschain", "status", "--json"], env=env)
    assert up.exit_code == 0, up.stderr
    assert json.loads(up.stdout)["balances"]  # --json after the subcommand: JSON

    cfg = json.loads(xscene.config.model_dump_json())
    port = closed_port()
    cfg["chains"][1]["rpc_url"] = f"http://user:pw@127.0.0.1:{port}/v2/apikey123"
    (tmp_path / "down.json").write_text(json.dumps(cfg))
    down_env = {**env, "BALLAST_CROSSCHAIN_CONFIG": str(tmp_path / "down.json")}
    name = cfg["chains"][1]["name"]

    r = runner.invoke(main, ["crosschain", "status"], env=down_env)
    out = r.stdout + r.stderr
    assert r.exit_code == EXIT_UNAVAILABLE, out
    assert "Traceback" not in out and "apikey123" not in out and "pw@" not in out
    assert f"{name}: down: rpc_url http://127.0.0.1:{port} unreachable" in out
    assert "USDC ethereum->base 100 USDC via -: awaiting_approval" in out
    assert "ethereum    USDC" in out  # the chains that answered are shown

    r = runner.invoke(main, ["--json", "crosschain", "status"], env=down_env)
    assert r.exit_code == EXIT_UNAVAILABLE
    data = json.loads(r.stdout)
    assert list(data["unreachable"]) == [name]
    assert {c["chain"]: c["status"] for c in data["chains"]}[name] == "down"
    assert {r["chain"] for r in data["balances"]} == {"ethereum", "base"}
    assert [(m["state"], m["amount"], m["unit"]) for m in data["moves"]] == [
        ("awaiting_approval", "100", "USDC")
    ]
