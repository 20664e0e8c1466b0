"""Scheduler executor: executes due RebalanceScheduler runs and collects their fees.

One ``tick(now)``:

1. Scan the scheduler's logs since the last tick: RunScheduled adds a run to the local index
   (so its due time is known without polling), RunExecuted / RunCanceled remove it. Every
   RunExecuted observes the lag (block time of execution minus due time) on the
   ``keeper_scheduler_run_lag_seconds`` histogram; the ones this keeper executed are recorded in
   the store (``job_runs`` rows ``executor.batch``: run ids, due times, lags, fees, tx hash).
2. Candidates: the index's runs due at ``now`` plus, every ``due_scan_every_s``,
   ``nextDueRuns`` (catches runs booked before the log window), minus runs already in one of our transactions in flight. Their current
   status is read in one JSON-RPC batch at the pending block.
3. :func:`keepers.automation.planning.plan_batches` groups them (oldest first, under a gas
   budget: the worst case, every handler burning its effort, sizes batches) and leaves out
   runs whose pay (the fee less the scheduler's ``protocolShareBps``) cannot cover, times the
   margin, the gas a simulation measured for them alone (or, not measured yet, the least any
   run costs).
4. Each batch is simulated alone on the pending block through the keeper's simulator
   (KEEPER_SIMULATOR, keepers.tx.simulation ``simulate_each``: one JSON-RPC batch of separate
   ``eth_simulateV1`` requests on the node, one round trip for all batches; eth_call +
   eth_estimateGas per batch on the fallback). A batch whose simulation reverts is skipped with
   its decoded revert in the log. A simulation that executes fewer runs than planned re-reads
   the statuses: runs another executor took are dropped (``raced``); runs due by the keeper's
   clock but not by the latest block's timestamp wait for a later block (``executeBatch`` skips
   them; ``executor.run_waits``, reason ``not_due_on_chain``) and the rest go at once. A batch is
   submitted when its pay covers the gas its simulation really used (gasUsed) times the price
   times the margin: the gas limit the transaction needs (eth_estimateGas, with EIP-150's 64/63
   headroom for a handler's whole effort) is not what it costs, and the pipeline sets that limit
   itself (its eth_estimateGas times KEEPER_GAS_MARGIN_BPS). A batch that does not pay is split:
   each member simulated alone, the ones that pay their own gas go, each other is said once
   (``executor.run_unprofitable``: pay, cost, gap) and left for someone else. Every run left out
   of a tick is in the tick's outcome with its reason, and in the log.
5. The intents go through the transaction pipeline (idempotency key = batch ids + tick time) and
   the pipeline is driven a few passes.

Before step 3, the due runs of a fund rebalancer (a Rebalancer that trusts its target, the fund's
controller) whose controller has a held feed down are held back, booked and unpaid, and let go
at once when the feed is usable again (none meanwhile, or one per ``held_retry_s`` if set:
:mod:`keepers.automation.held`, which also says so: log line, ``rebalancer_held`` alert,
``keeper_executor_runs_held_back``).

With ``unbatched`` the bot sends one ``execute(id)`` per run instead (the benchmark's baseline);
``execute`` reverts on a taken run, so the pipeline's own simulation drops it before signing.
"""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from eth_utils import to_checksum_address
from prometheus_client import Counter, Gauge, Histogram
from sqlalchemy import select

from keepers.automation.base import AutomationBot, automation_declaration
from keepers.automation.chain import Call, ChainIO, Event
from keepers.automation.held import REBALANCER_EVENTS, FundHold
from keepers.automation.planning import (
    PER_RUN_OVERHEAD,
    SCHEDULED,
    Batch,
    DueRun,
    ExecutorPolicy,
    Unprofitable,
    batch_pays,
    due_again,
    lag_seconds,
    plan_batches,
    refine_batch,
    split_not_due_on_chain,
    split_paying,
    unprofitable_by,
)
from keepers.automation.settings import ExecutorConfig
from keepers.core.logging import get_logger
from keepers.core.settings import KeeperSettings, load_settings
from keepers.runtime.alerts import AlertLevel, AlertSink
from keepers.runtime.bots import (
    BotContext,
    Calls,
)
from keepers.runtime.bots import Call as DeclaredCall
from keepers.store.db import Store
from keepers.store.models import JobRun, TxIntent, utcnow
from keepers.tx.errors import NodeError
from keepers.tx.outcome import read_outcomes
from keepers.tx.pipeline import ACTIVE, FINAL, IntentSpec, Pipeline
from keepers.tx.simulation import SimStep

