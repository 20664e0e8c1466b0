"""A hostile month: the demo's fund and keepers through what the demo never reaches.

The same machinery as ``make demo`` (ballast_dev/demo/run.py: real anvil, real Uniswap V3
pools, the fund keeper's jobs on a simulated clock, the scheduler executor and the supervisor),
with a market that misbehaves:

- pools as deep as the caller deploys them (the tests run them 8x shallower than the demo's);
- a bank run: a third of the NAV asked back over two days;
- a held asset's feed that stops reporting for two days while its market (the pool) moves,
  then reports the market's price again;
- a depeg: a tokenized T-bill's pool trades 3% under the NAV its feed reports for a week (the
  keeper must not sell into the discount, and may buy it);
- the fund keeper's node cut in the middle of a plan's execution (its first transaction in the
  node, then every request answered 503 for an hour: with every timing setting at its default
  but the pipeline's node-error backoff (KEEPER_RETRY_BACKOFF_S 0.05 s, the demo world's; at
  its default 1 s tests/offchain/fundbot/test_fundbot_outage.py holds the same bound), no job
  may run longer than OUTAGE_JOB_MAX_S, 15 s), and SIGKILLs of the keeper process with a
  transaction in flight;
- gas spikes: the base fee jumps to 200 gwei just before the keeper acts.

Every job runs as the runtime's scheduler runs it: an error is a ``job_failed`` alert, and the
next job runs (keepers.runtime.scheduler.run_job). The month is judged from chain state and the
keeper's own records (`judge`): no job died outside the node's outage, a ``feed_down`` alert
while the feed was down, days ending out of band and the worst excursion, value lost to fills in
bps of NAV, redemptions paid on time, no action executed twice, every critical alert explained
by a scene, the longest job's wall time (and the longest in the outage). It ends with one
HOSTILE VERDICT line.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast_dev.demo.costs import MonthCost, days_out_of_band, month_cost
from ballast_dev.demo.run import ADMINS, DAY, Demo, Ledger, play
from ballast_dev.deployment.fund import FundDeployment, fund_state
from ballast_dev.deployment.uniswap import arbitrage_to_price
from ballast_dev.local.rpc_proxy import RpcProxy
from keepers.core.amounts import format_amount

BPS = 10_000
STALE_ASSET = "TBILL-B"  # held in L3, traded in a real pool
DEPEG_ASSET = "TBILL-A"  # held in L3; its pool trades under its feed for a week
SPIKE_GWEI = 200
# a redemption request is on time when it is paid within a day of the request
ON_TIME_S = DAY
# no job runs longer than this in the node outage's scene (issue 47: jobs never wait on the
# chain; with the default KEEPER_EXECUTE_TIMEOUT_S one job used to wait 300 s per action)
OUTAGE_JOB_MAX_S = 15.0


@dataclass
class Window:
    """A stretch of the month in which a scene explains some critical alerts."""

    why: str
    start: int  # chain timestamps
    end: int
    codes: frozenset[str]


@dataclass
class Hostile:
    """What the hostile scenes did, besides the demo's ledger."""

    alerts: list[tuple[int, str, str, str]] = field(default_factory=list)  # ts, level, code, msg
    windows: list[Window] = field(default_factory=list)
    kills: list[dict[str, Any]] = field(default_factory=list)
    outages: list[dict[str, Any]] = field(default_factory=list)
    stale: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol -> (from, to)
    spikes: list[int] = field(default_factory=list)  # timestamps
    jobs: list[tuple[int, str, float]] = field(default_factory=list)  # ts, job, wall seconds


