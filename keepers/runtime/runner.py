"""Every keeper bot in one process (``keeper run``): the fund bot's APScheduler jobs and the
executor, supervisor and cross-chain loops, sharing one store, one node, one signer and one
transaction pipeline per chain (keepers.crosschain.assemble: the node's chain reuses the main one).

Why one pipeline: all bots sign with the same key (``KEEPER_SIGNER_*``) and a pipeline works
every intent of its signer, whichever bot submitted it. Separate pipelines would audit one
bot's intents against another bot's policy, and their passes would interleave on one store.
So the pipeline holds the union of the roles (built from the declared calls of the bots
started here, keepers.runtime.bots, merged with ``KEEPER_POLICY*`` and the roles other
processes stored) and its passes are serialised by a lock; each bot still drives it after it
submits, and any bot's pass moves every bot's intents on.

Why threads: the executor and supervisor tick every second or faster, while one fund job can
take minutes (fork simulation, execution, verification). Each loop runs in its own thread
(:func:`keepers.runtime.base.run_loop`), the fund jobs in APScheduler's single worker thread.

A bad configuration raises :class:`ConfigError` (alias ``RunConfigError``) whose message names the environment
variable, before anything is scheduled or sent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from pydantic_settings import BaseSettings

from keepers.core.errors import (
    EXIT_CONFIG,
    EXIT_DOMAIN,
    ChainError,
    DomainError,
    exit_code,
)
from keepers.core.logging import get_logger
from keepers.core.settings import (
    ConfigError,
    KeeperSettings,
    load_settings,
)
from keepers.runtime import readiness
from keepers.runtime.alerts import Alerter, job_failed
from keepers.runtime.bots import BotContext, BotDeclaration, declared_policy
from keepers.runtime.leases import Leases
from keepers.runtime.names import BOT_NAMES, CROSSCHAIN_ENV
from keepers.runtime.policy import merged, store_policy, stored_policy
from keepers.tx.node import Node
from keepers.tx.pipeline import Pipeline
from keepers.tx.retry import NetworkUnavailable

log = get_logger("keepers.runner")

# the default bound of a stop (KEEPER_STOP_TIMEOUT_S): jobs and loops end within it
JOIN_TIMEOUT_S = 30.0


def failure_exit(err: BaseException) -> int:
    """The exit status of a bot's failed cycle (``keeper run --once``): the configuration
    code (2) when a cause is configuration (a ConfigError, also among a composite job's
    parts: ``JobPartsFailed.errors``), else 1."""
    causes = getattr(err, "errors", None) or [err]
    return EXIT_CONFIG if any(exit_code(c) == EXIT_CONFIG for c in causes) else EXIT_DOMAIN


# A bot cannot start with this configuration: the one ConfigError, under its old name.
RunConfigError = ConfigError


class NodeUnreachableError(ChainError, RuntimeError):
    """The node named by KEEPER_RPC_URL does not answer at start-up (exit code 3)."""


class UnknownBotError(DomainError, ValueError):
    """``--bots`` named a bot that does not exist."""


def default_bots(environ: Any = None) -> list[str]:
    """Every bot; the cross-chain bot only where its config is named (it has no default)."""
    import os

    env = os.environ if environ is None else environ
    return [n for n in BOT_NAMES if n != "crosschain" or env.get(CROSSCHAIN_ENV)]


def parse_bots(spec: str | None) -> list[str]:
    if spec is None or spec.strip() == "all":
        return default_bots()
    names = list(dict.fromkeys(b.strip() for b in spec.split(",") if b.strip()))
    unknown = [b for b in names if b not in BOT_NAMES]
    if unknown or not names:
        raise UnknownBotError(
            f"--bots: unknown bot(s) {', '.join(unknown) or repr(spec)}; "
            f"available: {', '.join(BOT_NAMES)}"
        )
    return names


def load_env_settings(cls: type[BaseSettings]) -> Any:
    """``cls`` from the environment through the one loader (keepers.core.settings.load_settings),
    or the ConfigError naming the variable and value."""
    return load_settings(cls)


class SerialPipeline(Pipeline):
    """A pipeline whose passes run one at a time (several bot threads drive it)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lock = threading.RLock()

    def run_once(self) -> int:
        with self._lock:
            return super().run_once()

    def reconcile_nonces(self) -> dict[str, int]:
        with self._lock:
            return super().reconcile_nonces()