log = get_logger("keepers.executor")

RUN_LAG = Histogram(
    "keeper_scheduler_run_lag_seconds",
    "Seconds from a scheduler run being due to the block that executed it",
    ["executor"],  # self | other
    buckets=(0, 1, 2, 3, 5, 10, 30, 60, 300, 3600),
)
RUNS_EXECUTED = Counter(
    "keeper_scheduler_runs_executed_total", "Scheduler runs executed, by executor", ["executor"]
)
BATCHES = Counter(
    "keeper_executor_batches_total",
    "Executor batch decisions by outcome (submitted, raced, unprofitable, sim_error)",
    ["outcome"],
)
DUE_RUNS = Gauge("keeper_scheduler_due_runs", "Scheduled runs due and not yet executed")
FEES_EARNED = Counter(
    "keeper_executor_fees_earned_wei_total", "Fees credited to this executor (wei)"
)
CREDIT_OWED = Gauge(
    "keeper_executor_credit_wei",
    "What the scheduler owes this executor (credited, not withdrawn), wei; -1 before the first read",
)
CREDIT_WITHDRAWALS = Counter(
    "keeper_executor_credit_withdrawals_total", "withdrawCredit transactions this executor sent"
)

SCHEDULER_EVENTS = ("RunScheduled", "RunExecuted", "RunCanceled")


@dataclass
class ExecutorTick:
    now: int
    block: int
    due: int = 0
    submitted: list[list[int]] = field(default_factory=list)  # run ids per intent
    raced: list[int] = field(default_factory=list)  # runs another executor took first
    unprofitable: list[int] = field(default_factory=list)
    # batches whose simulation reverted (run ids, decoded revert or the reason): nothing sent
    skipped: list[tuple[list[int], str]] = field(default_factory=list)
    # due by the keeper's clock, not yet by the latest block's timestamp: they wait, the rest go
    waiting: list[int] = field(default_factory=list)
    executed_by_us: list[int] = field(default_factory=list)  # seen in this tick's logs
    lags: list[int] = field(default_factory=list)  # of runs executed by us, this tick
    held: list[int] = field(default_factory=list)  # due runs held back (fund rebalancer held)
    withdrawing: int = 0  # credit (wei) this tick sent a withdrawCredit for


