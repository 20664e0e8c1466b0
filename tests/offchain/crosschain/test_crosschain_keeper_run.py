"""Issue 12: `keeper run` starts the cross-chain bot next to the others. It runs on the
runtime's store and signer: the chain of the runtime's node reuses the runtime's pipeline, the
other chains get pipelines on the same store and signer, and the crosschain role is stored for
every process (the workers audit with it).

Its `keeper run --bots crosschain` and `keeper crosschain run` processes are forked from the tests'
preloaded server (tests/support/keeper_fork.py); the console script runs `keeper crosschain run
--once` end to end in the same tests (tests/support/movelib.py's rerun_finishes_once) and `keeper
run` in tests/offchain/operator/test_operator_walk.py.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from keepers.cli import main
from keepers.registry import declarations
from keepers.runtime.policy import stored_policy
from keepers.runtime.runner import build_runtime, default_bots
from tests.support.keeper_fork import keeper_popen
from tests.support.keeper_proc import keeper_exe, sigterm_when_held
from tests.support.movelib import (
    burns_since,
    holder,
    keeper_env,
    rerun_finishes_once,
    start_cctp_move,
)

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
    rt = build_runtime(["crosschain"], declarations=declarations())
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


def test_keeper_run__crosschain__sigterm_mid_move__exit_0_in_bound_no_wal_rerun_finishes_once(
    xscene, tmp_path
):
    """Issue 13, "Stopping": `keeper run --bots crosschain` held right after its burn went to
    the node (KEEPER_HOLD_AT, armed by KEEPER_FAULT_INJECTION) gets SIGTERM: it logs the
    signal, sends nothing more, closes its store (no -wal file) and exits 0 within the bound;
    `keeper crosschain run --once` on the same store then finishes the move, each transaction
    sent once."""
    import os
    from pathlib import Path

    from ballast_dev.local.anvil_local import ROOT

    bound_s = 30.0
    start = start_cctp_move(xscene, 20)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "BALLAST_"))}
    env |= _env(xscene, tmp_path, start.who) | {"PYTHONPATH": str(ROOT), "KEEPER_LOG_JSON": "1"}
    db = Path(env["KEEPER_DB_URL"].removeprefix("sqlite:///"))
    marker = tmp_path / "held"
    keeper = keeper_exe()
    # the 3rd intent on ethereum is depositForBurn (after the pull and the approve)
    held = env | {
        "KEEPER_FAULT_INJECTION": "1",
        "KEEPER_HOLD_AT": "sent:3",
        "KEEPER_HOLD_FILE": str(marker),
    }
    _, _, seconds, _ = sigterm_when_held(
        [keeper, "run", "--bots", "crosschain"], held, marker, bound_s, cwd=ROOT
    )
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert burns_since(xscene, start) == 1
    assert xscene.nonce("base") == start.nonce_base  # nothing sent on the destination meanwhile
    rerun_finishes_once(xscene, start, [keeper, "crosschain", "run", "--once"], env, ROOT)
    print(f"keeper run --bots crosschain: SIGTERM to exit 0 in {seconds:.2f}s")


def test_keeper_crosschain_run__sigterm__logged_exit_0_store_closed(xscene, tmp_path):
    """The standalone cross-chain keeper (`keeper crosschain run`) on SIGTERM between ticks:
    it logs the signal, stops the bot, closes its store (no -wal file) and exits 0 (not 143)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from ballast_dev.local.anvil_local import ROOT

    who = xscene.sides["ethereum"].w3.eth.accounts[18]  # balanced: a tick does nothing
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KEEPER_", "BALLAST_"))}
    env |= _env(xscene, tmp_path, who) | {"PYTHONPATH": str(ROOT), "KEEPER_LOG_JSON": "1"}
    db = Path(env["KEEPER_DB_URL"].removeprefix("sqlite:///"))
    keeper = str(Path(sys.executable).with_name("keeper"))
    # --json: every tick prints its report (as text, a tick that changes nothing prints
    # nothing, and this test once waited on a "tick:" line until pytest-timeout's 900 s)
    proc = keeper_popen(
        [keeper, "crosschain", "--json", "run", "--interval", "3600"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        seen = _lines_until_tick(proc, 120)  # the first tick's report (JSON) begins
        if not (seen and seen[-1].startswith("{")):
            proc.kill()
            _, err = proc.communicate(timeout=30)
            raise AssertionError(f"no tick line in 120 s: {seen[-20:]}; stderr: {err[-3_000:]!r}")
        assert Path(f"{db}-wal").exists()  # the store is open (WAL mode) while it runs
        signalled = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        seconds = time.monotonic() - signalled
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    text = out.decode() + err.decode()
    assert proc.returncode == 0, text[-2_000:]
    assert "crosschain.signal_received" in text and "SIGTERM" in text
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()
    assert seconds < 30.0
    print(f"keeper crosschain run: SIGTERM to exit 0 in {seconds:.2f}s")


def test_build_runtime__config_states_confirmations__every_chains_pipeline_waits_for_them(
    xscene, tmp_path, monkeypatch
):
    """``confirmations`` in the cross-chain config is what each chain's pipeline waits for under
    ``keeper run`` too, the runtime's own pipeline included (KEEPER_CONFIRMATIONS_BY_CHAIN unset:
    15 on chain ids 1, 56 and 8453, which chains that mine on demand never give)."""
    who = xscene.sides["ethereum"].w3.eth.accounts[18]  # nothing moves here
    env = _env(xscene, tmp_path, who)
    doc = json.loads(Path(env["BALLAST_CROSSCHAIN_CONFIG"]).read_text())
    for chain in doc["chains"]:
        chain["confirmations"] = 2
    Path(env["BALLAST_CROSSCHAIN_CONFIG"]).write_text(json.dumps(doc))
    env.pop("KEEPER_CONFIRMATIONS_BY_CHAIN")
    monkeypatch.delenv("KEEPER_CONFIRMATIONS_BY_CHAIN", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    rt = build_runtime(["crosschain"], declarations=declarations())
    try:
        bot = rt.loops["crosschain"]
        bot = getattr(bot, "bot", bot)
        for name, driver in bot.engine.drivers.items():
            chain_id = xscene.sides[name].spec.chain_id
            assert driver.pipeline.settings.confirmations_for(chain_id) == 2, name
        assert bot.confirmations() == {"ethereum": 2, "bsc": 2, "base": 2}
    finally:
        rt.stop()


def _lines_until_tick(proc, timeout_s: float) -> list[str]:
    """``proc``'s stdout lines up to the first tick's report (its JSON's first line, ``{``),
    read for at most ``timeout_s`` (by a thread that stops there, so ``communicate`` reads the
    rest): what came by then."""
    import threading

    seen: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            line = proc.stdout.readline().decode()
            if not line:  # the keeper's stdout closed
                break
            seen.append(line)
            if line.startswith("{"):
                break
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    done.wait(timeout_s)
    if not done.is_set():
        done.set()  # the reader ends at its next line or when the process is killed
    return list(seen)
