"""Supervisor keeper: recovers stuck recurring tasks at once and pages before funders run dry.

The on-chain Supervisor calls fixReschedule on every paid rebalancer once per its own interval
(an hour by default), so a rebalancer whose booking failed can sit unbooked for that long. This
bot closes the gap. One ``tick(now)``:

1. Scan logs since the last tick: FailedRecurringSchedule from a watched task marks it suspect;
   PaidRebalancerCreated / Removed keep the task list in step with the registry; LowRunway from a
   watched funder pages at once.
2. Read ``bookedRun`` / ``destroyed`` (and the booked run's status) of the suspects, of the tasks
   whose fix is blocked, and of every task each ``scan_every_s`` ("rebalancers with nothing
   booked" are found even when their failure event was missed).
3. For each stuck task (:func:`keepers.automation.planning.stuck_reason`), simulate its fix,
   each alone on the pending block, through the keeper's simulator (KEEPER_SIMULATOR,
   keepers.tx.simulation ``simulate_each``: separate ``eth_simulateV1`` requests in one
   JSON-RPC batch on the node): ``registry.fixReschedule(id)`` for paid rebalancers,
   ``fixReschedule()`` for the Supervisor and standard rebalancers. Send it through the pipeline only when the simulation
   says Booked; a fix that would fail (funder still empty) sends nothing and is retried every
   tick, so a refill is acted on at the next tick.
4. When the Supervisor itself cannot book (its fix fails), the bot ticks it directly once per the
   Supervisor's interval so that its items are still checked and pruned.
   A stuck fund rebalancer (one that trusts its target, the fund's controller) whose controller
   has a held feed down is fixed at most once per ``held_fix_every_s`` (the first fix keeps its
   booking, which the executor holds; :mod:`keepers.automation.held`), and at once when the feed
   is usable again; a deferred fix is logged (``supervisor_bot.fix_held_back``) and counted
   (``keeper_supervisor_fixes_total{outcome="held_back"}``).
5. Funders of the watched tasks: critical alert when the balance cannot pay the next booking,
   warning when ``runway()`` is below ``runway_alert_intervals``; critical
   ``spend_cap_reached`` when the funder's rolling-day spend cap (``availableToSpend()``)
   cannot pay the next booking. An alert fires once and re-arms when the condition clears.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eth_utils import to_checksum_address
from prometheus_client import Counter
from sqlalchemy import select

from keepers.automation.base import AutomationBot, automation_declaration
from keepers.automation.chain import Call, ChainIO
from keepers.automation.held import FundHold
from keepers.automation.planning import (
    BPS,
    UNKNOWN,
    FunderView,
    TaskView,
    due_again,
    runway_alert,
    spend_cap_alert,
    stuck_tasks,
)
from keepers.automation.settings import SupervisorBotConfig
from keepers.core.logging import get_logger
from keepers.core.settings import KeeperSettings, load_settings
from keepers.runtime import metrics
from keepers.runtime.alerts import Alert, AlertLevel, AlertSink
from keepers.runtime.bots import (
    BotContext,
    Calls,
)
from keepers.runtime.bots import Call as DeclaredCall
from keepers.store.models import JobRun, TxIntent, utcnow
from keepers.tx.errors import NodeError
from keepers.tx.pipeline import FINAL, IntentSpec, Pipeline

log = get_logger("keepers.supervisor")

FIXES = Counter(
    "keeper_supervisor_fixes_total",
    "Stuck recurring tasks handled, by outcome (submitted, blocked, already_booked, destroyed, "
    "held_back: a fund rebalancer held by a feed down, fixed once per held_fix_every_s)",
    ["outcome"],
)
CAP_VIEWS = ("availableToSpend", "spendCapPerWindow")
ALERTS = Counter("keeper_automation_alerts_total", "Automation alerts, by code", ["code"])

# IRecurringTask.FixOutcome
ALREADY_BOOKED, BOOKED, FAILED, DESTROYED = 0, 1, 2, 3
WATCHED_EVENTS = (
    "FailedRecurringSchedule",
    "PaidRebalancerCreated",
    "PaidRebalancerRemoved",
    "LowRunway",
)


@dataclass
class Task:
    address: str
    kind: str  # paid | standard | supervisor
    registry_id: int | None = None
    funder: str | None = None
    next_fee: int = 0  # what its next booking takes from the funder (estimate x margin)
    interval: int = 0


@dataclass
class SupervisorTick:
    now: int
    block: int
    failed_events: list[str] = field(default_factory=list)  # tasks that emitted a failure
    stuck: list[tuple[str, str]] = field(default_factory=list)  # (task, reason)
    fixes: list[str] = field(default_factory=list)  # tasks whose fix was submitted
    blocked: list[str] = field(default_factory=list)  # stuck, fix would fail now
    held_back: list[str] = field(default_factory=list)  # stuck, held: fixed once per period
    supervisor_ticked: bool = False
    alerts: list[Alert] = field(default_factory=list)


class TaskReader:
    """The read side of the supervisor (no signer, no store): the watched tasks, their
    bookings and their funders. ``keeper status`` uses it on its own."""

    def __init__(self, io: ChainIO, cfg: SupervisorBotConfig) -> None:
        self.io = io
        self.cfg = cfg
        self.scheduler = self.io.contract("RebalanceScheduler", cfg.scheduler)
        self.registry = (
            self.io.contract("PaidRebalancerRegistry", cfg.registry) if cfg.registry else None
        )
        self.supervisor = self.io.contract("Supervisor", cfg.supervisor) if cfg.supervisor else None
        self.tasks: dict[str, Task] = {}
        self.extra_funders = {to_checksum_address(a) for a in cfg.funders}

    def load_tasks(self) -> None:
        """Every watched task: the configured rebalancers, the Supervisor and its items, the
        registry's paid rebalancers; with each one's funder and next booking fee."""
        for a in self.cfg.rebalancers:
            self.tasks[to_checksum_address(a)] = Task(to_checksum_address(a), "standard")
        if self.supervisor is not None:
            self.tasks[self.supervisor.address] = Task(self.supervisor.address, "supervisor")
            self._load_supervised()
        if self.registry is not None:
            self._load_registry()
        self._load_configs(list(self.tasks))

    def status(self, now: int) -> dict[str, Any]:
        """Stuck tasks and funders (balance, runway in intervals), read now."""
        self.load_tasks()
        stuck = stuck_tasks(self._views(list(self.tasks)), now)
        funders = sorted(self._funders())
        balances = self.io.balances(funders) if funders else []
        runways = self.io.call_many(
            [Call(self.io.contract("TxFunder", f), "runway") for f in funders]
        )
        return {
            "tasks": len(self.tasks),
            "stuck": [{"task": v.address, "reason": why} for v, why in stuck],
            "funders": [
                {
                    "funder": f,
                    "balance_wei": bal,
                    "runway_intervals": None if isinstance(r, NodeError) else int(r),
                }
                for f, bal, r in zip(funders, balances, runways, strict=True)
            ],
        }

    def _load_supervised(self) -> None:
        assert self.supervisor is not None
        n = int(self.io.call(Call(self.supervisor, "itemCount")))
        items = self.io.call_many([Call(self.supervisor, "itemAt", (i,)) for i in range(n)])
        for item in items:
            if isinstance(item, NodeError):
                continue
            rid, reb = int(item[0]), to_checksum_address(item[1])
            self.tasks.setdefault(reb, Task(reb, "paid", rid))

    def _load_registry(self) -> None:
        """Every live paid rebalancer from the registry's state (ids 1 .. nextId - 1), so a
        rebalancer created long before the log window is watched too."""
        assert self.registry is not None
        next_id = int(self.io.call(Call(self.registry, "nextId")))
        ids = list(range(1, next_id))
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            res = self.io.call_many([Call(self.registry, "rebalancerOf", (j,)) for j in chunk])
            for rid, reb in zip(chunk, res, strict=True):
                if not isinstance(reb, NodeError) and int(reb, 16) != 0:
                    addr = to_checksum_address(reb)
                    self.tasks.setdefault(addr, Task(addr, "paid", rid))

    def _load_configs(self, addresses: list[str]) -> None:
        """Each task's funder and next booking fee (feeFor x margin)."""
        if not addresses:
            return
        cfgs = self.io.call_many(
            [Call(self.io.contract("Rebalancer", a), "recurringConfig") for a in addresses]
        )
        fee_calls, owners = [], []
        for addr, c in zip(addresses, cfgs, strict=True):
            if isinstance(c, NodeError) or addr not in self.tasks:
                continue
            interval, priority, effort, margin, _force, funder = c
            t = self.tasks[addr]
            t.funder, t.interval = to_checksum_address(funder), int(interval)
            fee_calls.append(Call(self.scheduler, "feeFor", (0, int(priority), int(effort))))
            owners.append((t, int(margin)))
        for (t, margin), fee in zip(owners, self.io.call_many(fee_calls), strict=True):
            if not isinstance(fee, NodeError):
                t.next_fee = int(fee) * margin // BPS

    def _views(self, addresses: list[str]) -> list[TaskView]:
        calls: list[Call] = []
        for a in addresses:
            c = self.io.contract("Rebalancer", a)
            calls += [Call(c, "bookedRun"), Call(c, "destroyed")]
        res = self.io.call_many(calls, "pending")
        booked: list[tuple[str, int, int, bool]] = []
        for i, a in enumerate(addresses):
            run, destroyed = res[2 * i], res[2 * i + 1]
            if isinstance(run, NodeError) or isinstance(destroyed, NodeError):
                log.warning("supervisor_bot.unreadable", task=a)
                continue
            booked.append((a, int(run[0]), int(run[1]), bool(destroyed)))
        with_run = [b for b in booked if b[1] != 0]
        statuses = self.io.call_many(
            [Call(self.scheduler, "status", (b[1],)) for b in with_run], "pending"
        )
        status_of = {
            b[0]: (UNKNOWN if isinstance(s, NodeError) else int(s))
            for b, s in zip(with_run, statuses, strict=True)
        }
        return [TaskView(a, rid, at, status_of.get(a, UNKNOWN), d) for a, rid, at, d in booked]

    def _funders(self) -> set[str]:
        return {t.funder for t in self.tasks.values() if t.funder} | self.extra_funders


