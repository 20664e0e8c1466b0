"""What the two automation bots (the scheduler executor and the supervisor keeper) share: how
they are declared, one sender on a pipeline, a standalone start that opens its own node, store and signer, a start-up
check that every configured contract has code, the policy check of the bot's declared calls,
and the pipeline passes at the end of a tick."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from eth_utils import to_checksum_address

from keepers.automation.chain import ChainIO
from keepers.core.settings import ConfigError, KeeperSettings, load_settings
from keepers.runtime.alerts import Alerter, AlertSink
from keepers.runtime.bots import (
    BotContext,
    BotDeclaration,
    Calls,
    Trigger,
    check_allowed,
    load_when_set,
)
from keepers.store.db import Store
from keepers.tx.node import Node
from keepers.tx.outcome import IntentOutcome, read_outcomes
from keepers.tx.pipeline import Pipeline
from keepers.tx.signers import signer_from_settings
from keepers.tx.simulation import Simulator, choose_simulator


def open_pipeline(settings: KeeperSettings) -> Pipeline:
    """A standalone bot's own pipeline: node, store (exclusive) and the one signer."""
    node = Node(settings.rpc_url, settings.rpc_timeout_s)
    store = Store(settings.db_url, exclusive=True)
    try:
        signer = signer_from_settings(settings)
    except ValueError as err:
        store.close()
        raise ConfigError(f"invalid keeper configuration: {err}") from None
    return Pipeline(store, node, [signer], settings)


def settings_loader(section: type) -> Callable[[], Any]:
    """A declaration's ``configure``: the bot's settings section through the one loader."""
    return lambda: load_settings(section)


def automation_declaration(
    name: str,
    section: type,
    events: Iterable[str],
    calls: Callable[[Any], Calls],
    build: Callable[[BotContext, Any], Any],
    doc: str,
) -> BotDeclaration:
    """An automation bot's declaration: its settings ``section`` under ``KEEPER_<NAME>_``, run
    when ``KEEPER_<NAME>_SCHEDULER`` is set, ticking every ``KEEPER_<NAME>_INTERVAL_S`` and on
    each of ``events`` (``Contract.Event``)."""
    prefix = f"KEEPER_{name.upper()}_"
    return BotDeclaration(
        name=name,
        settings=prefix,
        triggers=(Trigger(interval_s=f"{prefix}INTERVAL_S"), *(Trigger(event=e) for e in events)),
        calls=calls,
        load=load_when_set(section, f"{prefix}SCHEDULER"),
        doc=doc,
        configure=settings_loader(section),
        build=build,
    )


class AutomationBot:
    """Base of :class:`ExecutorBot` and :class:`SupervisorBot`: one constructor for both (one
    sender on the pipeline, the alerter). A subclass sets ``name`` and ``signer_label``, builds
    its own state in ``_setup`` and gives its declared calls in ``declared_calls``."""

    name = ""
    release: Any = None  # the configured contracts' release (keepers.tx.release.ReleaseCheck)
    signer_label = ""
    declared_calls: Callable[[Any], Calls]
    _settle: Callable[[], None]  # each bot's: folds final intents into its state
    in_flight: dict[int, Any]  # intent id -> what the bot sent it for (each bot's)

    def __init__(
        self,
        settings: KeeperSettings,
        cfg: Any,
        pipeline: Pipeline,
        sinks: list[AlertSink] | None = None,
    ) -> None:
        """One sender on ``pipeline``, alerts to ``sinks``; then the bot's own state
        (:meth:`_setup`)."""
        self.settings = settings
        self.cfg = cfg
        self.interval_s = cfg.interval_s
        self.pipeline = pipeline
        self.store: Store = pipeline.store
        self.node: Node = pipeline.node
        self.io = ChainIO(self.node)
        self.owns_store = False  # from_settings: the bot opened the store, stop() closes it
        if len(pipeline.signers) != 1:
            raise ConfigError(
                f"{self.signer_label} needs exactly one signer, got {len(pipeline.signers)}"
            )
        self.sender = to_checksum_address(next(iter(pipeline.signers)))
        self._simulator: Simulator | None = None  # chosen at start (KEEPER_SIMULATOR)
        self.alerter = Alerter(sinks)
        self._setup(cfg, pipeline)

    def _setup(self, cfg: Any, pipeline: Pipeline) -> None:
        """Each bot's own state, built once the base's is in place."""
        raise NotImplementedError

    @property
    def simulator(self) -> Simulator:
        """The simulator KEEPER_SIMULATOR chose (keepers.tx.simulation.choose_simulator),
        checked when the bot starts: a choice that cannot work refuses to start (exit 2). The
        bot's calls are independent of each other: it uses ``simulate_each``."""
        if self._simulator is None:
            self._simulator = choose_simulator(
                self.settings.simulator,
                self.node.w3,
                self.settings.rpc_url,
                self.pipeline.decoder,
                self.settings.anvil_bin,
            )
        return self._simulator

    @property
    def lease_scope(self) -> str:
        """What this bot decides for, in its lease's name (keepers.runtime.leases): the
        scheduler's runs on this chain."""
        return f"{self.node.chain_id}:{str(self.cfg.scheduler).lower()}"

    @classmethod
    def from_settings(cls, settings: KeeperSettings, cfg: Any, *args: Any, **kw: Any) -> Self:
        """A standalone bot on a pipeline of its own (stop() closes its store); the rest of
        the arguments go to the bot's constructor (the supervisor's alert ``sinks``)."""
        bot = cls(settings, cfg, open_pipeline(settings), *args, **kw)
        bot.owns_store = True
        return bot

    def _require_code(self, named: Mapping[str, str | None]) -> None:
        """Every configured contract has code on this chain (the setting named otherwise)."""
        for fname, addr in named.items():
            if addr is None:
                continue
            code = self.node.request("eth_getCode", [addr, "latest"])
            if code in (None, "0x", "0x0"):
                raise ConfigError(
                    f"invalid keeper configuration: {fname}={addr!r}: no contract at that "
                    f"address on chain {self.node.chain_id}"
                )

    def _check_release(self, named: Mapping[str, str | None]) -> None:
        """The configured contracts' release against this keeper's ABIs (keepers.tx.release):
        another release refuses to start (exit 2, naming both); an older one it drives is said
        once with the features off there."""
        from keepers.tx.release import check_release

        self.release = check_release(self.node.w3, named, who=self.name)

    def _check_policy(self) -> None:
        check_allowed(type(self).declared_calls(self.cfg), self.settings.policy)

    def stop(self) -> None:
        if self.owns_store:  # a shared store (``keeper run``) is closed by its owner
            self.store.close()

    def _take_final(self) -> list[tuple[int, IntentOutcome, Any]]:
        """The in-flight intents that ended, each taken off ``in_flight`` with what it was sent
        for; an intent waiting for gas funds stays in flight."""
        outcomes = read_outcomes(self.store, self.in_flight, self.pipeline.decoder)
        return [
            (intent_id, outcome, self.in_flight.pop(intent_id))
            for intent_id, outcome in outcomes.items()
            if outcome.final
        ]

    def _pipeline_passes(self) -> None:
        for _ in range(self.cfg.pipeline_passes):
            if self.pipeline.run_once() == 0:
                break

    def drive(self, max_seconds: float = 30.0) -> None:
        """Run the pipeline until our intents are final (tests, benchmarks, shutdown)."""
        self.pipeline.run(until_idle=True, max_seconds=max_seconds)
        self._settle()
