"""The demo's world (`make demo`, ballast_dev.demo.run): the fund deployed on the project's anvil
chain, its keepers (fund, executor, supervisor) on their own stores ticked with the simulated
clock, the admins who answer plans, the investors and the arbitrageur, and the ledger of what
the demo saw. The scenes act through it (ballast_dev.demo.run, hostile, chaos)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ballast_dev.deployment.fund import FundDeployment, fund_state
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
        # the month's keeper processes (`keeper approve`, a held tick, the chaos month's days),
        # forked from one that imported the keeper once (ballast_dev/demo/forks.py): this
        # process's one server, shared by the months it plays one after another
        from ballast_dev.demo.forks import shared_forks

        self.forks = shared_forks()
        self._closed = False
        self.fund_env = self._fund_env()
        self.keeper_balance0 = int(chain.provider.get_balance(self.keeper.address))
        self.desk = self._redemption_desk()
        # every block one second after the last, whatever the wall clock does (until close; set
        # last, so a set-up that raised leaves the shared node as it was): the month's chain time is then the scenes' warps and the count of its transactions,
        # not how many real seconds the keepers took. With blocks stamped from the wall clock,
        # the same month lost 3,097 or 5,649 to fills as the machine's load moved the keepers'
        # transactions across the feeds' and the scheduler's times.
        chain.provider.make_request("anvil_setBlockTimestampInterval", [1])

    def close(self, *, raised: bool = False) -> None:
        """Stops what the demo started: the keepers' stores and the local relay (its server
        thread and port); after a month that ``raised``, the fork server too (it kills the
        keeper processes still running; the next month starts another). Safe to call twice;
        `play` calls it whether the month ends or raises."""
        if self._closed:
            return
        self._closed = True
        try:
            for part in ("fund_bot", "executor", "supervisor"):
                bot = getattr(self, part, None)
                if bot is None:
                    continue
                if part == "fund_bot":
                    bot.store.close()
                else:
                    bot.stop()
        finally:
            try:
                self.relay.stop()
            finally:
                try:
                    self.chain.provider.make_request("anvil_removeBlockTimestampInterval", [])
                finally:
                    if raised:
                        self.forks.close()

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
                        {
                            "contract": addrs["scheduler"],
                            "selector": sel("withdrawCredit(address)"),
                        },
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
        """The fund keeper's day at ``now``: its events and ``jobs``, the owners' answers,
        its tick."""
        self.run_checks(now, jobs)
        self.job("fund.approvals", lambda: self.approve_pending(now))
        self.fund_tick(now)

    def run_checks(self, now: int, jobs: list[str]) -> None:
        """The fund keeper's events and scheduled ``jobs`` (liquidity, daily, ...) at ``now``,
        the plans they made counted in the ledger (the chaos month runs them in a keeper it
        may kill: ballast_dev.demo.chaos)."""
        bot = self.fund_bot
        outs = [self.job("fund.events", lambda: bot.events(now))]
        for job in jobs:
            outs.append(self.job(f"fund.{job}", lambda job=job: bot.check(job, now)))
        for o in outs:
            if o is not None and o.plan_id and o.status not in ("nothing",):
                self.ledger.outcomes[o.status] += 1

    def fund_tick(self, now: int) -> None:
        """The fund keeper's tick at ``now``, what it moved counted in the ledger."""
        bot = self.fund_bot
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
        for args in how:  # `keeper approve` records the decision only (a process each)
            argv = ["-m", "keepers.cli", "--now", str(now + 300), "approve", ref, *args]
            code, _, err = self.forks.run(env, argv, timeout=120)
            if code != 0:
                raise RuntimeError(
                    f"keeper approve {ref} {' '.join(args)} exited {code}: {err.strip()[-2000:]}"
                )
        # the keeper process executes it on its own tick, under its own approval rules
        held = {**env, "KEEPER_HOLD_AT": f"sent:{hold_at}", "KEEPER_HOLD_FILE": str(marker)}
        tick = f"from keepers.cli import Ctx; Ctx(False, {now + 600}).bot().tick({now + 600})"
        pid = self.forks.start(held, ["-c", tick])
        self.ledger.approvals += len(admins)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self.forks.ended() and not marker.exists():
            time.sleep(0.02)
        killed = not self.forks.ended() and marker.exists()
        if killed:
            os.kill(pid, signal.SIGKILL)
        self.forks.result(timeout=30)
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