class SupervisorBot(AutomationBot, TaskReader):
    name = "supervisor"
    signer_label = "supervisor bot"

    def _setup(self, cfg: SupervisorBotConfig, pipeline: Pipeline) -> None:
        self.sinks = self.alerter.sinks
        TaskReader.__init__(self, self.io, cfg)
        self.blocked: set[str] = set()
        self.in_flight: dict[int, str] = {}  # intent id -> task
        self.attempts: dict[str, int] = {}
        self.armed: set[tuple[str, str]] = set()  # alerts that fired and did not clear yet
        self.alerts: list[Alert] = []
        self.last_block: int | None = None
        self.last_scan: int | None = None
        self.last_supervisor_tick: int | None = None
        self.hold = FundHold(self.io, pipeline.decoder, 0, cfg.held_check_every_s)
        self.held_fixed: dict[str, int] = {}  # held fund rebalancer -> its last fix while held
        self._held_now: dict[str, str] = {}  # this tick's held fund rebalancers -> controller

    @staticmethod
    def declared_calls(cfg: SupervisorBotConfig) -> Calls:
        return supervisor_calls(cfg)

    @classmethod
    def from_env(cls, sinks: list[AlertSink] | None = None) -> SupervisorBot:
        """``KEEPER_*`` pipeline settings + ``KEEPER_SUPERVISOR_*``."""
        return cls.from_settings(
            load_settings(KeeperSettings), load_settings(SupervisorBotConfig), sinks
        )

    # ----------------------------------------------------------------------------------------
    # lifecycle
    # ----------------------------------------------------------------------------------------

    def start(self) -> None:
        named = {
            "scheduler": self.cfg.scheduler,
            "supervisor": self.cfg.supervisor,
            "registry": self.cfg.registry,
        }
        named |= {f"rebalancers[{i}]": a for i, a in enumerate(self.cfg.rebalancers)}
        self._require_code(named)
        self._check_release(
            {k: named[k] for k in ("scheduler", "supervisor", "registry")}  # rebalancers: theirs
        )
        self._check_policy()
        self.simulator  # noqa: B018 - KEEPER_SIMULATOR checked now, never on a tick
        self.pipeline.reconcile_nonces()
        head = self.io.head()["number"]
        self.load_tasks()
        self._load_in_flight()
        self.last_block = head
        log.info("supervisor_bot.start", tasks=len(self.tasks), sender=self.sender)

    def _on_registry_event(self, name: str, args: dict[str, Any]) -> list[str]:
        if name == "PaidRebalancerCreated":
            reb = to_checksum_address(args["rebalancer"])
            self.tasks[reb] = Task(reb, "paid", int(args["id"]))
            return [reb]
        if name == "PaidRebalancerRemoved":
            for addr, t in list(self.tasks.items()):
                if t.kind == "paid" and t.registry_id == int(args["id"]):
                    del self.tasks[addr]
                    self.blocked.discard(addr)
        return []

    def _load_in_flight(self) -> None:
        with self.store.sessions() as s:
            rows = s.execute(
                select(TxIntent.id, TxIntent.idempotency_key).where(
                    TxIntent.role == self.cfg.role,
                    TxIntent.sender == self.sender.lower(),
                    TxIntent.status.not_in(FINAL),
                )
            ).all()
        for intent_id, key in rows:
            parts = key.split(":")
            if len(parts) >= 3 and parts[0] in ("fix", "suptick"):
                self.in_flight[intent_id] = to_checksum_address(parts[2])

    # ----------------------------------------------------------------------------------------
    # the tick
    # ----------------------------------------------------------------------------------------

    def tick(self, now: int) -> SupervisorTick:
        head = self.io.head()["number"]
        out = SupervisorTick(now=now, block=head)
        suspects: set[str] = set(self.blocked)
        if self.last_block is None:
            self.last_block = head - 1
        if head > self.last_block:
            suspects |= self._scan(self.last_block + 1, head, out)
            self.last_block = head
        if due_again(self.last_scan, now, self.cfg.scan_every_s):
            suspects |= set(self.tasks)
            self.last_scan = now
        self._settle()
        suspects -= set(self.in_flight.values())
        if suspects:
            self._fix(sorted(suspects), now, out)
        metrics.STUCK_TASKS.set(len(self.blocked))
        self._check_funders(out)
        self._pipeline_passes()
        return out

    def _scan(self, from_block: int, to_block: int, out: SupervisorTick) -> set[str]:
        suspects: set[str] = set()
        created: list[str] = []
        for ev in self.io.logs(from_block, to_block, None, WATCHED_EVENTS):
            if ev.name == "FailedRecurringSchedule":
                if ev.address in self.tasks:  # (created earlier in this same range included)
                    suspects.add(ev.address)
                    out.failed_events.append(ev.address)
            elif ev.name == "LowRunway":
                if ev.address in self._funders():
                    self._alert(
                        out,
                        "warning",
                        "low_runway_event",
                        ev.address,
                        f"funder {ev.address} emitted LowRunway: runway "
                        f"{ev.args['runwayIntervals']} < {ev.args['threshold']} intervals",
                        balance=str(ev.args["balance"]),
                    )
            elif self.registry is not None and ev.address == self.registry.address:
                created += self._on_registry_event(ev.name, ev.args)
        if created:
            self._load_configs(created)
        return suspects

    def _fix_call(self, task: Task) -> Call:
        if task.kind == "paid" and self.registry is not None:
            return Call(self.registry, "fixReschedule", (task.registry_id,))
        name = "Supervisor" if task.kind == "supervisor" else "Rebalancer"
        return Call(self.io.contract(name, task.address), "fixReschedule")

    def _fix(self, addresses: list[str], now: int, out: SupervisorTick) -> None:
        views = self._views(addresses)
        stuck = stuck_tasks(views, now)[: self.cfg.max_fixes_per_tick]
        for view in views:
            if view.destroyed:
                self.tasks.pop(view.address, None)
                self.blocked.discard(view.address)
        fine = set(addresses) - {v.address for v, _ in stuck}
        self.blocked -= fine
        if not stuck:
            return
        out.stuck += [(v.address, why) for v, why in stuck]
        stuck = self._hold_fixes(stuck, now, out)
        if not stuck:
            return
        tasks = [self.tasks[v.address] for v, _ in stuck]
        sims = self.io.simulate_each(
            self.simulator, [self._fix_call(t) for t in tasks], self.sender
        )
        specs: list[tuple[IntentSpec, Task, str]] = []
        for (view, why), task, (outcome, step) in zip(stuck, tasks, sims, strict=True):
            if not step.ok:
                log.warning(
                    "supervisor_bot.fix_simulation_failed", task=task.address, error=step.error
                )
                self.blocked.add(task.address)
                continue
            outcome = int(outcome)
            if outcome == BOOKED:
                specs.append((self._spec(task, self._fix_call(task), "fix", view), task, why))
            elif outcome == FAILED:
                FIXES.labels("blocked").inc()
                self.blocked.add(task.address)
                out.blocked.append(task.address)
                if task.kind == "supervisor":
                    self._tick_supervisor(task, now, out)
            elif outcome == DESTROYED:
                FIXES.labels("destroyed").inc()
                self.tasks.pop(task.address, None)
                self.blocked.discard(task.address)
            else:
                FIXES.labels("already_booked").inc()
                self.blocked.discard(task.address)
        if specs:
            self._submit(specs, out)

    def _hold_fixes(
        self, stuck: list[tuple[TaskView, str]], now: int, out: SupervisorTick
    ) -> list[tuple[TaskView, str]]:
        """``stuck`` without the held fund rebalancers fixed less than ``held_fix_every_s``
        ago (while held); a rebalancer whose feed is usable again starts afresh."""
        candidates = [v.address for v, _ in stuck if self.tasks[v.address].kind != "supervisor"]
        held = self.hold.held_of(candidates, now) if candidates else {}
        for addr in list(self.held_fixed):
            if addr not in held:
                del self.held_fixed[addr]
        keep = []
        for view, why in stuck:
            addr = view.address
            if addr in held:
                last = self.held_fixed.get(addr)
                every = self.cfg.held_fix_every_s
                if last is not None and every and now - last < every:
                    FIXES.labels("held_back").inc()
                    out.held_back.append(addr)
                    log.info(
                        "supervisor_bot.fix_held_back",
                        task=addr,
                        reason=why,
                        controller=held[addr],
                        last_fix=last,
                        next_fix=last + every,
                    )
                    continue
            keep.append((view, why))
        self._held_now = held
        return keep

    def _tick_supervisor(self, task: Task, now: int, out: SupervisorTick) -> None:
        """The Supervisor cannot book its own run: tick it by hand once per its interval."""
        assert self.supervisor is not None
        if not due_again(self.last_supervisor_tick, now, max(task.interval, 1)):
            return
        per_run = int(self.io.call(Call(self.supervisor, "maxItemsPerRun")))
        call = Call(self.supervisor, "tick", (per_run,))
        ((_, step),) = self.io.simulate_each(self.simulator, [call], self.sender)
        if not step.ok:
            log.warning("supervisor_bot.tick_simulation_failed", error=step.error)
            return
        key = f"suptick:{self.node.chain_id}:{task.address.lower()}:{now}"
        (intent,) = self.pipeline.submit_many([self._intent_spec(key, call)])
        self.in_flight[intent.id] = task.address
        self.last_supervisor_tick = now
        out.supervisor_ticked = True
        log.info("supervisor_bot.ticked_supervisor", items=per_run, intent=intent.id)

    def _spec(self, task: Task, call: Call, kind: str, view: TaskView) -> IntentSpec:
        """Key: the task and the state the fix starts from (its last booked run id); a retry
        after a final failed attempt of the same state gets the next attempt number."""
        base = f"{kind}:{self.node.chain_id}:{task.address.lower()}:{view.run_id}"
        n = self.attempts.get(base, 0)
        return self._intent_spec(f"{base}:{n}", call)

    def _intent_spec(self, key: str, call: Call) -> IntentSpec:
        """`call` as this bot's intent (its role and sender on this chain) under `key`."""
        return IntentSpec(
            idempotency_key=key,
            role=self.cfg.role,
            chain_id=self.node.chain_id,
            sender=self.sender,
            target=call.contract.address,
            calldata=ChainIO.encode(call),
        )

    def _submit(self, specs: list[tuple[IntentSpec, Task, str]], out: SupervisorTick) -> None:
        intents = self.pipeline.submit_many([s for s, _, _ in specs])
        with self.store.transaction() as s:
            for intent, (spec, task, why) in zip(intents, specs, strict=True):
                if intent.status in FINAL:  # an earlier attempt of the same state ended
                    base = spec.idempotency_key.rsplit(":", 1)[0]
                    self.attempts[base] = self.attempts.get(base, 0) + 1
                    continue
                self.in_flight[intent.id] = task.address
                self.blocked.discard(task.address)
                out.fixes.append(task.address)
                if task.address in self._held_now:  # the fix of this held period
                    self.held_fixed[task.address] = out.now
                FIXES.labels("submitted").inc()
                s.add(
                    JobRun(
                        job="supervisor.fix",
                        status="ok",
                        finished_at=utcnow(),
                        detail={
                            "task": task.address,
                            "kind": task.kind,
                            "reason": why,
                            "intent": intent.id,
                        },
                    )
                )
        log.info("supervisor_bot.fixes", tasks=out.fixes)

    def _settle(self) -> None:
        for intent_id, outcome, task in self._take_final():
            if not outcome.ok:
                log.warning(
                    "supervisor_bot.intent_final", intent=intent_id, outcome=str(outcome), task=task
                )

    # ----------------------------------------------------------------------------------------
    # funders
    # ----------------------------------------------------------------------------------------

    def _check_funders(self, out: SupervisorTick) -> None:
        funders = sorted(self._funders())
        if not funders:
            return
        balances = self.io.balances(funders)
        runways = self.io.call_many(
            [Call(self.io.contract("TxFunder", f), "runway") for f in funders]
        )
        # The rolling-day spend cap (issue 11): what each funder may still pay in this window.
        caps = self.io.call_many(
            [Call(self.io.contract("TxFunder", f), m) for f in funders for m in CAP_VIEWS]
        )
        for i, (f, bal, runway) in enumerate(zip(funders, balances, runways, strict=True)):
            available, cap = caps[2 * i], caps[2 * i + 1]
            next_fee = max((t.next_fee for t in self.tasks.values() if t.funder == f), default=0)
            if not isinstance(available, NodeError) and not isinstance(cap, NodeError):
                capped = spend_cap_alert(f, int(available), int(cap), next_fee)
                if capped is None:
                    self.armed.discard((f, "spend_cap_reached"))
                else:
                    self._alert(
                        out,
                        capped.level,
                        capped.code,
                        f,
                        capped.message,
                        available=str(int(available)),
                        cap=str(int(cap)),
                        next_fee=str(next_fee),
                    )
            metrics.observe_funder(
                f,
                bal,
                None if isinstance(runway, NodeError) else int(runway),
                self.cfg.runway_alert_intervals,
                next_fee,
            )
            if isinstance(runway, NodeError):
                continue
            view = FunderView(f, bal, int(runway))
            alert = runway_alert(view, self.cfg.runway_alert_intervals, next_fee)
            for code in ("funder_empty", "low_runway"):
                if alert is None or alert.code != code:
                    if code == "low_runway" and alert is not None:
                        continue  # critical supersedes, keep the warning armed
                    self.armed.discard((f, code))
            if alert is not None:
                self._alert(
                    out,
                    alert.level,
                    alert.code,
                    f,
                    alert.message,
                    balance=str(bal),
                    runway=int(runway),
                    next_fee=str(next_fee),
                )

    def _alert(
        self, out: SupervisorTick, level: str, code: str, funder: str, message: str, **detail: Any
    ) -> None:
        if (funder, code) in self.armed:
            return
        self.armed.add((funder, code))
        alert = Alert(
            AlertLevel(level),
            code,
            message,
            detail={"funder": funder, "block": out.block, **detail},
        )
        ALERTS.labels(code).inc()
        self.alerts.append(alert)
        out.alerts.append(alert)
        self.alerter.send(alert)


