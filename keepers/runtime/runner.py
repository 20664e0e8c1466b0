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

import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic_settings import BaseSettings

from keepers.automation.settings import ExecutorConfig, SupervisorBotConfig
from keepers.core.errors import ChainError, DomainError
from keepers.core.logging import get_logger
from keepers.core.settings import (
    ConfigError,
    KeeperSettings,
    load_settings,
)
from keepers.runtime.alerts import Alerter
from keepers.runtime.bots import declarations, declared_policy
from keepers.runtime.policy import merged, store_policy, stored_policy
from keepers.tx.node import Node
from keepers.tx.pipeline import Pipeline
from keepers.tx.retry import NetworkUnavailable

log = get_logger("keepers.runner")

# `keeper run` starts all of them by default (crosschain when BALLAST_CROSSCHAIN_CONFIG is set);
# the names of keepers.runtime.bots.declarations(), in its order (a test checks)
BOT_NAMES = ("fund", "executor", "supervisor", "crosschain")
CROSSCHAIN_ENV = "BALLAST_CROSSCHAIN_CONFIG"
LOOP_BOTS: dict[str, type[BaseSettings]] = {
    "executor": ExecutorConfig,
    "supervisor": SupervisorBotConfig,
}
JOIN_TIMEOUT_S = 30.0


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


@dataclass
class Runtime:
    names: list[str]
    settings: KeeperSettings
    store: Any
    pipeline: Pipeline
    fund: Any = None  # FundBot
    loops: dict[str, Any] = field(default_factory=dict)  # name -> ExecutorBot | SupervisorBot
    scheduler: Any = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self, *, loops: bool = True) -> None:
        """Resume the fund jobs and start one thread per loop bot."""
        if self.scheduler is not None:
            self.scheduler.resume()
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

    def stop(self) -> list[str]:
        """Stop the jobs and the loops, wait for them, close the store. Returns the names of
        threads that did not end within JOIN_TIMEOUT_S (empty on a clean stop)."""
        from keepers.runtime.scheduler import stop_scheduler

        self.stop_event.set()
        if self.scheduler is not None:
            # a fund job that is running finishes first (its plan's transactions are followed
            # to the end); the loops stop at their next wait meanwhile
            stop_scheduler(self.scheduler, wait=True)
            self.scheduler = None
        for t in self.threads:
            t.join(JOIN_TIMEOUT_S)
        stuck = [t.name for t in self.threads if t.is_alive()]
        if not self.threads:  # loops never started: stop() them here
            for bot in self.loops.values():
                bot.stop()
        self.store.close()
        return stuck


def _load_crosschain_config() -> Any:
    import os

    from keepers.crosschain.config import ConfigError as CrosschainConfigError
    from keepers.crosschain.route_contracts import load_with_routes

    if not os.environ.get(CROSSCHAIN_ENV):
        raise RunConfigError(f"{CROSSCHAIN_ENV}: not set (the cross-chain bot's config file)")
    try:
        # with BALLAST_CROSSCHAIN_ROUTES applied: (config, the route files or None)
        return load_with_routes(None)
    except (CrosschainConfigError, OSError, ValueError) as err:
        raise RunConfigError(f"{CROSSCHAIN_ENV}: {err}") from None


def _load_fund_config() -> Any:
    from keepers.fund.settings import FundConfigError, load_fund_config

    try:
        return load_fund_config()
    except FundConfigError as err:
        raise RunConfigError(str(err)) from None