class HostileDemo(Demo):
    """The demo's actors and keepers, with the fund keeper's node behind a proxy that the
    scenes can cut, a market price per asset that a stale feed does not follow, and every job
    guarded as the runtime guards it."""

    def __init__(self, fund: FundDeployment, accounts: Any, out: Path, echo: Any) -> None:
        from ape import chain

        self.proxy = RpcProxy(chain.provider.uri)
        self.wall0 = time.monotonic()
        super().__init__(fund, accounts, out, echo)
        self.h = Hostile()
        self.market_px = {s: int(f.latestAnswer()) for s, f in fund.feeds.items()}
        self.stale: set[str] = set()
        self.pool_discount_bps: dict[str, int] = {}  # a pool trading under its asset's feed
        self.run_target = 0  # the bank run's total, base units (a third of the NAV)
        self.run_asked = 0

    def _fund_env(self) -> dict[str, str]:
        # every timing setting at its default (KEEPER_EXECUTE_TIMEOUT_S 300 s among them) but the
        # demo world's KEEPER_RETRY_BACKOFF_S (see the module doc): no
        # job waits on the chain (issue 47), so the outage's jobs return on their own
        return {**super()._fund_env(), "KEEPER_RPC_URL": self.proxy.url}

    def note(self, text: str) -> None:  # with the wall-clock seconds since the start
        super().note(f"{text} [{time.monotonic() - self.wall0:.0f}s]")

    def _alert_sink(self, alert: Any) -> None:
        super()._alert_sink(alert)
        level = getattr(getattr(alert, "level", None), "value", getattr(alert, "level", ""))
        self.h.alerts.append(
            (self.now(), str(level), str(getattr(alert, "code", "")), str(alert.message))
        )

    def job(self, name: str, fn: Any) -> Any:
        from keepers.runtime.alerts import Alerter, job_failed

        t = time.monotonic()
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - as keepers.runtime.scheduler.run_job
            job_failed(name, err, Alerter([self._alert_sink]))
            return None
        finally:
            took = time.monotonic() - t
            self.h.jobs.append((self.now(), name, took))
            if took > 3:
                self.ledger.log.append(f"  (job {name} took {took:.0f}s of wall time)")

    # ------------------------------------------------------------------ the market

    def report_prices(self, moves: dict[str, int] | None = None) -> None:
        """`moves` (in %) move the market; every feed not stale reports the market's price;
        arbitrageurs trade the pools to the market's price, stale feed or not."""
        for sym, feed in self.fund.feeds.items():
            if moves and sym in moves:
                self.market_px[sym] = self.market_px[sym] * (100 + moves[sym]) // 100
            if sym not in self.stale:
                feed.updateAnswer(self.market_px[sym], sender=self.deployer)
        for sym in self.dex:
            fee = int(self.fund.adapters["uniswap"].poolFee(self.fund.assets[sym]))
            px = self.market_px[sym] * (BPS - self.pool_discount_bps.get(sym, 0)) // BPS
            price = (px * self.unit // 10**8, 10**18)
            arbitrage_to_price(
                self.uni, self.fund.assets[sym], self.fund.cash, fee, price, self.market
            )

    def feed_stops(self, sym: str) -> str:
        self.stale.add(sym)
        feed = self.fund.feeds[sym]
        heartbeat = int(self.fund.controller.assetParams(self.fund.assets[sym]).heartbeat)
        since = int(feed.latestRoundData()[3])
        self.h.stale[sym] = (since + heartbeat, 0)
        return f"{sym}'s feed stops reporting (stale from {fmt_day(self, since + heartbeat)})"

    def feed_back(self, sym: str) -> str:
        self.stale.discard(sym)
        self.report_prices()
        start, _ = self.h.stale[sym]
        self.h.stale[sym] = (start, self.now())
        days = (self.now() - start) / DAY
        # while a held feed is down the controller refuses rebalances, so the paid recurring
        # rebalancer's runs revert and their retries can spend the funder's day cap
        self.h.windows.append(
            Window(
                f"{sym}'s feed down",
                start,
                self.now() + 600,
                frozenset({"feed_down", "spend_cap_reached"}),
            )
        )
        return f"{sym}'s feed reports the market again after {days:.1f} days stale"

    def depeg(self, sym: str, discount_bps: int) -> str:
        """The asset's secondary market (its pool) trades `discount_bps` under the price its
        feed reports (a tokenized T-bill under its NAV); 0 ends it."""
        self.pool_discount_bps[sym] = discount_bps
        self.report_prices()
        if discount_bps:
            return f"{sym}'s pool trades {discount_bps / 100:.1f}% under its feed"
        return f"{sym}'s pool back at its feed's price"

    def gas_spike(self) -> str:
        w3 = self.chain.provider.web3
        w3.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(SPIKE_GWEI * 10**9)])
        self.chain.mine(1)
        self.h.spikes.append(self.now())
        # the scheduler's runs in the spike pay its fee: the funder's day cap can run short
        self.h.windows.append(
            Window(
                "base-fee spike",
                self.now(),
                self.now() + DAY,
                frozenset({"spend_cap_reached", "funder_empty", "low_runway"}),
            )
        )
        base = int(self.chain.blocks.head.base_fee) // 10**9
        return f"base fee {base} gwei"

    # ------------------------------------------------------------------ the flows

    def bank_run(self, part: int, parts: int) -> str:
        """Part `part` of `parts` of a run on the fund: a third of the NAV (as the run starts)
        asked back in equal parts, from the largest holders first."""
        v = self.fund.vault
        if self.run_target == 0:
            self.run_target = int(v.totalAssets()) // 3
        want = self.run_target * part // parts - self.run_asked
        shares_left = int(v.convertToShares(want))
        asked = 0
        for inv in sorted(self.investors, key=lambda a: -int(v.balanceOf(a))):
            take = min(int(v.balanceOf(inv)), shares_left)
            if take <= 0:
                break
            v.requestRedeem(take, inv, inv, sender=inv)
            shares_left -= take
            asked += int(v.convertToAssets(take))
        self.run_asked += asked
        dec = 18 if self.unit == 10**18 else 6
        return f"{format_amount(asked, dec, places=0, rounding='half_up')} asked back (run so far {format_amount(self.run_asked, dec, places=0, rounding='half_up')})"

    def kill(self, amount: int) -> str:
        said = self.kill_keeper_mid_plan(self.now(), amount)
        self.h.kills.append(dict(self.ledger.kill))
        return said

    def outage_mid_plan(self, amount: int) -> str:
        """A deposit that makes a multi-action plan; the admins sign it; the keeper's node
        answers 503 from right after the plan's first transaction, for an hour of simulated
        time in which the keeper's jobs keep running; then the node is back and the keeper
        finishes the plan, each action once."""
        from ballast_dev.local.keystores import account_key
        from keepers.fund.planning.plan_approval import sign_plan
        from keepers.fund.records import PENDING_APPROVAL

        w3 = self.chain.provider.web3
        nonce0 = w3.eth.get_transaction_count(self.keeper.address)
        start = self.now()
        self.deposit(1, amount)
        bot = self.fund_bot
        self.proxy.cut_after_sends(1)
        self.job("fund.events", lambda: bot.events(start))
        refs = []
        for row in bot.plans.with_status(PENDING_APPROVAL):
            signed = bot.plans.signed_plan(row.ref)
            refs.append(row.ref)
            for admin in ADMINS[:2]:
                if signed is not None:
                    sig = sign_plan(signed, account_key(admin))
                    bot.plans.record_signature(row.ref, sig, start + 300, note=admin)
                else:
                    bot.record_decision(row.ref, admin, start + 300, True, "")
        now = self.warp_to(start + 600)
        self.job("fund.tick", lambda: bot.tick(now))
        cut = self.proxy.down.is_set()
        sent_in_outage = w3.eth.get_transaction_count(self.keeper.address) - nonce0
        for _ in range(1):  # an hour without a node: the jobs run, none can finish
            now = self.warp_to(self.now() + 3_600)
            self.job("fund.liquidity", lambda now=now: bot.check("liquidity", now))
            self.job("fund.tick", lambda now=now: bot.tick(now))
        self.proxy.restore()
        now = self.warp_to(self.now() + 600)
        for _ in range(10):  # the fund's tick, every 30 s, until the plans in flight end
            outs = self.job("fund.tick", lambda now=now: bot.tick(now)) or []
            for o in outs:
                self.ledger.outcomes[o.status] += 1
            if not any(o.plan_id in refs and o.status in ("executing", "approved") for o in outs):
                break
            now = self.warp_to(self.now() + 30)
        outage_jobs = [took for ts, _, took in self.h.jobs if start <= ts <= now]
        self.h.windows.append(
            Window(
                "the fund keeper's node down (503)",
                start,
                now + 60,
                frozenset({"network", "job_failed", "tx_failed"}),
            )
        )
        actions = 0
        statuses = []
        for ref in refs:
            row = bot.plans.get(ref)
            statuses.append(row.status if row else "missing")
            actions += len(row.payload["plan"]["actions"]) if row else 0
        sent = w3.eth.get_transaction_count(self.keeper.address) - nonce0
        self.h.outages.append(
            {
                "cut": cut,
                "sent_before": sent_in_outage,
                "actions": actions,
                "transactions": sent,
                "status": ",".join(statuses) or "no plan",
                "longest_job_s": max(outage_jobs, default=0.0),
            }
        )
        return (
            f"node cut after {sent_in_outage} of {actions} transactions; back after an hour: "
            f"plan {','.join(statuses) or 'none'}, {sent} transactions for {actions} actions"
        )


