"""`make demo`: a simulated month of the whole system on the project's own anvil chain.

The keepers run as they would in production (web3, the durable pipeline, their own SQLite
stores) and are ticked with the simulated time, so the month takes minutes:

- the fund keeper (seed 001): event, liquidity, threshold, daily and weekly checks; plans above
  the approval thresholds wait for the demo's admins (alice, bob, carol), who approve them;
- the scheduler executor: executes the recurring rebalancer's and the supervisor's due runs;
- the supervisor keeper: recovers a stuck rebalancer at once and alerts on low runway.

The market is scripted: deposits and redemption requests, price moves reported by the feeds and
traded into the real Uniswap V3 pools by an arbitrageur, the automation funder running dry and
being refilled, and the fund keeper process SIGKILLed in the middle of a plan and restarted.

Everything the keepers see comes from the chain; amounts are integers in base units.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast_dev.deployment.fund import FundDeployment, fund_state
from ballast_dev.deployment.tables import fmt_amount, fmt_bps, render_before_after
from ballast_dev.deployment.uniswap import UniswapV3, arbitrage_to_oracle

DAY = 86_400
ROOT = Path(__file__).resolve().parents[2]
ADMINS = ("alice", "bob", "carol")


@dataclass
class Ledger:
    """What the demo saw, for the report."""

    days: list[float] = field(default_factory=list)
    ratios: list[tuple[int, int, int]] = field(default_factory=list)
    events: list[tuple[float, str]] = field(default_factory=list)
    lags: list[tuple[float, int]] = field(default_factory=list)  # (day executed, seconds)
    alerts: list[str] = field(default_factory=list)
    approvals: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    log: list[str] = field(default_factory=list)
    keeper_gas_wei: int = 0
    kill: dict[str, Any] = field(default_factory=dict)  # what the kill scene did
    slices: int = 0  # carried slices run between the daily checks
    # every redemption request paid: (request id, requested at, paid at), chain timestamps
    redemptions: list[tuple[int, int, int]] = field(default_factory=list)


class Demo:
    def __init__(self, fund: FundDeployment, accounts: Any, out: Path, echo: Any) -> None:
        from ape import chain

        self.fund, self.chain, self.out, self.echo = fund, chain, out, echo
        acct = accounts
        from ballast_dev.local import actors

        self.deployer, self.keeper = acct[actors.DEPLOYER], acct[actors.KEEPER]
        # the admin: the fund's Safe when the profile makes one (its owners alice and bob sign
        # the demo's admin actions), else test account 1; the redemption desk (an EOA that pays
        # queued redemptions and marks the NAV) is test account 1 either way
        self.safe = fund.safe
        self.safe_signers = [acct[actors.ALICE], acct[actors.BOB]]
        self.desk_account = acct[actors.ADMIN]
        self.admin = self.safe if self.safe is not None else self.desk_account
        self.investors = [acct[i] for i in actors.INVESTORS]
        self.market = acct[actors.MARKET]
        self.executor_account = acct[actors.EXECUTOR]
        self.supervisor_account = acct[actors.SUPERVISOR]
        self.unit = 10 ** int(fund.cash.decimals())
        self.ledger = Ledger()
        self.dex = [s for s in fund.assets if s.startswith("TBILL")]
        self.uni = UniswapV3(
            fund.adapters["uniswap_factory"], fund.adapters["uniswap_router"], None, None, None
        )
        self.t0 = int(chain.pending_timestamp)
        self.deployment_file = out / "deployment.json"
        self.deployment_file.write_text(json.dumps(fund.addresses(), default=str, indent=2))
        # the fund keeper's pool trades go through a private relay, as on a real chain
        # (keepers.tx.relay; the local stand-in: ballast_dev/local/relay_local.py)
        from ballast_dev.local.relay_local import RelayLocal

        self.relay = RelayLocal(chain.provider.uri).start()
        self.fund_env = self._fund_env()
        self.keeper_balance0 = int(chain.provider.get_balance(self.keeper.address))
        self.desk = self._redemption_desk()

    def _redemption_desk(self) -> Any:
        """The account that pays queued redemptions (vault KEEPER_ROLE, granted through the
        timelock) and marks the NAV: the admin's, never the fund keeper's key, which only its
        own pipeline may use (a foreign transaction on it halts the pipeline: SignerConflict)."""
        from ballast_dev.deployment.fund import role

        v, tl, desk = self.fund.vault, self.fund.timelock, self.desk_account
        assert tl is not None, "the local profile deploys a timelock"
        keeper_role = role(v, "KEEPER_ROLE")
        if not v.hasRole(keeper_role, desk.address):
            self.through_timelock(v, v.grantRole.encode_input(keeper_role, desk.address))
        return desk

    # ------------------------------------------------------------------ the admin's actions

    def through_timelock(self, target: Any, data: bytes) -> None:
        """A risk-increasing change: scheduled and executed on the timelock (delay 0 locally)
        by the admin: Safe transactions signed by alice and bob, or the admin account."""
        tl = self.fund.timelock
        assert tl is not None, "the demo's fund is deployed with its timelock"
        if self.safe is not None:
            from ballast_dev.deployment.safe import timelock_via_safe

            timelock_via_safe(self.safe, tl, target, data, self.safe_signers)
            return
        zero = b"\x00" * 32
        tl.schedule(target.address, 0, data, zero, zero, int(tl.getMinDelay()), sender=self.admin)
        tl.execute(target.address, 0, data, zero, zero, sender=self.admin)

    def admin_call(self, method: Any, *args: Any) -> None:
        """A call only the admin may make (ADMIN_ROLE, an ownership): a Safe transaction
        signed by alice and bob when the admin is the Safe, else sent by the admin account."""
        if self.safe is not None:
            from ballast_dev.deployment.safe import safe_admin_call

            safe_admin_call(
                self.safe, method.contract, method.encode_input(*args), self.safe_signers
            )
            return
        method(*args, sender=self.admin)

    # ------------------------------------------------------------------ keepers

    def _fund_env(self) -> dict[str, str]:
        return {
            "KEEPER_RPC_URL": self.chain.provider.uri,
            "KEEPER_DB_URL": f"sqlite:///{self.out}/fund-keeper.db",
            "KEEPER_DEPLOYMENT": str(self.deployment_file),
            "KEEPER_ARTIFACTS_PATH": str(ROOT / ".build/__local__.json"),
            "KEEPER_CHAIN_ID": str(self.chain.chain_id),
            "KEEPER_LOG_LEVEL": "ERROR",
            "KEEPER_LOG_JSON": "false",
            "KEEPER_SIGNER_KEY": self.keeper.private_key,
            "KEEPER_NATIVE_PRICE": "600",
            "KEEPER_RETRY_BACKOFF_S": "0.05",
            "REBALANCE_ADMINS": ",".join(ADMINS),
            "KEEPER_PRIVATE_RPC_URLS": self.relay.url,
            "KEEPER_PUBLIC_MEMPOOL_FALLBACK": "false",  # a pool trade never goes public
        }

    def start_keepers(self) -> None:
        self.fund_bot = self._make_fund_bot()
        from keepers.automation.executor import ExecutorBot
        from keepers.automation.settings import ExecutorConfig, SupervisorBotConfig
        from keepers.automation.supervisor import SupervisorBot
        from keepers.core.settings import KeeperSettings, PolicyConfig, load_settings

        a = self.fund.automation
        addrs = {k: getattr(v, "address", v) for k, v in a.items()}

        def sel(sig: str) -> str:
            from eth_utils import keccak

            return "0x" + keccak(text=sig)[:4].hex()

        policy = {
            "roles": {
                "executor": {
                    "allowed": [
                        {
                            "contract": addrs["scheduler"],
                            "selector": sel("executeBatch(uint256[])"),
                        },
                        {"contract": addrs["scheduler"], "selector": sel("execute(uint256)")},
                    ]
                },
                "supervisor": {
                    "allowed": [
                        {
                            "contract": addrs["paid_registry"],
                            "selector": sel("fixReschedule(uint256)"),
                        },
                        {"contract": addrs["supervisor"], "selector": sel("fixReschedule()")},
                        {"contract": addrs["supervisor"], "selector": sel("tick(uint256)")},
                    ]
                },
            }
        }

        def settings(name: str, account: Any) -> KeeperSettings:
            return KeeperSettings(
                db_url=f"sqlite:///{self.out}/{name}.db",
                rpc_url=self.chain.provider.uri,
                signer_key=account.private_key,
                policy=PolicyConfig.model_validate(policy),
                artifacts_path=ROOT / ".build/__local__.json",
                log_level="ERROR",
                log_json=False,
                retry_backoff_s=0.05,
                poll_interval_s=0.02,
            )

        self.executor = ExecutorBot.from_settings(
            settings("executor", self.executor_account),
            load_settings(ExecutorConfig, scheduler=addrs["scheduler"], due_scan_every_s=0),
        )
        self.supervisor = SupervisorBot.from_settings(
            settings("supervisor", self.supervisor_account),
            load_settings(
                SupervisorBotConfig,
                scheduler=addrs["scheduler"],
                registry=addrs["paid_registry"],
                supervisor=addrs["supervisor"],
                scan_every_s=3_600,
            ),
            sinks=[self._alert_sink],
        )
        self.executor.start()
        self.supervisor.start()

    def _make_fund_bot(self) -> Any:
        from keepers.fund.bot import FundBot
        from keepers.fund.settings import load_fund_config
        from keepers.runtime.alerts import Alerter
        from keepers.store.db import Store
        from keepers.tx.signers import RawKeySigner

        cfg = load_fund_config(self.fund_env)
        store = Store(cfg.keeper.db_url)
        return FundBot(
            cfg,
            store,
            signer=RawKeySigner(self.keeper.private_key),
            alerter=Alerter([self._alert_sink]),
        )

    def _alert_sink(self, alert: Any) -> None:
        level = getattr(getattr(alert, "level", None), "value", getattr(alert, "level", ""))
        code = getattr(alert, "code", "")
        self.ledger.alerts.append(
            f"day {self.day_f():.1f} {level} {code}: {getattr(alert, 'message', '')}"
        )

    # ------------------------------------------------------------------ time and market

    def day_f(self) -> float:
        return (int(self.chain.pending_timestamp) - self.t0) / DAY

    def now(self) -> int:
        return int(self.chain.blocks.head.timestamp)

    def warp_to(self, ts: int) -> int:
        ts = max(ts, int(self.chain.blocks.head.timestamp) + 1)
        self.chain.mine(1, timestamp=ts)
        return ts

    def report_prices(self, moves: dict[str, int] | None = None) -> None:
        """Every feed re-reports (a heartbeat); `moves` are % changes; the market trades the
        pools to the new prices."""
        for sym, feed in self.fund.feeds.items():
            answer = int(feed.latestAnswer())
            if moves and sym in moves:
                answer = answer * (100 + moves[sym]) // 100
            feed.updateAnswer(answer, sender=self.deployer)
        arbitrage_to_oracle(self.fund, self.uni, self.dex, self.market)

    # ------------------------------------------------------------------ actors

    def deposit(self, who: int, amount: int) -> None:
        inv = self.investors[who]
        self.fund.vault.deposit(amount * self.unit, inv, sender=inv)

    def request_redeem(self, who: int, amount: int) -> None:
        v, inv = self.fund.vault, self.investors[who]
        shares = v.convertToShares(amount * self.unit)
        v.requestRedeem(shares, inv, inv, sender=inv)

    def settle_redemptions(self) -> int:
        """The keeper funds queued redemptions from the cash its plans raised; investors claim."""
        v = self.fund.vault
        if int(v.pendingRedemptions()) == 0:
            return 0
        start = int(v.nextRequestToFulfil())
        v.fulfilRedemptions(50, sender=self.desk)
        paid = 0
        for rid in range(start, int(v.nextRequestToFulfil())):
            r = v.redeemRequest(rid)
            if int(r.status) == 2:  # Claimable: priced and funded; the controller claims
                v.claimRedemption(rid, r.controller, sender=r.controller)
                paid += int(r.assets)
                self.ledger.redemptions.append((rid, int(r.requestedAt), self.now()))
        return paid

    def mark_nav(self) -> None:
        """The desk marks the NAV at the end of the day (permissionless; never the keeper's
        key, see `desk`). The controller refuses a mark while a held asset's feed is down
        (MarkWhileFeedDown): the last mark stands and the day says so."""
        try:
            self.fund.controller.mark(sender=self.desk)
        except Exception as err:  # noqa: BLE001 - only the documented refusal is expected
            if "MarkWhileFeedDown" not in f"{type(err).__name__} {err}":
                raise
            self.note("mark held: a held asset's feed is down (MarkWhileFeedDown)")

    def run_scheduled(self, until: int) -> None:
        """Step the chain through every booked run due before `until`, the executor and the
        supervisor keepers ticking right after each (1-second blocks)."""
        sched = self.fund.automation["scheduler"]
        self.tick_automation(self.now())  # anything already due
        for _ in range(20):
            due = list(sched.runsDueInRange(self.now() + 1, until, 10))
            if not due:
                break
            first = min(int(sched.getRun(i).timestamp) for i in due)
            now = self.warp_to(first)
            self.tick_automation(now)

    def tick_automation(self, now: int) -> None:
        self.executor.tick(now)
        t = self.supervisor.tick(now)
        names = {
            getattr(self.fund.automation["fund_rebalancer"], "address", ""): "fund rebalancer",
            getattr(self.fund.automation["supervisor"], "address", ""): "on-chain supervisor",
        }
        if t.failed_events:
            who = ", ".join(sorted({names.get(a, a) for a in t.failed_events}))
            self.note(f"FailedRecurringSchedule: {who} could not book its next run")
        if t.fixes:
            who = ", ".join(sorted({names.get(a, a) for a in t.fixes}))
            self.note(f"supervisor keeper recovered: {who} booked again (fixReschedule)")

    def job(self, name: str, fn: Any) -> Any:
        """One keeper job (``fund.events``, ``fund.tick``, ...). The demo lets an error
        propagate (its month must not raise any); the hostile month catches it as the
        runtime's scheduler does (keepers.runtime.scheduler.run_job)."""
        return fn()

    def fund_checks(self, now: int, jobs: list[str]) -> None:
        bot = self.fund_bot
        outs = [self.job("fund.events", lambda: bot.events(now))]
        for job in jobs:
            outs.append(self.job(f"fund.{job}", lambda job=job: bot.check(job, now)))
        for o in outs:
            if o is not None and o.plan_id and o.status not in ("nothing",):
                self.ledger.outcomes[o.status] += 1
        self.job("fund.approvals", lambda: self.approve_pending(now))
        for o in self.job("fund.tick", lambda: bot.tick(now)) or []:
            self.ledger.outcomes[o.status] += 1

    def approve_pending(self, now: int) -> None:
        """The admins answer within the SLA (`owners_answer`)."""
        for out in owners_answer(self.fund_bot, now):
            self.ledger.approvals += 1
            self.ledger.outcomes[out.status] += 1

    # ------------------------------------------------------------------ the kill

    def kill_keeper_mid_plan(self, now: int, deposit: int) -> str:
        """The scene sets up its own precondition: a deposit large enough for a multi-action
        plan above the approval thresholds; the event check makes the plan, which waits for
        the admins. The admins approve through the CLI (`keeper approve`, which records only);
        a keeper process then executes it on its tick and is held (KEEPER_HOLD_AT) right after
        its second transaction went to the node, before the keeper recorded it: a kill point reached on every run, with a
        transaction in flight. The demo SIGKILLs it there; the restarted keeper (same
        database) follows the in-flight transaction and sends only what was never sent."""
        from keepers.fund.records import PENDING_APPROVAL

        self.deposit(2, deposit)
        bot = self.fund_bot
        out = bot.events(now)
        rows = bot.plans.with_status(PENDING_APPROVAL)
        if not rows:
            self.ledger.outcomes[out.status] += 1
            self.ledger.kill = {
                "error": f"no plan waiting for approval ({out.status}: {out.detail})"
            }
            return self.ledger.kill["error"]
        row0 = rows[-1]  # the newest: the plan of this deposit
        ref = row0.ref
        n_actions = len(row0.payload["plan"]["actions"])
        req = str((row0.payload.get("approval") or {}).get("requirement", ""))
        hold_at = min(2, n_actions)
        # the CLI process needs the database: the in-process keeper stops first
        bot.store.close()
        marker = self.out / "keeper-held"
        marker.unlink(missing_ok=True)
        env = {**os.environ, **self.fund_env, "PYTHONPATH": str(ROOT)}
        w3 = self.chain.provider.web3
        nonce0 = w3.eth.get_transaction_count(self.keeper.address)
        admins = list(ADMINS[: 2 if req == "multi_admin" else 1])
        if "frozen" in row0.payload:  # behind the executor: each admin signs with their key
            from ballast_dev.local.keystores import approver_env, write_test_keystores

            keys = self.out / "approver-keystores"
            write_test_keystores(keys, "demo", tuple(admins), scrypt_n=2**10)
            env.update(approver_env(keys, "demo", tuple(admins)))
            how = [["--account", admin] for admin in admins]
        else:
            how = [["--by", admin] for admin in admins]
        for args in how:  # `keeper approve` records the decision only
            r = subprocess.run(
                [sys.executable, "-m", "keepers.cli", "--now", str(now + 300), "approve", ref, *args],
                env=env, capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            if r.returncode != 0:
                raise RuntimeError(
                    f"keeper approve {ref} {' '.join(args)} exited {r.returncode}: "
                    f"{r.stderr.strip()[-2000:]}"
                )
        # the keeper process executes it on its own tick, under its own approval rules
        held = {**env, "KEEPER_HOLD_AT": f"sent:{hold_at}", "KEEPER_HOLD_FILE": str(marker)}
        tick = f"from keepers.cli import Ctx; Ctx(False, {now + 600}).bot().tick({now + 600})"
        proc = subprocess.Popen(
            [sys.executable, "-c", tick],
            env=held, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.ledger.approvals += len(admins)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and not marker.exists():
            time.sleep(0.02)
        killed = proc.poll() is None and marker.exists()
        if killed:
            proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        sent_before = w3.eth.get_transaction_count(self.keeper.address) - nonce0
        self.fund_bot = self._make_fund_bot()  # restarted on the same database
        outs = [o for o in self.fund_bot.tick(now + 900) if o.plan_id == ref]
        for o in outs:
            self.ledger.outcomes[o.status] += 1
        sent_total = w3.eth.get_transaction_count(self.keeper.address) - nonce0
        row = self.fund_bot.plans.get(ref)
        status = row.status if row else "missing"
        self.ledger.kill = {
            "killed": killed,
            "at": f"action {hold_at} of {n_actions} (its transaction sent, not yet recorded)",
            "sent_before": sent_before,
            "actions": n_actions,
            "transactions": sent_total,
            "status": status,
        }
        what = (
            f"SIGKILLed at action {hold_at} of {n_actions} with its transaction in flight"
            if killed
            else "was never held at the kill point"
        )
        return (
            f"keeper {what} ({sent_before}/{n_actions} sent); restarted: plan {status}, "
            f"{sent_total} transactions for {n_actions} actions"
        )

    def carry_slices(self, start: int, max_slices: int = 8) -> None:
        """Between the daily checks: while the fund keeper carries a flow that venue depth
        held back, the clock moves one slice interval, arbitrageurs trade the pools back to
        the oracle, and the keeper's tick runs the next slice."""
        bot = self.fund_bot
        interval = bot.cfg.carry_slice_interval_s
        for _ in range(max_slices):
            if not bot.carry.active():
                return
            now = self.warp_to(max(self.now() + 1, start + interval))
            start = now
            self.report_prices()
            for o in self.job("fund.tick", lambda now=now: bot.tick(now)) or []:
                self.ledger.outcomes[o.status] += 1
                self.ledger.slices += 1
            self.job("fund.approvals", lambda now=now: self.approve_pending(now))

    # ------------------------------------------------------------------ recording

    def record(self) -> None:
        st = fund_state(self.fund)
        self.ledger.days.append(self.day_f())
        self.ledger.ratios.append(tuple(int(r) for r in st.tierRatioBps))  # type: ignore[arg-type]

    def note(self, text: str) -> None:
        day = self.day_f()
        if not any(abs(d - day) < 0.5 for d, _ in self.ledger.events):  # one label a day
            self.ledger.events.append((day, text.split(":")[0][:28]))
        self.ledger.log.append(f"day {day:4.1f}  {text}")


def owners_answer(bot: Any, now: int) -> list[Any]:
    """The admins answer every plan waiting for them within the SLA: one for 50K-200K, two of
    three above. Behind the PlanExecutor each answer is an EIP-712 signature of the frozen plan
    by the owner's own key (what `keeper approve --account` records); a bare name counts for
    nothing there. Returns the keeper's outcome after each answer."""
    from ballast_dev.local.keystores import account_key
    from keepers.fund.planning.plan_approval import sign_plan
    from keepers.fund.records import PENDING_APPROVAL

    outs = []
    for row in bot.plans.with_status(PENDING_APPROVAL):
        signed = bot.plans.signed_plan(row.ref)
        for admin in ADMINS:
            if signed is not None:
                sig = sign_plan(signed, account_key(admin))
                bot.plans.record_signature(row.ref, sig, now + 600, note=admin)
                out = bot.advance(row.ref, now + 600)
            else:
                out = bot.approve(row.ref, admin, now + 600)
            outs.append(out)
            if out.status != "pending_approval":
                break
    return outs


def prologue(fund: FundDeployment, accounts: Any, echo: Any) -> tuple[Any, Any, int]:
    """Part 1 of the demo: deposits, invest to target, a drift (TBILL-A -12% through the feed
    and the pool, a 3,000,000 deposit), the keeper account's ``rebalance(true)``. Returns the
    fund state before and after that call and its gas."""
    acct = accounts
    deployer, keeper = acct[0], acct[2]
    investors = [acct[4], acct[5], acct[6]]
    unit = 10 ** int(fund.cash.decimals())
    v, c = fund.vault, fund.controller
    t0 = time.monotonic()
    for who, amount in zip(investors, (2_000_000, 1_500_000, 1_000_000), strict=True):
        fund.cash.mint(who, 10_000_000 * unit, sender=deployer)
        fund.cash.approve(v, 2**256 - 1, sender=who)
        v.deposit(amount * unit, who, sender=who)
    echo(f"[{time.monotonic() - t0:5.1f}s] deposits: 4,500,000 USDT from 3 investors, all in L1")
    _keeper_rebalance(fund, keeper, "prologue-invest")
    echo(f"[{time.monotonic() - t0:5.1f}s] keeper invested to target: {_ratios(fund)}")
    dex = [s for s in fund.assets if s.startswith("TBILL")]
    uni = UniswapV3(
        fund.adapters["uniswap_factory"], fund.adapters["uniswap_router"], None, None, None
    )
    market = acct[7]  # an arbitrageur keeping the pools at the oracle price
    for sym in dex:
        fund.assets[sym].mint(market, 10**9 * 10**18, sender=deployer)
    fund.cash.mint(market, 10**12 * unit, sender=deployer)
    arbitrage_to_oracle(fund, uni, dex, market)
    # Drift 1: TBILL-A falls 12%: the feed reports it and the market trades the pool down too.
    feed = fund.feeds["TBILL-A"]
    feed.updateAnswer(feed.latestAnswer() * 88 // 100, sender=deployer)
    arbitrage_to_oracle(fund, uni, dex, market)
    # Drift 2: a 3,000,000 USDT deposit lands in L1.
    v.deposit(3_000_000 * unit, investors[0], sender=investors[0])
    c.mark(sender=keeper)
    before = fund_state(fund)
    echo(
        f"[{time.monotonic() - t0:5.1f}s] drift: TBILL-A -12% and a 3,000,000 USDT deposit: "
        f"{_ratios(fund)}"
    )
    tx = _keeper_rebalance(fund, keeper, "prologue-rebalance")
    return before, fund_state(fund), int(tx.gas_used)


def _keeper_rebalance(fund: FundDeployment, keeper: Any, tag: str) -> Any:
    """The keeper account's ``rebalance(true)``. Behind the PlanExecutor the keeper key holds
    no role on the controller: it sends the call as a one-action plan through the executor,
    and since the move is far above the executor's threshold, with the EIP-712 signatures of
    two Safe owners (alice, bob) over that exact plan."""
    c = fund.controller
    ex = fund.automation.get("plan_executor")
    if ex is None:
        return c.rebalance(True, sender=keeper)
    from eth_utils import keccak

    from ballast_dev.local.keystores import account_key
    from keepers.fund.planning.plan_approval import SignedPlan, sign_plan

    chain = keeper.chain_manager
    plan = SignedPlan(
        plan_id=keccak(text=f"{tag}-{chain.blocks.head.number}"),
        chain_id=chain.chain_id,
        executor=ex.address,
        controller=c.address,
        deadline=int(chain.pending_timestamp) + 3_600,
        actions=(bytes(c.rebalance.encode_input(True)),),
    )
    sigs = [sign_plan(plan, account_key(n)) for n in ("alice", "bob")]
    return ex.executeAction(
        plan.header(), 0, plan.actions[0], plan.action_hashes(), sigs, sender=keeper
    )


def _ratios(fund: FundDeployment) -> str:
    s = fund_state(fund)
    return " / ".join(f"L{i + 1} {fmt_bps(r)}" for i, r in enumerate(s.tierRatioBps))


def run(
    fund: FundDeployment,
    accounts: Any,
    out: Path,
    days: int,
    echo: Any,
    console: Callable[[dict[str, str]], Any] | None = None,
) -> Ledger:
    """The demo's month: `month_script`'s scenes over `days` simulated days. ``console``, when
    given, is called with the fund keeper's environment before the month starts (scripts/demo.py
    starts the web console with it)."""
    from keepers.core.logging import configure_logging

    configure_logging(False, "ERROR")  # the demo prints its own story
    d = Demo(fund, accounts, out, echo)
    if console is not None:
        console(d.fund_env)
    return play(d, days, month_script(d, days))


def play(d: Demo, days: int, script: dict[int, list[tuple[str, Any]]]) -> Ledger:
    """Deposits of 4,500,000 from three investors, the keepers started, then one simulated
    day at a time: the runs due overnight, the day's scenes (price moves in %, callables, or
    "kill"), the fund keeper's checks and carried slices, redemptions paid, the runs due by
    the evening and the desk's mark. Returns the ledger, the keepers stopped."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    fund = d.fund
    v = fund.vault
    for i, amount in enumerate((2_000_000, 1_500_000, 1_000_000)):
        inv = d.investors[i]
        fund.cash.mint(inv, 50_000_000 * d.unit, sender=d.deployer)
        fund.cash.approve(v, 2**256 - 1, sender=inv)
        d.deposit(i, amount)
    for sym in d.dex:
        fund.assets[sym].mint(d.market, 10**9 * 10**18, sender=d.deployer)
    fund.cash.mint(d.market, 10**12 * d.unit, sender=d.deployer)
    d.start_keepers()
    d.note("deposits: 4,500,000 USDT in L1")
    d.record()

    with Progress(
        TextColumn("[bold]simulated month[/bold]"), BarColumn(), TextColumn("day {task.completed:>2}/{task.total}"),
        TextColumn("{task.description}"), TimeElapsedColumn(), transient=False,
    ) as progress:  # fmt: skip
        task = progress.add_task("", total=days)
        for day in range(1, days + 1):
            start = d.t0 + day * DAY
            d.run_scheduled(start)  # runs falling due overnight execute on time
            now = d.warp_to(start + 60)
            moves: dict[str, int] = {}
            actions = script.get(day, [])
            for _text, act in actions:
                if isinstance(act, dict):
                    moves.update(act)
            d.report_prices(moves)
            for text, act in actions:
                if callable(act):
                    said = act()
                    if isinstance(said, str) and said:
                        text = f"{text}: {said}"
                if act == "kill":
                    text = text + ": " + d.kill_keeper_mid_plan(now, 2_500_000)
                d.note(text)
                progress.update(task, description=text[:60])
            if actions:
                d.record()  # the drift, before the keepers answer it
            now = max(now, d.now())  # a scene may have moved the clock (the hostile month's)
            monday = (start // DAY + 4) % 7 == 0  # 1970-01-01 was a Thursday
            jobs = ["liquidity", "threshold", "daily"] + (["weekly"] if monday else [])
            d.fund_checks(now, jobs)
            d.carry_slices(now)
            paid = d.settle_redemptions()
            if paid:
                d.note(f"redemptions paid: {fmt_amount(paid, 18 if d.unit == 10**18 else 6)}")
            d.run_scheduled(start + DAY - 120)
            d.mark_nav()
            d.record()
            progress.update(task, advance=1)
    from keepers.automation.executor import executed_records

    for r in executed_records(d.executor.store):
        d.ledger.lags.append(((int(r["executed_at"]) - d.t0) / DAY, int(r["lag_s"])))
    d.ledger.keeper_gas_wei = d.keeper_balance0 - int(
        d.chain.provider.get_balance(d.keeper.address)
    )
    d.fund_bot.store.close()
    d.executor.stop()
    d.supervisor.stop()
    d.relay.stop()
    return d.ledger


def month_script(d: Demo, days: int) -> dict[int, list[tuple[str, Any]]]:
    """The month's scenes on days 1-26 of 30; a shorter run (``days`` < 30, the month test)
    keeps them in the same order on a compressed clock (day x -> x * days / 30, at least 1)."""
    scenes: list[tuple[int, str, Any]] = [
        (1, "fund keeper deploys the new cash (liquidity trigger)", None),
        (3, "large deposit: 3,000,000 (event trigger)", lambda: d.deposit(0, 3_000_000)),
        (6, "redemption requests: 1,200,000", lambda: d.request_redeem(1, 1_200_000)),
        (9, "price shock: TBILL-A -12%", {"TBILL-A": -12}),
        (13, "funder drained by its owner", lambda: _drain(d)),
        (16, "funder refilled: 0.5 ETH", lambda: _refill(d)),
        (20, "large deposit 2,500,000, keeper killed mid-plan", "kill"),
        (23, "TBILL-B +8%", {"TBILL-B": 8}),
        (26, "redemption requests: 800,000", lambda: d.request_redeem(2, 800_000)),
    ]
    script: dict[int, list[tuple[str, Any]]] = {}
    for day, text, act in scenes:
        at = day if days >= 30 else max(1, day * days // 30)
        script.setdefault(at, []).append((text, act))
    return script


def verdict(ledger: Ledger, fund_db: Path, end: Any) -> tuple[bool, str]:
    """How the month ended, as one line: every tier in band, no plan blocked on two
    consecutive cycles, and the kill scene killed and recovered with one transaction per
    action."""
    from sqlalchemy import create_engine, text

    ratios = [int(r) for r in end.tierRatioBps]
    bands = [(int(t.minBps), int(t.maxBps)) for t in end.tiers]
    in_band = all(lo <= r <= hi for r, (lo, hi) in zip(ratios, bands, strict=True))
    eng = create_engine(f"sqlite:///{fund_db}")
    with eng.connect() as cx:
        statuses = [r[0] for r in cx.execute(text("select status from plans order by id")).all()]
        routes = dict(
            cx.execute(
                text(
                    "select a.route, count(*) from tx_attempts a join tx_intents i "
                    "on a.intent_id = i.id where i.fee_policy like '%private%' "
                    "and a.route is not null group by a.route"
                )
            ).all()
        )
    eng.dispose()
    repeats = sum(1 for a, b in zip(statuses, statuses[1:], strict=False) if a == b == "blocked")
    # every pool trade through the private relay, none in the public pool
    private, public = int(routes.get("private", 0)), int(routes.get("public", 0))
    k = ledger.kill
    kill_ok = bool(
        k.get("killed")
        and k.get("status") == "executed"
        and k.get("transactions") == k.get("actions")
    )
    tiers = ", ".join(f"L{i + 1} {fmt_bps(r)}" for i, r in enumerate(ratios))
    head = "every tier in band" if in_band else "NOT every tier in band"
    if k.get("killed"):
        kill = (
            f"killed at {k['at']}, recovered with {k['transactions']} tx for "
            f"{k['actions']} actions (plan {k['status']})"
        )
    else:
        kill = f"NOT exercised ({k.get('error', 'never held at the kill point')})"
    blocked = f"; {repeats} plans blocked twice in a row" if repeats else ""
    routed = f"; pool trades: {private} sent through the private relay, {public} public"
    ok = in_band and kill_ok and repeats == 0 and public == 0
    return ok, f"VERDICT: {head} ({tiers}); kill scene: {kill}{blocked}{routed}"


def _drain(d: Demo) -> None:
    funder = d.fund.automation["tx_funder"]
    bal = d.chain.provider.get_balance(funder.address)
    d.admin_call(funder.withdraw, d.desk_account.address, bal)


def _refill(d: Demo) -> None:
    d.fund.automation["tx_funder"].refund(value=5 * 10**17, sender=d.desk_account)


def summary(ledger: Ledger, fund_db: Path, before: Any, after: Any) -> str:
    """The report table: plans by trigger and status, actions, approvals, gas, final ratios."""
    from sqlalchemy import create_engine, text

    eng = create_engine(f"sqlite:///{fund_db}")
    with eng.connect() as cx:
        plans = cx.execute(
            text("select trigger, status, count(*) from plans group by trigger, status")
        ).all()
        n_actions = cx.execute(text("select count(*) from actions")).scalar() or 0
        n_approvals = cx.execute(text("select count(*) from approvals")).scalar() or 0
        sent = (
            cx.execute(text("select count(*) from tx_intents where status = 'confirmed'")).scalar()
            or 0
        )
    eng.dispose()
    lines = ["plans by trigger", f"  {'trigger':<28}{'status':<18}{'plans':>6}"]
    for trig, status, n in sorted(plans, key=lambda r: (str(r[0]), str(r[1]))):
        lines.append(f"  {str(trig):<28}{str(status):<18}{n:>6}")
    lines.append(
        f"actions planned: {n_actions}   approvals recorded: {n_approvals}   transactions confirmed: {sent}"
    )
    lines.append(f"fund keeper gas paid: {fmt_amount(ledger.keeper_gas_wei, 18, 4)} ETH")
    lags = sorted(s for _, s in ledger.lags)
    if lags:
        p50, p95 = lags[len(lags) // 2], lags[min(len(lags) - 1, (len(lags) * 95) // 100)]
        lines.append(
            f"scheduled runs executed: {len(lags)}   lag p50 {p50}s, p95 {p95}s (1-second blocks)"
        )
    lines.append("")
    lines.append(render_before_after(before, after))
    return "\n".join(lines)


def fees_report(fund: Any) -> tuple[dict[str, int], str]:
    """The month's fees (issue 54): the recipient's shares and what they are worth at the exit
    price, fees pending now, the high-water mark against the price per share now (base tokens
    per whole share), and the rates. Reads only: a few calls, no log query."""
    vault = fund.vault
    recipient, mgmt, perf, _accrued_at = vault.fees()
    shares = int(vault.balanceOf(recipient))
    pending = int(vault.pendingFeeShares())
    total, supply = int(vault.totalAssets()), int(vault.totalSupply())
    hwm = int(vault.highWaterMark())
    price = (total + 1) * 10**24 // (supply + pending + 10**6)
    accrued = int(vault.convertToAssets(shares)) if shares else 0
    d = int(fund.cash.decimals())
    # paid to date (issue 67): every FeesAccrued of the month, the local chain's whole history
    logs = list(vault.FeesAccrued.range(0, vault.chain_manager.blocks.height + 1))
    minted = sum(int(lg.shares) for lg in logs)
    minted_at_mint = sum(int(lg.managementFee) + int(lg.performanceFee) for lg in logs)
    data = {"shares": shares, "accrued": accrued, "pending_shares": pending, "hwm": hwm,
            "price": price, "management_bps": int(mgmt), "performance_bps": int(perf),
            "minted_shares": minted, "minted_at_mint": minted_at_mint,
            "accruals": len(logs)}  # fmt: skip
    text = (
        f"fees ({int(mgmt) / 100:.2f}%/yr management, {int(perf) / 100:.2f}% performance, to "
        f"{recipient}): paid to date {fmt_amount(minted_at_mint, d, 2)} when minted "
        f"({minted:,} shares in {len(logs)} accruals); held now {fmt_amount(accrued, d, 2)} "
        f"({shares:,} shares), pending {pending:,} shares; high-water mark "
        f"{fmt_amount(hwm, 18, 6)}, price per share now {fmt_amount(price, 18, 6)}"
    )
    return data, text


def holders_report(fund: Any, share_bps: int = 100) -> tuple[dict[str, Any], str]:
    """What a holder leaving in kind gets now (issue 67): ``previewRedeemInKind`` for
    ``share_bps`` of the supply (cash and each token), and every valuation step the controller
    holds (``priceHold``: the asset, the step and the bound), or "none held"."""
    vault, controller = fund.vault, fund.controller
    d = int(fund.cash.decimals())
    shares = int(vault.totalSupply()) * share_bps // 10_000
    symbols = {str(t.address).lower(): s for s, t in fund.assets.items()}
    legs: list[tuple[str, int]] = []
    cash = 0
    if shares:
        cash, tokens, amounts = vault.previewRedeemInKind(shares)
        legs = [
            (symbols.get(str(t).lower(), str(t)), int(a))
            for t, a in zip(tokens, amounts, strict=True)
        ]
    holds = []
    for sym, token in fund.assets.items():
        h = controller.priceHold(token)
        if h[0]:
            holds.append((sym, int(h[3]), int(h[4])))
    paid = ", ".join(
        f"{fmt_amount(a, int(fund.assets[s].decimals()), 4)} {s}" for s, a in legs if a
    )
    lines = [
        f"in-kind exit of {share_bps / 100:g}% of the supply ({shares:,} shares) now: "
        f"{fmt_amount(int(cash), d, 2)} cash"
        + (f" + {paid}" if paid else "")
        + " (0.5% penalty kept by the fund; no keeper, price or pause needed)"
    ]
    lines += [
        f"valuation held: {s} moved {m} bps, {a} bps allowed (entries refused, exits at the "
        "lower price, until the guardian's acceptPrice)"
        for s, m, a in holds
    ] or ["valuation holds: none"]
    data = {"shares": shares, "cash": int(cash), "legs": legs, "holds": holds}
    return data, "\n".join(lines)


__all__ = [
    "run",
    "play",
    "summary",
    "verdict",
    "fees_report",
    "holders_report",
    "month_script",
    "fmt_bps",
    "Demo",
    "Ledger",
]
