"""The cross-chain bot assembled from its config and the process's store, signer and settings.

One function for every process that runs the bot: ``keeper crosschain run`` (its own store and
one pipeline per chain) and ``keeper run`` (the runtime's store and signer; the chain the
runtime's node is on reuses the runtime's pipeline, so one chain's intents are worked by one
pipeline in the process). Settings read here (the settings tree's ``crosschain`` section, keepers.crosschain.config.
CrosschainSettings, through the one loader): ``BALLAST_CROSSCHAIN_HOLDERS`` (JSON),
``BALLAST_CCTP_LOCAL_ATTESTER_KEY`` (local chains; Circle's Iris when the config has an
``iris`` section), ``BALLAST_CEX_API_KEY`` /
``BALLAST_CEX_SECRET``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from keepers.core.approval import ApprovalPolicy
from keepers.core.errors import ConfigError
from keepers.core.logging import get_logger
from keepers.core.settings import KeeperSettings
from keepers.crosschain.bot import CrosschainBot, crosschain_calls
from keepers.crosschain.chains import ChainHealth, connect, no_retries
from keepers.crosschain.config import ChainConfig, CrosschainConfig, crosschain_settings
from keepers.crosschain.moves import ChainDriver, MoveEngine
from keepers.crosschain.route_contracts import (
    RouteContracts,
    check_on_chain,
    check_routes_wired,
    routes_of_config,
)
from keepers.crosschain.wiring import adapter_factory
from keepers.runtime.bots import BotContext, BotDeclaration, Trigger
from keepers.tx.node import Node
from keepers.tx.pipeline import Pipeline
from keepers.tx.revert import RevertDecoder
from keepers.tx.simulation import choose_simulator

log = get_logger("keepers.crosschain.assemble")


def build_crosschain_bot(
    cfg: CrosschainConfig,
    settings: KeeperSettings,
    store: Any,
    signer: Any,
    *,
    pipeline_for: Callable[[ChainConfig], Pipeline | None] | None = None,
    pinned: RouteContracts | None = None,
    environ: Mapping[str, str] | None = None,
    on_stop: Callable[[], None] | None = None,
    read_only: bool = False,
) -> CrosschainBot:
    """``pipeline_for(chain)`` may hand over an existing pipeline for a chain (None: a new one
    on ``store`` with ``signer`` and ``settings``, whose policy must hold the crosschain role).
    ``pinned``: the route files applied to ``cfg`` (`load_with_routes`).

    Every chain is probed at once, bounded by ``chain_budget_s``: on each chain that answers the
    route contracts are read (a mismatch refuses to start: `RouteContractsMismatch`, exit 2)
    and the simulator chosen; a chain that does not answer is not waited for: the same checks
    run when it first answers (a mismatch then refuses that chain alone, with a critical alert).

    ``read_only`` (status, plan): no pipeline, no simulator, nothing can be sent; ``signer``
    only names the keeper's account and may be None, each chain's inventory holder then
    coming from BALLAST_CROSSCHAIN_HOLDERS."""
    if signer is None:
        read_only = True
    env = crosschain_settings(environ)  # the settings tree's crosschain section
    # a route named with no contracts would create moves that fail with "no route": exit 2
    check_routes_wired(cfg, routes_given=pinned is not None)
    holders = dict(env.holders)
    if signer is None:
        missing = [c.name for c in cfg.chains if c.name not in holders]
        if missing:
            raise ConfigError(
                "no signer (KEEPER_SIGNER_KEY, or KEEPER_SIGNER_KIND ape/remote) and no "
                f"inventory holder for chain(s) {', '.join(missing)} in "
                "BALLAST_CROSSCHAIN_HOLDERS: the balances are read at the holder, which is the "
                "keeper's own account unless that variable names another"
            )
    keeper = signer.address if signer is not None else next(iter(holders.values()))
    w3s = {c.name: connect(c.rpc_url, c.rpc_timeout_s) for c in cfg.chains}

    # which chains answer now (bounded): those are checked now, the others when they answer
    probe = ChainHealth(
        [c.name for c in cfg.chains],
        cfg.chain_budget_s,
        urls={c.name: c.rpc_url for c in cfg.chains},
    )
    answering = set(probe.run({n: partial(_chain_id, w3) for n, w3 in w3s.items()}))
    routes = routes_of_config(cfg, pinned)
    by_name = {r.name: r for r in routes.chains} if routes is not None else {}
    now_checked = [by_name[n] for n in by_name if n in answering]
    if now_checked:  # refuse to start when a chain does not hold what is configured
        check_on_chain(RouteContracts(chains=tuple(now_checked)), w3s)

    def driver(c: ChainConfig) -> ChainDriver:
        return ChainDriver(_pipeline(c, cfg, settings, store, signer, pipeline_for))

    # a pipeline reads its chain id from the node: a chain that does not answer gets its own
    # once it does (prepare below)
    drivers = {} if read_only else {c.name: driver(c) for c in cfg.chains if c.name in answering}
    confirmations = {
        c.name: c.confirmations
        if c.confirmations is not None
        else settings.confirmations_for(c.chain_id)
        for c in cfg.chains
    }
    attestations: Any = None
    iris: Any = None
    if cfg.iris is not None:
        from keepers.crosschain.iris import IrisAttestations, IrisClient

        if env.cctp_local_attester_key is not None:
            raise ConfigError(
                "BALLAST_CCTP_LOCAL_ATTESTER_KEY is set and the config has an iris section: "
                "the local attester is for local chains only, unset one of them"
            )
        iris = IrisClient(cfg.iris)
        attestations = IrisAttestations(iris)
    elif env.cctp_local_attester_key is not None:
        from keepers.crosschain.cctp import LocalCctpAttester
        from keepers.crosschain.routes import LocalAttestations

        attestations = LocalAttestations(
            LocalCctpAttester(env.secret("cctp_local_attester_key") or "")
        )
    exchange = None
    if env.cex_api_key is not None:
        from keepers.crosschain.cex import make_exchange

        exchange = make_exchange(
            cfg.cex_exchange, env.secret("cex_api_key") or "", env.secret("cex_secret") or ""
        )

    # KEEPER_SIMULATOR on each chain, checked now (a choice that cannot work refuses to start)
    # where the chain answers, else when it first does
    decoder = RevertDecoder.default()
    simulators: dict[str, Any] = {}

    def choose(c: ChainConfig) -> None:
        simulators[c.name] = choose_simulator(
            settings.simulator, w3s[c.name], c.rpc_url, decoder, settings.anvil_bin
        )

    def builder(sender: Any) -> Any:
        return adapter_factory(
            cfg,
            w3s,
            sender,
            keeper,
            exchange=exchange,
            attestations=attestations,
            simulators=simulators,
        )

    engine = MoveEngine(
        store, cfg, w3s, drivers, keeper, builder, holders=holders, approval=ApprovalPolicy()
    )
    prepare: dict[str, Callable[[], None]] = {}
    for c in cfg.chains:
        if c.name in answering:
            if not read_only:
                choose(c)
            continue

        def later(c: ChainConfig = c) -> None:
            _chain_id(w3s[c.name])  # still silent: its transport error, not a check's
            if c.name in by_name:
                check_on_chain(RouteContracts(chains=(by_name[c.name],)), w3s)
            if not read_only:
                choose(c)
                engine.add_driver(c.name, driver(c))

        prepare[c.name] = later
    bot = CrosschainBot(
        cfg,
        engine,
        w3s,
        on_stop=on_stop,
        prepare=prepare,
        iris=iris,
        confirmations=confirmations,
    )
    for name in cfg.chains:
        if name.name not in answering:
            bot.health.mark_down(name.name, probe.states[name.name].error or "no answer")
    return bot


def _chain_id(w3: Any) -> int:
    return int(w3.eth.chain_id)


def _pipeline(
    chain: ChainConfig,
    cfg: CrosschainConfig,
    settings: KeeperSettings,
    store: Any,
    signer: Any,
    pipeline_for: Callable[[ChainConfig], Pipeline | None] | None,
) -> Pipeline:
    """The chain's pipeline: one handed over (keeper run's, whose confirmations must agree with
    the config's), else a new one whose node calls end within the chain's rpc_timeout_s and
    which waits for the config's confirmations."""
    given = pipeline_for(chain) if pipeline_for is not None else None
    if given is not None:
        have = given.settings.confirmations_for(chain.chain_id)
        if chain.confirmations is not None and chain.confirmations != have:
            # the config states the chain's confirmations: keeper run's pipeline for that chain
            # (one per chain) waits for them too, said in the log
            by_chain = {
                **given.settings.confirmations_by_chain,
                chain.chain_id: chain.confirmations,
            }
            given.settings = given.settings.model_copy(update={"confirmations_by_chain": by_chain})
            log.warning(
                "crosschain.confirmations",
                chain=chain.name,
                chain_id=chain.chain_id,
                confirmations=chain.confirmations,
                instead_of=have,
                source="the cross-chain config (KEEPER_CONFIRMATIONS_BY_CHAIN said otherwise)",
            )
        return given
    if chain.confirmations is not None:
        by_chain = {**settings.confirmations_by_chain, chain.chain_id: chain.confirmations}
        settings = settings.model_copy(update={"confirmations_by_chain": by_chain})
    node = Node(chain.rpc_url, chain.rpc_timeout_s)
    no_retries(node.w3)
    return Pipeline(store, node, [signer], settings)