_MEMORY = "resume"  # the scheduler's in-memory store of one-off ticks (resumes, takeovers)


@dataclass
class Runtime:
    names: list[str]
    settings: KeeperSettings
    store: Any
    pipeline: Pipeline
    bots: dict[str, Any] = field(default_factory=dict)  # name -> the bot, in start order
    loops: dict[str, Any] = field(default_factory=dict)  # the interval bots (run_loop threads)
    jobs: list[Any] = field(default_factory=list)  # the cron bots' JobSpecs
    resumed: dict[str, list[Any]] = field(default_factory=dict)  # what each bot's start resumes
    scheduler: Any = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    _started: bool = False
    leases: Any = None  # keepers.runtime.leases.Leases: who leads which bot in the fleet
    lease_of: dict[str, str] = field(default_factory=dict)  # bot -> its lease's name

    # ------------------------------------------------------------------ replicas

    def leads(self, bot: str) -> bool:
        """This process leads ``bot`` (holds its lease); always, without leases."""
        return self.leases is None or self.leases.held(self.lease_of[bot])

    def gate(self, bot: str, handler: Any) -> Any:
        """``handler`` run only while this process leads ``bot`` (a follower's run does
        nothing and says so)."""

        def gated(now: int) -> Any:
            if not self.leads(bot):
                log.info("job.follower", bot=bot, lease=self.lease_of.get(bot))
                return {"follower": True, "lease": self.lease_of.get(bot)}
            return handler(now)

        return gated

    def lead_round(self) -> None:
        """One round of the lease loop: report this replica, then acquire or renew every
        chosen bot's lease. A follower whose bot is led by a live replica counts as ticked
        (it stands by, as it should: readiness stays green)."""
        from sqlalchemy.exc import OperationalError

        from keepers.runtime import metrics

        if self.leases is None:
            return
        try:
            self.leases.heartbeat()
        except OperationalError as err:
            log.warning("replica.heartbeat_failed", error=type(err).__name__)
        for bot, lease in self.lease_of.items():
            view = self.leases.try_acquire(lease)
            held = self.leases.held(lease)
            metrics.LEASE_HELD.labels(bot, self.leases.replica).set(1 if held else 0)
            if view is not None and not view.mine and view.live:
                metrics.mark_tick(bot)

    def _lease_loop(self) -> None:
        assert self.leases is not None
        while not self.stop_event.wait(self.leases.renew_s):
            try:
                self.lead_round()
            except Exception as err:  # noqa: BLE001 - the lease loop must outlive a bad round
                log.error("lease.round_failed", error=f"{type(err).__name__}: {err}")

    def _lease_changed(self, lease: str, mine: bool, view: Any) -> None:
        """A lease gained or lost: alert, count, and for a cron bot resume or pause its
        scheduler (the fleet's schedule is the shared job store: only the leader runs it);
        a gained cron bot ticks at once, so a plan its dead predecessor left goes on now."""
        import time

        from keepers.runtime import metrics
        from keepers.runtime.alerts import RUNTIME_ALERTS, AlertLevel

        bot = next((b for b, n in self.lease_of.items() if n == lease), lease)
        replica = self.leases.replica if self.leases is not None else "?"
        metrics.LEASE_HELD.labels(bot, replica).set(1 if mine else 0)
        if mine:
            metrics.LEASE_ACQUIRED.labels(bot, replica).inc()
            term = view.term if view is not None else self.leases.term(lease)
            RUNTIME_ALERTS(
                AlertLevel.INFO,
                "lease_acquired",
                f"replica {replica} now leads {bot} ({lease}, term {term})",
                bot=bot,
                lease=lease,
                replica=replica,
            )
        else:
            by = view.replica if view is not None else "unknown (the store did not answer)"
            RUNTIME_ALERTS(
                AlertLevel.WARNING,
                "lease_lost",
                f"replica {replica} no longer leads {bot} ({lease}; now {by}): it stops "
                "deciding for it",
                bot=bot,
                lease=lease,
                replica=replica,
            )
        if bot in self.loops or self.scheduler is None or not self._started:
            return
        if mine:
            b = self.bots[bot]
            self.scheduler.add_job(
                self.gate(bot, lambda now, b=b: b.tick(now)),
                args=[int(time.time())],
                id=f"{bot}.takeover.{int(time.time() * 1000)}",
                jobstore=_MEMORY,
            )
            self.scheduler.resume()
        else:
            self.scheduler.pause()

    @property
    def fund(self) -> Any:
        """The fund bot, when it runs here (the monitor and the alerts read it)."""
        return self.bots.get("fund")

    def schedule(self) -> Any:
        """The cron bots' jobs on APScheduler (persisted in the keeper DB), paused until
        :meth:`start`; None when no chosen bot has cron triggers."""
        if self.jobs and self.scheduler is None:
            from keepers.runtime.scheduler import build_scheduler

            self.scheduler = build_scheduler(self.settings.db_url, self.jobs)
        return self.scheduler

    def start(self, *, loops: bool = True) -> None:
        """Resume the cron jobs (a cron bot whose start resumed work ticks once now, in the
        job worker: a plan interrupted by a stop or a crash goes on at once) and start one
        thread per loop bot."""
        if self.leases is not None:
            self.leases.on_change = self._lease_changed
            for lease in self.lease_of.values():  # led since build_runtime's round
                if self.leases.held(lease):
                    self._lease_changed(lease, True, None)
            t = threading.Thread(target=self._lease_loop, name="keeper-leases", daemon=True)
            t.start()
            self.threads.append(t)
        if self.scheduler is not None:
            from apscheduler.jobstores.memory import MemoryJobStore

            self.scheduler.add_jobstore(MemoryJobStore(), _MEMORY)
            self._tick_resumed_now()
            if all(self.leads(n) for n in self.bots if n not in self.loops):
                self.scheduler.resume()
        self._started = True
        if not loops:
            return
        from keepers.runtime.base import run_loop

        for name, bot in self.loops.items():
            t = threading.Thread(
                target=run_loop,
                args=(bot,),
                kwargs={"stop_event": self.stop_event, "start": False},
                name=f"keeper-{name}",
                daemon=True,  # a tick stuck on the node must not keep the process alive
            )
            t.start()
            self.threads.append(t)

    def cycle(self, now: int) -> list[dict[str, Any]]:
        """One full cycle of every bot, in this thread (``keeper run --once``): each loop bot's
        ``tick(now)``; each cron bot's interval jobs (the fund's ``fund.tick``: waiting plans
        moved on, an approved plan executed, a due slice, the event triggers), or its ``tick``
        when it has none. A failing bot is reported (and logged) and the others still run, as
        in the loops. Its scheduled checks (daily, weekly, hourly, 5-minute) keep their times.
        Returns, per bot, what it did."""
        from keepers.runtime import metrics

        by_bot: dict[str, list[Any]] = {}
        for spec in self.jobs:
            if spec.every_s is not None:
                by_bot.setdefault(spec.name.split(".", 1)[0], []).append(spec.handler)
        out: list[dict[str, Any]] = []
        for name, bot in self.bots.items():
            if self.stop_event.is_set():
                break
            if not self.leads(name):
                out.append({"bot": name, "ok": True, "result": self.follower(name)})
                continue
            handlers = [bot.tick] if name in self.loops else by_bot.get(name, [bot.tick])
            try:
                result = [h(now) for h in handlers]
            except Exception as err:  # noqa: BLE001 - one bad bot must not stop the others
                text = f"{type(err).__name__}: {err}"
                log.error("bot.tick_failed", bot=name, error=text)
                job_failed(f"{name}.tick", err)
                readiness.TRACKER.job(name, f"{name}.tick", err)
                out.append({"bot": name, "ok": False, "error": text, "exit": failure_exit(err)})
                continue
            metrics.mark_tick(name)
            readiness.TRACKER.job(name, f"{name}.tick")
            out.append(
                {
                    "bot": name,
                    "ok": True,
                    "result": _plain(result[0] if len(result) == 1 else result),
                }
            )
        return out

    def follower(self, bot: str) -> dict[str, Any]:
        """What a follower says of ``bot``: who leads it."""
        from keepers.runtime.leases import fleet

        lease = self.lease_of.get(bot)
        led = next(
            (x for x in fleet(self.store)["leases"] if x["lease"] == lease and x["live"]), None
        )
        return {"follower": True, "lease": lease, "led_by": led["replica"] if led else None}

    def _tick_resumed_now(self) -> None:
        import time

        due = [n for n, work in self.resumed.items() if work and n not in self.loops]
        for n in due:
            bot = self.bots[n]
            self.scheduler.add_job(
                self.gate(n, lambda _now, b=bot: b.tick(int(time.time()))),
                args=[0],
                id=f"{n}.resume",
                jobstore=_MEMORY,
            )

    def stop(self, timeout_s: float | None = None) -> list[str]:
        """Stop the jobs and the loops within ``timeout_s`` (KEEPER_STOP_TIMEOUT_S): a bot's
        job or tick in progress starts nothing new once the stop event is set and finishes the
        transaction in flight (recorded, so a restart resumes it). Then close the store.
        Returns the names of what did not end in time (empty on a clean stop; then the store
        is left open, as something still uses it)."""
        import time

        from keepers.runtime.scheduler import stop_scheduler

        bound = self.settings.stop_timeout_s if timeout_s is None else timeout_s
        deadline = time.monotonic() + bound
        self.stop_event.set()
        waiting: list[threading.Thread] = []
        if self.scheduler is not None:
            # a job that is running finishes first; the loops stop at their next wait meanwhile
            sched, self.scheduler = self.scheduler, None
            t = threading.Thread(
                target=stop_scheduler,
                args=(sched,),
                kwargs={"wait": True},
                name="keeper-jobs",
                daemon=True,
            )
            t.start()
            waiting.append(t)
        for t in waiting + self.threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in waiting + self.threads if t.is_alive()]
        if not self.threads:  # loops never started: stop() them here
            for bot in self.loops.values():
                bot.stop()
        if stuck:
            log.error("runtime.stop_timeout", stuck=stuck, bound_s=bound)
            return stuck
        self._release()
        self.store.close()
        return stuck

    def _release(self) -> None:
        """A clean stop hands every lead over at once (the followers take it at their next
        try, not after the TTL) and marks the replica gone."""
        from sqlalchemy.exc import OperationalError

        if self.leases is None:
            return
        self.leases.on_change = None
        for lease in self.lease_of.values():
            self.leases.release(lease)
        try:
            self.leases.unregister()
        except OperationalError as err:
            log.warning("replica.unregister_failed", error=type(err).__name__)


