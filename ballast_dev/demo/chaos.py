"""Chaos months: the hostile month (ballast_dev/demo/hostile.py) with the fund keeper as
separate processes on one store, SIGKILLed at seeded random instants.

Every day the fund keeper's checks (events, liquidity, threshold, daily, weekly, then its tick)
run in a fresh keeper process on the month's store (``python -m ballast_dev.demo.chaos``, the
jobs guarded as keepers.runtime.scheduler.run_job guards them: an error is a ``job_failed``
line, the next job runs). A seeded draw decides whether the process is SIGKILLed and when (0 to
``KILL_WINDOW_S`` seconds after it is ready, its store open and its chain checked: while a
check reads the chain, between two writes of a plan, with a transaction in flight). The keeper
is then restarted on the same store (in the month's own process, as systemd restarts `keeper
run`): after a kill its scheduled checks run again; the owners sign what waits and its tick
runs. The executor and supervisor keepers run the on-chain automation beside it (the recurring
rebalancer's due runs move the fund between the keeper's steps), and the hostile month's own
scenes stay: a node outage that starts at a send, a kill with a transaction in flight, a bank
run, a stale feed, a depeg, gas spikes.

A chaos month passes when it ends in band (no day ending out of band outside the feed's
outage), with 0 keeper crashes (a job that raised, in any process), 0 actions sent twice, no
plan waiting for owners that they cannot sign, and no job longer than ``JOB_MAX_S``.
"""

from __future__ import annotations

import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast_dev.demo.hostile import HostileDemo, Judgement, fmt_day, hostile_script, judge
from ballast_dev.demo.run import ROOT, Ledger, play
from ballast_dev.deployment.fund import FundDeployment

KILL_WINDOW_S = 1.5  # a kill lands 0 .. 1.5 s after the process is ready (checks: ~1-2 s)
KILL_SHARE = 0.8  # the share of days whose keeper process is killed
JOB_MAX_S = 15.0


class ChaosDemo(HostileDemo):
    """The hostile month with the fund keeper's daily checks in separate, killable processes."""

    def __init__(
        self, fund: FundDeployment, accounts: Any, out: Path, echo: Any, seed: int
    ) -> None:
        super().__init__(fund, accounts, out, echo)
        self.seed = seed
        self.rng = random.Random(seed)
        self.kills: list[dict[str, Any]] = []
        self.processes = 0

    def fund_checks(self, now: int, jobs: list[str]) -> None:
        """The day's checks in a keeper process (killed or not, by the seed), then the owners
        sign what waits and the tick runs on the same store in this process."""
        kill_after = (
            self.rng.uniform(0.0, KILL_WINDOW_S) if self.rng.random() < KILL_SHARE else None
        )
        self.fund_bot.store.close()  # the keeper process takes the store
        outcome = self.keeper_process(now, ["events", *jobs, "tick"], kill_after)
        self.processes += 1
        if outcome["killed"]:
            self.kills.append(outcome)
            self.note(
                f"fund keeper process SIGKILLed {outcome['after_s']:.2f} s after it was ready, "
                f"{outcome['doing']}"
            )
        self.fund_bot = self._make_fund_bot()  # a keeper restarted on the same store
        if outcome["killed"]:  # restarted (systemd), its scheduled checks run again
            super().fund_checks(now + 1, jobs)
            return
        bot = self.fund_bot
        self.job("fund.approvals", lambda: self.approve_pending(now))
        for o in self.job("fund.tick", lambda: bot.tick(now + 1)) or []:
            self.ledger.outcomes[o.status] += 1

    def keeper_process(self, now: int, jobs: list[str], kill_after: float | None) -> dict[str, Any]:
        """Runs the jobs in a keeper process; ``kill_after`` seconds after it is ready (its
        store open, its chain checked) it is SIGKILLed, whatever it is doing."""
        env = {**os.environ, **self.fund_env, "PYTHONPATH": str(ROOT)}
        cmd = [sys.executable, "-m", "ballast_dev.demo.chaos", str(now), ",".join(jobs)]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        lines: queue.Queue[str] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                lines.put(raw.decode(errors="replace"))

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        seen: list[dict[str, Any]] = []
        killed, doing = False, "starting"
        deadline = time.monotonic() + 300
        kill_at: float | None = None
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                rec = json.loads(lines.get(timeout=0.02))
            except queue.Empty:
                rec = None
            except ValueError:
                continue
            if rec is not None:
                seen.append(rec)
                if rec.get("ready") and kill_after is not None:
                    kill_at = time.monotonic() + kill_after
            if kill_at is not None and time.monotonic() >= kill_at:
                proc.send_signal(signal.SIGKILL)
                killed = True
                done = [r["job"] for r in seen if "job" in r]
                left = [j for j in jobs if j not in done]
                doing = f"during {left[0]}" if left else "after its last job"
                break
        if proc.poll() is None and not killed:
            proc.kill()
        proc.wait(timeout=30)
        reader.join(timeout=5)
        while not lines.empty():
            try:
                seen.append(json.loads(lines.get_nowait()))
            except ValueError:
                continue
        for rec in seen:
            if "job" not in rec:
                continue
            self.h.jobs.append((now, f"process {rec['job']}", float(rec["s"])))
            if rec.get("error"):  # a job that raised in the keeper process: a crash
                msg = f"{rec['job']}: {rec['error']}"
                self.h.alerts.append((now, "critical", "job_failed", msg))
                self.ledger.alerts.append(f"{fmt_day(self, now)} keeper process {msg}")
        if proc.returncode not in (0, -signal.SIGKILL):
            msg = f"keeper process exited {proc.returncode}"
            self.h.alerts.append((now, "critical", "job_failed", msg))
        return {"killed": killed, "after_s": kill_after or 0.0, "doing": doing, "day": now}


