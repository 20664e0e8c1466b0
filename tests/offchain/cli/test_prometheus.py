"""A real Prometheus (Debian's package) on loopback scrapes a running `keeper run` (all bots) on
the deployed local fund and automation contracts, evaluates the shipped alert rules (rendered
with 1 s `for:` durations, scraping and evaluating twice a second; the thresholds are the
shipped ones, the seed's) and answers on its HTTP API:

1. before the keeper starts, a plan is executed by another process (`keeper plan` here, on the
   same store): the keeper exports it from the store (counted once, success rate 1.0), and no
   alert is pending or firing on the fresh keeper;
2. a tier out of band (a large deposit) -> RebalanceDeviationWarning and ...Critical;
3. a funder's runway under the supervisor's threshold -> FunderRunwayLow (its balance still
   pays the next booking: FunderEmpty stays quiet);
4. a stuck rebalancer (its funder emptied, its run executed, the next booking failed, so the
   keeper cannot fix it) -> RebalancerStuck and FunderEmpty;
5. every query of the Grafana dashboard returns data;
6. an RPC outage (the keeper's node URL goes through a proxy we cut) -> KeeperRpcDown, the
   keeper's /readyz answers 503, and 200 again once the node is back.

Skips with a message where Debian's prometheus is not installed (.ci/run installs it).

Its `keeper run` process is forked from the tests' preloaded server (tests/support/keeper_fork.py);
the console script itself runs `keeper run` end to end in
tests/offchain/operator/test_operator_walk.py (the runtime wheel's, installed in a clean venv).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from ballast_dev.local.anvil_local import free_port
from keepers.cli import main
from tests.support.keeper_fork import keeper_popen
from tests.support.rpc_proxy import RpcProxy

ROOT = Path(__file__).resolve().parents[3]
RULES = ROOT / "keepers/alerts/rebalance.rules.yml"
DASHBOARD = ROOT / "deploy/grafana/dashboards/ballast-keeper.json"
PROMETHEUS = shutil.which("prometheus")
UNIT = 10**6
NO_APPROVAL = {
    "APPROVAL_REVIEW_AMOUNT": "50000000",
    "REBALANCE_APPROVAL_THRESHOLD": "50000000",
    "APPROVAL_MULTISIG_AMOUNT": "50000000",
}

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="prometheus not found: install Debian's `prometheus` package (.ci/run does)",
)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read().decode())


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as err:
        return int(err.code)
    except OSError:
        return 0


def other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent for a UDP connect
            addr = str(s.getsockname()[0])
        except OSError:
            return None
    return None if addr.startswith("127.") else addr


class Prom:
    """A Prometheus process scraping ``target`` twice a second with ``rules``, evaluated as
    often."""

    def __init__(self, workdir: Path, target: str, rules: dict[str, Any]) -> None:
        (workdir / "rules.yml").write_text(yaml.safe_dump(rules, sort_keys=False))
        config = {
            "global": {"scrape_interval": "500ms", "evaluation_interval": "500ms"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [
                {"job_name": "ballast-keeper", "static_configs": [{"targets": [target]}]}
            ],
        }
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        assert PROMETHEUS is not None
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def query(self, expr: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"query": expr})
        doc = get_json(f"{self.url}/api/v1/query?{q}")
        assert doc["status"] == "success", doc
        return list(doc["data"]["result"])

    def alerts(self) -> list[dict[str, Any]]:
        return list(get_json(f"{self.url}/api/v1/alerts")["data"]["alerts"])

    def firing(self, name: str) -> list[dict[str, Any]]:
        return [
            a for a in self.alerts() if a["labels"]["alertname"] == name and a["state"] == "firing"
        ]

    def stop(self) -> str:
        self.proc.terminate()
        try:
            _, err = self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return err.decode()[-2_000:]


def short_for(rules: dict[str, Any], seconds: int = 1) -> dict[str, Any]:
    """The shipped rules with every `for:` cut to ``seconds``; expressions untouched."""
    out = json.loads(json.dumps(rules))
    for group in out["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = f"{seconds}s"
    return out


def wait_for(what: str, check: Callable[[], Any], seconds: float, alive: Callable[[], bool]) -> Any:
    deadline = time.monotonic() + seconds
    last: Any = None
    while time.monotonic() < deadline:
        assert alive(), f"a process ended while waiting for {what}"
        try:
            last = check()
        except OSError:
            last = None
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {seconds}s waiting for {what} (last: {last!r})")


@pytest.fixture
def keeper_proc(env: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Started by the test (after its set-up); stopped with SIGTERM here if it is still up."""
    box: dict[str, Any] = {}
    yield box
    proc = box.get("proc")
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)