class Led:
    """A loop bot that ticks only while this process leads it (its lease); a follower's tick
    says who leads instead. Everything else is the bot's."""

    def __init__(self, bot: Any, runtime: Runtime, name: str) -> None:
        self._bot, self._rt, self._name = bot, runtime, name

    def tick(self, *args: Any, **kwargs: Any) -> Any:
        if not self._rt.leads(self._name):
            return {"follower": True, "lease": self._rt.lease_of.get(self._name)}
        return self._bot.tick(*args, **kwargs)

    @property
    def bot(self) -> Any:
        """The bot itself."""
        return self._bot

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._bot, attr)


def lease_scope(name: str, bot: Any, chain_id: int) -> str:
    """The lease of ``bot``: its name and what it decides for (the fund's vault, the
    scheduler, ...: ``lease_scope`` on the bot), else the chain."""
    scope = getattr(bot, "lease_scope", None)
    return f"{name}:{scope}" if scope else f"{name}:{chain_id}"


def _plain(x: Any) -> Any:
    """What a tick returned, as JSON-ready data (dataclasses as dicts)."""
    from dataclasses import asdict, is_dataclass

    if is_dataclass(x) and not isinstance(x, type):
        return _plain(asdict(x))
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if x is None or isinstance(x, bool | int | float | str):
        return x
    return str(x)