# keeper run's declaration of the bot (keepers.registry lists it): here, beside the assembly it
# builds with, so that bot.py imports nothing that imports it back
def _load(environ: Any) -> CrosschainConfig | None:
    """``BALLAST_CROSSCHAIN_CONFIG`` with ``BALLAST_CROSSCHAIN_ROUTES`` applied, as the bot
    reads it; None when it is not set."""
    from keepers.crosschain.config import crosschain_settings
    from keepers.crosschain.route_contracts import load_with_routes

    path = crosschain_settings(environ).config
    if not path:
        return None

    return load_with_routes(path, environ)[0]


CONFIG_ENV = "BALLAST_CROSSCHAIN_CONFIG"


def _configure() -> tuple[CrosschainConfig, Any]:
    """``keeper run``'s cross-chain config: ``BALLAST_CROSSCHAIN_CONFIG`` with
    ``BALLAST_CROSSCHAIN_ROUTES`` applied, as (config, the route files or None); a
    ConfigError naming the variable when it is unset or does not load."""
    import os

    from keepers.core.settings import ConfigError
    from keepers.crosschain.config import ConfigError as CrosschainConfigError
    from keepers.crosschain.route_contracts import load_with_routes

    if not os.environ.get(CONFIG_ENV):
        raise ConfigError(f"{CONFIG_ENV}: not set (the cross-chain bot's config file)")
    try:
        return load_with_routes(None)
    except (CrosschainConfigError, OSError, ValueError) as err:
        raise ConfigError(f"{CONFIG_ENV}: {err}") from None