@dataclass(frozen=True)
class ChaosVerdict:
    ok: bool
    line: str
    seed: int
    out_of_band_days: int
    lost_bps: float
    kills: int
    processes: int
    crashes: list[str]
    repeated: int
    unsignable: list[str]
    longest_job_s: float
    hostile: Judgement
    log: tuple[str, ...] = ()


def unsignable_plans(db: Path) -> list[str]:
    """Plans waiting for owners with nothing they can sign (no approval document, nobody named
    to sign, or behind an executor without its frozen plan)."""
    from sqlalchemy import create_engine, text

    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as cx:
        rows = cx.execute(text("select ref, payload from plans where status='pending_approval'"))
        out = []
        for ref, payload in rows:
            doc = json.loads(payload) if isinstance(payload, str) else payload
            approval = doc.get("approval") or {}
            if not approval.get("admins") or (approval.get("signed") and not doc.get("frozen")):
                out.append(str(ref))
    eng.dispose()
    return out


def run_chaos(
    fund: FundDeployment, accounts: Any, out: Path, days: int, seed: int, echo: Any
) -> ChaosVerdict:
    """Plays a chaos month at ``seed`` and judges it."""
    from ape import chain

    from keepers.core.logging import configure_logging

    configure_logging(False, "ERROR")
    d = ChaosDemo(fund, accounts, out, echo, seed)
    start = int(chain.blocks.head.number) + 1
    try:
        ledger: Ledger = play(d, days, hostile_script(d, days))
    except Exception:
        echo("\n".join(d.ledger.log + d.ledger.alerts))
        raise
    finally:
        d.proxy.close()
    j = judge(d, ledger, start, int(chain.blocks.head.number))
    unsignable = unsignable_plans(d.out / "fund-keeper.db")
    longest = max((took for _, _, took in d.h.jobs), default=0.0)
    ok = (
        j.out_of_band_days == 0
        and not j.crashes
        and j.repeated == 0
        and not unsignable
        and longest < JOB_MAX_S
    )
    where = ", ".join(
        f"{n} {doing}" for doing, n in sorted(Counter(k["doing"] for k in d.kills).items())
    )
    line = (
        f"CHAOS seed {seed}: {'ok' if ok else 'NOT ok'}: {j.out_of_band_days} days out of band; "
        f"value lost {j.cost.lost_bps:.1f} bps of NAV; {len(d.kills)} SIGKILLs of "
        f"{d.processes} keeper processes ({where or 'none'}; +{len(d.h.kills)} scripted "
        "with a transaction in flight); "
        f"{len(j.crashes)} crashes; {j.repeated} sent twice; {len(unsignable)} unsignable; "
        f"longest job {longest:.1f}s"
    )
    return ChaosVerdict(
        ok, line, seed, j.out_of_band_days, j.cost.lost_bps, len(d.kills) + len(d.h.kills),
        d.processes, j.crashes, j.repeated, unsignable, longest, j,
        tuple(ledger.log + ledger.alerts),
    )  # fmt: skip


def _worker(now: int, jobs: list[str]) -> None:
    """One fund keeper process: the jobs in order on the month's store, each guarded (a line of
    JSON per job: its name, wall seconds and the error it raised, if any)."""
    from keepers.cli_base import Ctx
    from keepers.core.logging import configure_logging

    configure_logging(False, "ERROR")
    bot = Ctx(False, now).bot()
    sys.stdout.write(json.dumps({"ready": True}) + "\n")
    sys.stdout.flush()
    for job in jobs:
        t = time.monotonic()
        err = None
        try:
            if job == "events":
                bot.events(now)
            elif job == "tick":
                bot.tick(now)
            else:
                bot.check(job, now)
        except Exception as e:  # noqa: BLE001 - as keepers.runtime.scheduler.run_job
            err = f"{type(e).__name__}: {e}"
        rec = {"job": job, "s": round(time.monotonic() - t, 3), "error": err}
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()
    os._exit(0)  # done: no interpreter teardown for a kill to land in


if __name__ == "__main__":
    _worker(int(sys.argv[1]), sys.argv[2].split(","))


__all__ = ["ChaosDemo", "ChaosVerdict", "run_chaos", "unsignable_plans"]