def _configure(decl: Any) -> Any:
    if decl.configure is None or decl.build is None:
        raise UnknownBotError(f"--bots: {decl.name} declares no way to build it")
    return decl.configure()


def build_runtime(
    names: list[str],
    *,
    declarations: Mapping[str, BotDeclaration],
    alerter: Alerter | None = None,
    stop_event: threading.Event | None = None,
) -> Runtime:
    """Every chosen bot from its declaration (``declarations``: keepers.registry's, handed over
    by the entry point): load each one's settings
    section, all of them before anything touches the chain or the store; open the shared
    store, node and pipeline with the audit policy built from the bots' declared calls; build
    each bot on them (``declaration.build``), attach its triggers (an interval: a loop thread;
    crons: its jobs on the scheduler; events: read by its own tick) and start it. Raises
    RunConfigError naming the variable. ``stop_event``: the runtime's stop (set by a signal,
    even during start-up)."""
    from keepers.store.db import Store, StoreLockedError
    from keepers.tx.contracts import ChainMismatchError, DeploymentError
    from keepers.tx.signers import signer_from_settings

    decls = declarations
    chosen = [decls[n] for n in names]
    # 1. configuration, all of it before anything touches the chain or the store; every
    #    problem is reported at once (each names its variable)
    configs: dict[str, Any] = {}
    problems: list[str] = []
    for d in chosen:
        try:
            configs[d.name] = _configure(d)
        except ConfigError as err:
            problems.append(str(err))
    signer = None
    try:
        settings: KeeperSettings = load_env_settings(KeeperSettings)
        signer = signer_from_settings(settings)
    except ConfigError as err:
        problems.append(str(err))
    except (ValueError, OSError) as err:
        problems.append(f"invalid signer configuration: {err}")
    if problems:
        raise RunConfigError("; ".join(dict.fromkeys(problems)))
    # /readyz's thresholds (KEEPER_READY_MAX_JOB_FAILURES, KEEPER_READY_STUCK_PLAN_S); a new
    # runtime starts with nothing held against its bots
    readiness.TRACKER.reset()
    readiness.TRACKER.configure(settings.ready_max_job_failures, settings.ready_stuck_plan_s)
    stop = stop_event if stop_event is not None else threading.Event()

    # 2. shared store / node / pipeline
    try:
        store = Store(settings.db_url, exclusive=True)
    except StoreLockedError as err:
        raise StoreLockedError(f"KEEPER_DB_URL: {err}") from None  # exit 3, like the worker
    try:
        node = Node(settings.rpc_url, settings.rpc_timeout_s)
        calls = {d.name: d.calls(d.declared_from(configs[d.name])) for d in chosen}
        for d in chosen:
            c = calls[d.name]
            log.info(
                "runtime.bot_declared",
                bot=d.name,
                triggers=[t.describe() for t in d.triggers],
                role=c.role,
                calls=[f"{x.contract}:{s}" for x in c.calls for s in x.signatures],
            )
        declared = declared_policy(calls.values())
        own = merged(declared, settings.policy)  # a configured role wins
        store_policy(store, own, written_by=",".join(names))  # for every process (the workers)
        shared = settings.model_copy(update={"policy": merged(stored_policy(store), own)})
        pipeline = SerialPipeline(store, node, [signer], shared, crash=fault_hook(stop))
        pipelines = {pipeline.chain_id: pipeline}
        _log_confirmations(shared, pipeline.chain_id)

        def pipeline_for(chain_id: int, rpc_url: str) -> Pipeline:
            if chain_id not in pipelines:
                other = Node(rpc_url, shared.rpc_timeout_s)
                pipelines[chain_id] = SerialPipeline(
                    store, other, [signer], shared, crash=fault_hook(stop)
                )
                _log_confirmations(shared, chain_id)
            return pipelines[chain_id]

        ctx = BotContext(shared, store, signer, pipeline, alerter, stop, pipeline_for)
        rt = Runtime(names, shared, store, pipeline, stop_event=stop)
        leases = Leases(store, shared.replica_id, ttl_s=shared.lease_ttl_s)
        leases.register(names)  # KEEPER_REPLICA_ID already live elsewhere: exit 2
        rt.leases = leases
        for d in chosen:
            bot = d.build(ctx, configs[d.name])  # type: ignore[misc]
            rt.bots[d.name] = bot
            lease = lease_scope(d.name, bot, pipeline.chain_id)
            rt.lease_of[d.name] = lease
            if hasattr(bot, "fence"):  # its decisions are written under the lease
                bot.fence = leases.fence_for(lease)
            if hasattr(bot, "leading"):
                bot.leading = lambda lease=lease: leases.held(lease)
            if d.loops:
                rt.loops[d.name] = Led(bot, rt, d.name)
            if d.jobs is not None:
                rt.jobs += [replace(j, handler=rt.gate(d.name, j.handler)) for j in d.jobs(bot)]
        rt.lead_round()  # lead at once what no live replica leads (a sole replica: all)
        pipeline.reconcile_nonces()
        for d in chosen:
            start = getattr(rt.bots[d.name], "start", None)
            if start is None:
                continue
            try:
                resumed = start()
            except ConfigError as err:
                hint = _env_hint(d, str(err), configs[d.name])
                raise RunConfigError(f"{d.name}: {hint}") from None
            if isinstance(resumed, list):
                rt.resumed[d.name] = resumed
    except DeploymentError as err:
        store.close()
        raise RunConfigError(f"KEEPER_DEPLOYMENT: {err}") from None
    except ChainMismatchError as err:  # KEEPER_CHAIN_ID or the bands against the chain
        store.close()
        raise RunConfigError(str(err)) from None
    except (OSError, NetworkUnavailable) as err:  # no answer (requests' errors are OSErrors)
        store.close()
        from keepers.tx.node import unreachable

        raise NodeUnreachableError(unreachable(settings.rpc_url, err)) from None
    except BaseException:
        store.close()
        raise
    return rt


