"""docs/operator/crosschain.md walked as written, on the local chains (three anvils posing as
Ethereum, BNB Chain and Base, with the route contracts deployed locally): the settings file the
page shows (its variables, filled with this machine's values) where the page puts it, the store
where the shipped unit puts it, then the page's commands in order: the checks before anything
moves (``status``, ``plan``), a first tick by hand (``run --once``, ``history``), the service
started from deploy/systemd/ballast-crosschain.service's own ExecStart, WorkingDirectory,
Environment= and EnvironmentFile=, and the page's monitoring commands against it (``/readyz``,
``/metrics``, ``status``); SIGTERM stops it with exit 0.

The keeper is the dev venv's console script standing where the unit expects the runtime
wheel's venv (/opt/ballast/.venv); the wheel itself is the fund keeper's walk
(tests/offchain/operator/test_operator_walk.py)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request

import yaml

from ballast_dev.local.anvil_local import free_port
from ballast_dev.local.crosschain_scene_local import KEEPER_KEY
from tests.support.docs_examples import ROOT, examples
from tests.support.movelib import E6, holder, holders_map
from tests.support.systemd_unit import exec_start, service_env, working_directory

PAGE = "docs/operator/crosschain.md"
UNIT = ROOT / "deploy" / "systemd" / "ballast-crosschain.service"


def _blocks(mark: str) -> list[str]:
    return [e.code for e in examples() if e.page == PAGE and e.mark == mark]


def _settings_keys() -> list[str]:
    """The variables of the page's settings file (its ``ini`` block)."""
    (block,) = [e.code for e in examples() if e.page == PAGE and e.lang == "ini"]
    return [ln.split("=", 1)[0] for ln in block.splitlines() if ln and not ln.startswith("#")]


def _run(code: str, env: dict[str, str], cwd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def _metrics(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


def test_page__walked_as_written__checks_tick_history_service_and_its_monitoring(xscene, tmp_path):
    who = holder(xscene, 28, {("ethereum", "USDC"): "1700", ("base", "USDC"): "300"})
    host = {
        "/opt/ballast/.venv": ROOT / ".venv",
        "/opt/ballast": tmp_path / "opt",
        "/etc/ballast": tmp_path / "etc",
        "/var/lib/ballast": tmp_path / "var",
    }
    for d in ("opt", "etc", "var"):
        (tmp_path / d).mkdir()
    # the config: the page's fields, this machine's chains and contracts
    doc = xscene.config.model_dump(mode="json", exclude_none=True)
    for chain in doc["chains"]:
        chain["confirmations"] = 1  # the local chains mine on demand
    config = tmp_path / "etc" / "crosschain.yaml"
    config.write_text(yaml.safe_dump(doc))
    port = free_port()
    values = {
        "KEEPER_SIGNER_KEY": KEEPER_KEY,
        "BALLAST_CROSSCHAIN_CONFIG": str(config),
        "BALLAST_CROSSCHAIN_ROUTES": "",  # the local contracts are in the config itself
        "BALLAST_CROSSCHAIN_HOLDERS": json.dumps(holders_map(xscene, who)),
        "KEEPER_DB_URL": f"sqlite:///{tmp_path}/var/crosschain.db",
        "KEEPER_RPC_URL": xscene.sides["ethereum"].url,
        "KEEPER_METRICS_PORT": str(port),
    }
    keys = _settings_keys()
    assert sorted(keys) == sorted(values), keys  # every variable the page names, no other
    # local chains only: the CCTP stand-ins' attester (the page's iris section on real ones)
    values["BALLAST_CCTP_LOCAL_ATTESTER_KEY"] = xscene.attestations.inner.attester.account.key.hex()
    env_file = tmp_path / "etc" / "crosschain.env"
    env_file.write_text("".join(f"{k}='{v}'\n" for k, v in values.items()))
    env_file.chmod(0o600)

    env = service_env(host, unit=UNIT)
    env["PATH"] = str(ROOT / ".venv" / "bin") + os.pathsep + env["PATH"]
    cwd = working_directory(host, unit=UNIT)
    assert env["KEEPER_DB_URL"] == values["KEEPER_DB_URL"]  # the file's store wins the unit's

    checks, first_tick = _blocks("crosschain")
    r = _run(checks, env, cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "ethereum    up" in r.stdout and "USDC 700 ethereum -> base via CCTP" in r.stdout
    r = _run(first_tick, env, cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "1 created" in r.stdout and re.search(r"move \d+ done", r.stdout)
    assert "USDC ethereum->base 700 USDC via CCTP: done" in r.stdout  # history
    assert "chain base (chain id 8453): 1 confirmations (config)" in r.stderr
    assert xscene.balance("base", "USDC", who) == 1000 * E6
    assert (tmp_path / "var" / "crosschain.db").exists()

    # the service, as systemd starts it
    proc = subprocess.Popen(
        exec_start(host, unit=UNIT),
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while 'crosschain_chain_up{chain="base"} 1.0' not in _metrics(port):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the service never reported its chains"
            time.sleep(0.5)
        (service,) = _blocks("crosschain service")
        r = _run(service, env, cwd)
        assert r.returncode == 0, r.stdout + r.stderr
        ready, _ = json.JSONDecoder().raw_decode(r.stdout)  # curl prints no newline after it
        assert ready["ready"] is True, r.stdout
        chains = {c["chain"]: c["status"] for c in ready["bots"]["crosschain"]["chains"]}
        assert chains == {"ethereum": "up", "bsc": "up", "base": "up"}
        assert 'crosschain_chain_up{chain="ethereum"} 1.0' in r.stdout
        assert "no move in flight" in r.stdout
        # every series the dashboard's cross-chain row reads is exported by the service
        exported = {ln.split("{")[0].split(" ")[0] for ln in _metrics(port).splitlines()}
        dashboard = json.loads((ROOT / "deploy/grafana/dashboards/ballast-keeper.json").read_text())
        read = {
            name
            for p in dashboard["panels"]
            for t in p["targets"]
            for name in re.findall(r"crosschain_[a-z_]+", t["expr"])
        }
        assert read and read <= exported, read - exported
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
