"""keepers.runtime.health and the store-backed metrics without a chain: readiness from ticks and RPC
checks on a clock we move, the HTTP endpoints on loopback, plans counted from the store (a
plan executed through another store handle, as by another process, is counted once), a fresh
keeper with no success rate, and the systemd unit example."""

from __future__ import annotations

import configparser
import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest

from keepers.core.settings import KeeperSettings
from keepers.runtime import metrics
from keepers.runtime.health import Health, Monitor, serve, tick_bounds
from keepers.runtime.runner import JOIN_TIMEOUT_S
from keepers.store import models as m
from keepers.store.db import Store
from keepers.tx.node import Node

ROOT = Path(__file__).resolve().parents[3]


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture(autouse=True)
def _clean_health_state():
    saved = dict(metrics._state, ticks=dict(metrics._state["ticks"]))
    metrics._state.update(rpc_up=False, rpc_last_ok=None, ticks={})
    yield
    metrics._state.update(saved)


def test_readiness__rpc_and_ticks__ready_only_when_both_recent():
    clock = Clock(1_000.0)
    h = Health({"executor": 60.0, "fund": 660.0}, rpc_max_age_s=30.0, clock=clock)
    ready, doc = h.readiness()
    assert not ready and doc["rpc"]["ok"] is False  # no answer from the node yet
    metrics.observe_rpc(True, at=1_000.0)
    ready, doc = h.readiness()
    assert ready, doc  # bots not ticked yet, but within their bound since the start
    clock.t = 1_061.0
    metrics.observe_rpc(True, at=1_061.0)
    ready, doc = h.readiness()
    assert not ready and doc["bots"]["executor"]["ok"] is False and doc["bots"]["fund"]["ok"]
    metrics.mark_tick("executor", at=1_060.0)
    assert h.readiness()[0]
    metrics.observe_rpc(False)  # an outage: not ready, whatever the ticks
    ready, doc = h.readiness()
    assert not ready and doc["rpc"] == {"up": False, "last_success": 1_061.0, "ok": False}
    metrics.observe_rpc(True, at=1_062.0)
    clock.t = 1_062.0 + 31.0  # the node's last answer is too old
    metrics.mark_tick("executor", at=clock.t)
    metrics._state["rpc_up"] = True
    assert not h.readiness()[0]


def test_tick_bounds__fund_two_slots_loops_ten_intervals():
    b = tick_bounds(["fund", "executor", "supervisor"], {"executor": 0.2, "supervisor": 30.0})
    assert b == {"fund": 660.0, "executor": 60.0, "supervisor": 300.0}


def test_metrics_host__default_loopback():
    s = KeeperSettings(_env_file=None)  # type: ignore[call-arg]
    assert s.metrics_host == "127.0.0.1"


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_endpoints__metrics_healthz_readyz_on_loopback(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    alive = {"v": True}
    h = Health({"executor": 60.0}, alive=lambda: alive["v"])
    reg = CollectorRegistry()
    server = serve("127.0.0.1", 0, health=h, store=store, registry=reg)
    host, port = server.server_address[:2]
    try:
        assert host == "127.0.0.1"
        base = f"http://127.0.0.1:{port}"
        code, body = get(base + "/metrics")
        assert code == 200 and "rebalance_pending_count 0.0" in body
        assert get(base + "/healthz") == (200, json.dumps({"alive": True}))
        code, body = get(base + "/readyz")
        assert code == 503 and json.loads(body)["rpc"]["ok"] is False
        metrics.observe_rpc(True)
        metrics.mark_tick("executor")
        code, body = get(base + "/readyz")
        assert code == 200 and json.loads(body)["bots"]["executor"]["ok"] is True
        alive["v"] = False  # a loop thread died
        assert get(base + "/healthz")[0] == 503
        assert get(base + "/nope")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        store.close()
    assert "rebalance_pending_count" not in generate_latest(reg).decode()  # unregistered


def add_plan(store: Store, ref: str, status: str, actions: list[str], **payload: Any) -> None:
    with store.transaction() as s:
        plan = m.Plan(ref=ref, kind="fund_rebalance", status=status, payload=payload)
        s.add(plan)
        s.flush()
        for seq, st in enumerate(actions):
            s.add(m.Action(plan_id=plan.id, seq=seq, kind="purchaseAsset", status=st))


def scrape(store: Store) -> dict[str, float]:
    reg = CollectorRegistry()
    reg.register(metrics.StoreCollector(store))
    out = {}
    for fam in reg.collect():
        for s in fam.samples:
            key = s.name + (
                "{" + ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) + "}"
                if s.labels
                else ""
            )
            out[key] = s.value
    return out