class ExecutorBot(AutomationBot):
    """See the module docstring. Build with :meth:`from_settings` or pass a pipeline."""

    name = "executor"
    signer_label = "executor"

    def _setup(self, cfg: ExecutorConfig, pipeline: Pipeline) -> None:
        self.hold = FundHold(
            self.io, pipeline.decoder, cfg.held_retry_s, cfg.held_check_every_s, self.alerter
        )
        self.scheduler = self.io.contract("RebalanceScheduler", cfg.scheduler)
        self.run_reader = self.scheduler  # getRun's shape: the older one on older contracts
        self.policy = ExecutorPolicy(
            max_batch_runs=cfg.max_batch_runs,
            max_batch_gas=cfg.max_batch_gas,
            fee_margin_bps=cfg.fee_margin_bps,
            unbatched=cfg.unbatched,
        )
        self.known: dict[int, DueRun] = {}
        self.in_flight: dict[int, tuple[int, ...]] = {}  # intent id -> run ids
        self.last_block: int | None = None
        self.last_due_scan: int | None = None
        self.lags: deque[int] = deque(maxlen=100_000)  # every lag seen for our runs
        self.executed_total = 0
        # gasUsed of a run simulated alone (its real cost), kept while the run is known
        self.run_gas: dict[int, int] = {}
        self.said_unprofitable: set[int] = set()  # runs run_unprofitable was logged for
        self.credit: int | None = None  # the scheduler's credits(sender), read with each due scan
        self.withdraw_intent: int | None = None  # our withdrawCredit still in the pipeline
        CREDIT_OWED.set(-1)

    @staticmethod
    def declared_calls(cfg: ExecutorConfig) -> Calls:
        return executor_calls(cfg)

    @classmethod
    def from_env(cls, sinks: list[AlertSink] | None = None) -> ExecutorBot:
        """``KEEPER_*`` pipeline settings + ``KEEPER_EXECUTOR_*`` (what ``keeper run`` uses);
        a bad value raises ConfigError naming the field."""
        return cls.from_settings(
            load_settings(KeeperSettings), load_settings(ExecutorConfig), sinks
        )

    # ----------------------------------------------------------------------------------------
    # lifecycle
    # ----------------------------------------------------------------------------------------

    def start(self) -> None:
        self._require_code({"scheduler": self.cfg.scheduler})
        self._check_release({"scheduler": self.cfg.scheduler})
        if self.release is not None and "credit" in self.release.absent:
            # 0.2.0 and older: runs read in their own shape, paid by value (nothing to withdraw)
            self.run_reader = self.io.scheduler_before_credit(self.cfg.scheduler)
        self._check_policy()
        self.simulator  # noqa: B018 - KEEPER_SIMULATOR checked now, never on a tick
        self.pipeline.reconcile_nonces()
        self._load_in_flight()
        head = self.io.head()["number"]
        self._scan(max(0, head - self.cfg.log_lookback_blocks), head, None)
        self.last_block = head
        log.info(
            "executor.start",
            scheduler=self.scheduler.address,
            sender=self.sender,
            known=len(self.known),
            in_flight=len(self.in_flight),
        )

    def _load_in_flight(self) -> None:
        """Our transactions still in the pipeline (after a restart): their runs are taken."""
        with self.store.sessions() as s:
            rows = s.scalars(
                select(TxIntent).where(
                    TxIntent.role == self.cfg.role,
                    TxIntent.sender == self.sender.lower(),
                    TxIntent.target == self.scheduler.address.lower(),
                    TxIntent.status.in_(ACTIVE),
                )
            ).all()
        for it in rows:
            if self.io.decode_input(self.scheduler, it.calldata)[0] == "withdrawCredit":
                self.withdraw_intent = it.id
                continue
            self.in_flight[it.id] = tuple(self._ids_of(it.calldata))

    def _ids_of(self, calldata: str) -> list[int]:
        name, args = self.io.decode_input(self.scheduler, calldata)
        return list(args["ids"]) if name == "executeBatch" else [int(args["id"])]

    # ----------------------------------------------------------------------------------------
    # the tick
    # ----------------------------------------------------------------------------------------

    def tick(self, now: int) -> ExecutorTick:
        """One pass. A run counts as due when its time is at most ``now`` or the latest block's
        timestamp (whichever is later: a clock behind the chain must not hold runs back)."""
        latest = self.io.head()
        head = latest["number"]
        chain_time = int(latest["timestamp"])
        now = max(now, chain_time)
        out = ExecutorTick(now=now, block=head)
        if self.last_block is None:
            self.last_block = max(-1, head - self.cfg.log_lookback_blocks - 1)
        if head > self.last_block:
            self._scan(self.last_block + 1, head, out)
            self.last_block = head
        self._settle()
        self._execute_due(now, chain_time, out)
        self._collect_credit(now, out)
        self._pipeline_passes()
        return out

    def _read_share(self) -> None:
        """The scheduler's protocolShareBps (what it keeps of every fee: 0 for a scheduler
        without one) and this executor's credit, in one round trip."""
        calls = [Call(self.scheduler, "protocolShareBps", ())]
        if self.run_reader is self.scheduler:  # a scheduler with credits
            calls.append(Call(self.scheduler, "credits", (self.sender,)))
        share, *rest = self.io.call_many(calls)
        credit = rest[0] if rest else NodeError("no credits on this scheduler", None, None)
        bps = 0 if isinstance(share, NodeError) else int(share)
        if bps != self.policy.protocol_share_bps:
            self.policy = replace(self.policy, protocol_share_bps=bps)
        if not isinstance(credit, NodeError):
            self.credit = int(credit)
            CREDIT_OWED.set(self.credit)

    def _collect_credit(self, now: int, out: ExecutorTick) -> None:
        """Withdraws this executor's credit to its own address once it reaches
        ``withdraw_credit_above_wei`` (one withdrawal in flight at a time): the scheduler pays
        executions by credit, and what the keeper earned must come back to pay its gas."""
        threshold = self.cfg.withdraw_credit_above_wei
        credit = self.credit
        if threshold == 0 or credit is None or credit < threshold or credit == 0:
            return
        if self.withdraw_intent is not None:
            return
        spec = self._scheduler_intent(
            "withdraw",
            f"{self.sender.lower()}:{credit}:{now}",
            Call(self.scheduler, "withdrawCredit", (self.sender,)),
        )
        (intent,) = self.pipeline.submit_many([spec])
        if intent.status in FINAL:
            return
        self.withdraw_intent = intent.id
        out.withdrawing = credit
        CREDIT_WITHDRAWALS.inc()
        log.info("executor.credit_withdraw", credit_wei=credit, threshold_wei=threshold)

    def _execute_due(self, now: int, chain_time: int, out: ExecutorTick) -> None:
        taken = frozenset(i for ids in self.in_flight.values() for i in ids)
        ids = {r.id for r in self.known.values() if r.timestamp <= now}
        if due_again(self.last_due_scan, now, self.cfg.due_scan_every_s):
            self.last_due_scan = now
            self._read_share()
            listed = self.io.call_many(
                [Call(self.scheduler, "nextDueRuns", (self.cfg.max_due_scan,))], "pending"
            )[0]
            if not isinstance(listed, NodeError):
                ids |= set(int(i) for i in listed)
        ids -= taken
        runs = self._read_runs(sorted(ids))
        due = [r for r in runs if r.status == SCHEDULED and r.timestamp <= now]
        out.due = len(due)
        DUE_RUNS.set(len(due))
        due, held = self.hold.split(due, now)
        out.held = [r.id for r in held]
        if not due:
            return
        gas_price = self.io.gas_price()
        batches, unprofitable = plan_batches(due, now, gas_price, self.policy, taken, self.run_gas)
        least = [
            unprofitable_by(r, self.run_gas.get(r.id, PER_RUN_OVERHEAD), gas_price, self.policy)
            for r in unprofitable
        ]
        self._say_unprofitable(least, gas_price, out)
        # Each batch simulated as planned and, in the same round trip, each member of a batch
        # of several not measured yet simulated alone: its gasUsed is its real cost, what it
        # must pay for itself (a run is never carried by the others).
        singles = [
            r
            for b in batches
            if len(b.runs) > 1 and not self.cfg.unbatched
            for r in b.runs
            if r.id not in self.run_gas
        ]
        calls = [self._call(b) for b in batches] + [self._call(Batch((r,))) for r in singles]
        sims = self.io.simulate_each(self.simulator, calls, self.sender, estimate=True)
        for r, (sim, step) in zip(singles, sims[len(batches) :], strict=True):
            self._measure(r, sim, step)
        specs: list[tuple[IntentSpec, Batch]] = []
        for batch, (sim, step) in zip(batches, sims, strict=False):
            if len(batch.runs) == 1:
                self._measure(batch.runs[0], sim, step)
            kept, gas = self._cope_with_race(batch, sim, step, now, chain_time, out)
            if kept is None:
                continue
            batch, dropped = split_paying(kept, self.run_gas, gas_price, self.policy)
            self._say_unprofitable(dropped, gas_price, out)
            if not batch.runs:
                continue
            share = self.policy.protocol_share_bps
            if not dropped and not batch_pays(
                batch, gas, gas_price, self.policy.fee_margin_bps, share
            ):
                # only a member no simulation measured alone can make it short
                BATCHES.labels("unprofitable").inc()
                out.unprofitable += batch.ids
                log.info(
                    "executor.batch_unprofitable",
                    runs=batch.ids,
                    pay=batch.pay(share),
                    gas=gas,
                    gas_price=gas_price,
                )
                continue
            specs.append((self._spec(batch, now), batch))
        if not specs:
            return
        intents = self.pipeline.submit_many([s for s, _ in specs])
        for intent, (_spec, batch) in zip(intents, specs, strict=True):
            if intent.status in FINAL:
                continue  # this exact batch at this exact time was already handled
            self.in_flight[intent.id] = tuple(batch.ids)
            out.submitted.append(batch.ids)
            BATCHES.labels("submitted").inc()
        log.info(
            "executor.submitted",
            batches=len(out.submitted),
            runs=sum(len(b) for b in out.submitted),
        )

    def _cope_with_race(
        self, batch: Batch, sim: Any, step: SimStep, now: int, chain_time: int, out: ExecutorTick
    ) -> tuple[Batch | None, int]:
        """The simulated batch minus what someone else executed first and what the chain does
        not count as due yet (it waits), with the gas its simulation used; None if nothing is
        left to send. Every run left out is logged with its reason."""
        if not step.ok:
            out.skipped.append((batch.ids, step.error or ""))
            if self.cfg.unbatched:  # execute(id) reverts on a taken run
                out.raced += batch.ids
                BATCHES.labels("raced").inc()
                log.info("executor.run_skipped", runs=batch.ids, error=step.error)
                return None, 0
            BATCHES.labels("sim_error").inc()
            log.warning("executor.simulation_failed", runs=batch.ids, error=step.error)
            return None, 0
        executed = len(batch.ids) if self.cfg.unbatched else int(sim)
        if executed == len(batch.ids):
            return batch, int(step.gas_used)
        statuses = {r.id: r.status for r in self._read_runs(batch.ids)}
        refined = refine_batch(batch, statuses, now)
        raced = [i for i in batch.ids if i not in set(refined.ids)]
        if raced:
            out.raced += raced
            BATCHES.labels("raced").inc()
            log.info("executor.run_skipped", runs=raced, reason="raced")
        refined, waiting = split_not_due_on_chain(refined, chain_time)
        if waiting:
            out.waiting += [r.id for r in waiting]
            log.info(
                "executor.run_waits",
                runs=[r.id for r in waiting],
                reason="not_due_on_chain",
                due=[r.timestamp for r in waiting],
                chain_time=chain_time,
            )
        if not refined.runs:
            return None, 0
        ((sim2, step2),) = self.io.simulate_each(
            self.simulator, [self._call(refined)], self.sender, estimate=True
        )
        if not step2.ok or int(sim2) != len(refined.ids):
            reason = step2.error or f"simulation executed {sim2} of {len(refined.ids)} runs"
            out.skipped.append((refined.ids, reason))
            BATCHES.labels("sim_error").inc()
            log.warning("executor.batch_skipped", runs=refined.ids, reason=reason)
            return None, 0
        return refined, int(step2.gas_used)

    def _measure(self, run: DueRun, sim: Any, step: SimStep) -> None:
        """Keeps the gasUsed of ``run`` simulated alone, when the simulation executed it."""
        if step.ok and (self.cfg.unbatched or int(sim) == 1):
            self.run_gas[run.id] = int(step.gas_used)

    def _say_unprofitable(
        self, runs: list[Unprofitable], gas_price: int, out: ExecutorTick
    ) -> None:
        """Runs whose pay does not cover their gas: in the tick's outcome every time, in the
        log once per run (``executor.run_unprofitable``: pay, cost, gap in wei)."""
        if not runs:
            return
        BATCHES.labels("unprofitable").inc()
        out.unprofitable += [u.run.id for u in runs]
        for u in runs:
            if u.run.id in self.said_unprofitable:
                continue
            self.said_unprofitable.add(u.run.id)
            log.info(
                "executor.run_unprofitable",
                run=u.run.id,
                fee=u.run.fee,
                pay=u.pay,
                gas=u.gas,
                measured=u.run.id in self.run_gas,  # False: the least any run costs
                cost=u.cost,
                gap=u.gap,
                gas_price=gas_price,
                margin_bps=self.policy.fee_margin_bps,
            )

    def _call(self, batch: Batch) -> Call:
        if self.cfg.unbatched:
            return Call(self.scheduler, "execute", (batch.ids[0],))
        return Call(self.scheduler, "executeBatch", (batch.ids,))

    def _spec(self, batch: Batch, now: int) -> IntentSpec:
        digest = hashlib.sha256(",".join(map(str, batch.ids)).encode()).hexdigest()[:16]
        return self._scheduler_intent("exec", f"{digest}:{now}", self._call(batch))

    def _scheduler_intent(self, kind: str, key: str, call: Call) -> IntentSpec:
        """This executor's transaction to the scheduler, under the idempotency key
        ``kind:chain id:scheduler:key`` (``exec`` a batch, ``withdraw`` the credit)."""
        return IntentSpec(
            idempotency_key=f"{kind}:{self.node.chain_id}:{self.scheduler.address.lower()}:{key}",
            role=self.cfg.role,
            chain_id=self.node.chain_id,
            sender=self.sender,
            target=self.scheduler.address,
            calldata=ChainIO.encode(call),
        )

    def _read_runs(self, ids: list[int]) -> list[DueRun]:
        res = self.io.call_many([Call(self.run_reader, "getRun", (i,)) for i in ids], "pending")
        runs = []
        for i, r in zip(ids, res, strict=True):
            if isinstance(r, NodeError):
                continue
            handler, ts, effort, _prio, status, _has_data, _payer, fee, *booked = r
            # a scheduler before the pull payment has no booked share: its current rate stands
            share_bps = int(booked[0]) if booked else None
            run = DueRun(
                id=i,
                timestamp=int(ts),
                effort=int(effort),
                fee=int(fee),
                status=int(status),
                handler=to_checksum_address(handler),
                share_bps=share_bps,
            )
            runs.append(run)
            if run.status == SCHEDULED:
                self.known[i] = run
            else:
                self.known.pop(i, None)
        return runs

    def _settle(self) -> None:
        """Forget in-flight intents that reached a final status."""
        if self.withdraw_intent is not None:
            wid = self.withdraw_intent
            done = read_outcomes(self.store, [wid], self.pipeline.decoder).get(wid)
            if done is not None and done.final:
                self.withdraw_intent = None
                self.last_due_scan = None  # read the credit again at the next tick
                if not done.ok:
                    log.warning("executor.credit_withdraw_failed", intent=wid, outcome=str(done))
                    self.alerter(
                        AlertLevel.WARNING,
                        "executor_credit_withdraw_failed",
                        f"withdrawCredit of executor {self.sender} on scheduler "
                        f"{self.scheduler.address} ended {done}: the credit stays owed "
                        "and the next due scan tries again",
                        intent=wid,
                    )
        for intent_id, outcome, ids in self._take_final():
            if not outcome.ok:
                log.warning(
                    "executor.intent_final", intent=intent_id, outcome=str(outcome), runs=ids
                )

    # ----------------------------------------------------------------------------------------
    # logs: index, lag metric, store records
    # ----------------------------------------------------------------------------------------

    def _scan(self, from_block: int, to_block: int, out: ExecutorTick | None) -> None:
        events = self.io.logs(from_block, to_block, [self.scheduler.address], SCHEDULER_EVENTS)
        if self.hold.fund_rebalancers:  # what their last runs said (the hold's message)
            self.hold.observe(
                self.io.logs(from_block, to_block, self.hold.fund_rebalancers, REBALANCER_EVENTS)
            )
        executed: list[Event] = []
        for ev in events:
            rid = int(ev.args["id"])
            if ev.name == "RunScheduled":
                self.known[rid] = DueRun(
                    id=rid,
                    timestamp=int(ev.args["timestamp"]),
                    effort=int(ev.args["effort"]),
                    fee=int(ev.args["fee"]),
                    handler=to_checksum_address(ev.args["handler"]),
                )
            elif ev.name == "RunCanceled":
                self.known.pop(rid, None)
            else:
                executed.append(ev)
        for gone in [i for i in self.run_gas if i not in self.known]:
            del self.run_gas[gone]
        self.said_unprofitable &= set(self.known)
        if not executed:
            return
        missing = [int(e.args["id"]) for e in executed if int(e.args["id"]) not in self.known]
        due_of = {i: r.timestamp for i, r in self.known.items()}
        if missing:
            res = self.io.call_many([Call(self.run_reader, "getRun", (i,)) for i in missing])
            for i, r in zip(missing, res, strict=True):
                if not isinstance(r, NodeError):
                    due_of[i] = int(r[1])
        times = self.io.block_times([e.block for e in executed])
        ours: dict[str, list[dict[str, Any]]] = {}
        me = self.sender.lower()
        for ev in executed:
            rid = int(ev.args["id"])
            self.known.pop(rid, None)
            due = due_of.get(rid)
            at = times.get(ev.block)
            who = "self" if str(ev.args["executor"]).lower() == me else "other"
            RUNS_EXECUTED.labels(who).inc()
            if due is None or at is None:
                continue
            lag = lag_seconds(due, at)
            RUN_LAG.labels(who).observe(lag)
            if who == "self":
                self.lags.append(lag)
                self.executed_total += 1
                FEES_EARNED.inc(int(ev.args["fee"]))
                if out is not None:
                    out.executed_by_us.append(rid)
                    out.lags.append(lag)
                ours.setdefault(ev.tx_hash, []).append(
                    {
                        "id": rid,
                        "due": due,
                        "executed_at": at,
                        "lag_s": lag,
                        "block": ev.block,
                        "fee_wei": str(int(ev.args["fee"])),
                        "success": bool(ev.args["success"]),
                    }
                )
        if ours:
            self._record(ours)

    def _record(self, ours: dict[str, list[dict[str, Any]]]) -> None:
        with self.store.transaction() as s:
            for tx_hash, runs in ours.items():
                s.add(
                    JobRun(
                        job="executor.batch",
                        status="ok",
                        finished_at=utcnow(),
                        detail={
                            "tx": tx_hash,
                            "scheduler": self.scheduler.address,
                            "runs": runs,
                            "fees_wei": str(sum(int(r["fee_wei"]) for r in runs)),
                        },
                    )
                )


