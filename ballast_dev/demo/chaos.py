"""Chaos months: the hostile month (ballast_dev/demo/hostile.py) with the fund keeper as
separate processes on one store, SIGKILLed at seeded kill points.

Every day the fund keeper's work (events, liquidity, threshold, daily, weekly, the owners'
answers to what waits for them, recorded in the store as `keeper approve` records them, then
its tick) runs in a fresh keeper process on the month's store (``_worker``, the jobs guarded as
keepers.runtime.scheduler.run_job guards them: an error is a ``job_failed`` line, the next job
runs). The day's process (``python -m ballast_dev.demo.chaos NOW JOBS``) is forked from one
process that imported the keeper once at the start of the month (ballast_dev/demo/forks.py, a
pre-fork server as gunicorn's ``--preload``): a process of its own with its own store
connections and node session, that dies alone, without the second of imports a fresh
interpreter spent each day (issue 68). A seeded draw (`draw_kill`) decides whether
the process dies and where: a kill point of ballast_dev.demo.killpoints (during a check's node
reads, during a risk check, right after a store write or a plan's stage transition committed,
with a transaction sent and not yet recorded), at which the process SIGKILLs itself. The point
is a step of the keeper's work, not a delay, so a seed replays one interleaving on any machine
(a point the day's process never reaches leaves it alive; the month reports those too). The
keeper is then restarted on the same store (in the month's own process, as systemd restarts
`keeper run`): after a kill its scheduled checks run again; the owners answer what waits and
its tick runs. The executor and supervisor keepers run the on-chain automation beside it (the
recurring rebalancer's due runs move the fund between the keeper's steps), and the hostile
month's own scenes stay: a node outage that starts at a send, kills with a transaction in flight
(KEEPER_HOLD_AT), a bank run, a stale feed, a depeg, gas spikes.

A chaos month passes when it ends in band (no day ending out of band outside the feed's
outage), with 0 keeper crashes (a job that raised, in any process), 0 actions sent twice, no
plan waiting for owners that they cannot sign, and no job longer than ``JOB_MAX_S``. Every
alert a keeper process raises comes back to the month (a line of JSON each, stamped with the
keeper's clock) and is judged as the month's own keeper's are, so the month's HOSTILE VERDICT
(``ChaosVerdict.hostile``) sees a ``feed_down`` or a critical alert raised in a process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ballast_dev.demo.hostile import HostileDemo, Judgement, fmt_day, hostile_script, judge
from ballast_dev.demo.run import DAY, ROOT, Ledger, owners_answer, play
from ballast_dev.deployment.fund import FundDeployment, fund_state
from keepers.fund.lifecycle import ended_reason

KILL_SHARE = 0.8  # the share of days whose keeper process gets a kill point
# kill points (ballast_dev.demo.killpoints): kind -> (weight, the largest n drawn)
# (a day's process makes 2-3 node requests a check, a few writes, a risk check and a plan
# move or two on a busy day, sends on the days it executes what the owners signed)
KILL_KINDS = {
    "read": (2, 3),  # during a check: its n-th node request unanswered
    "risk": (2, 2),  # during the n-th risk check
    "write": (2, 4),  # right after the n-th store write committed
    "stage": (2, 3),  # right after a plan's n-th stage transition committed
    "sent": (2, 2),  # the n-th transaction sent, not yet recorded (in flight)
}
JOB_MAX_S = 15.0
ANSWER_S = 600  # the owners answer 10 minutes after the checks (run.owners_answer)
# the month's own fund keeper waits a tenth of the keeper's default between a read's retries
# (ChaosDemo._make_fund_bot)
READ_RETRY_SCALE = 10


def draw_kill(rng: random.Random, jobs: list[str]) -> str | None:
    """The day's kill point (``CHAOS_KILL_AT``), or None: every day draws the same number of
    values from ``rng``, so one day's outcome never shifts the next day's draw."""
    share, kind_u, nth_u, job_u = rng.random(), rng.random(), rng.random(), rng.random()
    kinds = list(KILL_KINDS)
    weights = [KILL_KINDS[k][0] for k in kinds]
    pick, acc = kinds[-1], 0.0
    for k, w in zip(kinds, weights, strict=True):
        acc += w / sum(weights)
        if kind_u < acc:
            pick = k
            break
    nth = 1 + int(nth_u * KILL_KINDS[pick][1])
    checks = [j for j in jobs if j not in ("events", "approvals", "tick")]
    job = checks[int(job_u * len(checks))] if pick == "read" else ""
    if share >= KILL_SHARE:
        return None
    return f"{pick}:{nth}" + (f":{job}" if job else "")


class ChaosDemo(HostileDemo):
    """The hostile month with the fund keeper's daily checks in separate, killable processes."""

    def __init__(
        self, fund: FundDeployment, accounts: Any, out: Path, echo: Any, seed: int
    ) -> None:
        super().__init__(fund, accounts, out, echo)
        self.seed = seed
        self.rng = random.Random(seed)
        self.kills: list[dict[str, Any]] = []  # kill points reached
        self.missed: list[dict[str, Any]] = []  # kill points drawn, never reached
        self.processes = 0

    def _make_fund_bot(self) -> Any:
        """The month's own fund keeper (the node outage's scene runs on it), its reads retried
        after a tenth of the default waits (``shorten_read_retries``): at the defaults each
        read the outage refused waited 11 s before it was given up (with_retries' 0.5 + 1 + 2 s
        around web3's own 0.125 + 0.25 + 0.5 + 1 s at each try): back to back, the short month
        took 86 s before and 49 s after, the same kill points and verdict. That a job in a node outage returns
        within 15 s with every wait at its default is held in ``make test`` by
        tests/offchain/fundbot/test_fundbot_outage.py (the node answering 503 right after a
        send, as here) and in ``make test-slow`` by the hostile month; the day's keeper
        processes keep the defaults (a kill point stops them at a read, it never waits)."""
        bot = super()._make_fund_bot()
        shorten_read_retries(bot, READ_RETRY_SCALE)
        return bot

    def fund_checks(self, now: int, jobs: list[str]) -> None:
        """The day's work in a keeper process (killed or not at the seed's kill point): its
        events and checks at ``now``, the owners' answers to what waits for them (signatures
        recorded in the store while the keeper runs, as `keeper approve` records them, at
        ``now + ANSWER_S``), its tick then. Then, on the same store in this process, the owners
        answer and the tick runs once more. The keeper's clock never goes back: a keeper
        restarted after a kill starts after the killed process's last step (a keeper at an
        earlier time than the owners' signatures does not count them, rightly), and its tick
        runs before the owners answer (a plan the kill left proposed waits for them then)."""
        kill_at = draw_kill(self.rng, jobs)
        self.fund_bot.store.close()  # the keeper process takes the store
        outcome = self.keeper_process(now, ["events", *jobs, "approvals", "tick"], kill_at)
        self.processes += 1
        if outcome["killed"]:
            self.kills.append(outcome)
            self.note(
                f"fund keeper process SIGKILLed at {outcome['point']} in {outcome['job']}: "
                f"{outcome['at']}"
            )
        elif kill_at is not None:
            self.missed.append(outcome)
        self.fund_bot = self._make_fund_bot()  # a keeper restarted on the same store
        if outcome["killed"]:  # restarted (systemd): its scheduled checks run again, then
            # its tick (every 30 s under `keeper run`) moves on what the kill left, a plan left
            # proposed among it, before the owners answer
            now += ANSWER_S + 300
            self.run_checks(now, jobs)
            self.fund_tick(now + 30)
        self.job("fund.approvals", lambda: self.approve_pending(now))
        self.fund_tick(now + ANSWER_S)

    def keeper_process(self, now: int, jobs: list[str], kill_at: str | None) -> dict[str, Any]:
        """Runs the jobs in a keeper process that SIGKILLs itself at ``kill_at`` (a kill point
        of ballast_dev.demo.killpoints) if it gets there; waits for it to end."""
        from ballast_dev.demo.killpoints import ENV

        env = {**os.environ, **self.fund_env, "PYTHONPATH": str(ROOT)}
        env.pop(ENV, None)
        if kill_at is not None:
            env[ENV] = kill_at
        argv = ["-m", "ballast_dev.demo.chaos", str(now), ",".join(jobs)]
        returncode, stdout, stderr = self.forks.run(env, argv, timeout=300)
        seen: list[dict[str, Any]] = []
        for raw in stdout.splitlines():
            try:
                seen.append(json.loads(raw))
            except ValueError:
                continue
        died = next((r for r in seen if "kill" in r), None)
        killed = returncode == -signal.SIGKILL and died is not None
        for rec in seen:
            if "alert" in rec:  # the process's alerts, judged as the month judges its own
                ts, level, code, message = rec["alert"]
                self.h.alerts.append((int(ts), str(level), str(code), str(message)))
                self.ledger.alerts.append(
                    f"{fmt_day(self, int(ts))} keeper process {level} {code}: {message}"
                )
                continue
            if "job" not in rec or "kill" in rec:
                continue
            self.h.jobs.append((now, f"process {rec['job']}", float(rec["s"])))
            if rec.get("error"):  # a job that raised in the keeper process: a crash
                msg = f"{rec['job']}: {rec['error']}"
                self.h.alerts.append((now, "critical", "job_failed", msg))
                self.ledger.alerts.append(f"{fmt_day(self, now)} keeper process {msg}")
        if returncode != 0 and not killed:
            tail = stderr.strip()[-2000:]
            msg = f"keeper process exited {returncode}: {tail}"
            self.h.alerts.append((now, "critical", "job_failed", msg))
            self.ledger.alerts.append(f"{fmt_day(self, now)} {msg}")
        return {
            "killed": killed,
            "point": kill_at or "",
            "job": (died or {}).get("job", ""),
            "at": (died or {}).get("at", ""),
            "day": round((now - self.t0) / DAY, 2),
        }