def test_store_metrics__fresh_keeper__no_success_rate_no_plan_time(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    got = scrape(store)
    store.close()
    assert "rebalance_success_rate" not in got  # so RebalanceSuccessRateLow cannot fire
    assert "rebalance_execution_time" not in got and "rebalance_gas_cost" not in got
    assert got["rebalance_pending_count"] == 0
    assert got["rebalance_plans{status=executed}"] == 0
    assert got["rebalance_actions{outcome=done}"] == 0


def test_store_metrics__plans_of_another_process__counted_once(tmp_path):
    url = f"sqlite:///{tmp_path}/k.db"
    keeper, other = Store(url), Store(url)  # the running keeper's handle; another process's
    add_plan(other, "p1", "executed", ["done", "done"], seconds=12.5, gas_wei=str(3 * 10**17))
    add_plan(other, "p2", "partial", ["done", "failed", "skipped"], seconds=40, gas_wei="10")
    add_plan(keeper, "p3", "pending_approval", ["pending"])
    add_plan(keeper, "p4", "approved", [])
    got = scrape(keeper)
    again = scrape(keeper)  # a second scrape counts the same plans, not twice
    keeper.close()
    other.close()
    assert got == again
    assert got["rebalance_plans{status=executed}"] == 1
    assert got["rebalance_plans{status=partial}"] == 1
    assert got["rebalance_pending_count"] == 2
    assert got["rebalance_actions{outcome=done}"] == 3
    assert got["rebalance_actions{outcome=failed}"] == 1
    assert got["rebalance_actions{outcome=skipped}"] == 1
    assert got["rebalance_success_rate"] == pytest.approx(3 / 5)
    # the last plan that ran: p2 (updated last)
    assert got["rebalance_execution_time"] == 40 and got["rebalance_gas_cost"] == 1e-17


def test_store_metrics__success_rate__last_100_actions_only(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/k.db")
    add_plan(store, "old", "failed", ["failed"] * 50)
    add_plan(store, "new", "executed", ["done"] * 100)
    got = scrape(store)
    store.close()
    assert got["rebalance_success_rate"] == 1.0


def test_monitor__node_down__rpc_metric_zero_then_up_again():
    dead = Node("http://127.0.0.1:9", timeout_s=1)  # discard port: refused
    mon = Monitor(dead, None)
    metrics.observe_rpc(True)
    before = metrics.RPC_ERRORS._value.get()
    assert mon.check() is False
    assert metrics.rpc_up() is False and metrics.RPC_UP._value.get() == 0
    assert metrics.RPC_ERRORS._value.get() == before + 1


def test_slippage_label__symbol_not_address():
    metrics.observe_slippage("MMF", 150)
    reg_text = generate_latest().decode()
    assert 'rebalance_slippage{asset="MMF"} 0.015' in reg_text


def test_systemd_unit__keeper_run_restart_policy_graceful_stop():
    path = ROOT / "deploy/systemd/ballast-keeper.service"
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(path)
    svc = unit["Service"]
    exe, *args = svc["ExecStart"].split()
    assert exe.endswith("/keeper") and args == ["run"]
    assert svc["Restart"] == "on-failure" and svc["KillSignal"] == "SIGTERM"
    # the process gives its loops JOIN_TIMEOUT_S after SIGTERM: systemd must wait longer
    assert int(svc["TimeoutStopSec"]) >= JOIN_TIMEOUT_S * 2
    assert set(svc["RestartPreventExitStatus"].split()) == {"2", "4"}
    # systemd adds up every Environment= line (configparser keeps only the last one)
    env = " ".join(
        line.split("=", 1)[1]
        for line in path.read_text().splitlines()
        if line.startswith("Environment=")
    )
    assert "KEEPER_METRICS_HOST=127.0.0.1" in env.split()
    if shutil.which("systemd-analyze"):
        r = subprocess.run(
            ["systemd-analyze", "verify", str(path)], capture_output=True, text=True, check=False
        )
        # the example paths (/opt/ballast) do not exist here; anything else is a unit error
        problems = [
            ln for ln in (r.stdout + r.stderr).splitlines() if ln and "/opt/ballast" not in ln
        ]
        assert not problems, problems


def test_last_tick__scheduled_job_and_loop__marked_only_when_they_end_without_error():
    from keepers.runtime import scheduler
    from keepers.runtime.base import run_loop

    def boom(now: int) -> None:
        raise RuntimeError("node gone")

    scheduler._HANDLERS["mon.ok"] = scheduler.JobSpec("mon.ok", {"minute": 0}, lambda now: now)
    scheduler._HANDLERS["monbad.job"] = scheduler.JobSpec("monbad.job", {"minute": 0}, boom)
    try:
        scheduler.run_job("mon.ok")
        # a failing job is alerted (job_failed) and returns: the scheduler thread goes on
        assert scheduler.run_job("monbad.job") is None
    finally:
        scheduler._HANDLERS.pop("mon.ok")
        scheduler._HANDLERS.pop("monbad.job")
    assert metrics.last_tick("mon") is not None  # the bot is the job name's prefix
    assert metrics.last_tick("monbad") is None

    class Loop:
        name, interval_s = "monloop", 0.0

        def __init__(self, fail: bool) -> None:
            self.fail = fail

        def start(self) -> None: ...

        def stop(self) -> None: ...

        def tick(self, now: int) -> None:
            if self.fail:
                raise RuntimeError("tick failed")

    run_loop(Loop(fail=True), max_seconds=0.05, sleep=lambda s: None)
    assert metrics.last_tick("monloop") is None
    run_loop(Loop(fail=False), max_seconds=0.05, sleep=lambda s: None)
    assert metrics.last_tick("monloop") is not None