def _declared_from(loaded: tuple[CrosschainConfig, Any]) -> CrosschainConfig:
    return loaded[0]


def _build(ctx: BotContext, loaded: tuple[CrosschainConfig, Any]) -> CrosschainBot:
    """The cross-chain bot on the runtime's store and signer: the chain of the runtime's node
    reuses the runtime's pipeline, every other chain gets the runtime's pipeline for it (same
    store, signer and policy)."""
    cfg, pinned = loaded
    bot = build_crosschain_bot(
        cfg,
        ctx.settings,
        ctx.store,
        ctx.signer,
        pipeline_for=lambda chain: ctx.pipeline_for(chain.chain_id, chain.rpc_url),
        pinned=pinned,
    )
    bot.engine.stopping = ctx.stop_event
    return bot


DECLARATION = BotDeclaration(
    name="crosschain",
    settings="BALLAST_CROSSCHAIN_ (the config file BALLAST_CROSSCHAIN_CONFIG)",
    triggers=(
        Trigger(interval_s=30.0),
    ),  # CrosschainBot.interval_s; `keeper crosschain run --interval`
    calls=crosschain_calls,
    load=_load,
    doc="rebalances stablecoin inventory between chains (CEX, CCTP, USDT0)",
    configure=_configure,
    build=_build,
    declared_from=_declared_from,
)
