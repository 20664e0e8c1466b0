"""The keeper's HTTP endpoint for Prometheus and process supervisors, and the health monitor.

``serve(host, port, health, store)`` answers, on one port (``KEEPER_METRICS_HOST``, loopback by
default, and ``KEEPER_METRICS_PORT``):

- ``/metrics``: every metric of keepers.runtime.metrics, keepers.tx.metrics and the bots, plus the
  store-backed ones (:class:`keepers.runtime.metrics.StoreCollector`);
- ``/healthz`` (liveness): 200 while the process's loops and monitor are alive, else 503 (a
  supervisor restarts the process);
- ``/readyz`` (readiness): 200 when the node answered within ``rpc_max_age_s`` and every bot
  ticked without an error within its bound, and none has a job failing in a row or a plan
  that should move standing still (keepers.runtime.readiness: KEEPER_READY_MAX_JOB_FAILURES,
  KEEPER_READY_STUCK_PLAN_S), else 503 (do not route work or page on it yet; the JSON body
  says what is late, and per bot its ``problems``: the job, the count and the last error, or
  the plan and how long it stood still, or a chain the bot cannot reach; a bot on several
  chains, the cross-chain one, lists each chain's health under ``chains``).

:class:`Monitor` is a thread of ``keeper run``: every ``interval_s`` it asks the node for the
head block (``keeper_rpc_up``, ``keeper_rpc_last_success_timestamp_seconds``), reads the
signer's balance (``keeper_gas_balance``) and, with the fund bot, the tier ratios
(``rebalance_tier_ratio``, ``rebalance_deviation_ratio``), so the gauges stay current between
the fund bot's 5-minute jobs and an RPC outage shows within one interval.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

from keepers.core.logging import get_logger
from keepers.runtime import metrics, readiness
from keepers.runtime.readiness import ReadinessTracker

log = get_logger("keepers.runtime.health")

FUND_TICK_MAX_AGE_S = 660.0  # the fund bot's jobs run every 5 minutes: two slots and a minute
LOOP_TICK_MIN_AGE_S = 60.0  # a loop bot is late after max(this, 10 intervals)


def tick_bounds(names: list[str], intervals: dict[str, float]) -> dict[str, float]:
    """Each bot's readiness bound on the age of its last good tick (seconds)."""
    out = {}
    for n in names:
        if n == "fund":
            out[n] = FUND_TICK_MAX_AGE_S
        else:
            out[n] = max(LOOP_TICK_MIN_AGE_S, 10 * intervals.get(n, 1.0))
    return out


@dataclass
class Health:
    """Liveness and readiness of one keeper process, from the ticks and RPC checks recorded
    in keepers.runtime.metrics. ``clock`` is injectable for tests."""

    bots: dict[str, float]  # bot -> max age (s) of its last good tick
    rpc_max_age_s: float = 30.0
    alive: Callable[[], bool] = lambda: True
    clock: Callable[[], float] = time.time
    started: float = field(default=0.0)
    # jobs failing in a row, plans standing still (keepers.runtime.readiness)
    tracker: ReadinessTracker = field(default_factory=lambda: readiness.TRACKER)

    def __post_init__(self) -> None:
        if not self.started:
            self.started = self.clock()

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        ok = bool(self.alive())
        return ok, {"alive": ok}

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        now = self.clock()
        last_ok = metrics.last_rpc_success()
        rpc_ok = metrics.rpc_up() and last_ok is not None and now - last_ok <= self.rpc_max_age_s
        bots = {}
        for name, max_age in self.bots.items():
            last = metrics.last_tick(name)
            # a bot that has not ticked yet is given its bound from the process start
            age = now - (last if last is not None else self.started)
            problems = self.tracker.problems(name)
            bots[name] = {
                "last_tick": last,
                "age_s": round(age, 3),
                "max_age_s": max_age,
                "problems": problems,
                "ok": age <= max_age and not problems,
            }
            chains = self.tracker.chain_health(name)
            if chains:  # a bot on several chains (cross-chain): each chain's health
                bots[name]["chains"] = chains
        ready = rpc_ok and all(b["ok"] for b in bots.values())
        return ready, {
            "ready": ready,
            "rpc": {"up": metrics.rpc_up(), "last_success": last_ok, "ok": rpc_ok},
            "bots": bots,
        }


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body = generate_latest(self.server.registry)
            self._send(200, body, CONTENT_TYPE_LATEST)
        elif path in ("/healthz", "/readyz"):
            health = self.server.health
            if health is None:
                ok, doc = True, {"alive": True}
            else:
                ok, doc = health.liveness() if path == "/healthz" else health.readiness()
            self._send(200 if ok else 503, json.dumps(doc).encode(), "application/json")
        else:
            self._send(404, b"not found: /metrics, /healthz, /readyz\n", "text/plain")

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet access log
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry
    health: Health | None


def serve(
    host: str,
    port: int,
    *,
    health: Health | None = None,
    store: Any = None,
    registry: CollectorRegistry = REGISTRY,
) -> _Server:
    """Start the endpoint in a daemon thread; returns the server (``shutdown()`` stops it).
    With ``store`` the store-backed metrics are served too (registered on ``registry``)."""
    if store is not None:
        collector = metrics.StoreCollector(store)
        registry.register(collector)
    server = _Server((host, port), _Handler)
    server.registry = registry
    server.health = health
    t = threading.Thread(target=server.serve_forever, name="keeper-metrics", daemon=True)
    t.start()
    if store is not None:
        orig = server.server_close

        def close() -> None:
            registry.unregister(collector)
            orig()

        server.server_close = close  # type: ignore[method-assign]
    return server


class Monitor:
    """See the module doc. ``check()`` is one pass (tests call it directly)."""

    def __init__(
        self,
        node: Any,
        account: str | None,
        *,
        fund: Any = None,
        interval_s: float = 5.0,
    ) -> None:
        self.node = node
        self.account = account
        self.fund = fund
        self.interval_s = interval_s
        self.thread: threading.Thread | None = None

    def check(self) -> bool:
        readiness.TRACKER.refresh()  # a plan standing still turns keeper_bot_unready in time
        try:
            self.node.block_number()
            if self.account:
                wei = int(self.node.request("eth_getBalance", [self.account, "latest"]), 16)
                metrics.GAS_BALANCE.labels(self.account).set(metrics.native(wei))
        except Exception as err:  # noqa: BLE001 - any failure to answer is an outage
            if metrics.rpc_up():
                log.warning("rpc.down", error=f"{type(err).__name__}: {err}"[:300])
            metrics.observe_rpc(False)
            return False
        if not metrics.rpc_up():
            log.info("rpc.up")
        metrics.observe_rpc(True)
        if self.fund is not None:
            try:
                self.fund.read()  # updates the tier gauges
            except Exception as err:  # noqa: BLE001 - a failed read must not stop the monitor
                log.warning("monitor.fund_read_failed", error=f"{type(err).__name__}: {err}"[:300])
        return True

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.check()
            stop.wait(self.interval_s)

    def start(self, stop: threading.Event) -> threading.Thread:
        self.thread = threading.Thread(
            target=self.run, args=(stop,), name="keeper-monitor", daemon=True
        )
        self.thread.start()
        return self.thread