def fmt_day(d: Demo, ts: int) -> str:
    return f"day {(ts - d.t0) / DAY:.1f}"


# (day in the 30-day month, day in the short month, what happens, how)
def hostile_script(d: HostileDemo, days: int) -> dict[int, list[tuple[str, Any]]]:
    """The hostile scenes: 30 days (the full month) or 10 (the short one, same scenes, the
    feed still down for two days)."""
    full = days >= 30
    scenes: list[tuple[int, int, str, Any]] = [
        (1, 1, "fund keeper deploys the new cash", None),
        (2, 1, "gas spike", d.gas_spike),
        (2, 1, "large deposit: 2,000,000", lambda: d.deposit(0, 2_000_000)),
        (4, 2, "bank run, day 1 of 2", lambda: d.bank_run(1, 2)),
        (5, 3, "bank run, day 2 of 2", lambda: d.bank_run(2, 2)),
        (8, 4, f"{STALE_ASSET}'s feed stops", lambda: d.feed_stops(STALE_ASSET)),
        (9, 5, f"{STALE_ASSET}'s market -8% (feed silent)", {STALE_ASSET: -8}),
        (10, 6, f"{STALE_ASSET}'s market -4% (feed silent)", {STALE_ASSET: -4}),
        (11, 7, f"{STALE_ASSET}'s feed back", lambda: d.feed_back(STALE_ASSET)),
        (12, 7, "depeg", lambda: d.depeg(DEPEG_ASSET, 300)),
        (14, 8, "RPC outage mid-plan (deposit 1,500,000)", lambda: d.outage_mid_plan(1_500_000)),
        (17, 9, "keeper SIGKILLed mid-plan (deposit 2,500,000)", lambda: d.kill(2_500_000)),
        (19, 9, "depeg ends", lambda: d.depeg(DEPEG_ASSET, 0)),
        (21, 10, "price shock: TBILL-A -12%", {"TBILL-A": -12}),
        (23, 10, "gas spike", d.gas_spike),
        (23, 10, "redemption requests: 800,000", lambda: d.request_redeem(2, 800_000)),
    ]
    if full:
        scenes += [
            (25, 0, "keeper SIGKILLed mid-plan (deposit 2,000,000)", lambda: d.kill(2_000_000)),
            (27, 0, "TBILL-B +8%", {"TBILL-B": 8}),
        ]
    script: dict[int, list[tuple[str, Any]]] = {}
    for day_full, day_short, text, act in scenes:
        at = day_full if full else day_short
        if at:
            script.setdefault(at, []).append((text, act))
    return script