def supervisor_calls(cfg: SupervisorBotConfig) -> Calls:
    """The supervisor's declared calls: ``fixReschedule`` on the registry, the Supervisor
    contract and the watched standard rebalancers, and the Supervisor's ``tick``."""
    calls: list[DeclaredCall] = []
    if cfg.registry is not None:
        calls.append(
            DeclaredCall(cfg.registry, ("fixReschedule(uint256)",), "KEEPER_SUPERVISOR_REGISTRY")
        )
    if cfg.supervisor is not None:
        calls.append(
            DeclaredCall(
                cfg.supervisor,
                ("fixReschedule()", "tick(uint256)"),
                "KEEPER_SUPERVISOR_SUPERVISOR",
            )
        )
    calls += [
        DeclaredCall(a, ("fixReschedule()",), "KEEPER_SUPERVISOR_REBALANCERS")
        for a in cfg.rebalancers
    ]
    return Calls(cfg.role, tuple(calls))


def _build(ctx: BotContext, cfg: SupervisorBotConfig) -> SupervisorBot:
    """``keeper run``'s supervisor: on the runtime's settings and pipeline, paging through the
    runtime's alerter when it has one."""
    bot = SupervisorBot(ctx.settings, cfg, ctx.pipeline)
    if ctx.alerter is not None:
        bot.alerter = ctx.alerter
        bot.sinks = ctx.alerter.sinks
    return bot


DECLARATION = automation_declaration(
    "supervisor",
    SupervisorBotConfig,
    WATCHED_EVENTS,
    supervisor_calls,
    _build,
    doc="recovers stuck recurring tasks, ticks the Supervisor, pages on low runway",
)