def executed_records(store: Store) -> list[dict[str, Any]]:
    """Every run this executor recorded (oldest first): id, due, executed_at, lag_s, fee_wei."""
    with store.sessions() as s:
        rows = s.scalars(
            select(JobRun).where(JobRun.job == "executor.batch").order_by(JobRun.id)
        ).all()
    return [run | {"tx": r.detail["tx"]} for r in rows for run in r.detail["runs"]]


def executor_calls(cfg: ExecutorConfig) -> Calls:
    """The executor's declared calls: the scheduler's batch call (or ``execute`` one run at a
    time, with ``unbatched``), and ``withdrawCredit`` unless ``withdraw_credit_above_wei`` is 0."""
    fn = "execute(uint256)" if cfg.unbatched else "executeBatch(uint256[])"
    fns = (fn, "withdrawCredit(address)") if cfg.withdraw_credit_above_wei else (fn,)
    return Calls(cfg.role, (DeclaredCall(cfg.scheduler, fns, "KEEPER_EXECUTOR_SCHEDULER"),))


def _build(ctx: BotContext, cfg: ExecutorConfig) -> ExecutorBot:
    """``keeper run``'s executor: on the runtime's settings and pipeline, alerting through the
    runtime's alerter when it has one (a held fund rebalancer)."""
    bot = ExecutorBot(ctx.settings, cfg, ctx.pipeline)
    if ctx.alerter is not None:
        bot.alerter = bot.hold.alerter = ctx.alerter
    return bot


DECLARATION = automation_declaration(
    "executor",
    ExecutorConfig,
    (f"RebalanceScheduler.{e}" for e in SCHEDULER_EVENTS),
    executor_calls,
    _build,
    doc="executes the scheduler's due runs in profitable batches",
)