def test_prometheus__running_keeper__each_condition_fires_its_alert_dashboard_has_data(
    chain, env, fresh, auto, make_paid, accounts, gov, tmp_path, keeper_proc
):
    t0 = time.monotonic()
    timings: dict[str, float] = {}
    admin = accounts[1]
    funder = auto["funder"]
    ((_, reb, _),) = make_paid(1)  # a paid rebalancer: the supervisor watches it and its funder

    # 1. a plan executed by another process, before the keeper starts
    fresh.vault.deposit(400_000 * UNIT, admin, sender=admin)
    r = CliRunner(mix_stderr=False).invoke(main, ["--json", "plan"], env={**env, **NO_APPROVAL})
    assert r.exit_code == 0, r.output + r.stderr
    # the document on stdout; logs (the public pool's warning on a local chain) on stderr
    assert json.loads(r.stdout)["status"] == "executed"
    timings["plan by another process"] = time.monotonic() - t0

    proxy = RpcProxy(chain.provider.uri)
    port = free_port()
    full = {
        **os.environ,
        **env,
        "KEEPER_RPC_URL": proxy.url,
        "KEEPER_METRICS_PORT": str(port),
        "KEEPER_HEALTH_INTERVAL_S": "0.5",
        # the executor every second (0.2 s by default, with the conftest's due scan every
        # tick): no alert here waits on how soon a due run goes, only on that it went
        "KEEPER_EXECUTOR_INTERVAL_S": "1",
        # this checkout's keepers, whichever checkout the venv's `keeper` script was installed from
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    shipped = yaml.safe_load(RULES.read_text())
    rendered = short_for(shipped)
    assert [r["expr"] for g in rendered["groups"] for r in g["rules"]] == [
        r["expr"] for g in shipped["groups"] for r in g["rules"]
    ]  # the thresholds are the shipped ones
    prom = Prom(tmp_path, f"127.0.0.1:{port}", rendered)
    exe = Path(sys.executable).with_name("keeper")
    proc = keeper_popen([str(exe), "run"], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    keeper_proc["proc"] = proc

    def alive() -> bool:
        return proc.poll() is None and prom.proc.poll() is None

    keeper = f"http://127.0.0.1:{port}"
    try:
        wait_for("Prometheus ready", lambda: status_of(prom.url + "/-/ready") == 200, 30, alive)
        wait_for("keeper ready", lambda: status_of(keeper + "/readyz") == 200, 60, alive)
        assert status_of(keeper + "/healthz") == 200
        outside = other_address()
        if outside is not None:  # loopback by default: not reachable on another interface
            assert status_of(f"http://{outside}:{port}/metrics") == 0
        timings["keeper ready"] = time.monotonic() - t0

        def value(expr: str) -> float | None:
            res = prom.query(expr)
            return float(res[0]["value"][1]) if res else None

        # the plan executed by the other process, from the store, counted once
        wait_for(
            "the keeper scraped",
            lambda: value('rebalance_plans{status="executed"}') == 1.0,
            30,
            alive,
        )
        assert value("rebalance_success_rate") == 1.0
        assert value("rebalance_execution_time") > 0
        assert value("rebalance_gas_cost") > 0
        assert value('up{job="ballast-keeper"}') == 1.0
        assert value("keeper_rpc_up") == 1.0
        assert value('rebalance_deviation_ratio{tier="max"}') <= 0.07
        time.sleep(1.5)  # three evaluations on the healthy keeper: nothing pending or firing
        assert prom.alerts() == []

        # 2. a tier out of band: cash lands in L1 (the plan it calls for needs approval)
        fresh.vault.deposit(2_000_000 * UNIT, admin, sender=admin)
        t = time.monotonic()
        for name in ("RebalanceDeviationWarning", "RebalanceDeviationCritical"):
            (a,) = wait_for(name, lambda n=name: prom.firing(n), 30, alive)
            assert a["labels"]["tier"] == "max" and float(a["value"]) > 0.10
        timings["deviation alerts after the deposit"] = time.monotonic() - t

        # 3. low runway: 2 intervals left, the supervisor pages under 3
        assert prom.firing("FunderRunwayLow") == []
        funder.setRunwayParams(funder.balance // 2, 3, sender=gov)
        t = time.monotonic()
        (a,) = wait_for("FunderRunwayLow", lambda: prom.firing("FunderRunwayLow"), 30, alive)
        assert a["labels"]["funder"] == funder.address and float(a["value"]) == 2.0
        timings["runway alert after setRunwayParams"] = time.monotonic() - t
        assert prom.firing("FunderEmpty") == []  # it still pays the next booking
        assert prom.firing("RebalancerStuck") == []

        # 4. a stuck rebalancer: its funder emptied, its run executed (by the keeper's
        # executor) an hour later, the next booking failed; nothing the keeper can send fixes it
        funder.withdraw(gov, funder.balance, sender=gov)
        chain.mine(1, timestamp=chain.pending_timestamp + 3_600)
        t = time.monotonic()
        wait_for("the run executed", lambda: int(reb.bookedRun()[0]) == 0, 30, alive)
        wait_for("RebalancerStuck", lambda: prom.firing("RebalancerStuck"), 30, alive)
        wait_for("FunderEmpty", lambda: prom.firing("FunderEmpty"), 30, alive)
        assert value("keeper_supervisor_stuck_tasks") >= 1
        timings["stuck alerts after the run"] = time.monotonic() - t

        # 5. every dashboard query returns data from this Prometheus (the fund keeper's: the
        # cross-chain row's are the cross-chain keeper's, read in its page's walk,
        # tests/offchain/crosschain/test_operator_page.py)
        dash = json.loads(DASHBOARD.read_text())
        exprs = [
            tg["expr"]
            for p in dash["panels"]
            for tg in p["targets"]
            if "crosschain_" not in tg["expr"]
        ]
        assert len(exprs) >= 20
        empty = [e for e in exprs if not prom.query(e)]
        assert empty == [], empty
        panels = {p["title"] for p in dash["panels"]}
        assert {"Tier ratios and bands", "Funders: runway and balance"} <= panels

        # 6. an RPC outage, then the node back
        proxy.down.set()
        t = time.monotonic()
        wait_for("KeeperRpcDown", lambda: prom.firing("KeeperRpcDown"), 30, alive)
        assert status_of(keeper + "/readyz") == 503
        assert value("keeper_rpc_up") == 0.0
        timings["KeeperRpcDown after the cut"] = time.monotonic() - t
        doc = json.loads(urllib.request.urlopen(keeper + "/healthz", timeout=5).read())
        assert doc == {"alive": True}  # not ready, but alive: no restart for an outage
        proxy.down.clear()
        wait_for("ready again", lambda: status_of(keeper + "/readyz") == 200, 30, alive)
        wait_for("RpcDown resolved", lambda: not prom.firing("KeeperRpcDown"), 30, alive)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=90)
        prom_err = prom.stop()
        proxy.close()
    assert proc.returncode == 0, err.decode()[-3_000:] + prom_err
    assert b"keeper stopped" in err
    timings["total"] = time.monotonic() - t0
    print("prometheus test timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
