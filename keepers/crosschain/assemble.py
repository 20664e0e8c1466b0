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
from typing import Any

from keepers.core.approval import ApprovalPolicy
from keepers.core.errors import ConfigError
from keepers.core.settings import KeeperSettings
from keepers.crosschain.bot import CrosschainBot, crosschain_calls
from keepers.crosschain.config import ChainConfig, CrosschainConfig, crosschain_settings
from keepers.crosschain.moves import ChainDriver, MoveEngine
from keepers.crosschain.route_contracts import RouteContracts, check_on_chain, routes_of_config
from keepers.crosschain.wiring import adapter_factory
from keepers.runtime.bots import BotContext, BotDeclaration, Trigger
from keepers.tx.node import Node, connect_web3
from keepers.tx.pipeline import Pipeline
from keepers.tx.revert import RevertDecoder
from keepers.tx.simulation import choose_simulator


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
) -> CrosschainBot:
    """``pipeline_for(chain)`` may hand over an existing pipeline for a chain (None: a new one
    on ``store`` with ``signer`` and ``settings``, whose policy must hold the crosschain role).
    ``pinned``: the route files applied to ``cfg`` (`load_with_routes`); every route contract is
    read on its chain first and a mismatch refuses to start (`RouteContractsMismatch`)."""
    env = crosschain_settings(environ)  # the settings tree's crosschain section
    keeper = signer.address
    w3s = {c.name: connect_web3(c.rpc_url, 30) for c in cfg.chains}

    routes = routes_of_config(cfg, pinned)
    if routes is not None:  # refuse to start when a chain does not hold what is configured
        check_on_chain(routes, w3s)

    def pipeline(chain: ChainConfig) -> Pipeline:
        given = pipeline_for(chain) if pipeline_for is not None else None
        if given is not None:
            return given
        return Pipeline(store, Node(chain.rpc_url, settings.rpc_timeout_s), [signer], settings)

    drivers = {c.name: ChainDriver(pipeline(c)) for c in cfg.chains}
    holders = dict(env.holders)
    attestations: Any = None
    if cfg.iris is not None:
        from keepers.crosschain.iris import IrisAttestations, IrisClient

        if env.cctp_local_attester_key is not None:
            raise ConfigError(
                "BALLAST_CCTP_LOCAL_ATTESTER_KEY is set and the config has an iris section: "
                "the local attester is for local chains only, unset one of them"
            )
        attestations = IrisAttestations(IrisClient(cfg.iris))
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
    decoder = RevertDecoder.default()
    simulators = {
        c.name: choose_simulator(
            settings.simulator, w3s[c.name], c.rpc_url, decoder, settings.anvil_bin
        )
        for c in cfg.chains
    }

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
    return CrosschainBot(cfg, engine, w3s, on_stop=on_stop)


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