def _log_confirmations(settings: Any, chain_id: int) -> None:
    """Says once per chain how many confirmations the pipeline awaits and which setting chose
    them (the operator's KEEPER_CONFIRMATIONS_BY_CHAIN entry, or KEEPER_CONFIRMATIONS_DEFAULT)."""
    by_chain = chain_id in settings.confirmations_by_chain
    log.info(
        "runtime.confirmations",
        chain_id=chain_id,
        confirmations=settings.confirmations_for(chain_id),
        source="KEEPER_CONFIRMATIONS_BY_CHAIN" if by_chain else "KEEPER_CONFIRMATIONS_DEFAULT",
    )


def fault_hook(release: threading.Event) -> Any:
    """The pipeline's fault injector in ``keeper run``: ``KEEPER_CRASH_AT`` (exit 137 at a
    step) and ``KEEPER_HOLD_AT`` (wait at a step, until ``release`` is set: a stop), both
    read only with ``KEEPER_FAULT_INJECTION=1`` (keepers.tx.pipeline)."""
    from keepers.tx.pipeline import CrashHook, HoldHook

    crash = CrashHook.from_env()
    hold = HoldHook.from_env(release=release, armed_only=True)

    def hook(step: str, intents: int = 1) -> None:
        crash(step, intents)
        hold(step, intents)

    return hook