@dataclass(frozen=True)
class Judgement:
    ok: bool
    line: str
    cost: MonthCost
    out_of_band_days: int
    held_out_days: int  # ending out of band while the feed was down (or the day after)
    worst_excursion_bps: int
    longest_out_days: float
    crashes: list[str]
    unexplained: list[str]
    late: list[tuple[int, float]]  # (request id, days to pay) of requests not paid on time
    unpaid: list[int]
    repeated: int  # actions sent more than once (kills, outages, idempotency keys)
    feed_down_alerted: bool
    decimals: int
    longest_job_s: float  # the longest job's wall time in the month
    longest_job: str  # which job, on which day
    outage_job_s: float  # the longest job's wall time in the node outage's scene


def run_hostile(
    fund: FundDeployment, accounts: Any, out: Path, days: int, echo: Any
) -> tuple[HostileDemo, Ledger, int, int]:
    """Plays the hostile month; returns the demo, its ledger and the block range it covered."""
    from ape import chain

    from keepers.core.logging import configure_logging

    configure_logging(False, "ERROR")
    d = HostileDemo(fund, accounts, out, echo)
    start = int(chain.blocks.head.number) + 1
    try:
        ledger = play(d, days, hostile_script(d, days))
    except Exception:
        echo("\n".join(d.ledger.log + d.ledger.alerts))  # what led to it
        raise
    finally:
        d.proxy.close()
    return d, ledger, start, int(chain.blocks.head.number)


