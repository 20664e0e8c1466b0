"""Issue 12: `keeper run` starts the cross-chain bot next to the others. It runs on the
runtime's store and signer: the chain of the runtime's node reuses the runtime's pipeline, the
other chains get pipelines on the same store and signer, and the crosschain role is stored for
every process (the workers audit with it)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from keepers.cli import main
from keepers.runtime.policy import stored_policy
from keepers.runtime.runner import build_runtime, default_bots
from tests.support.movelib import holder, keeper_env

E6 = 10**6


def _env(xscene, tmp_path, who) -> dict[str, str]:
    """The scene's keeper environment on a store of its own, with the node of chain 1."""
    return keeper_env(
        xscene,
        tmp_path,
        who,
        KEEPER_DB_URL=f"sqlite:///{tmp_path}/run.db",
        KEEPER_RPC_URL=xscene.sides["ethereum"].url,
    )


def test_build_runtime__crosschain__shares_store_signer_and_the_node_chains_pipeline(
    xscene, tmp_path, monkeypatch
):
    who = holder(xscene, 19, {("ethereum", "USDC"): "2000", ("base", "USDC"): "250"})
    for k, v in _env(xscene, tmp_path, who).items():
        monkeypatch.setenv(k, v)
    rt = build_runtime(["crosschain"])
    try:
        bot = rt.loops["crosschain"]
        drivers = bot.engine.drivers
        assert drivers["ethereum"].pipeline is rt.pipeline  # one pipeline for chain 1
        for name in ("bsc", "base"):
            pipe = drivers[name].pipeline
            assert pipe is not rt.pipeline and pipe.store is rt.store
            assert list(pipe.signers) == list(rt.pipeline.signers)
            assert "crosschain" in pipe.settings.policy.roles
        assert "crosschain" in stored_policy(rt.store).roles
        bot.start()
        report = bot.tick()
        assert len(report.created) == 1 and report.error is None
        assert xscene.balance("base", "USDC", who) == 1000 * E6
    finally:
        rt.stop()


def test_keeper_run__crosschain__starts_in_the_one_runner(xscene, tmp_path):
    who = xscene.sides["ethereum"].w3.eth.accounts[19]  # no tick: not funded
    env = _env(xscene, tmp_path, who)
    out = CliRunner().invoke(main, ["--json", "run", "--bots", "crosschain", "--once"], env=env)
    assert out.exit_code == 0, out.output
    loops = json.loads(out.output[out.output.index("{") :])["loops"]
    assert [x["bot"] for x in loops] == ["crosschain"]


def test_keeper_run__crosschain_without_config__exit_2_names_the_variable(tmp_path):
    env = {"KEEPER_DB_URL": f"sqlite:///{tmp_path}/k.db", "BALLAST_CROSSCHAIN_CONFIG": ""}
    out = CliRunner().invoke(main, ["run", "--bots", "crosschain", "--once"], env=env)
    assert out.exit_code == 2 and "BALLAST_CROSSCHAIN_CONFIG" in out.output, out.output


def test_default_bots__all_four_when_the_crosschain_config_is_named():
    assert default_bots({"BALLAST_CROSSCHAIN_CONFIG": "x.json"}) == [
        "fund",
        "executor",
        "supervisor",
        "crosschain",
    ]
    assert default_bots({}) == ["fund", "executor", "supervisor"]