def _env_hint(decl: Any, message: str, config: Any = None) -> str:
    """Start-up errors name config fields (``scheduler='0x..'``, ``policy.roles.executor``);
    add the environment variable they come from (the bot's settings section). Only a field
    the bot's config has is named: a refusal that starts with the bot's own name (the
    release check's "executor: the contracts ...") named ``KEEPER_EXECUTOR_EXECUTOR``, a
    setting that does not exist; it now names the settings of the contracts it lists."""
    prefix = decl.env_prefix
    body = message.removeprefix("invalid keeper configuration: ")
    fields = set(type(config).model_fields) if hasattr(type(config), "model_fields") else None
    field_name = body.split("=", 1)[0].split(":", 1)[0].strip()
    if field_name.startswith("policy."):
        return f"KEEPER_POLICY_FILE / KEEPER_POLICY__ROLES: {body}"
    base = field_name.split("[", 1)[0]
    if base and base.isidentifier() and (fields is None or base in fields):
        return f"{prefix}{base.upper()}: {body}"
    if fields:
        # a release refusal lists each contract as "<field> <release>" (keepers.tx.release)
        named = [f for f in dict.fromkeys(re.findall(r"\b(\w+) \d+\.\d+", body)) if f in fields]
        if named:
            own = body.removeprefix(f"{decl.name}: ")
            return f"{', '.join(prefix + f.upper() for f in named)}: {own}"
    return body