def build_runtime(names: list[str], *, alerter: Alerter | None = None) -> Runtime:
    """Validate every chosen bot's configuration, then build the shared store, node, pipeline
    and the bots, and check them against the chain (contracts have code, the policy lets each
    role call what it needs, the chain id). Raises RunConfigError naming the variable."""
    from keepers.fund.bot import FundBot
    from keepers.store.db import Store, StoreLockedError
    from keepers.tx.contracts import ChainMismatchError, DeploymentError
    from keepers.tx.signers import signer_from_settings

    # 1. configuration, all of it before anything touches the chain or the store
    fund_cfg = _load_fund_config() if "fund" in names else None
    cc_cfg = _load_crosschain_config() if "crosschain" in names else None
    settings: KeeperSettings = load_env_settings(KeeperSettings)
    try:
        signer = signer_from_settings(settings)
    except (ValueError, OSError) as err:
        raise RunConfigError(f"invalid signer configuration: {err}") from None
    loop_cfgs = {n: load_env_settings(LOOP_BOTS[n]) for n in names if n in LOOP_BOTS}

    # 2. shared store / node / pipeline
    try:
        store = Store(settings.db_url, exclusive=True)
    except StoreLockedError as err:
        raise StoreLockedError(f"KEEPER_DB_URL: {err}") from None  # exit 3, like the worker
    try:
        node = Node(settings.rpc_url, settings.rpc_timeout_s)
        fund = None
        # what each started bot's declaration builds its calls from
        sources: dict[str, Any] = dict(loop_cfgs)
        if fund_cfg is not None:
            fund = FundBot(fund_cfg, store, signer=signer, alerter=alerter)
            fund.check_chain()
            sources["fund"] = fund.addresses
        if cc_cfg is not None:
            sources["crosschain"] = cc_cfg[0]
        decls = declarations()
        calls = {n: decls[n].calls(sources[n]) for n in names}
        for n, c in calls.items():
            log.info(
                "runtime.bot_declared",
                bot=n,
                triggers=[t.describe() for t in decls[n].triggers],
                role=c.role,
                calls=[f"{x.contract}:{s}" for x in c.calls for s in x.signatures],
            )
        declared = declared_policy(calls.values())
        own = merged(declared, settings.policy)  # a configured role wins
        store_policy(store, own, written_by=",".join(names))  # for every process (the workers)
        shared = settings.model_copy(update={"policy": merged(stored_policy(store), own)})
        pipeline = SerialPipeline(store, node, [signer], shared)
        if fund is not None:
            fund._pipeline = pipeline  # noqa: SLF001 - the fund bot's injection seam
        loops: dict[str, Any] = {}
        for n, cfg in loop_cfgs.items():
            loops[n] = _loop_bot(n, shared, cfg, pipeline, alerter)
        if cc_cfg is not None:
            loops["crosschain"] = _crosschain_bot(*cc_cfg, shared, store, signer, pipeline)
        pipeline.reconcile_nonces()
        for n, bot in loops.items():
            try:
                bot.start()
            except ConfigError as err:
                raise RunConfigError(f"{n}: {_env_hint(n, str(err))}") from None
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
    return Runtime(names, shared, store, pipeline, fund, loops)


def _loop_bot(
    name: str, settings: KeeperSettings, cfg: Any, pipeline: Pipeline, alerter: Alerter | None
) -> Any:
    if name == "executor":
        from keepers.automation.executor import ExecutorBot

        return ExecutorBot(settings, cfg, pipeline)
    from keepers.automation.supervisor import SupervisorBot

    bot = SupervisorBot(settings, cfg, pipeline)
    if alerter is not None:
        bot.alerter = alerter
        bot.sinks = alerter.sinks
    return bot


def _crosschain_bot(
    cfg: Any, pinned: Any, settings: KeeperSettings, store: Any, signer: Any, pipeline: Pipeline
) -> Any:
    """The cross-chain bot on the runtime's store and signer: the chain the runtime's node is on
    reuses the runtime's pipeline (one pipeline per chain in the process); every other chain
    gets a serial pipeline of its own on the same store, signer and policy."""
    from keepers.crosschain.assemble import build_crosschain_bot

    def pipeline_for(chain: Any) -> Pipeline:
        if chain.chain_id == pipeline.chain_id:
            return pipeline
        node = Node(chain.rpc_url, settings.rpc_timeout_s)
        return SerialPipeline(store, node, [signer], settings)

    return build_crosschain_bot(
        cfg, settings, store, signer, pipeline_for=pipeline_for, pinned=pinned
    )


def _env_hint(bot: str, message: str) -> str:
    """Start-up errors name config fields (``scheduler='0x..'``, ``policy.roles.executor``);
    add the environment variable they come from."""
    prefix = {
        "executor": "KEEPER_EXECUTOR_",
        "supervisor": "KEEPER_SUPERVISOR_",
        "crosschain": "BALLAST_CROSSCHAIN_",
    }[bot]
    body = message.removeprefix("invalid keeper configuration: ")
    field_name = body.split("=", 1)[0].split(":", 1)[0].strip()
    if field_name.startswith("policy."):
        return f"KEEPER_POLICY_FILE / KEEPER_POLICY__ROLES: {body}"
    base = field_name.split("[", 1)[0]
    if base and base.isidentifier():
        return f"{prefix}{base.upper()}: {body}"
    return body
