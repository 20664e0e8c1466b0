"""The console's render times on the local profile (`make bench`; not part of the pass/fail
run): the local fund behind a PlanExecutor and a 2-of-3 Safe, its keeper's own plan waiting
for approval, and 300 plans in the store, 100 of them waiting (test_console_security's rows).

For each page the console's own render time (Console.render_s, the server's side of one
request) is taken over 30 requests; the median and p95 are printed and written to
.build/console/render_times.json beside the baseline measured in the same run: `keeper review
PLAN` in-process on the same plan, the command line's view of it. The plan page must render
under 50 ms median."""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import pytest

from tests.offchain.console.test_console_security import add_plan
from tests.offchain.fundbot.executor_fund import *  # noqa: F403 - the fixtures (one module)
from tests.support.consolelib import Client, running_console
from tests.support.fundbotlib import ROOT, plan_waiting

pytestmark = pytest.mark.bench
RUNS = 30


def timed(c: Any, path: str, runs: int = RUNS) -> dict[str, float]:
    client = Client(c.url)
    server: list[float] = []
    for _ in range(runs):
        status, _, _ = client.get(path)
        assert status == 200, path
        server.append(c.console.render_s[path.split("?")[0]] * 1000)
    server.sort()
    return {
        "median_ms": round(statistics.median(server), 1),
        "p95_ms": round(server[int(0.95 * len(server)) - 1], 1),
    }


def test_console_render_times__300_plans_100_waiting__plan_page_under_50ms(
    fresh, accounts, chain, executor_fund, keeper_bot
):
    env, bot = keeper_bot(KEEPER_LOG_LEVEL="WARNING")
    ref, now = plan_waiting(bot, fresh, accounts[1], chain)
    for i in range(299):
        r = f"plan-bench-{i:03d}"
        add_plan(bot.plans, r)
        if i >= 99:  # 100 waiting in all (the keeper's and 99 of these)
            bot.plans.update(r, "expired")
    assert len(bot.plans.history(1000)) == 300
    assert len(bot.plans.with_status("pending_approval")) == 100
    from click.testing import CliRunner

    from keepers.cli import main

    review: list[float] = []
    for _ in range(5):
        t0 = time.perf_counter()
        r = CliRunner(mix_stderr=False).invoke(
            main, ["--now", str(now + 10), "review", ref], env=env
        )
        review.append((time.perf_counter() - t0) * 1000)
        assert r.exit_code == 0, r.stderr
    figures: dict[str, Any] = {"keeper_review_ms (baseline)": round(min(review), 1)}
    with running_console(env, now=now + 10) as c:
        Client(c.url).get(f"/plans/{ref}")  # the first page builds the fund bot
        figures["plan_page"] = timed(c, f"/plans/{ref}")
        figures["fund"] = timed(c, "/fund", 10)
        figures["approvals_100_waiting"] = timed(c, "/approvals", 10)
        figures["plans"] = timed(c, "/plans")
    base = figures["keeper_review_ms (baseline)"]
    for k in ("plan_page", "fund", "approvals_100_waiting", "plans"):
        figures[k]["x_review"] = round(figures[k]["median_ms"] / base, 2)
    out_dir = ROOT / ".build" / "console"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "render_times.json").write_text(json.dumps(figures, indent=2))
    print("console render times:", json.dumps(figures))
    assert figures["plan_page"]["median_ms"] < 50, figures