def shorten_read_retries(bot: Any, scale: int) -> None:
    """``bot``'s reads (its FundReader's retries and its node client's own, web3's
    ``exception_retry_configuration``) wait ``scale`` times less between tries; the number of
    tries, the errors retried and the methods are unchanged."""
    from web3.providers.rpc.utils import ExceptionRetryConfiguration

    bot.reader.retry_delay_s = type(bot.reader).retry_delay_s / scale
    provider = bot.w3.provider
    c = provider.exception_retry_configuration
    if c is not None:
        provider.exception_retry_configuration = ExceptionRetryConfiguration(
            errors=c.errors,
            retries=c.retries,
            backoff_factor=c.backoff_factor / scale,
            method_allowlist=c.method_allowlist,
        )


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
    # each kill reached: "day <d> <point> in <job>: <what it was doing>" (a replay repeats them)
    kill_points: tuple[str, ...] = ()
    missed_points: tuple[str, ...] = ()  # drawn, never reached: "day <d> <point>"
    # every day that ended out of band (the feed outage's too): "day <d>: tiers a/b/c bps"
    band_days: tuple[str, ...] = ()
    plans: tuple[str, ...] = ()  # the store's plans at the end: "<ref> <status> <trigger>"


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


def plan_lines(db: Path) -> tuple[str, ...]:
    """The store's plans, oldest first: ref, status, trigger and the reason it ended, if any."""
    from sqlalchemy import create_engine, text

    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as cx:
        rows = cx.execute(text("select ref, status, trigger, payload from plans order by id"))
        out = []
        for ref, status, trigger, payload in rows:
            doc = json.loads(payload) if isinstance(payload, str) else payload
            why = ended_reason(doc) or doc.get("note") or ""
            out.append(f"{ref} {status} {trigger} {str(why)[:160]}".rstrip())
    eng.dispose()
    return tuple(out)


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
        d.proxy.close()  # play stops the relay (and the fork server after a month that raised)
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
        f"{n} {kind}"
        for kind, n in sorted(Counter(k["point"].split(":")[0] for k in d.kills).items())
    )
    line = (
        f"CHAOS seed {seed}: {'ok' if ok else 'NOT ok'}: {j.out_of_band_days} days out of band; "
        f"value lost {j.cost.lost_bps:.1f} bps of NAV; {len(d.kills)} SIGKILLs at kill points "
        f"of {d.processes} keeper processes ({where or 'none'}; {len(d.missed)} points drawn "
        f"not reached; +{len(d.h.kills)} scripted with a transaction in flight); "
        f"{len(j.crashes)} crashes; {j.repeated} sent twice; {len(unsignable)} unsignable; "
        f"longest job {longest:.1f}s"
    )
    points = tuple(f"day {k['day']} {k['point']} in {k['job']}: {k['at']}" for k in d.kills)
    bands = [(int(t.minBps), int(t.maxBps)) for t in fund_state(d.fund).tiers]
    last = {int(day): r for day, r in zip(ledger.days, ledger.ratios, strict=True) if day >= 1}
    band_days = tuple(
        f"day {day}: tiers {'/'.join(str(x) for x in r)} bps"
        for day, r in sorted(last.items())
        if any(not lo <= x <= hi for x, (lo, hi) in zip(r, bands, strict=True))
    )
    return ChaosVerdict(
        ok, line, seed, j.out_of_band_days, j.cost.lost_bps, len(d.kills) + len(d.h.kills),
        d.processes, j.crashes, j.repeated, unsignable, longest, j,
        tuple(ledger.log + ledger.alerts), points,
        tuple(f"day {k['day']} {k['point']}" for k in d.missed), band_days,
        plan_lines(d.out / "fund-keeper.db"),
    )  # fmt: skip