def judge(d: HostileDemo, ledger: Ledger, start_block: int, end_block: int) -> Judgement:
    """The month from chain state and the keeper's records (see the module docstring)."""
    from sqlalchemy import create_engine, text

    from keepers import abis

    end = fund_state(d.fund)
    bands = [(int(t.minBps), int(t.maxBps)) for t in end.tiers]
    cost = month_cost(d.fund, start_block, end_block)
    # While a held feed is down the controller refuses the moves that restore a band (and
    # the keeper holds them back): records from the outage to a day after the feed is back
    # are reported (`held_out_days`) but not held against the keeper.
    frm, to = d.h.stale.get(STALE_ASSET, (0, 0))
    held = ((frm - d.t0) / DAY, (to - d.t0) / DAY + 1) if to else (0.0, 0.0)

    def excused(day: float) -> bool:
        return held[0] <= day <= held[1]

    all_out = days_out_of_band(ledger.days, ledger.ratios, bands)
    kept = [(day, r) for day, r in zip(ledger.days, ledger.ratios, strict=True) if not excused(day)]
    out_days = days_out_of_band([k[0] for k in kept], [k[1] for k in kept], bands)
    held_out_days = all_out - out_days
    worst, longest, since = 0, 0.0, None
    for day, ratios in kept:
        past = max(max(lo - r, r - hi, 0) for r, (lo, hi) in zip(ratios, bands, strict=True))
        if day >= 1:
            worst = max(worst, past)
        if past and since is None and day >= 1:
            since = day
        elif not past and since is not None:
            longest, since = max(longest, day - since), None
    if since is not None:
        longest = max(longest, ledger.days[-1] - since + 1)  # still out at the end

    def explained(ts: int, code: str) -> bool:
        return any(w.start <= ts <= w.end and code in w.codes for w in d.h.windows)

    critical = [(ts, c, m) for ts, lvl, c, m in d.h.alerts if lvl == "critical"]
    crashes = [
        f"{fmt_day(d, ts)} {m}"
        for ts, c, m in critical
        if c == "job_failed" and not explained(ts, c)
    ]
    unexplained = [
        f"{fmt_day(d, ts)} {c}: {m}"
        for ts, c, m in critical
        if c != "job_failed" and not explained(ts, c)
    ]
    sym = STALE_ASSET
    feed_down_alerted = any(
        c == "feed_down" and frm <= ts <= (to or ts) and sym in m for ts, _, c, m in d.h.alerts
    )

    w3 = d.chain.provider.web3
    vault = w3.eth.contract(address=d.fund.vault.address, abi=abis.load("TieredVault"))
    requested = {
        int(lg["args"]["requestId"]): int(w3.eth.get_block(lg["blockNumber"])["timestamp"])
        for lg in vault.events.RedeemRequest().get_logs(from_block=start_block, to_block=end_block)
    }
    paid = {rid: at for rid, _, at in ledger.redemptions}
    late = [
        (rid, round((paid[rid] - ts) / DAY, 2))
        for rid, ts in sorted(requested.items())
        if rid in paid and paid[rid] - ts > ON_TIME_S
    ]
    unpaid = sorted(rid for rid in requested if rid not in paid)

    eng = create_engine(f"sqlite:///{d.out}/fund-keeper.db")
    with eng.connect() as cx:
        keys = [r[0] for r in cx.execute(text("select idempotency_key from tx_intents"))]
    eng.dispose()
    repeated = len(keys) - len(set(keys))
    scenes = d.h.kills + d.h.outages
    repeated += sum(
        max(0, int(k.get("transactions", 0)) - int(k.get("actions", 0))) for k in scenes
    )
    exercised = (
        bool(d.h.kills)
        and all(k.get("killed") for k in d.h.kills)
        and all(o["cut"] for o in d.h.outages)
    )
    finished = all(
        k.get("transactions") == k.get("actions") and k.get("status") == "executed" for k in scenes
    )
    dec = 18 if d.unit == 10**18 else 6
    ts_max, job_max, longest_job_s = max(d.h.jobs, key=lambda j: j[2], default=(d.t0, "-", 0.0))
    longest_job = f"{job_max} on {fmt_day(d, ts_max)}"
    outage_job_s = max((float(o.get("longest_job_s", 0.0)) for o in d.h.outages), default=0.0)
    ok = (
        not crashes
        and not unexplained
        and feed_down_alerted
        and out_days == 0
        and longest <= 1.0
        and not late
        and not unpaid
        and repeated == 0
        and exercised
        and finished
        and outage_job_s <= OUTAGE_JOB_MAX_S
    )
    n_req = len(requested)
    line = (
        f"HOSTILE VERDICT: {'ok' if ok else 'NOT ok'}: "
        f"{'no keeper crash' if not crashes else f'{len(crashes)} jobs died'}; "
        f"feed_down {'raised' if feed_down_alerted else 'NOT raised'} while {sym}'s feed was down "
        f"({(to - frm) / DAY:.1f} days); {out_days} days ending out of band ({held_out_days} "
        f"more while the feed was down, band moves refused), worst excursion {worst} bps past a "
        f"band edge, longest {longest:.2f} days; fills paid {format_amount(cost.paid, dec, places=0, rounding='half_up')} (net "
        f"{format_amount(cost.lost, dec, places=0, rounding='half_up')}, {cost.lost_bps:.1f} bps of NAV, {cost.fills} fills, worst "
        f"fill {cost.worst_fill_bps} bps); redemptions {n_req - len(late) - len(unpaid)}/{n_req} "
        f"paid within a day; {len(d.h.kills)} SIGKILLs and {len(d.h.outages)} node outage "
        f"mid-plan: {'each action sent once' if repeated == 0 else f'{repeated} sent twice'}"
        f"{'' if finished else ' (a plan NOT finished)'}; "
        f"{len(critical) - len(crashes) - len(unexplained)} critical alerts, "
        f"{len(unexplained) + len(crashes)} unexplained; longest job {longest_job_s:.1f}s "
        f"({longest_job}), {outage_job_s:.1f}s in the node outage (at most "
        f"{OUTAGE_JOB_MAX_S:.0f}s)"
    )
    return Judgement(
        ok, line, cost, out_days, held_out_days, worst, longest, crashes, unexplained, late, unpaid,
        repeated, feed_down_alerted, dec, longest_job_s, longest_job, outage_job_s,
    )  # fmt: skip


__all__ = ["HostileDemo", "Judgement", "hostile_script", "judge", "run_hostile"]
