"""The fund bot's declaration for ``keeper run`` (keepers.registry): the calls it sends (its
audit role: the controller's keeper functions, and the PlanExecutor's executeAction where the
deployment record names one), how its settings load, how it is built on the runtime's store,
signer and pipeline, and its jobs. The bot itself is keepers.fund.bot (imported when built)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keepers.fund.roles import fund_calls
from keepers.fund.settings import FundConfig
from keepers.runtime.bots import BotContext, BotDeclaration, Trigger
from keepers.tx.contracts import FundAddresses

if TYPE_CHECKING:
    from keepers.fund.bot import FundBot


def _load(environ: Any) -> FundAddresses | None:
    """The deployment record the fund bot reads (``KEEPER_DEPLOYMENT``, or the default path if
    that file exists); None when there is none. A record named but missing or broken raises
    DeploymentError: a worker refuses to start rather than audit with less."""
    from pathlib import Path

    from keepers.fund.settings import FundKeeperSettings

    explicit = environ.get("KEEPER_DEPLOYMENT")
    default = FundKeeperSettings.model_fields["deployment"].default
    deployment = Path(explicit) if explicit else Path(default)
    if not (explicit or deployment.exists()):
        return None
    return FundAddresses.load(deployment)


def _configure() -> FundConfig:
    """``keeper run``'s fund config (``KEEPER_*`` and the planning variables): a ConfigError
    naming the variable."""
    from keepers.core.settings import ConfigError
    from keepers.fund.settings import FundConfigError, load_fund_config

    try:
        return load_fund_config()
    except FundConfigError as err:
        raise ConfigError(str(err)) from None


def _declared_from(cfg: FundConfig) -> FundAddresses:
    return FundAddresses.load(cfg.keeper.deployment)


def _build(ctx: BotContext, cfg: FundConfig) -> FundBot:
    """``keeper run``'s fund bot: on the runtime's store, signer and pipeline, checked against
    the chain (KEEPER_CHAIN_ID, the contracts' code, the bands); it starts no new plan or
    intent once the runtime's stop event is set."""
    from keepers.fund.bot import FundBot

    bot = FundBot(cfg, ctx.store, signer=ctx.signer, alerter=ctx.alerter, pipeline=ctx.pipeline)
    bot.stopping = ctx.stop_event
    bot.check_chain()
    return bot


def _jobs(bot: FundBot) -> list[Any]:
    from keepers.runtime.scheduler import fund_jobs

    return fund_jobs(bot)


DECLARATION = BotDeclaration(
    name="fund",
    settings="KEEPER_ (keepers.fund.settings.load_fund_config: FundKeeperSettings + FundConfig)",
    triggers=(
        Trigger(cron="hour=daily_check_hour minute=0 UTC (fund.daily)"),
        Trigger(
            cron="day_of_week=weekly_check_weekday hour=daily_check_hour minute=0 (fund.weekly)"
        ),
        Trigger(cron="minute=0 (fund.threshold)"),
        Trigger(cron="minute=*/5 (fund.liquidity)"),
        Trigger(event="TieredVault deposits, maturities, price moves (read by fund.liquidity)"),
    ),
    calls=fund_calls,
    load=_load,
    doc="plans, approves, executes and verifies the fund's rebalances",
    configure=_configure,
    build=_build,
    declared_from=_declared_from,
    jobs=_jobs,
)