def _worker(now: int, jobs: list[str]) -> None:
    """One fund keeper process: the jobs in order on the month's store, each guarded (a line of
    JSON per job: its name, wall seconds and the error it raised, if any), with the kill point
    of ``CHAOS_KILL_AT`` armed (ballast_dev.demo.killpoints) before the store opens."""
    from ballast_dev.demo.killpoints import ENV, install
    from keepers.cli_base import Ctx
    from keepers.core.logging import configure_logging

    configure_logging(False, "ERROR")
    point = install(os.environ[ENV]) if os.environ.get(ENV) else None
    bot = Ctx(False, now).bot()
    at = [now]  # the keeper's clock for the job running: its alerts are stamped with it

    def relay(alert: Any) -> None:
        """Every alert the keeper raises, a line of JSON for the month (its ``feed_down``, its
        critical alerts: `judge` holds them against the scenes' windows as it holds the
        month's own keeper's)."""
        level = getattr(alert.level, "value", alert.level)
        rec = {"alert": [at[0], str(level), str(alert.code), str(alert.message)]}
        sys.stdout.write(json.dumps(rec) + "\n")
        sys.stdout.flush()

    bot.alert.sinks.append(relay)
    for job in jobs:
        at[0] = now + ANSWER_S if job == "tick" else now
        if point is not None:
            point.current = job
        t = time.monotonic()
        err = None
        try:
            if job == "events":
                bot.events(now)
            elif job == "approvals":  # the owners, through the store
                owners_answer(bot, now)
            elif job == "tick":  # after the owners' answers
                bot.tick(now + ANSWER_S)
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


__all__ = ["ChaosDemo", "ChaosVerdict", "run_chaos", "shorten_read_retries", "unsignable_plans"]
